// How hard the load generator itself worked, over the measured window: how much of the time its
// loop had work (event-loop utilisation for the JavaScript thread; time outside epoll_wait for the
// native threads), the CPU it got, and how late the JavaScript event loop ran. A generator that
// was never idle set the rate itself — the server may have had room to spare.
//
// Utilisation, not CPU share, decides: on a shared machine a thread that always has work may get
// only part of a core (it waits, runnable, for a CPU), so its CPU share stays low while it is the
// bottleneck all the same.
import type { LoadDriverName } from '../scenario/load-drivers';

/** What generated the load: autocannon (keep-alive, node), churn-client.ts (churn, node) or the addon's driver. */
export type LoadGenerator = 'autocannon' | 'churn-client' | 'native';

export interface DriverUsage {
  driver: LoadDriverName;
  generator: LoadGenerator;
  /** Threads the generator ran on (the JavaScript thread for node; the epoll threads for native). */
  threads: number;
  /** CPU time of those threads over the measured window ÷ its length: 1 = one core all the time. */
  cpuCores: number;
  /** Share of the window its loop(s) had work (were not waiting for events): 1 = never idle. */
  utilization: number;
  /** CPU time per response, µs. */
  cpuUsPerResponse: number | null;
  /** Delay of the event loop that ran the generator, ms; null when none is on its path (native). */
  loopDelayMs: { p50: number; p99: number; max: number } | null;
  saturated: boolean;
  /** Why the generator counts as saturated and what to do about it; null when it was not. */
  warning: string | null;
}

/**
 * A generator is saturated when its loop had work at least this share of the window: it has no
 * idle time left between events, so it, not the server, paces the requests (bench:driver: autocannon
 * keep-alive at 0.97–1.00 where it reached a fraction of wrk's rate; the native driver lower).
 */
export const SATURATED_UTILIZATION = 0.9;
/**
 * Or when its event loop ran this late (p99): a timer due now fired this much later, so every
 * response waited as long before it was seen — latency the server did not cause.
 */
export const SATURATED_LOOP_P99_MS = 50;

export interface UsageInput {
  driver: LoadDriverName;
  generator: LoadGenerator;
  threads: number;
  cpuNs: number;
  wallNs: number;
  /** Share of the window with work, 0..1 (averaged over the threads). */
  utilization: number;
  responses: number;
  loopDelayMs: DriverUsage['loopDelayMs'];
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;

export function assessUsage(u: UsageInput): DriverUsage {
  const cpuCores = u.wallNs > 0 ? u.cpuNs / u.wallNs : 0;
  const utilization = Math.min(1, Math.max(0, u.utilization));
  const cpuUsPerResponse = u.responses > 0 ? u.cpuNs / 1000 / u.responses : null;
  const reasons: string[] = [];
  if (utilization >= SATURATED_UTILIZATION) {
    reasons.push(
      `its ${u.threads === 1 ? 'loop' : `${u.threads} loops`} had work ${pct(utilization)} of the time ` +
        `(and got ${cpuCores.toFixed(2)} of a CPU)`,
    );
  }
  if (u.loopDelayMs && u.loopDelayMs.p99 >= SATURATED_LOOP_P99_MS) {
    reasons.push(`its event loop ran up to ${Math.round(u.loopDelayMs.p99)} ms late (p99)`);
  }
  const saturated = reasons.length > 0;
  let warning: string | null = null;
  if (saturated) {
    const fix =
      u.driver === 'native'
        ? 'give it more threads (load.driverThreads) or fewer connections'
        : 'the native driver (load.driver "native", --driver native) would not have been: it ' +
          'needs a fraction of the CPU per request (see npm run bench:driver)';
    warning =
      `the load generator (${u.generator}) was saturated — ${reasons.join(' and ')}: the client, ` +
      `not the server, set this rate; ${fix}`;
  }
  return {
    driver: u.driver,
    generator: u.generator,
    threads: u.threads,
    cpuCores,
    utilization,
    cpuUsPerResponse,
    loopDelayMs: u.loopDelayMs,
    saturated,
    warning,
  };
}
