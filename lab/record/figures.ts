// The figure catalogue: every derived figure of a run, defined once. Each entry has its key (the
// one spelling used in results.json, figures.csv, expectations and comparisons), its label and
// unit, which way is better, how it is computed from the measured window, and when it applies.
// Every view (terminal summary, CSV, HTML report, verdicts, comparison) and the expectation
// validator take their rows from FIGURES; to add a figure, add one entry here.
//
// Values: a ratio over zero is Infinity ("x but no y": `ratio` below), written `inf` in every file
// and view; 0/0 is 0. A figure that does not apply to a run (wrong load mode, too few accepted
// connections, no completed request) has no value: the record holds null for it and the reason in
// TargetRecord.notApplicable; views show `n/a` and the reason, CSV leaves the cell empty,
// comparisons leave it out, and an expectation on it fails with the reason. An expectation on a
// figure whose load mode the scenario does not use is rejected when the scenario is validated.
//
// This module imports types only, so that lab/scenario can read the catalogue without a cycle.
import type {
  ClientResult,
  CounterTotals,
  DerivedFigures,
  TargetSeries,
  WorkerRecord,
} from './run-record';

export type LoadMode = 'keep-alive' | 'churn';

/** How a value is shown: a count, a rate or ratio, a fraction (as %), a percentage, ms or µs. */
export type FigureUnit = 'count' | 'rate' | 'ratio' | 'fraction' | 'pct' | 'ms' | 'us';

/** What a figure is computed from: one target over the measured window. */
export interface FigureInput {
  /** Counter deltas over the measured window, summed over containers and workers. */
  totals: CounterTotals;
  workers: readonly WorkerRecord[];
  client: ClientResult;
  series: TargetSeries;
  /** Length of the measured window, s. */
  durationSec: number;
  /** Worker restarts in the window. */
  restarts: number;
  /** epoll_ctl EEXIST since the servers started (they happen at start-up). */
  eexist: number;
  loadMode: LoadMode | null;
  /** What the target ran (lab/scenario/target-kinds.ts); default `engine`. */
  kind?: string;
}

/** When a figure means something; a figure without `applies` always does. */
export interface Applies {
  /** The load mode it needs (checked when the scenario is validated). */
  loadMode?: LoadMode;
  /** Accepted connections in the window, at least. */
  minAccepts?: number;
  /** Requests per accepted connection, at most (a new connection per request). */
  maxRequestsPerAccept?: number;
  /** Requests the server counted in the window, at least. */
  minRequests?: number;
  /** Responses with a latency the client measured, at least. */
  minResponses?: number;
  /**
   * The load generator's usage (ClientResult.usage): `any` needs it recorded; `loop` needs an
   * event loop on the generator's request path (the node drivers; the native driver has none).
   */
  driverUsage?: 'any' | 'loop';
  /**
   * Counter fields it is computed from: when the target's workers report the field at all (even
   * as 0), or the server counts it as a whole (nginx's stub_status accepts), the figure applies;
   * when none does, the server does not count it and the figure is n/a, never 0.
   */
  counted?: readonly string[];
  /** Counter fields it needs per worker (a share between workers). */
  countedPerWorker?: readonly string[];
  /** Gauges it reads from the sampled series. */
  sampled?: readonly string[];
}

export interface FigureDef {
  key: string;
  /** Short, for the terminal table, where the unit is printed beside it (at most 22 characters). */
  name: string;
  /** In words, for the report and the comparison. */
  label: string;
  /** Short header for narrow tables (at most 9 characters). */
  short: string;
  unit: FigureUnit;
  /** The unit as printed next to the value in the terminal ('/s', '/accept', …). */
  unitText: string;
  better?: 'higher' | 'lower';
  /** Drawn against the swept parameter of a sweep, and in comparison charts. */
  chart?: boolean;
  compute(i: FigureInput): number | null;
  applies?: Applies;
  /**
   * `nonzero`: a row only where it has something to say. The tables of the summary and the
   * report leave it out when it is zero (or n/a) for every target they show; the record and the
   * CSV keep it always.
   */
  show?: 'nonzero';
}

