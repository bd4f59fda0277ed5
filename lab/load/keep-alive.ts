// Keep-alive load through autocannon (patched: patches/autocannon+9.0.0.patch, applied by
// `npm install` through patch-package). The patch makes autocannon's client
//  - count the response before a forced reconnect (`reconnectRate` dropped every one of them),
//  - never write the next request onto a connection the server is closing (`Connection: close`,
//    e.g. a worker that drains before it is cycled) and drop the requests pending on a connection
//    that fails or closes, reporting them ('lost'), so that later responses are not matched with
//    them (their latency grew with the run's length),
//  - accept a deadline below one second, time out only requests that are pending (not a client
//    idling under a rate limit), one timeout per pending request,
//  - drain: stop sending and finish once the requests in flight have ended.
// We count from the client events, not from autocannon's summary: 'request' (written), 'response',
// 'timeout' and 'lost' — so every request ends exactly one way, as in churn-client.ts.
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import type { ChurnOptions, Generator } from './churn-client';
import type { LoadStats } from './load-stats';

/** The churn client's options (targets, path, connections, rate, deadline), and: */
export interface KeepAliveOptions extends ChurnOptions {
  /** Requests in flight per connection. */
  pipelining: number;
  /** A limit autocannon enforces by itself should stop() never come; seconds. */
  backstopSec: number;
}

/** The events of autocannon's (patched) client that we count from. */
interface PatchedClient extends NodeJS.EventEmitter {
  drain(): void;
  on(event: 'request' | 'timeout' | 'done', listener: () => void): this;
  on(event: 'lost', listener: (count: number, reason: string) => void): this;
  on(event: 'response', listener: (status: number, bytes: number, ms: number) => void): this;
}

/** Throws unless autocannon carries our patch (it would count wrongly without it). */
export function assertAutocannonPatched(): void {
  const Client = createRequire(require.resolve('autocannon'))('./lib/httpClient') as {
    prototype: Record<string, unknown>;
  };
  if (typeof Client.prototype.drain !== 'function') {
    throw new Error(
      'autocannon is not patched (patches/autocannon+9.0.0.patch): run `npx patch-package` ' +
        '(npm install runs it as postinstall); unpatched, it drops responses and mis-times requests',
    );
  }
}

export function startKeepAlive(o: KeepAliveOptions, stats: LoadStats): Generator {
  assertAutocannonPatched();
  if (o.targets.length === 0) throw new Error('keep-alive: no targets');
  const clients: PatchedClient[] = [];
  let running = 0;
  let onAllDone: (() => void) | undefined;

  let finishedOk: () => void = () => {};
  let failure: Error | undefined;
  // Resolves when autocannon has destroyed every client (after stop() or the backstop).
  const finished = new Promise<void>((resolve) => (finishedOk = resolve));
  const instance = autocannon(
    {
      // autocannon spreads its connections over an array of URLs (its types say one string).
      url: o.targets.map((t) => `http://${t.host}:${t.port}${o.path}`) as unknown as string,
      connections: o.connections,
      pipelining: o.pipelining,
      overallRate: o.rate,
      timeout: o.timeoutMs / 1000,
      duration: o.backstopSec,
      // How often autocannon looks at its stop flag: stop() takes effect within this.
      sampleInt: 100,
      setupClient: (c) => {
        const client = c as unknown as PatchedClient;
        clients.push(client);
        running++;
        client.on('request', () => stats.sent++);
        client.on('response', (status, bytes, ms) => stats.recordResponse(status, bytes, ms));
        client.on('timeout', () => stats.timeouts++);
        client.on('lost', (count) => (stats.errors += count));
        client.on('done', () => {
          if (--running === 0) onAllDone?.();
        });
      },
    },
    // Called synchronously with an error when autocannon rejects its options.
    (err: unknown) => {
      if (err) failure = err instanceof Error ? err : new Error(String(err));
      else finishedOk();
    },
  );
  if (failure) throw new Error(`autocannon: ${failure.message}`);

  return {
    async stop(graceMs: number): Promise<void> {
      // No new request from here on; autocannon itself stops only at its next sample tick.
      const drained = new Promise<void>((resolve) => (onAllDone = resolve));
      for (const c of clients) c.drain();
      if (running > 0 && graceMs > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
        onAllDone = undefined;
      }
      instance.stop();
      await finished;
    },
  };
}
