// A small, exact HTTP/1.1 test client over raw sockets: it counts every response it receives, so
// tests can compare the server's counters with what a client really got.
import net from 'node:net';

export interface LoadResult {
  /** Complete responses received, by status. */
  statuses: Record<number, number>;
  responses: number;
  /** Requests that got no complete response before the deadline. */
  timeouts: number;
  /** Connections that failed (refused, reset, closed mid-response). */
  errors: number;
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
  rest: Buffer;
}

/** Parses one complete response from `buf`, or returns null if more bytes are needed. */
export function parseResponse(buf: Buffer, head = false): Parsed | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = head ? 0 : Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + len) return null;
  return {
    status,
    headers,
    body: buf.subarray(end + 4, end + 4 + len).toString('utf8'),
    rest: buf.subarray(end + 4 + len),
  };
}

function emptyResult(): LoadResult {
  return { statuses: {}, responses: 0, timeouts: 0, errors: 0 };
}

function merge(into: LoadResult, r: LoadResult): void {
  into.responses += r.responses;
  into.timeouts += r.timeouts;
  into.errors += r.errors;
  for (const [s, n] of Object.entries(r.statuses)) {
    into.statuses[Number(s)] = (into.statuses[Number(s)] ?? 0) + n;
  }
}

/**
 * One keep-alive connection sending `count` requests one after another. A request with no
 * response within `timeoutMs` counts as a timeout and ends the connection.
 */
function keepAliveConnection(
  port: number,
  count: number,
  path: string,
  timeoutMs: number,
): Promise<LoadResult> {
  const r = emptyResult();
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const send = () => {
      if (sent === count) return finish();
      sent++;
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      clearTimeout(timer);
      timer = setTimeout(() => {
        r.timeouts += count - r.responses - r.errors;
        finish();
      }, timeoutMs);
    };
    sock.on('connect', send);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let p: Parsed | null;
      while ((p = parseResponse(buf)) !== null) {
        buf = p.rest;
        r.responses++;
        r.statuses[p.status] = (r.statuses[p.status] ?? 0) + 1;
        send();
      }
    });
    sock.on('error', () => {
      if (!done) r.errors += count - r.responses;
      finish();
    });
    sock.on('close', () => {
      if (!done && sent < count) r.errors += count - r.responses - r.timeouts;
      finish();
    });
  });
}

/** `connections` keep-alive connections at once, each sending `perConnection` requests. */
export async function keepAliveLoad(o: {
  port: number;
  connections: number;
  perConnection: number;
  path?: string;
  timeoutMs?: number;
  /** Connection i opens after i × staggerMs (default 0: all at once). */
  staggerMs?: number;
}): Promise<LoadResult> {
  const all = await Promise.all(
    Array.from({ length: o.connections }, async (_, i) => {
      if (o.staggerMs) await new Promise((r) => setTimeout(r, i * o.staggerMs!));
      return keepAliveConnection(o.port, o.perConnection, o.path ?? '/', o.timeoutMs ?? 5000);
    }),
  );
  const r = emptyResult();
  all.forEach((x) => merge(r, x));
  return r;
}

/** One request on a fresh connection; resolves with the response and whether the server closed. */
export function oneShot(
  port: number,
  request: string | Buffer,
  timeoutMs = 3000,
): Promise<{ response: Parsed | null; raw: string; closedByServer: boolean; timedOut: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    const head = request.toString().startsWith('HEAD ');
    const settle = (closedByServer: boolean, timedOut: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({
        response: parseResponse(buf, head),
        raw: buf.toString('latin1'),
        closedByServer,
        timedOut,
      });
    };
    const timer = setTimeout(() => settle(false, true), timeoutMs);
    sock.on('connect', () => sock.write(request));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
    });
    sock.on('end', () => settle(true, false));
    sock.on('error', () => settle(true, false));
  });
}

/** `total` requests, each on a new connection with `Connection: close`, `concurrency` at a time. */
export async function churnLoad(o: {
  port: number;
  total: number;
  concurrency: number;
  path?: string;
}): Promise<LoadResult> {
  const r = emptyResult();
  let next = 0;
  const lane = async () => {
    while (next < o.total) {
      next++;
      const res = await oneShot(
        o.port,
        `GET ${o.path ?? '/'} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      if (res.response) {
        r.responses++;
        r.statuses[res.response.status] = (r.statuses[res.response.status] ?? 0) + 1;
      } else if (res.timedOut) {
        r.timeouts++;
      } else {
        r.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  return r;
}
