// What the Docker and local runtimes share: starting a target's servers together (and stopping
// the ones that came up when one did not), waiting for each to be healthy and reading its ready
// line, and stopping every server still running. A runtime supplies how one server starts.
import { mkdirSync } from 'node:fs';
import { freePortPairs } from './free-ports';
import { DEFAULT_READY_TIMEOUT_MS, HttpWait, type WaitTarget } from './http-wait';
import { readReadyLine } from './log-tail';
import {
  LOOPBACK,
  type PortPair,
  type ReadyLine,
  type StartedServer,
  type TargetSpec,
} from './runtime';

/**
 * How long the ready line may take to reach the log after /healthz answered 200: every kind of
 * server prints it just after it starts answering, and the log is written through a pipe (or
 * Docker's log stream) that can lag a loaded machine's HTTP answer by a scheduling slice.
 */
const READY_LINE_TIMEOUT_MS = 3000;

/** The server's ready line, waited for (bounded) in its log; undefined if it never came. */
async function readyLineOf(logFile: string): Promise<ReadyLine | undefined> {
  const deadline = Date.now() + READY_LINE_TIMEOUT_MS;
  for (;;) {
    const ready = readReadyLine(logFile);
    if (ready || Date.now() >= deadline) return ready;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A started server as the base sees it: stoppable, waitable, with a ready line to fill in. */
export type BaseServer = StartedServer & WaitTarget & { ready: ReadyLine | undefined };

export abstract class RuntimeBase<S extends BaseServer> {
  /** Servers started and not yet stopped (a server forgets itself when it stops). */
  protected readonly live = new Set<S>();

  /** Where the lab reaches the servers it starts; default the loopback. */
  protected reachHost(): string {
    return LOOPBACK;
  }

  /** Whatever must be there before any server starts (an image, a built engine). */
  abstract prepare(): Promise<void>;

  /** Starts server `index` of `spec` on `ports`, adds it to `live`, and returns it not yet ready. */
  protected abstract startOne(spec: TargetSpec, index: number, ports: PortPair): Promise<S>;

  /** Starts every server of the target at once; if one fails, stops the others and throws. */
  async start(spec: TargetSpec): Promise<StartedServer[]> {
    const count = spec.count ?? 1;
    await this.prepare();
    const ports = spec.ports ? [...spec.ports] : await freePortPairs(count);
    if (ports.length !== count)
      throw new Error(`forklab: ${count} servers but ${ports.length} port pairs`);
    mkdirSync(spec.runDir, { recursive: true });
    const results = await Promise.allSettled(ports.map((p, i) => this.startReady(spec, i, p)));
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length > 0) {
      await Promise.allSettled(started.map((s) => s.stop()));
      throw failed[0];
    }
    return started;
  }

  /** One server, started and healthy (GET /healthz 200), with its ready line read from its log. */
  private async startReady(spec: TargetSpec, index: number, ports: PortPair): Promise<S> {
    const server = await this.startOne(spec, index, ports);
    try {
      await HttpWait.forHealthz(
        ports.metricsPort,
        spec.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
        this.reachHost(),
      ).waitUntilReady(server);
      server.ready = await readyLineOf(server.logFile);
      return server;
    } catch (err) {
      await server.stop().catch(() => undefined);
      throw err;
    }
  }

  /** @internal A server that stopped. */
  forget(server: S): void {
    this.live.delete(server);
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.live].map((s) => s.stop()));
  }
}