// ---- Applicability thresholds -----------------------------------------------------------------

/**
 * Fewer accepted connections than this and the herd and accept-balance figures are not given:
 * with a handful of connections a share or a per-accept ratio is a few events' noise.
 */
export const MIN_ACCEPTS = 100;

/**
 * The herd is only read where most requests came on a new connection (requests per accepted
 * connection at most this): with keep-alive, context switches per accept are dominated by the
 * requests on each connection and say nothing about accept wake-ups.
 */
export const HERD_MAX_REQUESTS_PER_ACCEPT = 2;

/** Fewer requests than this and the request-balance figures are not given. */
export const MIN_REQUESTS_FOR_SHARE = 100;

const HERD: Applies = {
  loadMode: 'churn',
  minAccepts: MIN_ACCEPTS,
  maxRequestsPerAccept: HERD_MAX_REQUESTS_PER_ACCEPT,
};
const ACCEPT_SHARE: Applies = { loadMode: 'churn', minAccepts: MIN_ACCEPTS };
const REQUEST_SHARE: Applies = { minRequests: MIN_REQUESTS_FOR_SHARE };
const DRIVER: Applies = { driverUsage: 'any' };

// ---- Arithmetic -------------------------------------------------------------------------------

/** n / d, with 0/0 = 0 and n/0 = ±Infinity. */
export function ratio(n: number, d: number): number {
  if (d === 0) return n === 0 ? 0 : n > 0 ? Infinity : -Infinity;
  return n / d;
}

/** Jain's fairness index (Σx)² / (n·Σx²): 1 = perfectly even, 1/n = one took all; 0 with no data. */
export function jain(values: readonly number[]): number {
  const sum = values.reduce((a, b) => a + b, 0);
  const sumSq = values.reduce((a, b) => a + b * b, 0);
  return values.length === 0 || sumSq === 0 ? 0 : (sum * sum) / (values.length * sumSq);
}

const c = (i: FigureInput, field: string): number => i.totals[field] ?? 0;
const perWorker = (i: FigureInput, field: string): number[] =>
  i.workers.map((w) => w.counters[field] ?? 0);
const maxMin = (xs: readonly number[]): number =>
  xs.length === 0 ? 0 : ratio(Math.max(...xs), Math.min(...xs));
const maxShare = (xs: readonly number[]): number =>
  ratio(
    xs.length ? Math.max(...xs) : 0,
    xs.reduce((a, b) => a + b, 0),
  );

/** Max over the series' load and drain points of the summed stuck_connections gauge. */
export function stuckConnectionsMax(series: TargetSeries): number {
  const stuck = series.totals['stuck_connections'] ?? [];
  let max = 0;
  series.phase.forEach((p, i) => {
    if (p !== 'warmup') max = Math.max(max, stuck[i] ?? 0);
  });
  return max;
}

// ---- The catalogue ----------------------------------------------------------------------------

