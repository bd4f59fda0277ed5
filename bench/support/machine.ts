// What the benches print about the machine they ran on, and the autogroup setting that decides how
// its CPUs are shared between the servers and the load.
//
// Every bench starts every server it measures in a session of its own (`startChild(..., { group:
// true })`, which spawns it detached, so setsid) and keeps the load generators (wrk, the lab's
// drivers) in its own session. With Linux's autogroup on, the scheduler shares the CPUs fairly
// between sessions first and between the processes of a session second: a server in wrk's session
// would have its N workers and wrk take turns as N + 1 equals, so that under load wrk waits behind
// them; a server in a session of its own has its workers share one session's weight against wrk's,
// as a production server's clients on other machines never wait for its workers (bench:fidelity,
// SERVER_SESSION).
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** `kernel.sched_autogroup_enabled` ('0' or '1'), or undefined where /proc does not say. */
export function autogroup(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The 1, 5 and 15 minute load averages, e.g. `0.64 1.59 1.67`. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/**
 * `machine: …` for the start of a bench: CPUs, kernel, the load average now and the autogroup
 * setting, with where the servers and `clients` (the load generators, e.g. `wrk`) run.
 */
export function machineLine(clients: string): string {
  return (
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.type()} ${os.release()}; ` +
    `load average at start ${loadAverage()}; ` +
    `autogroup ${autogroup() ?? 'unknown'} (every server in a session of its own, ${clients} in the bench's)`
  );
}
