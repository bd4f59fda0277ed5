// Connection churn: every request on a new connection, as `wrk -H 'Connection: close'` does.
// Each of `connections` slots connects, writes one `Connection: close` request, reads the response,
// closes, and starts again. Every request ends exactly one way: a response (any status), an error
// (refused, reset, closed before the response was complete) or a timeout (no complete response by
// the deadline) — so the counts add up, and they can be checked against the server's own.
//
// Not autocannon: unpatched, its `reconnectRate: 1` drops every response, and against
// `Connection: close` it writes the next request onto the closing socket. Patched (keep-alive.ts)
// it counts right and is no faster (both are bound by Node's cost per connection); this client
// keeps churn, where autocannon's reconnect paths were broken, out of its internals: one
// connection, one request, one deadline, one outcome, timed from connect() with µs resolution.
// No TCP_NODELAY: the request is one write, so Nagle never delays it (one setsockopt saved).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LoadStats } from './load-stats';

export interface HttpTarget {
  host: string;
  port: number;
}

export interface ChurnOptions {
  /** Slots are spread over the targets round-robin. */
  targets: HttpTarget[];
  path: string;
  connections: number;
  /** Requests per second over all slots; undefined = as fast as possible. */
  rate: number | undefined;
  timeoutMs: number;
}

/** A running load generator. */
export interface Generator {
  /**
   * Stops starting requests; resolves once every request in flight has ended (response, error or
   * timeout) or `graceMs` has passed, whichever is first. Requests still in flight then are
   * abandoned: counted as sent, nothing else.
   */
  stop(graceMs: number): Promise<void>;
}

/** Largest response head accepted; a longer one is a protocol error. */
const MAX_HEAD = 64 * 1024;

interface InFlight {
  socket: net.Socket;
  abandon(): void;
}

export function startChurn(o: ChurnOptions, stats: LoadStats): Generator {
  if (o.targets.length === 0) throw new Error('churn: no targets');
  const requests = o.targets.map((t) =>
    Buffer.from(
      `GET ${o.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nConnection: close\r\n\r\n`,
      'latin1',
    ),
  );
  const inFlight = new Set<InFlight>();
  const waits = new Set<NodeJS.Timeout>();
  let stopped = false;
  let onIdle: (() => void) | undefined;
  const startedAt = performance.now();
  let issued = 0;

  const next = (slot: number): void => {
    if (stopped) return;
    if (o.rate !== undefined) {
      // Paced: request n is due at n/rate seconds after the start; a late slot catches up.
      const wait = startedAt + (issued * 1000) / o.rate - performance.now();
      issued++;
      if (wait >= 1) {
        const t = setTimeout(() => {
          waits.delete(t);
          if (!stopped) fire(slot);
        }, wait);
        waits.add(t);
        return;
      }
    }
    fire(slot);
  };

  const fire = (slot: number): void => {
    const target = o.targets[slot % o.targets.length]!;
    const t0 = performance.now();
    stats.sent++;
    const socket = net.connect({ host: target.host, port: target.port });
    let buf: Buffer | null = null;
    let headEnd = -1;
    let status = 0;
    let contentLength = -1;
    let bytes = 0;
    let done = false;

    const end = (how: 'response' | 'error' | 'timeout' | 'abandoned'): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      inFlight.delete(entry);
      socket.destroy();
      if (how === 'response') stats.recordResponse(status, bytes, performance.now() - t0);
      else if (how === 'error') stats.errors++;
      else if (how === 'timeout') stats.timeouts++;
      if (how === 'abandoned') return;
      if (stopped) {
        if (inFlight.size === 0) onIdle?.();
      } else if (how === 'error') {
        // Refused or reset: do not spin on a dead port inside one tick.
        setImmediate(() => next(slot));
      } else {
        next(slot);
      }
    };

    const deadline = setTimeout(() => end('timeout'), o.timeoutMs);
    const entry: InFlight = { socket, abandon: () => end('abandoned') };
    inFlight.add(entry);

    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      bytes += chunk.length;
      buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
      if (headEnd < 0) {
        headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) {
          if (buf.length > MAX_HEAD) end('error');
          return;
        }
        const head = buf.toString('latin1', 0, headEnd);
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (!m) return end('error');
        status = Number(m[1]);
        const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
        contentLength = cl ? Number(cl[1]) : -1;
      }
      if (contentLength >= 0 && buf.length >= headEnd + 4 + contentLength) end('response');
    });
    // Without Content-Length the body runs to the end of the connection.
    socket.on('end', () => end(headEnd >= 0 && contentLength < 0 ? 'response' : 'error'));
    socket.on('error', () => end('error'));
    socket.on('close', () => end('error'));
    socket.write(requests[slot % requests.length]!);
  };

  for (let slot = 0; slot < o.connections; slot++) next(slot);

  return {
    stop(graceMs: number): Promise<void> {
      stopped = true;
      for (const t of waits) clearTimeout(t);
      waits.clear();
      if (inFlight.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const finish = (): void => {
          clearTimeout(timer);
          onIdle = undefined;
          for (const r of [...inFlight]) r.abandon();
          resolve();
        };
        const timer = setTimeout(finish, graceMs);
        onIdle = finish;
      });
    },
  };
}