const FIGURE_LIST = [
  {
    key: 'requestsPerSec',
    name: 'requests',
    label: 'requests/s',
    short: 'req/s',
    unit: 'rate',
    unitText: '/s',
    better: 'higher',
    chart: true,
    compute: (i) => ratio(c(i, 'requests'), i.durationSec),
    applies: { counted: ['requests'] },
  },
  {
    key: 'serverRequests',
    name: 'server requests',
    label: 'requests the server counted',
    short: 'srv req',
    unit: 'count',
    unitText: '',
    compute: (i) => c(i, 'requests'),
    applies: { counted: ['requests'] },
  },
  {
    key: 'clientRequests',
    name: 'client responses',
    label: 'responses the client received',
    short: 'cli resp',
    unit: 'count',
    unitText: '',
    compute: (i) => i.client.responses,
  },
  {
    key: 'clientServerDiffPct',
    name: 'client vs server',
    label: 'client − server count',
    short: 'cli-srv%',
    unit: 'pct',
    unitText: '%',
    compute: (i) => ratio((i.client.responses - c(i, 'requests')) * 100, c(i, 'requests')),
    applies: { minRequests: 1, counted: ['requests'] },
  },
  {
    key: 'clientTimeouts',
    name: 'client timeouts',
    label: 'client timeouts',
    short: 'timeouts',
    unit: 'count',
    unitText: '',
    better: 'lower',
    chart: true,
    compute: (i) => i.client.timeouts,
  },
  {
    key: 'clientErrors',
    name: 'client errors',
    label: 'client connection errors',
    short: 'errors',
    unit: 'count',
    unitText: '',
    better: 'lower',
    compute: (i) => i.client.errors,
  },
  {
    key: 'latencyP50Ms',
    name: 'latency p50',
    label: 'latency p50',
    short: 'p50 ms',
    unit: 'ms',
    unitText: 'ms',
    better: 'lower',
    compute: (i) => i.client.latencyMs?.p50 ?? null,
    applies: { minResponses: 1 },
  },
  {
    key: 'latencyP99Ms',
    name: 'latency p99',
    label: 'latency p99',
    short: 'p99 ms',
    unit: 'ms',
    unitText: 'ms',
    better: 'lower',
    chart: true,
    compute: (i) => i.client.latencyMs?.p99 ?? null,
    applies: { minResponses: 1 },
  },
  {
    key: 'voluntaryCsPerAccept',
    name: 'vol. ctx switches',
    label: 'voluntary context switches per accepted connection',
    short: 'vCS/acc',
    unit: 'ratio',
    unitText: '/accept',
    better: 'lower',
    chart: true,
    compute: (i) => ratio(c(i, 'nvcsw'), c(i, 'accepts_ok')),
    applies: { ...HERD, counted: ['nvcsw', 'accepts_ok'] },
  },
  {
    key: 'voluntaryCsPerRequest',
    name: 'vol. ctx switches',
    label: 'voluntary context switches per request',
    short: 'vCS/req',
    unit: 'ratio',
    unitText: '/req',
    better: 'lower',
    compute: (i) => ratio(c(i, 'nvcsw'), c(i, 'requests')),
    applies: { counted: ['nvcsw', 'requests'] },
  },
  {
    key: 'involuntaryCsPerRequest',
    name: 'invol. ctx switches',
    label: 'involuntary context switches per request',
    short: 'iCS/req',
    unit: 'ratio',
    unitText: '/req',
    better: 'lower',
    compute: (i) => ratio(c(i, 'nivcsw'), c(i, 'requests')),
    applies: { counted: ['nivcsw', 'requests'] },
  },
  {
    key: 'acceptEagainPerAccept',
    name: 'accept EAGAIN',
    label: 'accept EAGAIN per accepted connection',
    short: 'EAGN/acc',
    unit: 'ratio',
    unitText: '/accept',
    better: 'lower',
    compute: (i) => ratio(c(i, 'accept_eagain'), c(i, 'accepts_ok')),
    applies: { ...HERD, counted: ['accept_eagain', 'accepts_ok'] },
  },
  {
    key: 'listenEventsPerAccept',
    name: 'listen events',
    label: 'listening-socket events per accepted connection',
    short: 'lsn/acc',
    unit: 'ratio',
    unitText: '/accept',
    compute: (i) => ratio(c(i, 'listen_events'), c(i, 'accepts_ok')),
    applies: { ...HERD, counted: ['listen_events', 'accepts_ok'] },
  },
  {
    key: 'keyErrorsPer1000',
    name: 'key errors',
    label: 'KeyErrors per 1000 requests',
    short: 'KeyE/1k',
    unit: 'ratio',
    unitText: '/1000 req',
    better: 'lower',
    chart: true,
    compute: (i) => ratio(c(i, 'keyerrors') * 1000, c(i, 'requests')),
    applies: { counted: ['keyerrors', 'requests'] },
  },
  {
    key: 'unknownFdPer1000',
    name: 'unknown-fd events',
    label: 'unknown-fd events per 1000 requests',
    short: 'unkFd/1k',
    unit: 'ratio',
    unitText: '/1000 req',
    better: 'lower',
    chart: true,
    compute: (i) => ratio(c(i, 'unknown_fd_events') * 1000, c(i, 'requests')),
    applies: { counted: ['unknown_fd_events', 'requests'] },
  },
  {
    key: 'spuriousReadsPerRequest',
    name: 'spurious reads',
    label: 'spurious reads per request',
    short: 'spur/req',
    unit: 'ratio',
    unitText: '/req',
    better: 'lower',
    chart: true,
    compute: (i) => ratio(c(i, 'spurious_reads'), c(i, 'requests')),
    applies: { counted: ['spurious_reads', 'requests'] },
  },
  {
    key: 'cpuUsPerRequest',
    name: 'CPU',
    label: 'CPU per request',
    short: 'CPUµs/rq',
    unit: 'us',
    unitText: 'µs/req',
    better: 'lower',
    chart: true,
    compute: (i) => ratio(c(i, 'utime_us') + c(i, 'stime_us'), c(i, 'requests')),
    applies: { counted: ['utime_us', 'stime_us', 'requests'] },
  },
  {
    key: 'acceptMaxShare',
    name: 'accept share largest',
    label: 'largest accept share of one worker',
    short: 'acc max%',
    unit: 'fraction',
    unitText: '',
    chart: true,
    compute: (i) => maxShare(perWorker(i, 'accepts_ok')),
    applies: { ...ACCEPT_SHARE, countedPerWorker: ['accepts_ok'] },
  },
  {
    key: 'acceptShareMaxMin',
    name: 'accept share max/min',
    label: 'accept share max/min',
    short: 'acc mx/mn',
    unit: 'ratio',
    unitText: '',
    better: 'lower',
    compute: (i) => maxMin(perWorker(i, 'accepts_ok')),
    applies: { ...ACCEPT_SHARE, countedPerWorker: ['accepts_ok'] },
  },
  {
    key: 'acceptShareJain',
    name: 'accept share Jain',
    label: "accept balance (Jain's index, 1 = even)",
    short: 'acc Jain',
    unit: 'ratio',
    unitText: '',
    better: 'higher',
    chart: true,
    compute: (i) => jain(perWorker(i, 'accepts_ok')),
    applies: { ...ACCEPT_SHARE, countedPerWorker: ['accepts_ok'] },
  },
  {
    key: 'requestMaxShare',
    name: 'request share largest',
    label: 'largest request share of one worker',
    short: 'req max%',
    unit: 'fraction',
    unitText: '',
    compute: (i) => maxShare(perWorker(i, 'requests')),
    applies: { ...REQUEST_SHARE, countedPerWorker: ['requests'] },
  },
  {
    key: 'requestShareMaxMin',
    name: 'request share max/min',
    label: 'request share max/min',
    short: 'req mx/mn',
    unit: 'ratio',
    unitText: '',
    better: 'lower',
    compute: (i) => maxMin(perWorker(i, 'requests')),
    applies: { ...REQUEST_SHARE, countedPerWorker: ['requests'] },
  },
  {
    key: 'requestShareJain',
    name: 'request share Jain',
    label: "request balance (Jain's index, 1 = even)",
    short: 'req Jain',
    unit: 'ratio',
    unitText: '',
    better: 'higher',
    compute: (i) => jain(perWorker(i, 'requests')),
    applies: { ...REQUEST_SHARE, countedPerWorker: ['requests'] },
  },
  {
    key: 'stuckConnectionsMax',
    name: 'stuck connections max',
    label: 'stuck connections (most at once)',
    short: 'stuck',
    unit: 'count',
    unitText: '',
    better: 'lower',
    chart: true,
    compute: (i) => stuckConnectionsMax(i.series),
    applies: { sampled: ['stuck_connections'] },
  },
  {
    key: 'stuckDetected',
    name: 'stuck detected',
    label: 'connections that became stuck',
    short: 'stuck det',
    unit: 'count',
    unitText: '',
    better: 'lower',
    compute: (i) => c(i, 'stuck_detected'),
    applies: { counted: ['stuck_detected'] },
  },
  {
    key: 'workerRestarts',
    name: 'worker restarts',
    label: 'worker restarts',
    short: 'restarts',
    unit: 'count',
    unitText: '',
    better: 'lower',
    compute: (i) => i.restarts,
  },
  {
    key: 'eexistErrors',
    name: 'epoll_ctl EEXIST',
    label: 'EEXIST from epoll_ctl',
    short: 'EEXIST',
    unit: 'count',
    unitText: '',
    better: 'lower',
    compute: (i) => i.eexist,
    applies: { counted: ['epoll_ctl_eexist'] },
  },
  {
    key: 'clientAborts',
    name: 'client aborts',
    label: 'client aborts (server count)',
    short: 'aborts',
    unit: 'count',
    unitText: '',
    better: 'lower',
    compute: (i) => c(i, 'client_aborts'),
    applies: { counted: ['client_aborts'] },
  },
  // What hostile or slow clients did to the server (its own counts over the window). Zero in a
  // plain run, so shown only where nonzero; the timeouts are the engine's by phase (request
  // head, body, keep-alive idle, a response that cannot be written).
  {
    key: 'timeoutsHeader',
    name: 'timeouts: header',
    label: 'connections closed: request head not complete in time',
    short: 'TO head',
    unit: 'count',
    unitText: '',
    better: 'lower',
    show: 'nonzero',
    compute: (i) => c(i, 'timeouts_header'),
  },
  {
    key: 'timeoutsBody',
    name: 'timeouts: body',
    label: 'connections closed: request body stalled',
    short: 'TO body',
    unit: 'count',
    unitText: '',
    better: 'lower',
    show: 'nonzero',
    compute: (i) => c(i, 'timeouts_body'),
  },
  {
    key: 'timeoutsIdle',
    name: 'timeouts: keep-alive',
    label: 'keep-alive connections closed idle',
    short: 'TO idle',
    unit: 'count',
    unitText: '',
    show: 'nonzero',
    compute: (i) => c(i, 'timeouts_idle'),
  },
  {
    key: 'timeoutsSend',
    name: 'timeouts: send',
    label: 'connections closed: response could not be written in time',
    short: 'TO send',
    unit: 'count',
    unitText: '',
    better: 'lower',
    show: 'nonzero',
    compute: (i) => c(i, 'timeouts_send'),
  },
  {
    key: 'responses408',
    name: '408 responses',
    label: '408 Request Timeout responses sent',
    short: '408s',
    unit: 'count',
    unitText: '',
    better: 'lower',
    show: 'nonzero',
    compute: (i) => c(i, 'responses_408'),
  },
  {
    key: 'readPauses',
    name: 'read pauses',
    label: 'times a connection stopped reading for a pending response',
    short: 'rd pause',
    unit: 'count',
    unitText: '',
    show: 'nonzero',
    compute: (i) => c(i, 'read_pauses'),
  },
  {
    key: 'halfCloses',
    name: 'half-closes',
    label: 'clients that shut their side while a response was due',
    short: 'half-cl',
    unit: 'count',
    unitText: '',
    show: 'nonzero',
    compute: (i) => c(i, 'half_closes'),
  },
  {
    key: 'bodyBytesDiscarded',
    name: 'body bytes discarded',
    label: 'request body bytes read and dropped as they arrived',
    short: 'body drop',
    unit: 'count',
    unitText: '',
    show: 'nonzero',
    compute: (i) => c(i, 'body_bytes_discarded'),
  },
  {
    key: 'driverBusyPct',
    name: 'driver busy',
    label: 'load generator busy (share of the window its loop had work)',
    short: 'drv busy',
    unit: 'fraction',
    unitText: '',
    better: 'lower',
    compute: (i) => i.client.usage?.utilization ?? null,
    applies: DRIVER,
  },
  {
    key: 'driverCpuUsPerResponse',
    name: 'driver CPU',
    label: 'load generator CPU per response',
    short: 'drvµs/rs',
    unit: 'us',
    unitText: 'µs/resp',
    better: 'lower',
    compute: (i) => i.client.usage?.cpuUsPerResponse ?? null,
    applies: { driverUsage: 'any', minResponses: 1 },
  },
  {
    key: 'driverLoopDelayP99Ms',
    name: 'driver loop delay p99',
    label: 'load generator event-loop delay p99',
    short: 'drv loop',
    unit: 'ms',
    unitText: 'ms',
    better: 'lower',
    compute: (i) => i.client.usage?.loopDelayMs?.p99 ?? null,
    applies: { driverUsage: 'loop' },
  },
] as const satisfies readonly FigureDef[];

