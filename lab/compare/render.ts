// Views of a Comparison: a plain-text table for the terminal, a self-contained HTML page (same
// shell as the run report: uPlot inlined, no external URL), CSV and JSON for other tools.
import path from 'node:path';
import { toCsv, type CsvValue } from '../report/csv-export';
import { colorOf, hasData, type ChartLine, type ChartSpec } from '../report/chart-data';
import { FIGURES, esc, fmtFigure, fmtNum, type FigureUnit } from '../report/format';
import { chartBox, htmlPage } from '../report/page';
import { rowHasData, type Comparison, type Diff, type Row, type Stats } from './compare';

// ---- Text pieces ------------------------------------------------------------------------------

export function statsText(unit: FigureUnit, s: Stats): string {
  if (s.median === null) return '—';
  const f = (v: number | null) => fmtFigure({ unit }, v);
  if (s.n < 2) return f(s.median);
  return `${f(s.median)} (${f(s.min)}..${f(s.max)})`;
}

export function diffText(unit: FigureUnit, d: Diff | null): string {
  if (!d) return '';
  if (d.verdict === 'same') return '= same';
  const sign = (d.delta ?? 0) > 0 ? '+' : '';
  const amount =
    d.deltaPct !== null
      ? `${sign}${fmtNum(d.deltaPct)} %`
      : `${sign}${unit === 'fraction' ? fmtFigure({ unit }, d.delta) : fmtNum(d.delta)}`;
  const mark =
    d.verdict === 'real'
      ? `* real${d.direction ? `, ${d.direction}` : ''}`
      : d.verdict === 'noise'
        ? '~ within noise'
        : '? noise unknown';
  return `${amount} ${mark}`;
}

function groupRows(rows: readonly Row[]): { cell: string; target: string; rows: Row[] }[] {
  const out: { cell: string; target: string; rows: Row[] }[] = [];
  for (const r of rows) {
    let g = out.find((x) => x.cell === r.cell && x.target === r.target);
    if (!g) out.push((g = { cell: r.cell, target: r.target, rows: [] }));
    g.rows.push(r);
  }
  return out;
}

function table(rows: readonly string[][], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map(
    (r) =>
      indent +
      r
        .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length)))
        .join('  ')
        .trimEnd(),
  );
}

// ---- Terminal ---------------------------------------------------------------------------------

/** The comparison as plain-text lines. Rows zero on every side are left out (counted). */
export function comparisonLines(c: Comparison): string[] {
  const lines: string[] = [];
  const runs = c.sides.reduce((n, s) => n + s.runs.length, 0);
  lines.push(
    `forklab compare: ${c.sides.length} side${c.sides.length === 1 ? '' : 's'}, ${runs} run${runs === 1 ? '' : 's'}`,
  );
  for (const s of c.sides) {
    lines.push(
      `  ${s.id}  ${s.label} — ${s.runs.length} run${s.runs.length === 1 ? '' : 's'}: ${s.runs.map((r) => r.name).join(', ')}`,
    );
  }
  for (const r of c.rules) lines.push(`  · ${r}`);
  let omitted = 0;
  for (const g of groupRows(c.rows)) {
    const shown = g.rows.filter(rowHasData);
    omitted += g.rows.length - shown.length;
    if (shown.length === 0) continue;
    lines.push('');
    lines.push(g.cell ? `${g.target} [${g.cell}]` : g.target);
    const head = [
      'figure',
      ...c.sides.map(
        (s) => `${s.id}${c.sides.some((x) => x.runs.length > 1) ? ' median (min..max)' : ''}`,
      ),
      ...c.sides.slice(1).map((s) => `${s.id} vs A`),
    ];
    const body = shown.map((r) => [
      r.label,
      ...r.stats.map((st) => statsText(r.unit, st)),
      ...r.diffs.slice(1).map((d) => diffText(r.unit, d)),
    ]);
    lines.push(...table([head, ...body]));
  }
  if (omitted)
    lines.push(
      '',
      `(${omitted} rows zero on every side left out; they are in --csv and --json. Figures that apply to no run, n/a, are left out altogether)`,
    );
  if (c.notes.length) {
    lines.push('');
    for (const n of c.notes) lines.push(`note: ${n}`);
  }
  return lines;
}

