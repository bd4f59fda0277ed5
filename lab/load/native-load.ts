// Keep-alive or churn through the addon's lean driver (native/load_driver.h): an epoll client in
// a thread of its own, as wrk is, so that the JavaScript thread that owns it only copies counters
// and latency samples a few times a second. Every request ends exactly one way there (response,
// error, timeout), as in churn-client.ts, and the totals go straight into LoadStats.
//
// Latency is timed in C++ from when each request was due: the write (keep-alive) or connect()
// (churn), or with a rate the time the schedule gave it, so a stalled server is charged for the
// requests the client could not send (coordinated omission corrected, as wrk2 does).
import {
  createNativeLoadDriver,
  type NativeLoadDriver,
  type NativeLoadTotals,
} from '../native/load-driver';
import type { ChurnOptions, Generator } from './churn-client';
import type { LoadStats } from './load-stats';

export interface NativeLoadOptions extends ChurnOptions {
  mode: 'keep-alive' | 'churn';
  pipelining: number;
  /** Driver threads (each a core's worth at most). */
  threads: number;
}

/** How often stop() looks whether the driver's threads have ended, ms. */
const STOP_POLL_MS = 5;

export interface NativeGenerator extends Generator {
  /** Copies the driver's totals and latency samples into the stats (call before reading them). */
  sync(): void;
  /** The driver's last totals (CPU time of its threads included), since beginWindow if called. */
  totals(): NativeLoadTotals;
  /**
   * Starts the measured window on the running driver (connections carried over): the stats count
   * from here, the requests in flight now as sent in the window (see LoadStats.beginWindow).
   */
  beginWindow(): void;
}

export function startNative(o: NativeLoadOptions, stats: LoadStats): NativeGenerator {
  if (o.targets.length === 0) throw new Error('native load: no targets');
  const driver: NativeLoadDriver = createNativeLoadDriver({
    targets: o.targets,
    path: o.path,
    mode: o.mode,
    connections: o.connections,
    pipelining: o.mode === 'churn' ? 1 : o.pipelining,
    rate: o.rate ?? 0,
    timeoutMs: Math.max(1, Math.round(o.timeoutMs)),
    threads: Math.min(o.threads, o.connections),
  });
  let last = driver.read();
  // The totals when the measured window began (null: from the start).
  let base: NativeLoadTotals | null = null;
  const since = (t: NativeLoadTotals): NativeLoadTotals => {
    if (!base) return t;
    const b = base;
    const d = { ...t };
    for (const k of Object.keys(t) as (keyof NativeLoadTotals)[]) {
      if (k !== 'threadsRunning') d[k] = t[k] - b[k];
    }
    // Requests in flight when the window began are the window's: sent counts what had not ended.
    d.sent = t.sent - (b.responses + b.errors + b.timeouts);
    return d;
  };
  const sync = (): void => {
    stats.recordLatencyCountsUs(driver.takeLatencyCounts());
    const t = since(driver.read());
    last = t;
    stats.sent = t.sent;
    stats.responses = t.responses;
    stats.status2xx = t.status2xx;
    stats.statusOther = t.statusOther;
    stats.errors = t.errors;
    stats.timeouts = t.timeouts;
    stats.bytesRead = t.bytesRead;
  };
  // The ring holds 2^20 samples per thread: taking them every 100 ms keeps far ahead of it.
  const taker = setInterval(sync, 100);
  driver.start();
  return {
    sync,
    totals: () => last,
    beginWindow: () => {
      // Samples taken so far belong to the warm-up; the base is read after them.
      stats.recordLatencyCountsUs(driver.takeLatencyCounts());
      base = null;
      base = driver.read();
      stats.resetLatency();
      sync();
    },
    async stop(graceMs: number): Promise<void> {
      driver.stop(Math.max(0, Math.round(graceMs)));
      while (!driver.finished()) await new Promise((r) => setTimeout(r, STOP_POLL_MS));
      clearInterval(taker);
      driver.join();
      sync();
    },
  };
}