export type FigureKey = (typeof FIGURE_LIST)[number]['key'];

/** Every figure, in the order tables show them. */
export const FIGURES: readonly (FigureDef & { key: FigureKey })[] = FIGURE_LIST;

export const FIGURE_KEYS: readonly FigureKey[] = FIGURES.map((f) => f.key);

export function figureDef(key: string): (FigureDef & { key: FigureKey }) | undefined {
  return FIGURES.find((f) => f.key === key);
}

/** The figures a table shows for these targets: those marked `nonzero` only where one is. */
export function shownFigures<D extends FigureDef>(
  defs: readonly D[],
  targets: readonly {
    derived?: Partial<DerivedFigures> | null;
    notApplicable?: Partial<Record<string, string>>;
  }[],
): D[] {
  return defs.filter(
    (d) =>
      d.show !== 'nonzero' ||
      targets.some((t) => {
        const v = figureOf(t, d.key as FigureKey).value;
        return v !== null && v !== 0;
      }),
  );
}

// ---- When a figure applies --------------------------------------------------------------------

/** Why `def` does not apply to a scenario of this load mode, or null when it may. */
export function loadModeProblem(def: FigureDef, mode: LoadMode): string | null {
  const need = def.applies?.loadMode;
  if (!need || need === mode) return null;
  return need === 'churn'
    ? 'needs connection churn (a new connection per request): under keep-alive the connections are made once and its figure says nothing'
    : `needs ${need} load`;
}