// ---- CSV and JSON -----------------------------------------------------------------------------

/** One row per figure × side: its runs' values, median and spread, and the difference from A. */
export function comparisonCsv(c: Comparison): string {
  const header = [
    'cell',
    'target',
    'figure',
    'unit',
    'side',
    'sideLabel',
    'runs',
    'n',
    'median',
    'min',
    'max',
    'spread',
    'values',
    'deltaVsA',
    'deltaPctVsA',
    'combinedSpread',
    'difference',
    'direction',
  ];
  const rows: CsvValue[][] = [];
  for (const r of c.rows) {
    r.stats.forEach((st, i) => {
      const side = c.sides[i]!;
      const d = r.diffs[i] ?? null;
      rows.push([
        r.cell,
        r.target,
        r.figure,
        r.unit,
        side.id,
        side.label,
        side.runs.map((x) => x.name).join(';'),
        st.n,
        st.median,
        st.min,
        st.max,
        st.spread,
        st.values.map((v) => (v === null ? '' : v === Infinity ? 'inf' : String(v))).join(';'),
        i === 0 ? null : (d?.delta ?? null),
        i === 0 ? null : (d?.deltaPct ?? null),
        i === 0 ? null : (d?.combinedSpread ?? null),
        i === 0 ? 'baseline' : (d?.verdict ?? ''),
        i === 0 ? null : (d?.direction ?? null),
      ]);
    });
  }
  return toCsv(header, rows);
}

/** The comparison as JSON; Infinity is written as the string "inf" (JSON has no Infinity). */
export function comparisonJson(c: Comparison): string {
  return (
    JSON.stringify(
      { schema: 'forklab.compare/1', ...c },
      (_k, v: unknown) =>
        typeof v === 'number' && !Number.isFinite(v) && !Number.isNaN(v)
          ? v > 0
            ? 'inf'
            : '-inf'
          : v,
      2,
    ) + '\n'
  );
}

// ---- HTML -------------------------------------------------------------------------------------

/** Charts of the key figures: x = the sides, one line per cell × target (median; min/max dashed). */
export function comparisonCharts(c: Comparison): ChartSpec[] {
  const x = c.sides.map((_, i) => i);
  const xTicks = c.sides.map((s, i) => ({ value: i, label: s.id }));
  const groups = groupRows(c.rows);
  const repeats = c.sides.some((s) => s.runs.length > 1);
  const charts: ChartSpec[] = [];
  for (const def of FIGURES.filter((f) => f.chart)) {
    const lines: ChartLine[] = [];
    groups.forEach((g, gi) => {
      const row = g.rows.find((r) => r.figure === def.key);
      if (!row) return;
      const label = g.cell ? `${g.target} [${g.cell}]` : g.target;
      const finite = (v: number | null) => (v !== null && Number.isFinite(v) ? v : null);
      lines.push({ label, values: row.stats.map((s) => finite(s.median)), color: colorOf(gi) });
      if (repeats) {
        lines.push({
          label: `${label} min`,
          values: row.stats.map((s) => finite(s.min)),
          color: colorOf(gi),
          dash: [4, 4],
        });
        lines.push({
          label: `${label} max`,
          values: row.stats.map((s) => finite(s.max)),
          color: colorOf(gi),
          dash: [4, 4],
        });
      }
    });
    if (!lines.some((l) => hasData(l.values))) continue;
    charts.push({
      id: `cmp-${def.key}`,
      title: def.label,
      xLabel: 'side',
      yLabel: def.unit === 'fraction' ? 'share (0..1)' : '',
      x,
      xTicks,
      lines,
    });
  }
  return charts;
}

