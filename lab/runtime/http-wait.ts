// Readiness: poll http://127.0.0.1:<metricsPort>/healthz until it answers 200. Gives up early
// when the server exits, and at the limit otherwise; either error states what was waited for,
// the limit, and the server's last log lines.
import http from 'node:http';
import { formatLogLines } from './log-tail';
import { LOOPBACK } from './runtime';

/** What a wait watches: a server that may exit while it is waited for. */
export interface WaitTarget {
  readonly name: string;
  /** Why the server can no longer become ready (it exited: code, signal), else undefined. */
  gone(): string | undefined;
  /** Its last log lines, once what it wrote so far has reached the log file. */
  logs(lines: number): Promise<string[]>;
}

/** A start that failed: the message holds the log lines, `logLines` too. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly serverName: string,
    readonly logLines: readonly string[],
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export const DEFAULT_READY_TIMEOUT_MS = 15_000;
const LOG_LINES = 20;
const TIMED_OUT = 'TIMED_OUT';

export class HttpWait {
  constructor(
    readonly url: string,
    readonly timeoutMs: number = DEFAULT_READY_TIMEOUT_MS,
    readonly intervalMs = 50,
  ) {}

  /** GET /healthz on the metrics port of a server (on the loopback unless `host` says otherwise). */
  static forHealthz(metricsPort: number, timeoutMs?: number, host: string = LOOPBACK): HttpWait {
    return new HttpWait(`http://${host}:${metricsPort}/healthz`, timeoutMs);
  }

  async waitUntilReady(target: WaitTarget): Promise<void> {
    const deadline = performance.now() + this.timeoutMs;
    let last = 'no answer yet';
    for (;;) {
      const reason = target.gone();
      if (reason !== undefined) {
        const lines = await target.logs(LOG_LINES);
        throw new StartupError(
          `forklab: ${target.name} exited before it became healthy (${reason}; waited for 200 from GET ${this.url})\n${formatLogLines(target.name, lines)}`,
          target.name,
          lines,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      const slot = Math.min(1000, left);
      const status = await this.probe(slot);
      if (status === 200) return;
      // A probe cut short by the deadline says nothing new: keep the answer before it.
      if (status !== TIMED_OUT) last = typeof status === 'number' ? `HTTP ${status}` : status;
      else if (slot >= 1000 || last === 'no answer yet')
        last = `no answer within ${Math.round(slot)} ms`;
      await sleep(Math.min(this.intervalMs, Math.max(deadline - performance.now(), 0)));
    }
    const lines = await target.logs(LOG_LINES);
    throw new StartupError(
      `forklab: ${target.name} did not become healthy within ${this.timeoutMs} ms: GET ${this.url} never answered 200 (last: ${last})\n${formatLogLines(target.name, lines)}`,
      target.name,
      lines,
    );
  }

  /** The status code, or the error code when there was no answer. */
  private probe(timeoutMs: number): Promise<number | string> {
    return new Promise((resolve) => {
      const req = http.get(this.url, { agent: false, timeout: timeoutMs }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 'no status');
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('timeout'), { code: TIMED_OUT })),
      );
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
