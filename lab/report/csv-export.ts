// CSV views of a run record (RFC 4180: comma-separated, CRLF line ends, fields quoted when they
// hold a comma, a quote, a CR or LF, or leading/trailing spaces; quotes doubled).
//
// figures.csv: one row per cell × target, one column per figure of the catalogue
//   (lab/record/figures.ts), named by its key; every key carries its unit (…PerSec, …Per1000,
//   …Ms, …Pct, …Us…, …Share as a fraction 0..1) or is a plain count. Infinity (a ratio over
//   zero) is written `inf`, which spreadsheets and pandas read as infinity; a figure that does
//   not apply to the target's window (see TargetRecord.notApplicable) is an empty cell.
// samples.csv: one row per cell × target × sample of TargetSeries.totals (cumulative counters,
//   gauges as sampled). worker-samples.csv: the same for each worker's series.
import { FIGURES, INF, figureOf, type FigureKey } from '../record/figures';
import type { CellRecord, RunRecord } from '../record/run-record';

export type CsvValue = string | number | boolean | null | undefined;

/** One CSV field: numbers as-is (Infinity → inf, NaN → empty), strings quoted when needed. */
export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '';
    if (v === Infinity) return INF;
    if (v === -Infinity) return `-${INF}`;
    return String(v);
  }
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly CsvValue[]): string {
  return values.map(csvField).join(',') + '\r\n';
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return csvRow(header) + rows.map(csvRow).join('');
}

/** Derived figure columns: the catalogue's keys, in its order. */
export const FIGURE_COLUMNS: readonly FigureKey[] = FIGURES.map((f) => f.key);

function matrixKeys(cells: readonly CellRecord[]): string[] {
  const keys = new Set<string>();
  for (const c of cells) for (const k of Object.keys(c.matrix)) keys.add(k);
  return [...keys];
}

function matrixValue(v: unknown): CsvValue {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** figures.csv: run, cell, the cell's matrix values (one column each), target, figures. */
export function figuresCsv(record: RunRecord): string {
  const mk = matrixKeys(record.cells);
  const header = ['runId', 'scenario', 'cell', ...mk.map((k) => `matrix.${k}`), 'target'];
  const rows: CsvValue[][] = [];
  for (const cell of record.cells) {
    for (const t of cell.targets) {
      rows.push([
        record.runId,
        record.scenario,
        cell.id,
        ...mk.map((k) => matrixValue(cell.matrix[k])),
        t.name,
        // A figure that does not apply is an empty cell (null); infinity is `inf`.
        ...FIGURE_COLUMNS.map((k) => figureOf(t, k).value),
      ]);
    }
  }
  return toCsv([...header, ...FIGURE_COLUMNS], rows);
}

/** samples.csv: cell, target, tMs, phase, then every totals field (union over all targets). */
export function samplesCsv(record: RunRecord): string {
  const fields = new Set<string>();
  for (const c of record.cells) {
    for (const t of c.targets) for (const f of Object.keys(t.series.totals)) fields.add(f);
  }
  const cols = [...fields];
  const rows: CsvValue[][] = [];
  for (const c of record.cells) {
    for (const t of c.targets) {
      t.series.t.forEach((tMs, i) => {
        rows.push([
          c.id,
          t.name,
          tMs,
          t.series.phase[i],
          ...cols.map((f) => t.series.totals[f]?.[i]),
        ]);
      });
    }
  }
  return toCsv(['cell', 'target', 'tMs', 'phase', ...cols], rows);
}

/** worker-samples.csv: cell, target, worker key, tMs, phase, then each per-worker field. */
export function workerSamplesCsv(record: RunRecord): string {
  const fields = new Set<string>();
  for (const c of record.cells) {
    for (const t of c.targets) {
      for (const w of Object.values(t.series.workers)) {
        for (const f of Object.keys(w)) fields.add(f);
      }
    }
  }
  const cols = [...fields];
  const rows: CsvValue[][] = [];
  for (const c of record.cells) {
    for (const t of c.targets) {
      for (const [key, w] of Object.entries(t.series.workers)) {
        t.series.t.forEach((tMs, i) => {
          rows.push([c.id, t.name, key, tMs, t.series.phase[i], ...cols.map((f) => w[f]?.[i])]);
        });
      }
    }
  }
  return toCsv(['cell', 'target', 'worker', 'tMs', 'phase', ...cols], rows);
}