function diffClass(d: Diff | null): string {
  if (!d) return '';
  if (d.verdict === 'real') return `diff-real ${d.direction ?? ''}`.trim();
  if (d.verdict === 'unknown') return 'diff-unknown';
  return 'diff-noise';
}

/**
 * The comparison page. `outFile` is where it will be written: links to each run's report and
 * record are relative to it.
 */
export function renderComparisonHtml(c: Comparison, outFile: string): string {
  const rel = (p: string) =>
    path
      .relative(path.dirname(path.resolve(outFile)), p)
      .split(path.sep)
      .join('/');
  const charts = comparisonCharts(c);
  const sides = `<table><tr><th>side</th><th>what sets it apart</th><th>scenario</th><th>commit</th><th>host / runtime</th><th>runs</th></tr>${c.sides
    .map(
      (s) =>
        `<tr><th>${esc(s.id)}</th><td>${esc(s.label)}</td><td>${esc(s.scenario)}</td><td><code>${esc((s.gitCommit ?? '—').slice(0, 12))}</code>${s.gitDirty ? ' (dirty)' : ''}</td><td>${esc(s.host)} / ${esc(s.runtime)}</td><td>${s.runs
          .map(
            (r) =>
              `<div>${esc(r.name)} <span class="note">${esc(r.status)} · <a href="${esc(rel(path.join(r.dir, 'report.html')))}">report</a> · <a href="${esc(rel(path.join(r.dir, 'results.json')))}">results.json</a></span></div>`,
          )
          .join('')}</td></tr>`,
    )
    .join('')}</table>`;
  let omitted = 0;
  const tables = groupRows(c.rows)
    .map((g) => {
      const shown = g.rows.filter(rowHasData);
      omitted += g.rows.length - shown.length;
      if (!shown.length) return '';
      const head = `<tr><th>figure</th>${c.sides.map((s) => `<th>${esc(s.id)}</th>`).join('')}${c.sides
        .slice(1)
        .map((s) => `<th>${esc(s.id)} vs A</th>`)
        .join('')}</tr>`;
      const body = shown
        .map(
          (r) =>
            `<tr><th>${esc(r.label)}</th>${r.stats
              .map(
                (st) =>
                  `<td class="n" title="${esc(st.values.map((v) => fmtFigure({ unit: r.unit }, v)).join(', '))}">${esc(statsText(r.unit, st))}</td>`,
              )
              .join('')}${r.diffs
              .slice(1)
              .map((d) => `<td class="n ${diffClass(d)}">${esc(diffText(r.unit, d))}</td>`)
              .join('')}</tr>`,
        )
        .join('');
      return `<h3>${esc(g.target)}${g.cell ? ` <span class="note">[${esc(g.cell)}]</span>` : ''}</h3><table>${head}${body}</table>`;
    })
    .join('\n');
  const body = `<h1>forklab comparison</h1>
<div class="meta">${esc(c.sides.length)} sides · ${esc(c.sides.reduce((n, s) => n + s.runs.length, 0))} runs · made ${esc(c.createdAt)}</div>
<h2>Sides</h2>${sides}
<ul>${c.rules.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>
${c.notes.length ? `<ul class="verdicts">${c.notes.map((n) => `<li class="warn">${esc(n)}</li>`).join('')}</ul>` : ''}
<h2>Figures</h2>
<p class="note">median (min..max) over a side’s runs; hover a cell for every run’s value. <span class="diff-real">* real</span>: beyond the combined spread; <span class="diff-noise">~ within noise</span>; <span class="diff-unknown">? noise unknown</span> (no repeat).${omitted ? ` ${esc(omitted)} rows zero or n/a on every side are left out (see the CSV/JSON export).` : ''}</p>
${tables}
<h2>Charts</h2>
<p class="note">x: the sides; solid: median${c.sides.some((s) => s.runs.length > 1) ? '; dashed: min and max of the runs' : ''}.</p>
<div class="charts">${charts.map((ch) => chartBox(ch)).join('')}</div>`;
  return htmlPage({ title: 'forklab comparison', body, charts });
}
