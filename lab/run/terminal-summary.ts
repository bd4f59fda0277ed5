// The end-of-run summary for a terminal: a string, at most 100 columns wide.
//
// One cell: the targets side by side (columns = targets, four per table; rows = the key figures
// with their units). A sweep (several cells): one compact table, rows = cell × target, columns =
// the matrix values and as many key figures as fit. Then the expectations (PASS/FAIL, with the
// reason of each failure) and the warnings. Colour only when asked (see `shouldUseColor`); the
// layout is the same with or without it.
//
// Figures: ∞ is a ratio over zero (a null in a record read from JSON, see derive-figures.ts), `-`
// is no data (no latency when nothing completed; a share when every worker had 0), a trailing `!`
// marks a value that failed an expectation.
import { inspectionSummaryLines } from '../inspect/inspect-started-server';
import { verdictLines, verdicts } from '../report/verdicts';
import type { ExpectationMetric } from '../scenario/scenario';
import type { CellRecord, DerivedFigures, ExpectationResult, RunRecord, Share } from './run-record';

export const SUMMARY_WIDTH = 100;
const TARGETS_PER_TABLE = 4;

export interface SummaryOptions {
  color: boolean;
  /** Default 100. */
  width?: number;
}

/** Colour when the stream is a TTY, unless NO_COLOR is set or TERM=dumb; FORCE_COLOR forces it. */
export function shouldUseColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}

type Paint = (code: string, s: string) => string;
const ansi: Paint = (code, s) => `\x1b[${code}m${s}\x1b[0m`;
const plain: Paint = (_code, s) => s;
const BOLD = '1';
const DIM = '2';
const RED = '31';
const GREEN = '32';
const YELLOW = '33';

type Kind = 'count' | 'ratio' | 'pct' | 'latency' | 'share';

interface FigureRow {
  label: string;
  unit: string;
  /** Short header for the sweep table (≤ 9 characters). */
  short: string;
  kind: Kind;
  value(d: DerivedFigures): number | null;
  /** For `share` rows: the share, to tell "no data" (every worker 0) apart. */
  share?(d: DerivedFigures): Share;
  metric?: ExpectationMetric;
}

const f = (
  label: string,
  unit: string,
  short: string,
  kind: Kind,
  key: Exclude<keyof DerivedFigures, 'acceptShare' | 'requestShare'>,
  metric?: ExpectationMetric,
): FigureRow => ({ label, unit, short, kind, value: (d) => d[key], metric });

const shareRow = (
  label: string,
  short: string,
  which: 'acceptShare' | 'requestShare',
  part: 'maxMin' | 'jain',
  metric: ExpectationMetric,
): FigureRow => ({
  label,
  unit: '',
  short,
  kind: 'share',
  value: (d) => d[which][part],
  share: (d) => d[which],
  metric,
});

/** The rows of the side-by-side table, in order. */
export const SUMMARY_ROWS: readonly FigureRow[] = [
  f('requests', '/s', 'req/s', 'ratio', 'requestsPerSec', 'requestsPerSec'),
  f('server requests', '', 'srv req', 'count', 'serverRequests', 'serverRequests'),
  f('client responses', '', 'cli resp', 'count', 'clientRequests', 'clientRequests'),
  f('client vs server', '%', 'cli-srv%', 'pct', 'clientServerDiffPct'),
  f('client timeouts', '', 'timeouts', 'count', 'clientTimeouts', 'clientTimeouts'),
  f('client errors', '', 'errors', 'count', 'clientErrors', 'clientErrors'),
  f('latency p50', 'ms', 'p50 ms', 'latency', 'latencyP50Ms'),
  f('latency p99', 'ms', 'p99 ms', 'latency', 'latencyP99Ms'),
  f(
    'vol. ctx switches',
    '/accept',
    'vCS/acc',
    'ratio',
    'voluntaryCsPerAccept',
    'voluntaryCsPerAccept',
  ),
  f(
    'vol. ctx switches',
    '/req',
    'vCS/req',
    'ratio',
    'voluntaryCsPerRequest',
    'voluntaryCsPerRequest',
  ),
  f('invol. ctx switches', '/req', 'iCS/req', 'ratio', 'involuntaryCsPerRequest'),
  f(
    'accept EAGAIN',
    '/accept',
    'EAGN/acc',
    'ratio',
    'acceptEagainPerAccept',
    'acceptEagainPerAccept',
  ),
  f(
    'listen events',
    '/accept',
    'lsn/acc',
    'ratio',
    'listenEventsPerAccept',
    'listenEventsPerAccept',
  ),
  f('key errors', '/1000 req', 'KeyE/1k', 'ratio', 'keyErrorsPer1000', 'keyErrorsPer1000'),
  f('unknown-fd events', '/1000 req', 'unkFd/1k', 'ratio', 'unknownFdPer1000', 'unknownFdPer1000'),
  f(
    'spurious reads',
    '/req',
    'spur/req',
    'ratio',
    'spuriousReadsPerRequest',
    'spuriousReadsPerRequest',
  ),
  f('CPU', 'µs/req', 'CPUµs/rq', 'ratio', 'cpuUsPerRequest', 'cpuUsPerRequest'),
  shareRow('accept share max/min', 'acc mx/mn', 'acceptShare', 'maxMin', 'acceptShareMaxMin'),
  shareRow('accept share Jain', 'acc Jain', 'acceptShare', 'jain', 'acceptJain'),
  shareRow('request share Jain', 'req Jain', 'requestShare', 'jain', 'requestJain'),
  f('stuck connections max', '', 'stuck', 'count', 'stuckConnectionsMax', 'stuckConnectionsMax'),
  f('stuck detected', '', 'stuck det', 'count', 'stuckDetected'),
  f('worker restarts', '', 'restarts', 'count', 'workerRestarts', 'workerRestarts'),
  f('epoll_ctl EEXIST', '', 'EEXIST', 'count', 'eexistErrors', 'eexistErrors'),
  f('client aborts', '', 'aborts', 'count', 'clientAborts', 'clientAborts'),
];