/**
 * Why a figure's counters are missing, or null: a field no worker reports (and the server does not
 * count as a whole) is a field the server does not count, not a zero. Without any worker snapshot
 * (the counters could not be read) nothing is said here: the run's warnings say why.
 */
function uncountedReason(a: Applies, i: FigureInput): string | null {
  const kind = i.kind ?? 'engine';
  if (i.workers.length > 0) {
    const missing = (a.counted ?? []).filter((f) => !(f in i.totals));
    if (missing.length > 0) return `the ${kind} server does not count ${missing.join(' or ')}`;
    const perWorker = (a.countedPerWorker ?? []).filter(
      (f) => !i.workers.some((w) => f in w.counters),
    );
    if (perWorker.length > 0)
      return `the ${kind} server does not count ${perWorker.join(' or ')} per worker`;
  }
  const sampledAny = Object.keys(i.series.totals).length > 0;
  const unsampled = (a.sampled ?? []).filter((f) => sampledAny && !(f in i.series.totals));
  if (unsampled.length > 0) return `the ${kind} server does not report ${unsampled.join(' or ')}`;
  return null;
}

/** Why `def` does not apply to this measured window, or null when it does. */
export function notApplicableReason(def: FigureDef, i: FigureInput): string | null {
  const a = def.applies;
  if (!a) return null;
  const notCounted = uncountedReason(a, i);
  if (notCounted) return notCounted;
  if (a.loadMode && i.loadMode !== null) {
    const p = loadModeProblem(def, i.loadMode);
    if (p) return `${p} (load mode ${i.loadMode})`;
  }
  const accepts = c(i, 'accepts_ok');
  const requests = c(i, 'requests');
  if (a.minAccepts !== undefined && accepts < a.minAccepts) {
    return `${accepts} connections accepted in the measured window, fewer than the ${a.minAccepts} it needs`;
  }
  if (a.maxRequestsPerAccept !== undefined && requests / accepts > a.maxRequestsPerAccept) {
    return `${fmtRatio(requests / accepts)} requests per accepted connection, more than the ${a.maxRequestsPerAccept} it allows (it needs a new connection per request)`;
  }
  if (a.minRequests !== undefined && requests < a.minRequests) {
    return a.minRequests === 1
      ? 'the server counted no request in the measured window'
      : `${requests} requests in the measured window, fewer than the ${a.minRequests} it needs`;
  }
  if (a.driverUsage !== undefined) {
    const u = i.client.usage;
    if (!u) return 'the record holds no load generator usage (a run from before it was measured)';
    if (a.driverUsage === 'loop' && u.loopDelayMs === null) {
      return `the ${u.driver} driver runs no event loop on its request path (its epoll threads are measured by busy share and CPU)`;
    }
  }
  if (a.minResponses !== undefined && (i.client.latencyMs === null || i.client.responses === 0)) {
    return 'no request completed';
  }
  return null;
}

