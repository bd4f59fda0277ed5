// CPU time of the calling thread (not the whole process), ns: the first field of
// /proc/thread-self/schedstat (time on a CPU, ns), which a worker thread reads for itself. Where
// that file is missing, the process's CPU time stands in (an over-estimate), and says so.
import { readFileSync } from 'node:fs';

export interface ThreadCpu {
  ns: number;
  /** `thread`: this thread's own time; `process`: the whole process's (no schedstat here). */
  scope: 'thread' | 'process';
}

export function threadCpu(): ThreadCpu {
  try {
    const first = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]!;
    const ns = Number(first);
    if (Number.isFinite(ns)) return { ns, scope: 'thread' };
  } catch {
    // not Linux, or no schedstat: below
  }
  const c = process.cpuUsage();
  return { ns: (c.user + c.system) * 1000, scope: 'process' };
}
