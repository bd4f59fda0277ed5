// The run report: runs/<run>/report.html, one self-contained file (uPlot inlined, no external
// URL) made from results.json alone. Every text that comes from the record is escaped.
//
// Sections: the run and its configuration, the verdicts, the derived figures side by side per
// target (per cell for sweeps), sweep charts (each key figure against the swept parameter), time
// series of the key rates per target with the phases shaded, and per-worker balance bars.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readRecord, RESULTS_FILE } from '../record/run-folder';
import type { CellRecord, RunRecord, TargetRecord } from '../record/run-record';
import { sweepCharts, targetCharts, type ChartSpec } from './chart-data';
import {
  FIGURES,
  describeEngine,
  esc,
  fmtFigure,
  fmtNum,
  fmtPct,
  matrixLabel,
  num,
  targetSetupLabel,
} from './format';
import { figureOf, shownFigures, type FigureKey } from '../record/figures';
import { chartBox, htmlPage } from './page';
import { describeIsolation } from '../scenario/isolation';
import { verdicts, type Verdict } from './verdicts';

export const REPORT_FILE = 'report.html';

function kvTable(rows: [string, unknown][]): string {
  return `<table class="kv">${rows
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(show(v))}</td></tr>`)
    .join('')}</table>`;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return fmtNum(v);
  return JSON.stringify(v);
}

function durationText(fromIso: string, toIso: string): string {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return Number.isFinite(ms) ? `${fmtNum(ms / 1000)} s` : '—';
}

function verdictList(vs: readonly Verdict[]): string {
  if (vs.length === 0) return '<p>No findings.</p>';
  return `<ul class="verdicts">${vs
    .map((v) => {
      const where =
        v.target === null
          ? 'run'
          : `${v.target}${v.cellLabel ? ` [${v.cell ?? ''} ${v.cellLabel}]` : ''}`;
      return `<li class="${v.severity}"><span class="badge ${v.severity}">${v.severity}</span> <span class="where">${esc(where)}</span>: ${esc(v.text)}</li>`;
    })
    .join('')}</ul>`;
}

function configurationSection(r: RunRecord): string {
  const e = r.environment ?? ({} as RunRecord['environment']);
  const env = kvTable([
    ['git commit', e.gitCommit ? `${e.gitCommit}${e.gitDirty ? ' (dirty tree)' : ''}` : '—'],
    ['host', e.host],
    ['kernel', e.kernel],
    ['CPUs', e.cpus],
    ['Node.js', e.node],
    ['engine', e.engineVersion],
    ['runtime', e.runtime + (e.docker ? ` (Docker ${e.docker})` : '')],
    ...(e.runtimeNote ? ([['runtime note', e.runtimeNote]] as [string, unknown][]) : []),
    ...(e.engines ?? []).map((x): [string, unknown] => [`engine ${x.name}`, describeEngine(x)]),
  ]);
  const s = r.resolved;
  const load = s?.load;
  const loadRows: [string, unknown][] = load
    ? [
        ['mode', load.mode],
        ['connections per target', load.connections],
        ['measured load', `${load.durationSec} s`],
        ['warm-up', `${load.warmupSec ?? 1} s`],
        ['rate', load.rate === undefined ? 'as fast as possible' : `${load.rate} requests/s`],
        ['client deadline', `${load.timeoutMs ?? 2000} ms`],
        [
          'load driver',
          load.driver === 'native'
            ? `native (${load.driverThreads ?? 1} thread${(load.driverThreads ?? 1) === 1 ? '' : 's'})`
            : (load.driver ?? 'node'),
        ],
        [
          'load generators run',
          s.placement?.drivers !== undefined
            ? `as containers on engine "${s.placement.drivers}", one per target`
            : 'in the lab process',
        ],
        ['latency timing', latencyTiming(r)],
        ['path', load.path ?? '/'],
        ...(load.mode === 'keep-alive'
          ? ([['pipelining', load.pipelining ?? 1]] as [string, unknown][])
          : []),
        ['isolation', describeIsolation(s.isolation)],
        ['sample interval', `${s.sampleIntervalMs ?? 1000} ms`],
        ['drain', `${s.drainSec ?? 1} s`],
      ]
    : [];

  // The resolved server configuration of each target (first cell where it appears).
  const targets: TargetRecord[] = [];
  for (const c of r.cells ?? [])
    for (const t of c.targets) if (!targets.some((x) => x.name === t.name)) targets.push(t);
  const keys: string[] = [];
  for (const t of targets)
    for (const k of Object.keys(t.server ?? {})) if (!keys.includes(k)) keys.push(k);
  const serverTable = targets.length
    ? `<table><tr><th>setting</th>${targets.map((t) => `<th>${esc(t.name)}</th>`).join('')}</tr>${keys
        .map(
          (k) =>
            `<tr><th>${esc(k)}</th>${targets
              .map(
                (t) => `<td>${esc(show((t.server as unknown as Record<string, unknown>)[k]))}</td>`,
              )
              .join('')}</tr>`,
        )
        .join('')}<tr><th>containers</th>${targets
        .map((t) => `<td>${esc(show(t.containers?.length ?? 0))}</td>`)
        .join('')}</tr><tr><th>server logs</th>${targets
        .map((t) => `<td>${logLinks(r, t)}</td>`)
        .join('')}</tr></table>${
        (r.cells?.length ?? 0) > 1
          ? '<p class="note">A sweep: the values above are the first cell’s; each cell’s matrix values override them.</p>'
          : ''
      }`
    : '<p>No targets recorded.</p>';

  const matrix = s?.matrix
    ? kvTable(Object.entries(s.matrix).map(([k, v]) => [k, (v as unknown[]).map(show).join(', ')]))
    : '<p>No matrix: one cell.</p>';
  const overrides = Object.entries(r.overrides ?? {});
  const overridesHtml = overrides.length
    ? kvTable(overrides)
    : '<p>None: the scenario as written.</p>';

  const ex = r.expectations ?? [];
  const multiCell = (r.cells?.length ?? 0) > 1;
  const expectations = ex.length
    ? `<table><tr>${multiCell ? '<th>cell</th>' : ''}<th>target</th><th>expectation</th><th>measured</th><th>result</th><th>why</th></tr>${ex
        .map(
          (x) =>
            `<tr>${multiCell ? `<td>${esc(x.cell)}</td>` : ''}<td>${esc(x.target === x.checkedTarget ? x.checkedTarget : `${x.checkedTarget} (${x.target})`)}</td><td>${esc(`${x.metric} ${x.op} ${x.value}`)}</td><td class="n">${esc(x.notApplicable ? `n/a: ${x.notApplicable}` : fmtFigure(FIGURES.find((f) => f.key === x.metric) ?? { unit: 'ratio' }, x.actual))}</td><td><span class="badge ${x.passed ? 'ok' : 'bad'}">${x.passed ? 'held' : 'failed'}</span></td><td>${esc(x.why ?? '')}</td></tr>`,
        )
        .join('')}</table>`
    : '<p>The scenario states no expectations.</p>';

  return `<h2 id="configuration">Configuration</h2>
