// Starts a test server process that prints one `READY {"port": P, "pids": [...]}` line, in its own
// process group so that stop() removes it and every worker it forked. stdin is the lifeline: the
// fixtures exit with their workers when it closes (a test runner killed outright leaves nothing).
import { spawn, type ChildProcess } from 'node:child_process';

export interface ReadyProcess {
  pid: number;
  port: number;
  /** The workers' pids as the server itself reports them. */
  pids: number[];
  proc: ChildProcess;
  stop(): Promise<void>;
}

const started = new Set<ReadyProcess>();

export async function startReady(
  file: string,
  args: string[],
  readyTimeoutMs = 10_000,
): Promise<ReadyProcess> {
  const proc = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-proc.pid!, 'SIGKILL');
      reject(new Error(`${file} not ready within ${readyTimeoutMs} ms; stderr:\n${err}`));
    }, readyTimeoutMs);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^READY (\{.*\})$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(JSON.parse(m[1]!) as { port: number; pids: number[] });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${file} exited before ready; stderr:\n${err}`));
    });
  });
  const r: ReadyProcess = {
    pid: proc.pid!,
    ...ready,
    proc,
    stop: async () => {
      started.delete(r);
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
  started.add(r);
  return r;
}

/** For afterEach: stops every process a test started and did not stop. */
export async function stopAllReady(): Promise<void> {
  await Promise.all([...started].map((r) => r.stop()));
}
