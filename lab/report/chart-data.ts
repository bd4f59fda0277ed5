// The data behind the report's charts, computed here (pure, testable) and embedded in the page as
// JSON; the page script only hands it to uPlot.
//
// Time series: the record keeps cumulative counter sums per sample, so a rate is the difference
// of two consecutive samples over the time between them, plotted at the later sample. Gauges
// (stuck connections) are plotted as they are.
import type { Phase, RunRecord, TargetRecord, TargetSeries } from '../record/run-record';
import { FIGURES, figureValue, matrixLabel, num, type FigureDef } from './format';

export interface ChartLine {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: number[];
}

export interface PhaseSpan {
  phase: Phase;
  /** x range of the span (seconds). */
  from: number;
  to: number;
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** Ascending x values. */
  x: number[];
  /** Tick labels by x value, for categorical or swept axes; absent = plain numbers. */
  xTicks?: { value: number; label: string }[];
  lines: ChartLine[];
  /** Shaded spans (warm-up and drain) on time charts. */
  phases?: PhaseSpan[];
}

/** Line colours; distinct and readable on white. The page script finds drawn lines by them. */
export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
];

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export interface RateMetric {
  key: string;
  title: string;
  unit: string;
  /** Counter field in series totals. */
  field: string;
  kind: 'rate' | 'gauge';
}

/** The time-series charts of each target, in order. */
export const RATE_METRICS: readonly RateMetric[] = [
  { key: 'requests', title: 'Requests/s', unit: 'per s', field: 'requests', kind: 'rate' },
  { key: 'keyerrors', title: 'KeyErrors/s', unit: 'per s', field: 'keyerrors', kind: 'rate' },
  {
    key: 'unknown-fd',
    title: 'Unknown-fd events/s (asyncio)',
    unit: 'per s',
    field: 'unknown_fd_events',
    kind: 'rate',
  },
  {
    key: 'spurious',
    title: 'Spurious reads/s',
    unit: 'per s',
    field: 'spurious_reads',
    kind: 'rate',
  },
  {
    key: 'nvcsw',
    title: 'Voluntary context switches/s',
    unit: 'per s',
    field: 'nvcsw',
    kind: 'rate',
  },
  {
    key: 'stuck',
    title: 'Stuck connections',
    unit: 'connections',
    field: 'stuck_connections',
    kind: 'gauge',
  },
];

/**
 * Per-second rate between consecutive samples of a cumulative series; null where unknown. With
 * `phase` and `intervalMs`, no rate is given across a phase boundary whose two samples are less
 * than half the sampling interval apart: the runner takes a snapshot at each boundary, a few ms
 * after the last periodic sample, and a difference over those few ms is noise (a drop to 0 or a
 * spike), not a rate.
 */
export function rateOf(
  t: readonly number[],
  cumulative: readonly number[],
  boundary?: { phase: readonly Phase[]; intervalMs: number },
): (number | null)[] {
  return t.map((ti, i) => {
    if (i === 0) return null;
    const dtMs = ti - t[i - 1]!;
    const a = num(cumulative[i - 1]);
    const b = num(cumulative[i]);
    // A decrease means a counter went away (a server restarted): no rate rather than a negative.
    if (dtMs <= 0 || a === null || b === null || b < a) return null;
    if (boundary && boundary.phase[i] !== boundary.phase[i - 1] && dtMs < boundary.intervalMs / 2) {
      return null;
    }
    return (b - a) / (dtMs / 1000);
  });
}

/** Contiguous runs of warm-up and drain samples, as x spans in seconds. */
export function phaseSpans(series: TargetSeries): PhaseSpan[] {
  const spans: PhaseSpan[] = [];
  const xs = series.t.map((ms) => ms / 1000);
  let i = 0;
  while (i < xs.length) {
    const phase = series.phase[i]!;
    let j = i;
    while (j + 1 < xs.length && series.phase[j + 1] === phase) j++;
    // A span reaches back to the previous sample: a rate at sample i covers (t[i-1], t[i]].
    const from = i > 0 ? xs[i - 1]! : xs[i]!;
    spans.push({ phase, from, to: xs[j]! });
    i = j + 1;
  }
  return spans;
}

/** Whether any value is a finite non-zero number. */
export function hasData(values: readonly (number | null)[]): boolean {
  return values.some((v) => v !== null && Number.isFinite(v) && v !== 0);
}

/** The scenario's default sampling interval, for records that do not say. */
const DEFAULT_SAMPLE_INTERVAL_MS = 1000;

export interface TargetCharts {
  charts: ChartSpec[];
  /** Metrics with no data at all (all zero), named so the page can say so. */
  allZero: string[];
  /** Metrics the series does not hold. */
  missing: string[];
}