/** Columns of the sweep table, most telling first; as many as fit are shown (the figures of
 * failed expectations first). */
const SWEEP_PRIORITY: readonly string[] = [
  'req/s',
  'vCS/acc',
  'KeyE/1k',
  'acc Jain',
  'stuck',
  'EAGN/acc',
  'vCS/req',
  'restarts',
  'timeouts',
  'unkFd/1k',
  'acc mx/mn',
  'CPUµs/rq',
  'EEXIST',
];

function group(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** One figure as text (no colour, no padding). */
export function formatFigure(v: number | null | undefined, kind: Kind, s?: Share): string {
  if (kind === 'share' && s && s.max === 0) return '-';
  if (v === null || v === undefined) return kind === 'latency' ? '-' : '∞';
  if (Number.isNaN(v)) return 'n/a';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return '-∞';
  if (kind === 'count') return group(String(Math.round(v)));
  if (kind === 'pct') return `${v > 0 ? '+' : ''}${v.toFixed(1)}`;
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return group(v.toFixed(0));
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a >= 0.001) return v.toPrecision(2);
  return v.toExponential(1);
}

function clip(s: string, w: number): string {
  return s.length <= w ? s : s.slice(0, Math.max(0, w - 1)) + '…';
}
const padL = (s: string, w: number) => ' '.repeat(Math.max(0, w - s.length)) + s;
const padR = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));

