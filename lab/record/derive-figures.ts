// From counter snapshots to the figures a run reports: pure functions, no I/O.
//
// Division by zero, everywhere in DerivedFigures and Share: `ratio(n, 0)` is 0 when n is 0 too
// ("no requests, no key errors per request") and +Infinity otherwise ("key errors but no
// requests"), never NaN. JSON.stringify writes Infinity as null, so in a results.json a null in a
// number-typed figure means +Infinity (latencyP50Ms/latencyP99Ms excepted: there null means no
// request completed); read such figures back with `readFigure`. A Share over workers that all got
// 0 has max = min = maxMin = jain = 0 (outside their normal ranges, maxMin ≥ 1 and jain ≥ 1/n, so
// 0 reads as "no data"); when some got none and some did, maxMin is Infinity.
import { counterFieldsOf } from '../sample/fields';
import type {
  ClientResult,
  CounterTotals,
  DerivedFigures,
  Share,
  TargetSeries,
  WorkerRecord,
} from './run-record';
import type { ServerSnapshot, WorkerSnapshot } from '../server/snapshot';

/** n / d, with 0/0 = 0 and n/0 = ±Infinity (see the header). */
export function ratio(n: number, d: number): number {
  if (d === 0) return n === 0 ? 0 : n > 0 ? Infinity : -Infinity;
  return n / d;
}

/** A figure read back from JSON: null (how JSON writes Infinity) becomes Infinity. */
export function readFigure(v: number | null | undefined): number {
  return v === null || v === undefined ? Infinity : v;
}

/** Max, min, max/min and Jain's index over per-worker counts (workers with 0 included). */
export function share(values: readonly number[]): Share {
  if (values.length === 0) return { max: 0, min: 0, maxMin: 0, jain: 0 };
  const max = Math.max(...values);
  const min = Math.min(...values);
  const sum = values.reduce((a, b) => a + b, 0);
  const sumSq = values.reduce((a, b) => a + b * b, 0);
  return { max, min, maxMin: ratio(max, min), jain: ratio(sum * sum, values.length * sumSq) };
}

/** a − b, or a when a < b (the counters were reset: a supervisor restart, as Prometheus does). */
function delta(a: number, b: number): number {
  return a >= b ? a - b : a;
}

function workerDelta(after: WorkerSnapshot, before: WorkerSnapshot | undefined): CounterTotals {
  const a = counterFieldsOf(after.counters);
  if (!before) return a;
  const out: CounterTotals = {};
  for (const [k, v] of Object.entries(a)) out[k] = delta(v, before.counters[k] ?? 0);
  return out;
}

/**
 * Counter deltas from `before` to `after`, matched by server position then worker index.
 * Gauges and internal fields are left out. A missing (or null) `before` server counts from zero:
 * pass `[]` to get the absolute counts since the servers started (e.g. EEXIST at start-up). A null
 * `after` server (its snapshot failed) contributes nothing: warn about it.
 */
export function counterDeltas(
  before: readonly (ServerSnapshot | null | undefined)[],
  after: readonly (ServerSnapshot | null | undefined)[],
): { totals: CounterTotals; workers: WorkerRecord[] } {
  const totals: CounterTotals = {};
  const workers: WorkerRecord[] = [];
  after.forEach((srv, si) => {
    if (!srv) return;
    const prev = before[si] ?? null;
    for (const w of srv.workers) {
      const b = prev?.workers.find((x) => x.index === w.index);
      const counters = workerDelta(w, b);
      for (const [k, v] of Object.entries(counters)) totals[k] = (totals[k] ?? 0) + v;
      workers.push({
        key: `${si}/${w.index}`,
        container: si,
        worker: w.index,
        counters,
        restarts: delta(w.restarts, b?.restarts ?? 0),
        failed: w.failed,
      });
    }
  });
  return { totals, workers };
}

/** Max over the series' load and drain points of the summed stuck_connections gauge. */
export function stuckConnectionsMax(series: TargetSeries): number {
  const stuck = series.totals['stuck_connections'] ?? [];
  let max = 0;
  series.phase.forEach((p, i) => {
    if (p !== 'warmup') max = Math.max(max, stuck[i] ?? 0);
  });
  return max;
}

