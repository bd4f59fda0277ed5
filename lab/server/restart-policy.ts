// What the supervisor does when a worker exits: the exit's reason (from WorkerExit and the signal),
// whether to restart it, and the one log line that says so. Pure functions, no engine needed.
import { constants } from 'node:os';
import { WorkerExit, type ReapedWorker } from '../native/engine';

export const EXIT_REASONS = [
  'clean',
  'cycled',
  'eexist',
  'startup_failed',
  'crash',
  'signal',
  'oom',
] as const;
export type ExitReason = (typeof EXIT_REASONS)[number];

/**
 * Why a worker was restarted: `crash` (a crash, a signal or an OOM kill; counted against maxRestarts), `cycled`
 * (served maxRequests) or `clean` (exited 0 while the supervisor was not stopping, e.g. someone sent
 * it SIGTERM). Only `crash` counts against the limit.
 */
export const RESTART_REASONS = ['crash', 'cycled', 'clean'] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/** The supervisor's view of one worker slot. */
export interface WorkerStatus {
  index: number;
  /** Pid of the running incarnation, 0 when none. */
  pid: number;
  /** Gave up on it: not restarted any more. */
  failed: boolean;
  /** Why it was marked failed, for /healthz and logs. */
  failedReason?: string;
  restarts: Record<RestartReason, number>;
  exits: Record<ExitReason, number>;
}

export function newWorkerStatus(index: number): WorkerStatus {
  return {
    index,
    pid: 0,
    failed: false,
    restarts: { crash: 0, cycled: 0, clean: 0 },
    exits: { clean: 0, cycled: 0, eexist: 0, startup_failed: 0, crash: 0, signal: 0, oom: 0 },
  };
}

/**
 * `oomKilled`: the kernel's OOM-kill count went up since the last exit looked at (see
 * oom-kills.ts); only a SIGKILL can be an OOM kill.
 */
export function classifyExit(
  w: Pick<ReapedWorker, 'exitCode' | 'signal'>,
  oomKilled = false,
): ExitReason {
  if (w.signal !== null)
    return oomKilled && w.signal === constants.signals.SIGKILL ? 'oom' : 'signal';
  switch (w.exitCode) {
    case WorkerExit.clean:
      return 'clean';
    case WorkerExit.cycled:
      return 'cycled';
    case WorkerExit.eexist:
      return 'eexist';
    case WorkerExit.startupFailed:
      return 'startup_failed';
    default:
      return 'crash';
  }
}

export type Decision =
  | {
      action: 'restart';
      reason: RestartReason;
      /** Crash restarts including this one (crash only). */ attempt?: number;
    }
  | { action: 'give-up'; why: string }
  | { action: 'none' };

/**
 * What to do after an exit of `reason`, given the crash restarts already done for this worker.
 * `stopping`: the supervisor is shutting down, nothing is restarted.
 */
export function decide(
  reason: ExitReason,
  crashRestarts: number,
  maxRestarts: number,
  stopping: boolean,
): Decision {
  if (stopping) return { action: 'none' };
  switch (reason) {
    case 'clean':
      return { action: 'restart', reason: 'clean' };
    case 'cycled':
      return { action: 'restart', reason: 'cycled' };
    case 'eexist':
      return {
        action: 'give-up',
        why: 'a restart would get EEXIST again (use --on-eexist ignore, or --loop-creation post-fork or pre-fork)',
      };
    case 'startup_failed':
      return {
        action: 'give-up',
        why: 'a restart would fail the same way (see the message the worker printed above)',
      };
    case 'crash':
    case 'signal':
    case 'oom':
      if (crashRestarts < maxRestarts)
        return { action: 'restart', reason: 'crash', attempt: crashRestarts + 1 };
      return {
        action: 'give-up',
        why: `gave up after ${maxRestarts} restart${maxRestarts === 1 ? '' : 's'} (--max-restarts)`,
      };
  }
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name]),
);

export function signalName(n: number): string {
  return SIGNAL_NAMES.get(n) ?? `signal ${n}`;
}

/**
 * "exited with code 1", "killed by SIGKILL", "exited: EEXIST …" — what happened, for a log line.
 * `oom`: where the OOM kill was counted, when it was one.
 */
export function describeExit(w: Pick<ReapedWorker, 'exitCode' | 'signal'>, oom?: string): string {
  if (w.signal !== null && oom !== undefined)
    return `killed by ${signalName(w.signal)}: out of memory (the kernel's OOM killer; counted in ${oom})`;
  if (w.signal !== null) return `killed by ${signalName(w.signal)}`;
  switch (classifyExit(w)) {
    case 'clean':
      return 'exited cleanly (code 0)';
    case 'cycled':
      return 'served --max-requests and exited to be replaced (code 3)';
    case 'eexist':
      return 'exited: registering the inherited listening socket in the shared epoll gave EEXIST (code 4, --on-eexist fail)';
    case 'startup_failed':
      return 'could not start (code 5)';
    default:
      return `exited with code ${w.exitCode}`;
  }
}

/** The one log line for an exit and the decision taken about it. */
export function exitLogLine(
  w: Pick<ReapedWorker, 'index' | 'pid' | 'exitCode' | 'signal'>,
  d: Decision,
  maxRestarts: number,
  oom?: string,
): string {
  const what = `forklab: worker ${w.index} (pid ${w.pid}) ${describeExit(w, oom)}`;
  switch (d.action) {
    case 'none':
      return `${what}`;
    case 'restart':
      return d.reason === 'crash'
        ? `${what}; restarting (${d.attempt}/${maxRestarts})`
        : `${what}; restarting`;
    case 'give-up':
      return `${what}; not restarting: ${d.why}; worker ${w.index} marked failed`;
  }
}