<div class="charts"><div><h3>Environment</h3>${env}</div><div><h3>Load</h3>${kvTable(loadRows)}</div></div>
<h3>Targets (resolved server configuration)</h3>${serverTable}
<h3>Matrix</h3>${matrix}
<h3>Overrides</h3>${overridesHtml}
<h3>Expectations</h3>${expectations}`;
}

/** How latency was timed: corrected for coordinated omission or not, from the targets' results. */
function latencyTiming(r: RunRecord): string {
  if (r.resolved?.load?.rate === undefined) {
    return 'from when each request was written (no rate: no schedule to correct against)';
  }
  const flags = (r.cells ?? []).flatMap((c) => c.targets.map((t) => t.client?.latencyCorrected));
  if (flags.length > 0 && flags.every((f) => f === true)) {
    return 'corrected for coordinated omission: from when the rate’s schedule had each request due (as wrk2)';
  }
  if (flags.length > 0 && flags.every((f) => f === false)) {
    return 'not corrected for coordinated omission: from when each request was written';
  }
  return flags.some((f) => f !== undefined)
    ? 'differs between targets (see the verdicts)'
    : 'not recorded';
}

/**
 * Links to the servers' log files of every cell, relative to the run folder (the runner records
 * them so). Anything that is not a plain relative path is shown as text, not linked.
 */
function logLinks(r: RunRecord, t: TargetRecord): string {
  const files = (r.cells ?? [])
    .flatMap((c) => c.targets.filter((x) => x.name === t.name))
    .flatMap((x) => (x.containers ?? []).map((c) => c.logFile))
    .filter((f): f is string => typeof f === 'string' && f.length > 0);
  if (files.length === 0) return '—';
  return files
    .map((f) =>
      /^[A-Za-z0-9._-][A-Za-z0-9._/-]*$/.test(f) && !f.includes('..')
        ? `<a href="${esc(f)}">${esc(path.basename(f))}</a>`
        : esc(f),
    )
    .join('<br>');
}

function cellHeading(cell: CellRecord, multi: boolean): string {
  return multi
    ? `<h3>${esc(cell.id)}: ${esc(matrixLabel(cell.matrix) || 'no matrix values')}</h3>`
    : '';
}

/** Above this many cell × target columns a sweep's figures go in one table per cell. */
const MAX_FIGURE_COLUMNS = 12;

interface Column {
  cell: CellRecord;
  t: TargetRecord;
}

function figuresTable(cols: readonly Column[], multi: boolean): string {
  const cellHead = multi
    ? `<tr><th></th>${groupCells(cols)
        .map(
          (g) =>
            `<th colspan="${g.n}">${esc(g.cell.id)}: ${esc(matrixLabel(g.cell.matrix) || '—')}</th>`,
        )
        .join('')}</tr>`
    : '';
  const head = `${cellHead}<tr><th>figure</th>${cols
    .map(
      ({ t }) =>
        `<th>${esc(t.name)}<div class="note">${esc(
          targetSetupLabel(
            t,
            cols.map((x) => x.t),
          ),
        )}</div></th>`,
    )
    .join('')}</tr>`;
  const rows = shownFigures(
    FIGURES,
    cols.map(({ t }) => t),
  ).map((def) => {
    const values = cols.map(({ t }) => figureOf(t, def.key as FigureKey));
    const zero = values.every((v) => v.value === 0 || v.value === null);
    // A figure that does not apply: `n/a` and the reason, in the cell and its tooltip.
    return `<tr${zero ? ' class="zero"' : ''}><th>${esc(def.label)}</th>${values
      .map((v) =>
        v.na !== null
          ? `<td class="n na" title="${esc(v.na)}">n/a<div class="note">${esc(v.na)}</div></td>`
          : `<td class="n">${esc(fmtFigure(def, v.value))}</td>`,
      )
      .join('')}</tr>`;
  });
  const client = (label: string, get: (t: TargetRecord) => unknown) =>
    `<tr><th>${esc(label)}</th>${cols.map(({ t }) => `<td class="n">${esc(show(get(t)))}</td>`).join('')}</tr>`;
  const clientRows = [
    client('client: requests sent', (t) => t.client?.sent),
    client('client: 2xx responses', (t) => t.client?.status2xx),
    client('client: other statuses', (t) => t.client?.statusOther),
    client('client: measured seconds', (t) => t.client?.durationSec),
    client('client: latency p90 / max, ms', (t) =>
      t.client?.latencyMs
        ? `${fmtNum(t.client.latencyMs.p90)} / ${fmtNum(t.client.latencyMs.max)}`
        : null,
    ),
  ];
  return `<table>${head}${rows.join('')}${clientRows.join('')}</table>`;
}

function groupCells(cols: readonly Column[]): { cell: CellRecord; n: number }[] {
  const out: { cell: CellRecord; n: number }[] = [];
  for (const c of cols) {
    const last = out[out.length - 1];
    if (last && last.cell === c.cell) last.n++;
    else out.push({ cell: c.cell, n: 1 });
  }
  return out;
}

function figuresSection(cells: readonly CellRecord[], multi: boolean): string {
  const cols = cells.flatMap((cell) => cell.targets.map((t) => ({ cell, t })));
  if (!multi || cols.length <= MAX_FIGURE_COLUMNS) return figuresTable(cols, multi);
  return cells
    .map(
      (cell) =>
        `${cellHeading(cell, true)}${figuresTable(
          cell.targets.map((t) => ({ cell, t })),
          false,
        )}`,
    )
    .join('\n');
}

function balanceSection(t: TargetRecord): string {
  const ws = t.workers ?? [];
  if (ws.length === 0) return '<p class="note">No per-worker counters recorded.</p>';
  const total = (f: string) => ws.reduce((a, w) => a + (num(w.counters?.[f]) ?? 0), 0);
  const accepts = total('accepts_ok');
  const requests = total('requests');
  const bar = (cls: string, v: number, sum: number) => {
    const share = sum > 0 ? v / sum : null;
    const width = share === null ? 0 : Math.max(0, Math.min(100, share * 100));
    return `<div class="bar ${cls}"><span style="width:${width.toFixed(1)}%"></span><em>${esc(fmtPct(share))} (${esc(fmtNum(v))})</em></div>`;
  };
  const rows = ws
    .map((w) => {
      const a = num(w.counters?.accepts_ok) ?? 0;
      const q = num(w.counters?.requests) ?? 0;
      return `<tr><th>${esc(w.key)}</th><td>${bar('acc', a, accepts)}</td><td>${bar('req', q, requests)}</td><td class="n">${esc(fmtNum(w.restarts))}</td><td>${w.failed ? '<span class="badge bad">failed</span>' : ''}</td></tr>`;
    })
    .join('');
  return `<table><tr><th>worker</th><th>accept share (of ${esc(fmtNum(accepts))})</th><th>request share (of ${esc(fmtNum(requests))})</th><th>restarts</th><th></th></tr>${rows}</table>`;
}

/** What the kernel showed of each server's set-up once it was ready (lab/inspect). */
function kernelEvidenceSection(cells: readonly CellRecord[], multi: boolean): string {
  const parts = cells.flatMap((c) =>
    c.targets.map((t) => {
      const rows = (t.inspection ?? [])
        .map((i) => {
          const items = [
            ...i.findings.map(
              (f) =>
                `<li><span class="badge ${f.severity === 'risk' ? 'bad' : ''}">${esc(f.severity)}</span> ${esc(f.text)}</li>`,
            ),
            ...i.unseen.map((u) => `<li><span class="badge">not seen</span> ${esc(u)}</li>`),
          ];
          return `<h4>${esc(multi ? `${c.id} ` : '')}${esc(t.name)} <span class="note">${esc(i.server)}, pid ${esc(i.pid ?? '?')}</span></h4><ul>${items.join('') || '<li>nothing to report</li>'}</ul>`;
        })
        .join('');
      return rows;
    }),
  );
  if (parts.every((p) => p === '')) return '';
  return `<h2 id="kernel">Kernel evidence</h2>