/** The time-series charts of one target: one chart per key rate that is not zero throughout. */
export function targetCharts(
  t: TargetRecord,
  idPrefix: string,
  intervalMs: number = DEFAULT_SAMPLE_INTERVAL_MS,
): TargetCharts {
  const s = t.series;
  const out: TargetCharts = { charts: [], allZero: [], missing: [] };
  if (!s || !Array.isArray(s.t) || s.t.length < 2) {
    out.missing = RATE_METRICS.map((m) => m.title);
    return out;
  }
  const x = s.t.map((ms) => ms / 1000);
  const phases = phaseSpans(s);
  for (const m of RATE_METRICS) {
    const cumulative = s.totals?.[m.field];
    if (!cumulative) {
      out.missing.push(m.title);
      continue;
    }
    const values =
      m.kind === 'rate'
        ? rateOf(s.t, cumulative, { phase: s.phase, intervalMs })
        : cumulative.map((v) => num(v) ?? null);
    if (!hasData(values) && m.key !== 'requests') {
      out.allZero.push(m.title);
      continue;
    }
    out.charts.push({
      id: `${idPrefix}-${m.key}`,
      title: m.title,
      xLabel: 's since the run started',
      yLabel: m.unit,
      x,
      lines: [{ label: t.name, values, color: colorOf(RATE_METRICS.indexOf(m)) }],
      phases,
    });
  }
  return out;
}

// ---- Sweeps -----------------------------------------------------------------------------------

/** The matrix keys of a record whose cells differ, in the order the scenario lists them. */
export function sweptKeys(record: RunRecord): string[] {
  const keys: string[] = [];
  for (const cell of record.cells ?? []) {
    for (const k of Object.keys(cell.matrix ?? {})) if (!keys.includes(k)) keys.push(k);
  }
  return keys.filter(
    (k) => new Set(record.cells.map((c) => JSON.stringify(c.matrix?.[k]))).size > 1,
  );
}

/** Swept values in a sensible order: numbers ascending, otherwise first-seen order. */
function axisValues(record: RunRecord, key: string): unknown[] {
  const seen: unknown[] = [];
  for (const c of record.cells) {
    const v = c.matrix?.[key];
    if (!seen.some((s) => JSON.stringify(s) === JSON.stringify(v))) seen.push(v);
  }
  if (seen.every((v) => typeof v === 'number')) (seen as number[]).sort((a, b) => a - b);
  return seen;
}

/**
 * One chart per key derived figure against the first swept parameter: one line per target, and
 * per value of the other swept parameters when there are several (`target · trigger=edge`).
 */
export function sweepCharts(
  record: RunRecord,
  idPrefix = 'sweep',
): { charts: ChartSpec[]; allZero: string[]; xKey: string | null } {
  const keys = sweptKeys(record);
  if (keys.length === 0) return { charts: [], allZero: [], xKey: null };
  const xKey = keys[0]!;
  const others = keys.slice(1);
  const values = axisValues(record, xKey);
  const numeric = values.every((v) => typeof v === 'number');
  const x = numeric ? (values as number[]) : values.map((_, i) => i);
  const xTicks = values.map((v, i) => ({
    value: x[i]!,
    label: typeof v === 'string' ? v : JSON.stringify(v),
  }));

  // Lines: target × values of the other swept keys.
  const lineKeys: { label: string; target: string; rest: string }[] = [];
  for (const cell of record.cells) {
    const rest = matrixLabel(Object.fromEntries(others.map((k) => [k, cell.matrix?.[k]])));
    for (const t of cell.targets) {
      if (!lineKeys.some((l) => l.target === t.name && l.rest === rest)) {
        lineKeys.push({ label: rest ? `${t.name} · ${rest}` : t.name, target: t.name, rest });
      }
    }
  }

  const valueAt = (def: FigureDef, line: (typeof lineKeys)[number], xv: unknown) => {
    const cell = record.cells.find(
      (c) =>
        JSON.stringify(c.matrix?.[xKey]) === JSON.stringify(xv) &&
        matrixLabel(Object.fromEntries(others.map((k) => [k, c.matrix?.[k]]))) === line.rest,
    );
    const t = cell?.targets.find((tt) => tt.name === line.target);
    const v = t ? figureValue(t, def) : null;
    return v !== null && Number.isFinite(v) ? v : null;
  };

  const charts: ChartSpec[] = [];
  const allZero: string[] = [];
  for (const def of FIGURES.filter((f) => f.chart)) {
    const lines: ChartLine[] = lineKeys.map((l, i) => ({
      label: l.label,
      values: values.map((xv) => valueAt(def, l, xv)),
      color: colorOf(i),
    }));
    if (!lines.some((l) => hasData(l.values))) {
      allZero.push(def.label);
      continue;
    }
    charts.push({
      id: `${idPrefix}-${def.key.replace(/[^a-zA-Z0-9]/g, '-')}`,
      title: `${def.label} against ${xKey}`,
      xLabel: xKey,
      yLabel: def.unit === 'fraction' ? 'share (0..1)' : '',
      x,
      xTicks,
      lines,
    });
  }
  return { charts, allZero, xKey };
}
