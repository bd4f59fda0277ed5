// Shared by the verdicts, the HTML report and the comparison: number formatting, HTML escaping,
// labels of cells and set-ups, and the table of derived figures every view shows.
//
// Reading figures back from results.json (see lab/record/derive-figures.ts): a ratio over zero is
// Infinity, which JSON writes as null, so a null in a number-typed figure means +Infinity —
// except the latencies, where null means no request completed. A Share over workers that all got
// 0 is all zeros (no data). A field missing altogether (an older record) is "n/a".
import type { CounterTotals, DerivedFigures, Share } from '../record/run-record';
import type { ServeConfig } from '../server/config';

/** A derived figure as shown: null when there is nothing to show (n/a). */
export type Figure = number | null;

/** A plain number or null (NaN, missing, or not a number). */
export function num(v: unknown): Figure {
  if (typeof v !== 'number' || Number.isNaN(v)) return null;
  return v;
}

/** A ratio figure read back from JSON: null is Infinity, missing is n/a. */
export function ratioFig(v: unknown): Figure {
  if (v === null) return Infinity;
  return num(v);
}

/** What a figure is computed from: a target's derived figures and counter totals. */
export interface FigureSource {
  derived: DerivedFigures;
  counters?: CounterTotals;
}

/** A share's figures, or null when every worker got 0 (no data). */
function shareOf(s: Share | null | undefined): Share | null {
  if (!s || (num(s.max) ?? 0) === 0) return null;
  return s;
}

/** max/min of a share: Infinity when a worker got none (null in JSON), null without data. */
export function shareMaxMin(s: Share | null | undefined): Figure {
  const x = shareOf(s);
  return x ? ratioFig(x.maxMin) : null;
}

/** Jain's index of a share (1 = even, 1/n = one worker took all), null without data. */
export function shareJain(s: Share | null | undefined): Figure {
  const x = shareOf(s);
  return x ? ratioFig(x.jain) : null;
}

/** The largest worker's part of the total (0..1): Share.max is a count, the total a counter. */
export function maxShareFraction(s: Share | null | undefined, total: number | null): Figure {
  const x = shareOf(s);
  if (!x || total === null || total <= 0) return null;
  return (num(x.max) ?? 0) / total;
}