/** Every figure of one target, and the reasons of those that do not apply (their value null). */
export function computeFigures(i: FigureInput): {
  derived: DerivedFigures;
  notApplicable: Partial<Record<FigureKey, string>>;
} {
  const derived = {} as DerivedFigures;
  const notApplicable: Partial<Record<FigureKey, string>> = {};
  for (const def of FIGURES) {
    const why = notApplicableReason(def, i);
    const v = why === null ? def.compute(i) : null;
    if (why !== null) notApplicable[def.key] = why;
    derived[def.key] = v === null || Number.isNaN(v) ? null : v;
  }
  return { derived, notApplicable };
}

/** The value and n/a reason of a figure of a recorded target (missing in older records: n/a). */
export function figureOf(
  t: { derived?: Partial<DerivedFigures> | null; notApplicable?: Partial<Record<string, string>> },
  key: FigureKey,
): { value: number | null; na: string | null } {
  const na = t.notApplicable?.[key] ?? null;
  const v = t.derived?.[key];
  if (na !== null) return { value: null, na };
  if (typeof v !== 'number' || Number.isNaN(v)) return { value: null, na: 'not in the record' };
  return { value: v, na: null };
}

// ---- Format -----------------------------------------------------------------------------------

/** The spelling of infinity in every view and file. */
export const INF = 'inf';
/** What a figure that does not apply shows. */
export const NA = 'n/a';

function group(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** A plain number for people: few digits, thousands grouped, `inf` for infinity. */
export function fmtRatio(v: number): string {
  if (Number.isNaN(v)) return NA;
  if (v === Infinity) return INF;
  if (v === -Infinity) return `-${INF}`;
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return group(v.toFixed(0));
  if (a >= 10) return trimZeros(v.toFixed(1));
  if (a >= 1) return trimZeros(v.toFixed(2));
  if (a >= 0.001) return trimZeros(v.toPrecision(2));
  return v.toExponential(1);
}

/** A figure's value as text in its unit (no unit name): `n/a` for null. */
export function formatFigure(unit: FigureUnit, v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return NA;
  switch (unit) {
    case 'count':
      return Number.isFinite(v) ? group(String(Math.round(v))) : fmtRatio(v);
    case 'fraction':
      return Number.isFinite(v) ? `${fmtRatio(v * 100)} %` : fmtRatio(v);
    case 'pct':
      return Number.isFinite(v) ? `${v > 0 ? '+' : ''}${v.toFixed(1)}` : fmtRatio(v);
    default:
      return fmtRatio(v);
  }
}
