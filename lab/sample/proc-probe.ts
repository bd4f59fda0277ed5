// Generic per-worker probes for any server, read from outside the process in /proc: CPU time
// (`/proc/<pid>/stat` utime and stime, all threads), voluntary and involuntary context switches
// (`/proc/<pid>/status`: the main thread's, which is the worker's in a single-threaded server), and open TCP connections on a port (the process's socket fds matched by
// inode against `/proc/<pid>/net/tcp{,6}`, state ESTABLISHED). Field names are the engine's, so a
// probed worker's counters sit beside the engine's in the same figures.
import { execFileSync } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface ProcProbe {
  pid: number;
  /** voluntary_ctxt_switches in /proc/<pid>/status. */
  nvcsw: number;
  /** nonvoluntary_ctxt_switches. */
  nivcsw: number;
  /** utime of /proc/<pid>/stat, in µs (clock ticks × 1e6 / CLK_TCK). */
  utime_us: number;
  /** stime, in µs. */
  stime_us: number;
}

let clockTicks: number | undefined;

/** sysconf(_SC_CLK_TCK), read once through getconf (100 on every Linux the lab runs on). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(v) || v <= 0) throw new Error(`getconf CLK_TCK printed ${v}`);
    clockTicks = v;
  }
  return clockTicks;
}

/** utime and stime in clock ticks from the text of /proc/<pid>/stat (comm may hold spaces). */
export function parseStat(text: string): { utimeTicks: number; stimeTicks: number } {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line: no ")" after comm');
  // After "pid (comm) ": field 3 (state) is index 0, so utime (field 14) is index 11.
  const rest = text.slice(close + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error('not a /proc/<pid>/stat line: utime/stime missing');
  return { utimeTicks: utime, stimeTicks: stime };
}

/** voluntary and nonvoluntary context switches from the text of /proc/<pid>/status. */
export function parseStatus(text: string): { nvcsw: number; nivcsw: number } {
  const get = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)$`, 'm').exec(text);
    if (!m) throw new Error(`/proc/<pid>/status has no ${key}`);
    return Number(m[1]);
  };
  return { nvcsw: get('voluntary_ctxt_switches'), nivcsw: get('nonvoluntary_ctxt_switches') };
}

/** The probe of one process, or null when it is gone. */
export async function probeProcess(pid: number): Promise<ProcProbe | null> {
  let stat: string;
  let status: string;
  try {
    [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
  } catch {
    return null;
  }
  const { utimeTicks, stimeTicks } = parseStat(stat);
  const usPerTick = 1e6 / clockTicksPerSecond();
  return {
    pid,
    ...parseStatus(status),
    utime_us: Math.round(utimeTicks * usPerTick),
    stime_us: Math.round(stimeTicks * usPerTick),
  };
}

/**
 * Inodes of the ESTABLISHED TCP sockets whose local port is `port`, from the text of
 * /proc/net/tcp or tcp6 (`sl local_address rem_address st … uid timeout inode`). The table holds
 * every socket of the namespace, TIME_WAIT ones of connection churn included (57,000 lines were
 * measured here): lines whose local address does not end in the port are skipped before any
 * parsing, which made a snapshot of two workers take 0.1 s instead of 0.5 to 1.1 s.
 */
export function establishedInodes(text: string, port: number): Set<string> {
  const out = new Set<string>();
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  let at = text.indexOf('\n') + 1; // after the header
  while (at > 0 && at < text.length) {
    const end = text.indexOf('\n', at);
    const line = text.slice(at, end < 0 ? text.length : end);
    at = end < 0 ? text.length : end + 1;
    const hit = line.indexOf(needle);
    if (hit < 0) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const localPort = parseInt(f[1]!.split(':')[1] ?? '', 16);
    if (f[3] === '01' && localPort === port) out.add(f[9]!);
  }
  return out;
}

/** How long the established sockets of one namespace and port are reused between workers. */
const TABLE_REUSE_MS = 100;
const tables = new Map<string, { at: number; inodes: Promise<Set<string>> }>();

/**
 * The established sockets on `port` in `pid`'s network namespace. A snapshot asks for each worker
 * in turn, and workers share their namespace: the table is read once for all of them.
 */
function establishedOnPort(pid: number, port: number, netns: string): Promise<Set<string>> {
  const key = `${netns}:${port}`;
  const now = Date.now();
  const hit = tables.get(key);
  if (hit && now - hit.at < TABLE_REUSE_MS) return hit.inodes;
  const inodes = (async () => {
    const out = new Set<string>();
    for (const file of ['tcp', 'tcp6']) {
      try {
        for (const i of establishedInodes(await readFile(`/proc/${pid}/net/${file}`, 'utf8'), port))
          out.add(i);
      } catch {
        // no IPv6 in this namespace
      }
    }
    return out;
  })();
  tables.set(key, { at: now, inodes });
  for (const [k, v] of tables) if (now - v.at >= TABLE_REUSE_MS) tables.delete(k);
  return inodes;
}

/** Connections to `port` that process `pid` holds open (ESTABLISHED), or null when it is gone. */
export async function openConnections(pid: number, port: number): Promise<number | null> {
  let fds: string[];
  let netns: string;
  try {
    fds = await readdir(`/proc/${pid}/fd`);
    netns = await readlink(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
  const inodes = await establishedOnPort(pid, port, netns);
  let n = 0;
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) n++;
      } catch {
        // closed meanwhile
      }
    }),
  );
  return n;
}