/** Word-wraps `text` to `width`, continuation lines indented by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const room = width - (lines.length === 0 ? 0 : indent.length);
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

function failedSet(record: RunRecord): Set<string> {
  const s = new Set<string>();
  for (const e of record.expectations) {
    if (!e.passed) s.add(`${e.cell}\u0000${e.checkedTarget}\u0000${e.metric}`);
  }
  return s;
}

function durationOf(record: RunRecord): string {
  const ms = Date.parse(record.endedAt) - Date.parse(record.startedAt);
  if (!Number.isFinite(ms) || ms < 0) return '';
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function header(record: RunRecord, paint: Paint, width: number): string[] {
  const statusCode =
    record.status === 'completed' ? GREEN : record.status === 'interrupted' ? YELLOW : RED;
  const dur = durationOf(record);
  const lines = [
    `${paint(BOLD, `forklab run ${record.runId}`)} · scenario ${record.scenario} · ` +
      `${paint(statusCode, record.status.toUpperCase())}${dur ? ` · ${dur}` : ''}`,
  ];
  const e = record.environment;
  if (e) {
    const git = e.gitCommit
      ? ` · git ${e.gitCommit.slice(0, 10)}${e.gitDirty ? ' (dirty)' : ''}`
      : '';
    lines.push(
      paint(
        DIM,
        clip(
          `${e.runtime} runtime · kernel ${e.kernel} · ${e.cpus} CPUs · node ${e.node}${git}`,
          width,
        ),
      ),
    );
  }
  if (record.error) {
    lines.push(...wrap(`error: ${record.error}`, width, '  ').map((l) => paint(RED, l)));
  }
  return lines;
}

function matrixLabel(cell: CellRecord): string {
  const parts = Object.entries(cell.matrix).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.join(' ') : '';
}

/** Side-by-side tables of one cell, TARGETS_PER_TABLE targets each. */
function cellTables(record: RunRecord, cell: CellRecord, paint: Paint, width: number): string[] {
  const failed = failedSet(record);
  const out: string[] = [];
  const labelW = Math.max(...SUMMARY_ROWS.map((r) => r.label.length));
  const unitW = Math.max(...SUMMARY_ROWS.map((r) => r.unit.length));
  const m = matrixLabel(cell);
  if (m || record.cells.length > 1)
    out.push(paint(BOLD, clip(`${cell.id}${m ? `  ${m}` : ''}`, width)));
  for (let start = 0; start < cell.targets.length; start += TARGETS_PER_TABLE) {
    const targets = cell.targets.slice(start, start + TARGETS_PER_TABLE);
    const colW = Math.max(
      8,
      Math.min(18, Math.floor((width - labelW - unitW - 1) / Math.max(1, targets.length)) - 1),
    );
    if (start > 0) out.push('');
    out.push(
      paint(
        BOLD,
        padR('', labelW) +
          ' ' +
          padR('', unitW) +
          targets.map((t) => ' ' + padL(clip(t.name, colW), colW)).join(''),
      ),
    );
    for (const row of SUMMARY_ROWS) {
      let line = padR(row.label, labelW) + ' ' + paint(DIM, padR(row.unit, unitW));
      for (const t of targets) {
        let text = formatFigure(row.value(t.derived), row.kind, row.share?.(t.derived));
        const bad =
          row.metric !== undefined && failed.has(`${cell.id}\u0000${t.name}\u0000${row.metric}`);
        if (bad) text += '!';
        const cellText = padL(clip(text, colW), colW);
        line += ' ' + (bad ? paint(RED, cellText) : cellText);
      }
      out.push(line);
    }
  }
  return out;
}

/** The sweep table: rows = cell × target, columns = matrix values and the figures that fit. */
function sweepTable(record: RunRecord, paint: Paint, width: number): string[] {
  const failed = failedSet(record);
  const keys = [...new Set(record.cells.flatMap((c) => Object.keys(c.matrix)))];
  const cellW = Math.max(4, ...record.cells.map((c) => c.id.length));
  const keyW = keys.map((k) =>
    Math.min(16, Math.max(k.length, ...record.cells.map((c) => String(c.matrix[k] ?? '').length))),
  );
  const targetW = Math.min(
    14,
    Math.max(6, ...record.cells.flatMap((c) => c.targets.map((t) => t.name.length))),
  );
  const figW = 9;
  const fixed = cellW + keyW.reduce((a, w) => a + w + 1, 0) + 1 + targetW;
  const fit = Math.max(1, Math.floor((width - fixed) / (figW + 1)));
  const bySort = SWEEP_PRIORITY.map((s) => SUMMARY_ROWS.find((r) => r.short === s)!);
  const failedMetrics = new Set(record.expectations.filter((e) => !e.passed).map((e) => e.metric));
  const wanted = [
    ...bySort.filter((r) => r.metric !== undefined && failedMetrics.has(r.metric)),
    ...bySort,
  ];
  const chosen = new Set([...new Set(wanted)].slice(0, fit));
  const rows = bySort.filter((r) => chosen.has(r));
  const head =
    padR('cell', cellW) +
    keys.map((k, i) => ' ' + padR(clip(k, keyW[i]!), keyW[i]!)).join('') +
    ' ' +
    padR('target', targetW) +
    rows.map((r) => ' ' + padL(r.short, figW)).join('');
  const out = [paint(BOLD, head)];
  for (const cell of record.cells) {
    for (const t of cell.targets) {
      let line =
        padR(cell.id, cellW) +
        keys
          .map((k, i) => ' ' + padR(clip(String(cell.matrix[k] ?? ''), keyW[i]!), keyW[i]!))
          .join('') +
        ' ' +
        padR(clip(t.name, targetW), targetW);
      for (const r of rows) {
        let text = formatFigure(r.value(t.derived), r.kind, r.share?.(t.derived));
        const bad =
          r.metric !== undefined && failed.has(`${cell.id}\u0000${t.name}\u0000${r.metric}`);
        if (bad) text += '!';
        const c = padL(clip(text, figW), figW);
        line += ' ' + (bad ? paint(RED, c) : c);
      }
      out.push(line);
    }
  }
  const legend = rows.map((r) => `${r.short} = ${r.label}${r.unit ? ` ${r.unit}` : ''}`).join('; ');
  out.push(...wrap(legend, width, '').map((l) => paint(DIM, l)));
  out.push(paint(DIM, 'every figure of every cell: figures.csv in the run folder'));
  return out;
}

