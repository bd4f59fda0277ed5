// Runs `forklab serve` as a child process for a test, exactly as a container would.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ServerSnapshot } from '../../lab/server/snapshot';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'forklab.js');
const started = new Set<RunningServe>();

export interface RunningServe {
  port: number;
  metricsPort: number;
  pids: number[];
  proc: ChildProcess;
  stderr(): string;
  snapshot(): Promise<ServerSnapshot>;
  metrics(): Promise<string>;
  /** Sum of one counter field over all workers. */
  total(field: string): Promise<number>;
  /** Sends `signal` and waits for the supervisor to exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServe(args: string[], readyTimeoutMs = 10_000): Promise<RunningServe> {
  return startServerProcess(
    process.execPath,
    [BIN, 'serve', '--port', '0', '--metrics-port', '0', ...args],
    readyTimeoutMs,
  );
}

/**
 * Any server that prints the FORKLAB_READY line and serves /snapshot.json and /metrics on its
 * metrics port (`forklab serve`, servers/tornado/app.py).
 */
export async function startServerProcess(
  command: string,
  args: string[],
  readyTimeoutMs = 10_000,
): Promise<RunningServe> {
  const what = path.basename(args[0] ?? command);
  const proc = spawn(
    command,
    args,
    // The lifeline (stdin held open by this process): a test runner killed outright leaves no
    // server behind.
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORKLAB_LIFELINE: 'stdin' } },
  );
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = await new Promise<{ port: number; metricsPort: number; pids: number[] }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`${what} not ready within ${readyTimeoutMs} ms; stderr:\n${err}`));
      }, readyTimeoutMs);
      proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const m = /^FORKLAB_READY (\{.*\})$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(JSON.parse(m[1]!) as { port: number; metricsPort: number; pids: number[] });
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${what} exited (${code ?? signal}) before ready; stderr:\n${err}`));
      });
    },
  );
  const base = `http://127.0.0.1:${ready.metricsPort}`;
  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const serve: RunningServe = {
    ...ready,
    proc,
    stderr: () => err,
    snapshot: async () => (await (await fetch(`${base}/snapshot.json`)).json()) as ServerSnapshot,
    metrics: async () => (await fetch(`${base}/metrics`)).text(),
    total: async (field) =>
      (await serve.snapshot()).workers.reduce((sum, w) => sum + (w.counters[field] ?? NaN), 0),
    stop: (signal = 'SIGTERM') => {
      stopping ??= (async () => {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        const r = await exited;
        clearTimeout(t);
        started.delete(serve);
        return r;
      })();
      return stopping;
    },
  };
  started.add(serve);
  return serve;
}

/** For afterEach: stops every server a test started and did not stop. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((s) => s.stop('SIGKILL')));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value, or fails stating the limit. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 5000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not true within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Whether a pid exists and what state /proc reports for it (R, S, Z, …), or null. */
export async function procState(pid: number): Promise<string | null> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}