/** A number for people: few digits, thousands separated, ∞ and n/a spelled out. */
export function fmtNum(v: Figure | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return '−∞';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return trimZeros(v.toFixed(1));
  if (a >= 1) return trimZeros(v.toFixed(2));
  if (a >= 0.001) return trimZeros(v.toPrecision(2));
  return v.toExponential(1);
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** A fraction (0..1) as a percentage. */
export function fmtPct(fraction: Figure | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return 'n/a';
  return `${fmtNum(fraction * 100)} %`;
}

/** HTML text and attribute escaping (quotes included). */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * JSON safe inside `<script type="application/json">`: no `<` (so no `</script>` or `<!--`),
 * and no U+2028/2029. JSON.parse reads it back unchanged.
 */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** `workers=4 trigger=edge`, or '' for a cell without a matrix. */
export function matrixLabel(matrix: Record<string, unknown> | null | undefined): string {
  if (!matrix) return '';
  return Object.entries(matrix)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

type ServerLike = Partial<Omit<ServeConfig, 'port' | 'metricsPort'>>;

/**
 * The set-up in the words of the story: `pre-fork`, `pre-fork (asyncio)`,
 * `post-fork + EPOLLEXCLUSIVE`, `pre-fork, edge-triggered`, with the worker count.
 */
export function setupLabel(server: ServerLike | null | undefined): string {
  const s = server ?? {};
  let label = s.loopCreation ?? 'post-fork';
  if (s.flavour === 'asyncio') label += ' (asyncio)';
  if (s.exclusive) label += ' + EPOLLEXCLUSIVE';
  if (s.reusePort) label += ' + SO_REUSEPORT';
  if (s.loopCreation === 'pre-fork-late') label += `, on-eexist ${s.onEexist ?? 'fail'}`;
  if (s.trigger === 'edge') label += ', edge-triggered';
  if (s.workers !== undefined) label += `, ${s.workers} worker${s.workers === 1 ? '' : 's'}`;
  return label;
}

/** How a figure is shown: a plain number, a percentage of a fraction, or ms. */
export type FigureUnit = 'count' | 'rate' | 'ratio' | 'fraction' | 'pct' | 'ms' | 'us';

export interface FigureDef {
  /** Stable key, also used in CSV/JSON exports (named as lab/report/csv-export.ts flattens them; `…MaxShare` is the largest worker's fraction of the total). */
  key: string;
  label: string;
  unit: FigureUnit;
  get(t: FigureSource): Figure;
  /** Which way is better, for the comparison's wording; undefined = neither. */
  better?: 'higher' | 'lower';
  /** Drawn against the swept parameter in a sweep, and in the comparison's charts. */
  chart?: boolean;
}

const fig = (key: keyof DerivedFigures) => (t: FigureSource) => ratioFig(t.derived?.[key]);
const plain = (key: keyof DerivedFigures) => (t: FigureSource) => num(t.derived?.[key]);

/** Every derived figure, in the order the tables show them. */
export const FIGURES: readonly FigureDef[] = [
  {
    key: 'requestsPerSec',
    label: 'requests/s',
    unit: 'rate',
    get: fig('requestsPerSec'),
    better: 'higher',
    chart: true,
  },
  {
    key: 'keyErrorsPer1000',
    label: 'KeyErrors per 1000 requests',
    unit: 'ratio',
    get: fig('keyErrorsPer1000'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'unknownFdPer1000',
    label: 'unknown-fd events per 1000 requests',
    unit: 'ratio',
    get: fig('unknownFdPer1000'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'spuriousReadsPerRequest',
    label: 'spurious reads per request',
    unit: 'ratio',
    get: fig('spuriousReadsPerRequest'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'voluntaryCsPerAccept',
    label: 'voluntary context switches per accepted connection',
    unit: 'ratio',
    get: fig('voluntaryCsPerAccept'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'voluntaryCsPerRequest',
    label: 'voluntary context switches per request',
    unit: 'ratio',
    get: fig('voluntaryCsPerRequest'),
    better: 'lower',
  },
  {
    key: 'involuntaryCsPerRequest',
    label: 'involuntary context switches per request',
    unit: 'ratio',
    get: fig('involuntaryCsPerRequest'),
    better: 'lower',
  },
  {
    key: 'acceptEagainPerAccept',
    label: 'accept EAGAIN per accepted connection',
    unit: 'ratio',
    get: fig('acceptEagainPerAccept'),
    better: 'lower',
  },
  {
    key: 'listenEventsPerAccept',
    label: 'listening-socket events per accepted connection',
    unit: 'ratio',
    get: fig('listenEventsPerAccept'),
  },
  {
    key: 'acceptMaxShare',
    label: 'largest accept share of one worker',
    unit: 'fraction',
    get: (t) => maxShareFraction(t.derived?.acceptShare, num(t.counters?.accepts_ok)),
    chart: true,
  },
  {
    key: 'acceptShareMaxMin',
    label: 'accept share max/min',
    unit: 'ratio',
    get: (t) => shareMaxMin(t.derived?.acceptShare),
    better: 'lower',
  },
  {
    key: 'acceptShareJain',
    label: "accept balance (Jain's index, 1 = even)",
    unit: 'ratio',
    get: (t) => shareJain(t.derived?.acceptShare),
    better: 'higher',
    chart: true,
  },
  {
    key: 'requestMaxShare',
    label: 'largest request share of one worker',
    unit: 'fraction',
    get: (t) => maxShareFraction(t.derived?.requestShare, num(t.counters?.requests)),
  },
  {
    key: 'requestShareJain',
    label: "request balance (Jain's index, 1 = even)",
    unit: 'ratio',
    get: (t) => shareJain(t.derived?.requestShare),
    better: 'higher',
  },
  {
    key: 'cpuUsPerRequest',
    label: 'CPU µs per request',
    unit: 'us',
    get: fig('cpuUsPerRequest'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'stuckConnectionsMax',
    label: 'stuck connections (most at once)',
    unit: 'count',
    get: fig('stuckConnectionsMax'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'stuckDetected',
    label: 'connections that became stuck',
    unit: 'count',
    get: fig('stuckDetected'),
    better: 'lower',
  },
  {
    key: 'clientTimeouts',
    label: 'client timeouts',
    unit: 'count',
    get: fig('clientTimeouts'),
    better: 'lower',
    chart: true,
  },
  {
    key: 'clientErrors',
    label: 'client connection errors',
    unit: 'count',
    get: fig('clientErrors'),
    better: 'lower',
  },
  {
    key: 'clientAborts',
    label: 'client aborts (server count)',
    unit: 'count',
    get: fig('clientAborts'),
    better: 'lower',
  },
  {
    key: 'workerRestarts',
    label: 'worker restarts',
    unit: 'count',
    get: fig('workerRestarts'),
    better: 'lower',
  },
  {
    key: 'eexistErrors',
    label: 'EEXIST from epoll_ctl',
    unit: 'count',
    get: fig('eexistErrors'),
    better: 'lower',
  },
  {
    key: 'clientRequests',
    label: 'responses the client received',
    unit: 'count',
    get: fig('clientRequests'),
  },
  {
    key: 'serverRequests',
    label: 'requests the server counted',
    unit: 'count',
    get: fig('serverRequests'),
  },
  {
    key: 'clientServerDiffPct',
    label: 'client − server count, %',
    unit: 'pct',
    get: fig('clientServerDiffPct'),
  },
  {
    key: 'latencyP50Ms',
    label: 'latency p50, ms',
    unit: 'ms',
    get: plain('latencyP50Ms'),
    better: 'lower',
  },
  {
    key: 'latencyP99Ms',
    label: 'latency p99, ms',
    unit: 'ms',
    get: plain('latencyP99Ms'),
    better: 'lower',
    chart: true,
  },
];

/** A figure's value as shown in a table cell. */
export function fmtFigure(def: Pick<FigureDef, 'unit'>, v: Figure | undefined): string {
  if (def.unit === 'fraction') return fmtPct(v);
  if (def.unit === 'pct') return v === null || v === undefined ? 'n/a' : `${fmtNum(v)} %`;
  return fmtNum(v);
}