export interface DeriveInput {
  /** Counter deltas over the measured phase (counterDeltas().totals). */
  totals: CounterTotals;
  workers: readonly WorkerRecord[];
  client: ClientResult;
  series: TargetSeries;
  /** Length of the measured phase, s. */
  durationSec: number;
  /** Worker restarts to report; default: the sum of the workers' restarts in the window. */
  restarts?: number;
  /**
   * epoll_ctl EEXIST errors to report; default totals.epoll_ctl_eexist. EEXIST happens when a
   * worker starts, usually before the measured phase: pass the count since the servers started.
   */
  eexist?: number;
}

export function deriveFigures(i: DeriveInput): DerivedFigures {
  const c = (field: string): number => i.totals[field] ?? 0;
  const requests = c('requests');
  const accepts = c('accepts_ok');
  const perWorker = (field: string) => i.workers.map((w) => w.counters[field] ?? 0);
  return {
    requestsPerSec: ratio(requests, i.durationSec),
    keyErrorsPer1000: ratio(c('keyerrors') * 1000, requests),
    unknownFdPer1000: ratio(c('unknown_fd_events') * 1000, requests),
    spuriousReadsPerRequest: ratio(c('spurious_reads'), requests),
    acceptEagainPerAccept: ratio(c('accept_eagain'), accepts),
    voluntaryCsPerAccept: ratio(c('nvcsw'), accepts),
    voluntaryCsPerRequest: ratio(c('nvcsw'), requests),
    involuntaryCsPerRequest: ratio(c('nivcsw'), requests),
    listenEventsPerAccept: ratio(c('listen_events'), accepts),
    acceptShare: share(perWorker('accepts_ok')),
    requestShare: share(perWorker('requests')),
    cpuUsPerRequest: ratio(c('utime_us') + c('stime_us'), requests),
    stuckConnectionsMax: stuckConnectionsMax(i.series),
    stuckDetected: c('stuck_detected'),
    workerRestarts: i.restarts ?? i.workers.reduce((n, w) => n + w.restarts, 0),
    eexistErrors: i.eexist ?? c('epoll_ctl_eexist'),
    clientAborts: c('client_aborts'),
    clientRequests: i.client.responses,
    serverRequests: requests,
    clientTimeouts: i.client.timeouts,
    clientErrors: i.client.errors,
    latencyP50Ms: i.client.latencyMs?.p50 ?? null,
    latencyP99Ms: i.client.latencyMs?.p99 ?? null,
    clientServerDiffPct: ratio((i.client.responses - requests) * 100, requests),
  };
}

/** Relative difference above which client and server counts disagree. */
export const CROSS_CHECK_TOLERANCE = 0.01;

/**
 * Compares the client's responses with the server's parsed requests over the measured phase;
 * returns a warning when they differ by more than 1 % of the server's count, else null.
 */
export function crossCheck(
  target: string,
  client: ClientResult,
  serverRequests: number,
): string | null {
  const got = client.responses;
  const diff = got - serverRequests;
  if (diff === 0) return null;
  if (serverRequests > 0 && Math.abs(diff) / serverRequests <= CROSS_CHECK_TOLERANCE) return null;
  const pct = serverRequests > 0 ? `${((diff / serverRequests) * 100).toFixed(1)} %` : 'all';
  const head =
    `target ${target}: the client counted ${got} responses but the server parsed ` +
    `${serverRequests} requests (${diff > 0 ? '+' : ''}${pct})`;
  if (diff < 0) {
    const lost = client.timeouts + client.errors;
    const cause =
      lost > 0
        ? `the client gave up on requests the server had received (${client.timeouts} timeouts, ` +
          `${client.errors} connection errors): answered late or not at all`
        : 'the load generator dropped responses it received (e.g. autocannon resets a ' +
          'reconnecting connection before it counts the response), or requests were in flight ' +
          'when the window closed';
    return `${head}: likely ${cause}`;
  }
  return (
    `${head}: likely the server's counters missed part of the window (a sample gap at a phase ` +
    'boundary, or a server restarted and lost its counters), or the client counted responses ' +
    'from outside the measured phase'
  );
}