<p class="note">Each server inspected once ready (<code>forklab inspect</code>): its epoll instances told apart by kcmp, what they watch, its listening sockets. The full evidence is in results.json.</p>
${parts.join('\n')}`;
}

/** The whole report as one HTML string. */
export function renderReport(record: RunRecord): string {
  const r = record;
  const vs = verdicts(r);
  const cells = r.cells ?? [];
  const multi = cells.length > 1;
  const charts: ChartSpec[] = [];

  const header = `<h1>forklab run: ${esc(r.scenario)}</h1>
<div class="meta">run <code>${esc(r.runId)}</code> · <span class="badge ${esc(r.status)}">${esc(r.status)}</span> · ${esc(r.startedAt)} → ${esc(r.endedAt)} (${esc(durationText(r.startedAt, r.endedAt))}) · schema ${esc(r.schema)} · <a href="${RESULTS_FILE}">results.json</a></div>
<p class="lead">${esc(r.description)}</p>
${r.error ? `<p class="render-errors">Error: ${esc(r.error)}</p>` : ''}
<p class="note">Contents: <a href="#verdicts">verdicts</a> · <a href="#figures">figures</a>${multi ? ' · <a href="#sweep">sweep</a>' : ''} · <a href="#series">time series</a> · <a href="#balance">per-worker balance</a> · <a href="#configuration">configuration</a></p>`;

  const verdictHtml = `<h2 id="verdicts">Verdicts</h2>${verdictList(vs)}${kernelEvidenceSection(cells, multi)}`;

  const figures = `<h2 id="figures">Derived figures</h2>