function formatActual(e: ExpectationResult): string {
  // null: Infinity that went through JSON (no expectation metric is a latency).
  return formatFigure(e.actual, 'ratio');
}

function expectations(record: RunRecord, paint: Paint, width: number): string[] {
  const list = record.expectations;
  if (list.length === 0) return [];
  const failedN = list.filter((e) => !e.passed).length;
  const multiCell = record.cells.length > 1;
  const out = [paint(BOLD, `Expectations: ${list.length - failedN} passed, ${failedN} failed`)];
  for (const e of list) {
    const mark = e.passed ? paint(GREEN, 'PASS') : paint(RED, 'FAIL');
    // A selector (`exclusive=true`, `*`) can pick the same target for two expectations: name it.
    const target =
      e.target === e.checkedTarget ? e.checkedTarget : `${e.checkedTarget} (${e.target})`;
    const where = multiCell ? `${e.cell} ${target}` : target;
    const text =
      `${where}: ${e.metric} ${e.op} ${e.value}, actual ${formatActual(e)}` +
      (!e.passed && e.why ? ` (${e.why})` : '');
    const lines = wrap(text, width - 8, '      ');
    out.push(`  ${mark}  ${lines[0]}`, ...lines.slice(1).map((l) => '  ' + l));
  }
  return out;
}

function warnings(record: RunRecord, paint: Paint, width: number): string[] {
  if (record.warnings.length === 0) return [];
  const out = [paint(BOLD, `Warnings (${record.warnings.length})`)];
  for (const w of record.warnings) {
    const lines = wrap(w, width - 4, '    ');
    out.push(
      paint(YELLOW, `  ! ${lines[0]}`),
      ...lines.slice(1).map((l) => paint(YELLOW, '  ' + l)),
    );
  }
  return out;
}

export function renderSummary(record: RunRecord, opts: SummaryOptions): string {
  const paint = opts.color ? ansi : plain;
  const width = opts.width ?? SUMMARY_WIDTH;
  const sections: string[][] = [header(record, paint, width)];
  const cells = record.cells.filter((c) => c.targets.length > 0);
  if (cells.length === 0) {
    sections.push(['no cell completed: no figures']);
  } else if (record.cells.length === 1) {
    sections.push(cellTables(record, cells[0]!, paint, width));
  } else {
    sections.push(sweepTable({ ...record, cells }, paint, width));
  }
  sections.push(
    findings(record, paint, width),
    kernelEvidence(record, paint, width),
    expectations(record, paint, width),
    warnings(record, paint, width),
  );
  return (
    sections
      .filter((s) => s.length > 0)
      .map((s) => s.join('\n'))
      .join('\n\n') + '\n'
  );
}

/** What the kernel showed of each server's set-up once it was ready (lab/inspect). */
function kernelEvidence(record: RunRecord, paint: Paint, width: number): string[] {
  const lines = record.cells.flatMap((c) =>
    c.targets.flatMap((t) =>
      inspectionSummaryLines(
        record.cells.length > 1 ? `${c.id} ${t.name}` : t.name,
        t.inspection ?? [],
      ),
    ),
  );
  if (lines.length === 0) return [];
  const out = [paint(BOLD, 'Kernel evidence (forklab inspect)')];
  for (const l of lines) {
    const w = wrap(l, width - 2, '    ');
    out.push('  ' + w[0], ...w.slice(1).map((x) => '  ' + x));
  }
  return out;
}

/** The verdicts in plain words, one per finding (lab/report/verdicts.ts), wrapped to width. */
function findings(record: RunRecord, paint: Paint, width: number): string[] {
  const lines = verdictLines(verdicts(record));
  if (lines.length === 0) return [];
  const out = [paint(BOLD, 'Verdicts')];
  for (const l of lines) {
    const w = wrap(l, width - 2, '       ');
    out.push('  ' + w[0], ...w.slice(1).map((x) => '  ' + x));
  }
  return out;
}
