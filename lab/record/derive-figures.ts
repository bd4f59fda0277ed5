// From counter snapshots to the figures a run reports: pure functions, no I/O. The figures
// themselves, and when each applies, are defined once in figures.ts.
import { counterFieldsOf } from '../sample/fields';
import { computeFigures, type LoadMode } from './figures';
import type {
  ClientResult,
  CounterTotals,
  DerivedFigures,
  TargetRecord,
  TargetSeries,
  WorkerRecord,
} from './run-record';
import type { ServerSnapshot, WorkerSnapshot } from '../server/snapshot';

export { ratio } from './figures';

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
    // nginx counts accepted connections for the whole server (stub_status), not per worker.
    const wide = serverWideAccepts(srv, prev);
    if (wide !== null && !srv.workers.some((w) => 'accepts_ok' in w.counters))
      totals.accepts_ok = (totals.accepts_ok ?? 0) + wide;
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

/**
 * Connections the server accepted between two snapshots when it counts them as a whole: nginx's
 * stub_status `accepts` (the adapter's own status requests already taken out); null otherwise.
 */
export function serverWideAccepts(
  after: ServerSnapshot,
  before: ServerSnapshot | null,
): number | null {
  const a = (after as { nginx?: { accepts?: unknown } }).nginx?.accepts;
  if (typeof a !== 'number') return null;
  const b = (before as { nginx?: { accepts?: unknown } } | null)?.nginx?.accepts;
  return delta(a, typeof b === 'number' ? b : 0);
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
  /** The load mode of the run (some figures apply only under churn); null when unknown. */
  loadMode: LoadMode | null;
  /** What the target ran; default `engine` (names the server in an n/a reason). */
  kind?: string;
}

export function deriveFigures(i: DeriveInput): {
  derived: DerivedFigures;
  notApplicable: TargetRecord['notApplicable'];
} {
  return computeFigures({
    totals: i.totals,
    workers: i.workers,
    client: i.client,
    series: i.series,
    durationSec: i.durationSec,
    restarts: i.restarts ?? i.workers.reduce((n, w) => n + w.restarts, 0),
    eexist: i.eexist ?? i.totals['epoll_ctl_eexist'] ?? 0,
    loadMode: i.loadMode,
    ...(i.kind ? { kind: i.kind } : {}),
  });
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