<p class="note">Over the measured load, summed over each target’s containers and workers. Grey rows are zero for every target.</p>
${cells
  .filter((c) => c.interrupted)
  .map(
    (c) =>
      `<p class="render-errors">${esc(c.id)} interrupted: its counters and samples run up to the signal; its load was cut short and not drained.</p>`,
  )
  .join('\n')}
${figuresSection(cells, multi)}`;

  let sweep = '';
  if (multi) {
    const sw = sweepCharts(r);
    charts.push(...sw.charts);
    sweep = `<h2 id="sweep">Sweep${sw.xKey ? `: figures against ${esc(sw.xKey)}` : ''}</h2>
${sw.charts.length ? `<div class="charts">${sw.charts.map((c) => chartBox(c)).join('')}</div>` : '<p>The cells do not differ in any matrix value.</p>'}
${sw.allZero.length ? `<p class="note">Zero in every cell: ${esc(sw.allZero.join(', '))}.</p>` : ''}`;
  }

  const series = `<h2 id="series">Time series</h2>
<p class="note">Rates between consecutive samples of the cumulative counters, plotted at the later sample. Shaded: <span class="swatch" style="background:rgba(0,0,0,0.12)"></span>warm-up, <span class="swatch" style="background:rgba(255,165,0,0.25)"></span>drain; unshaded: the measured load.</p>
${cells
  .map((c, ci) => {
    const parts = c.targets.map((t, ti) => {
      const tc = targetCharts(t, `c${ci}-t${ti}`, r.resolved?.sampleIntervalMs ?? 1000);
      charts.push(...tc.charts);
      const notes = [
        tc.allZero.length ? `zero throughout: ${tc.allZero.join(', ')}` : '',
        tc.missing.length ? `not in the record: ${tc.missing.join(', ')}` : '',
      ].filter(Boolean);
      return `<h4>${esc(t.name)} <span class="note">${esc(targetSetupLabel(t, c.targets))}</span></h4>
<div class="charts">${tc.charts.map((x) => chartBox(x)).join('')}</div>${notes.length ? `<p class="note">${esc(notes.join('; '))}.</p>` : ''}`;
    });
    return `${cellHeading(c, multi)}${parts.join('\n')}`;
  })
  .join('\n')}`;

  const balance = `<h2 id="balance">Per-worker balance</h2>
<p class="note">Share of the accepted connections and of the requests each worker took over the measured load (worker key: container/worker).</p>
${cells
  .map(
    (c) =>
      `${cellHeading(c, multi)}${c.targets
        .map(
          (t) =>
            `<h4>${esc(t.name)} <span class="note">${esc(targetSetupLabel(t, c.targets))}</span></h4>${balanceSection(t)}`,
        )
        .join('\n')}`,
  )
  .join('\n')}`;

  const footer = `<p class="note">Made by forklab from <a href="${RESULTS_FILE}">results.json</a> at ${esc(new Date().toISOString())}.</p>`;

  return htmlPage({
    title: `forklab: ${r.scenario} (${r.runId})`,
    body: [header, verdictHtml, figures, sweep, series, balance, configurationSection(r), footer]
      .filter(Boolean)
      .join('\n'),
    charts,
  });
}

/** Reads <runDir>/results.json and writes <runDir>/report.html; resolves with its path. */
export async function writeReport(runDir: string): Promise<string> {
  const record = await readRecord(runDir);
  const out = path.join(runDir, REPORT_FILE);
  await writeFile(out, renderReport(record));
  return out;
}
