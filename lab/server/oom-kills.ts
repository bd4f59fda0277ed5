// Where the kernel counts out-of-memory kills that can hit this server's workers, so that the
// supervisor can tell an OOM kill from any other SIGKILL (both look the same to waitpid).
//
// Every source there is, read fresh on every call (the process may be moved between cgroups):
// - this process's memory cgroup (/proc/self/cgroup; workers are forked into it): cgroup v2
//   `oom_kill` in memory.events (hierarchical); cgroup v1 `oom_kill` in memory.oom_control
//   (Linux ≥ 4.13; kills in child groups are not counted there), else the limit-hit count
//   memory.failcnt (older kernels: weaker evidence, said so in the source);
// - the whole machine: `oom_kill` in /proc/vmstat (Linux ≥ 4.13), which also sees a worker that was
//   moved to a group of its own, and the kills of the global OOM killer.
// In a container without a cgroup namespace the cgroup path names a host directory that is not
// mounted here; the mount's root (the container's own group) is used then.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface OomCount {
  /** Kills (or, for memory.failcnt, limit hits) so far. */
  count: number;
  /** The file it came from, for log lines, e.g. `/sys/fs/cgroup/memory/memory.oom_control oom_kill`. */
  source: string;
}

export interface OomCounter {
  /** Every available count, the most precise (this process's cgroup) first. */
  read(): OomCount[];
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The value of `key` in a flat keyed file ("key value" lines), or undefined. */
export function keyedValue(text: string, key: string): number | undefined {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** `{ v2, v1 }` cgroup paths of a /proc/<pid>/cgroup text (v1: the memory controller's line). */
export function cgroupPaths(text: string): { v2?: string; v1Memory?: string } {
  const out: { v2?: string; v1Memory?: string } = {};
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '') out.v2 = m[2];
    else if (m[1]!.split(',').includes('memory')) out.v1Memory = m[2];
  }
  return out;
}

/** The OOM-kill counter of this process, looked up under `root` (tests pass a fake tree). */
export function oomKillCounter(root = '/'): OomCounter {
  const at = (...parts: string[]): string => path.join(root, ...parts);
  /** `dir` under `mount` if it exists there, else the mount's root. */
  const groupDir = (mount: string, dir: string): string =>
    existsSync(at(mount, dir)) ? at(mount, dir) : at(mount);
  return {
    read(): OomCount[] {
      const out: OomCount[] = [];
      const cgroup = cgroupCount();
      if (cgroup) out.push(cgroup);
      const vmstat = readText(at('proc/vmstat'));
      const kills = vmstat === undefined ? undefined : keyedValue(vmstat, 'oom_kill');
      if (kills !== undefined)
        out.push({ count: kills, source: '/proc/vmstat oom_kill (whole machine)' });
      return out;
    },
  };

  function cgroupCount(): OomCount | undefined {
    const paths = cgroupPaths(readText(at('proc/self/cgroup')) ?? '');
    if (paths.v1Memory !== undefined && existsSync(at('sys/fs/cgroup/memory'))) {
      const dir = groupDir('sys/fs/cgroup/memory', paths.v1Memory);
      const control = readText(path.join(dir, 'memory.oom_control'));
      const kills = control === undefined ? undefined : keyedValue(control, 'oom_kill');
      if (kills !== undefined)
        return { count: kills, source: `${path.join(dir, 'memory.oom_control')} oom_kill` };
      const failcnt = Number(readText(path.join(dir, 'memory.failcnt'))?.trim() ?? NaN);
      if (Number.isInteger(failcnt))
        return {
          count: failcnt,
          source: `${path.join(dir, 'memory.failcnt')} (memory limit hits; this kernel does not count OOM kills)`,
        };
    }
    if (paths.v2 !== undefined && existsSync(at('sys/fs/cgroup/cgroup.controllers'))) {
      const dir = groupDir('sys/fs/cgroup', paths.v2);
      const events = readText(path.join(dir, 'memory.events'));
      const kills = events === undefined ? undefined : keyedValue(events, 'oom_kill');
      if (kills !== undefined)
        return { count: kills, source: `${path.join(dir, 'memory.events')} oom_kill` };
    }
    return undefined;
  }
}
