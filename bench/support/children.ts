// Child processes that must not outlive the benchmark: started here, always stopped here.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

export interface Exit {
  /** Null when killed by a signal, or when the process could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Started as the leader of its own process group: stopped and killed as a group. */
  group: boolean;
  /** Everything written to stdout and stderr so far (capped), for error messages. */
  output(): string;
  /** Resolves when the process has exited (its own children may still hold its output open). */
  exited: Promise<Exit>;
  /** Resolves when the process has exited and all its output has been read. */
  closed: Promise<Exit>;
}

const OUTPUT_CAP = 64 * 1024;
/**
 * Children not yet stopped: a plain child until it exits, a group until stopChild (or killAllNow)
 * has killed the group, as its leader's exit leaves the rest of the group running.
 */
const live = new Set<Child>();

/** Starts a process tracked for clean-up; its output is kept, and passed to `onLine` by line. */
export function startChild(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { onLine?: (line: string) => void; group?: boolean } = {},
): Child {
  const { onLine, group = false, ...spawnOptions } = options;
  // A group of its own: a terminal's Ctrl-C reaches only the benchmark, which stops the group in
  // order, and a process the leader left behind is still found (by the group) and killed.
  const proc = spawn(command, args, {
    ...spawnOptions,
    detached: group,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let partial = '';
  const keep = (s: string): void => {
    output = (output + s).slice(-OUTPUT_CAP);
  };
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => {
    keep(s);
    if (!onLine) return;
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  proc.stderr?.setEncoding('utf8').on('data', keep);
  let failed: (e: Exit) => void = () => {};
  const startFailed = new Promise<Exit>((resolve) => (failed = resolve));
  proc.on('error', (e) => {
    keep(`\n${name}: ${e.message}\n`);
    failed({ code: null, signal: null });
  });
  const exited = Promise.race([
    startFailed,
    new Promise<Exit>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
  ]);
  const closed = Promise.race([
    startFailed,
    new Promise<Exit>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal }))),
  ]);
  const child: Child = { name, proc, group, output: () => output, exited, closed };
  live.add(child);
  if (!group) void exited.then(() => live.delete(child));
  return child;
}

/** Direct children of `pid`, from /proc (read before a kill so that they can be killed too). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return out;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM, then SIGKILL (to it and to its children) if it is still there after `graceMs`. */
export async function stopChild(child: Child, graceMs = 5000): Promise<void> {
  const pid = child.proc.pid;
  if (pid === undefined) return void live.delete(child);
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
    // The leader is gone; whatever it left in its group goes too.
    if (child.group) killQuietly(-pid, 'SIGKILL');
    live.delete(child);
    return;
  }
  const kids = childPids(pid);
  killQuietly(pid, 'SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([child.exited, timer])) === 'timeout') {
    for (const k of [...kids, ...childPids(pid)]) killQuietly(k, 'SIGKILL');
    killQuietly(pid, 'SIGKILL');
    await child.exited;
  }
  // The leader has exited (a server's supervisor or master stops its workers first): the rest of
  // its group, if any, is killed.
  if (child.group) killQuietly(-pid, 'SIGKILL');
  live.delete(child);
}

/** Stops every child still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/**
 * Last resort on process exit (synchronous): SIGKILL whatever is left, children first; for a group,
 * the whole group, also when its leader has already exited.
 */
export function killAllNow(): void {
  for (const c of live) {
    const pid = c.proc.pid;
    if (pid === undefined) continue;
    for (const k of childPids(pid)) killQuietly(k, 'SIGKILL');
    killQuietly(c.group ? -pid : pid, 'SIGKILL');
  }
  live.clear();
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Polls `url` until it answers 200, the child exits, or `timeoutMs` passes. */
export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
      throw new Error(`${child.name} exited before answering ${url}:\n${child.output()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${child.name} did not answer ${url} within ${timeoutMs} ms (${last})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Resolves with `ready`, or fails naming `line` when the child exits first or `limitMs` passes.
 */
export async function waitReady<T>(
  child: Child,
  ready: Promise<T>,
  line: string,
  limitMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${line} within ${limitMs / 1000} s`)), limitMs);
  });
  const exited = child.exited.then((e): never => {
    throw new Error(`exited (${e.signal ?? `exit ${e.code}`}) before ${line}`);
  });
  try {
    return await Promise.race([ready, timeout, exited]);
  } finally {
    clearTimeout(timer);
  }
}
