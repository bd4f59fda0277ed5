// Hostile clients against real sockets: strict heads, bounded memory, timeouts, half-close.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { oneShot, parseResponse } from './support/http-client';
import { sleep, startServe, stopAll, waitFor, type RunningServe } from './support/serve-process';

afterAll(stopAll);

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const MiB = 1024 * 1024;

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM). */
async function procKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Keep-alive GET / one after another until `stop()`; every request has a 2 s deadline. */
function steadyClient(port: number): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  const done = (async () => {
    while (running) {
      const r = await oneShot(port, get('/', 'Connection: close\r\n'), 2000);
      if (r.response?.status === 200) ok++;
      else failed++;
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { ok, failed };
    },
  };
}

/** Writes `total` bytes of `chunk` with backpressure; resolves with the bytes the socket took. */
function stream(sock: net.Socket, total: number, stopAfterMs: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, 'x');
  let written = 0;
  return new Promise((resolve) => {
    const deadline = setTimeout(() => resolve(written), stopAfterMs).unref();
    const pump = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!sock.write(chunk)) {
          sock.once('drain', pump);
          return;
        }
      }
      clearTimeout(deadline);
      resolve(written);
    };
    sock.on('error', () => {
      clearTimeout(deadline);
      resolve(written);
    });
    pump();
  });
}

describe('strict request heads', () => {
  let s: RunningServe;
  beforeAll(async () => {
    s = await startServe(['--workers', '1']);
  });

  test.each([
    ['NUL', 'X: a\0b\r\n'],
    ['CR', 'X: a\rb\r\n'],
    ['LF (the rest is a line without a colon)', 'X: a\nb\r\n'],
    ['another control (0x01)', 'X: a\x01b\r\n'],
  ])('a header value with %s → 400 and close', async (_, field) => {
    const before = await s.total('responses_400');
    const r = await oneShot(s.port, get('/', field));
    expect(r.response?.status).toBe(400);
    expect(r.closedByServer).toBe(true);
    expect((await s.total('responses_400')) - before).toBe(1);
  });

  test('bare-LF lines are accepted (RFC 9112 §2.2) and answered at once; the connection stays', async () => {
    const t0 = Date.now();
    const r = await oneShot(s.port, 'GET / HTTP/1.1\nHost: x\n\n', 400);
    expect(r.response?.status).toBe(200);
    expect(r.response?.body).toBe('Hello, world\n');
    expect(r.closedByServer).toBe(false); // kept alive until our 400 ms deadline
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    const mixed = await oneShot(s.port, 'GET /healthz HTTP/1.1\r\nHost: x\nConnection: close\n\n');
    expect(mixed.response?.body).toBe('ok\n');
    expect(mixed.closedByServer).toBe(true);
  });

  test('a request line over 8 KiB → 414; a head of 20 KiB in 5 fields passes; over 32 KiB → 431', async () => {
    const long = await oneShot(s.port, get(`/${'a'.repeat(9000)}`));
    expect(long.response?.status).toBe(414);
    expect(long.closedByServer).toBe(true);
    const field = (i: number) => `X-${i}: ${'v'.repeat(4000)}\r\n`;
    const mid = await oneShot(
      s.port,
      get('/', [0, 1, 2, 3, 4].map(field).join('') + 'Connection: close\r\n'),
    );
    expect(mid.response?.status).toBe(200);
    const big = await oneShot(
      s.port,
      get('/', Array.from({ length: 9 }, (_, i) => field(i)).join('')),
    );
    expect(big.response?.status).toBe(431);
    expect(big.closedByServer).toBe(true);
  });
});

describe.each(['level', 'edge'])(
  'bounded memory per connection (one worker, %s-triggered)',
  (trigger) => {
    let s: RunningServe;
    let pid: number;
    beforeAll(async () => {
      s = await startServe(['--workers', '1', '--trigger', trigger]);
      pid = s.pids[0]!;
      await oneShot(s.port, get('/', 'Connection: close\r\n')); // warm up the worker
    });

    // The stated bound: the worker's peak RSS grows by less than 16 MiB while a client pushes
    // 300 MiB at it (before the bound, 300 MiB of input grew a worker by over 300 MB).
    const BOUND = 16 * MiB;

    test('a body of 300 MiB is discarded as it streams: peak RSS grows < 16 MiB, others served', async () => {
      const hwm0 = await procKiB(pid, 'VmHWM');
      const discarded0 = await s.total('body_bytes_discarded');
      const other = steadyClient(s.port);
      const sock = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999\r\n\r\n');
      const t0 = Date.now();
      const sent = await stream(sock, 300 * MiB, 60_000);
      expect(sent).toBe(300 * MiB);
      // The server read and dropped every byte the client sent.
      await waitFor('body drained', async () =>
        (await s.total('body_bytes_discarded')) - discarded0 === sent ? true : undefined,
      );
      const elapsed = Date.now() - t0;
      const hwm = await procKiB(pid, 'VmHWM');
      const { ok, failed } = await other.stop();
      sock.destroy();
      console.log(
        `${trigger}: 300 MiB body in ${elapsed} ms: worker VmHWM ${(hwm0 / MiB).toFixed(1)} → ${(hwm / MiB).toFixed(1)} MiB; other client ${ok} ok, ${failed} failed`,
      );
      expect(hwm - hwm0).toBeLessThan(BOUND);
      expect(failed).toBe(0);
      expect(ok).toBeGreaterThan(0);
    });

    test('input sent while a response is pending stays in the kernel: reading stops, RSS bounded', async () => {
      const hwm0 = await procKiB(pid, 'VmHWM');
      const in0 = await s.total('bytes_in');
      const pauses0 = await s.total('read_pauses');
      const other = steadyClient(s.port);
      const sock = net.connect(s.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      let got = Buffer.alloc(0);
      sock.on('data', (d) => {
        got = Buffer.concat([got, d]);
      });
      const req = get('/delay?ms=3000');
      sock.write(req);
      // The server stops reading: the client can push only what the socket buffers hold.
      const sent = await stream(sock, 300 * MiB, 1500);
      const hwm = await procKiB(pid, 'VmHWM');
      expect((await s.total('read_pauses')) - pauses0).toBe(1);
      // The worker read the request and at most one input buffer more (the other client's aside).
      const { ok, failed } = await other.stop();
      const inDuring = (await s.total('bytes_in')) - in0;
      const otherBytes = (ok + failed) * get('/', 'Connection: close\r\n').length;
      console.log(
        `${trigger}: pending /delay: client pushed ${(sent / MiB).toFixed(0)} MiB in 1.5 s, worker read ${inDuring - otherBytes} B of it; VmHWM ${(hwm0 / MiB).toFixed(1)} → ${(hwm / MiB).toFixed(1)} MiB`,
      );
      expect(sent).toBeLessThan(300 * MiB);
      // At most one input buffer: the head limit (4 × 8 KiB), one line of skippable empty lines, 1.
      expect(inDuring - otherBytes).toBeGreaterThanOrEqual(req.length);
      expect(inDuring - otherBytes).toBeLessThanOrEqual(4 * 8192 + 8192 + 1);
      expect(hwm - hwm0).toBeLessThan(BOUND);
      expect(failed).toBe(0);
      // The delayed response still arrives; what follows it is garbage and ends the connection.
      await waitFor('delayed response', async () =>
        parseResponse(got)?.status === 200 ? true : undefined,
      );
      expect(parseResponse(got)?.body).toBe('delayed 3000 ms\n');
      sock.destroy();
    });
  },
);

describe('timeouts', () => {
  let s: RunningServe;
  beforeAll(async () => {
    s = await startServe([
      '--workers',
      '1',
      '--client-header-timeout-ms',
      '1000',
      '--client-body-timeout-ms',
      '1000',
      '--keepalive-timeout-ms',
      '1000',
      '--send-timeout-ms',
      '1000',
    ]);
  });

  test('slowloris: 200 connections sending a byte every 100 ms are closed after the header timeout (408); others are served', async () => {
    const N = 200;
    const before = await s.total('timeouts_header');
    const r408 = await s.total('responses_408');
    const other = steadyClient(s.port);
    const closedAfter = await Promise.all(
      Array.from(
        { length: N },
        () =>
          new Promise<{ ms: number; status?: number }>((resolve) => {
            const t0 = Date.now();
            const sock = net.connect(s.port, '127.0.0.1');
            let buf = Buffer.alloc(0);
            const head = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ';
            const drip = setInterval(() => sock.write('a'), 100);
            sock.on('connect', () => sock.write(head));
            sock.on('data', (d) => {
              buf = Buffer.concat([buf, d]);
            });
            const end = () => {
              clearInterval(drip);
              resolve({ ms: Date.now() - t0, status: parseResponse(buf)?.status });
            };
            sock.on('close', end);
            sock.on('error', () => undefined);
            setTimeout(() => sock.destroy(), 10_000).unref(); // never wait for ever
          }),
      ),
    );
    const { ok, failed } = await other.stop();
    const times = closedAfter.map((c) => c.ms).sort((a, b) => a - b);
    console.log(
      `slowloris: ${N} connections closed after ${times[0]}–${times[N - 1]} ms (median ${times[N >> 1]}), header timeout 1000 ms; other client ${ok} ok, ${failed} failed`,
    );
    expect(times[0]).toBeGreaterThanOrEqual(950); // not before the timeout (timer granularity aside)
    expect(times[N - 1]).toBeLessThan(5000); // and not left open
    expect(closedAfter.every((c) => c.status === 408)).toBe(true);
    expect((await s.total('timeouts_header')) - before).toBe(N);
    expect((await s.total('responses_408')) - r408).toBe(N);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(0);
  });

  test('a connection that sends nothing is closed after the header timeout without a response', async () => {
    const before = await s.total('timeouts_header');
    const t0 = Date.now();
    const r = await oneShot(s.port, '', 5000);
    expect(r.closedByServer).toBe(true);
    expect(r.raw).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect((await s.total('timeouts_header')) - before).toBe(1);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const before = await s.total('timeouts_idle');
    const t0 = Date.now();
    const r = await oneShot(s.port, get('/'), 5000);
    expect(r.response?.status).toBe(200);
    expect(r.closedByServer).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect((await s.total('timeouts_idle')) - before).toBe(1);
  });

  test('a short body → 408 after the body timeout', async () => {
    const before = await s.total('timeouts_body');
    const t0 = Date.now();
    const r = await oneShot(
      s.port,
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc',
      5000,
    );
    expect(r.response?.status).toBe(408);
    expect(r.closedByServer).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect((await s.total('timeouts_body')) - before).toBe(1);
  });

  test('a client that pipelines and never reads is closed after the send timeout', async () => {
    const before = await s.total('timeouts_send');
    const closed = await new Promise<boolean>((resolve) => {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.on('connect', () => {
        sock.pause(); // never read: the server's writes fill both socket buffers
        sock.write(get('/').repeat(200_000));
      });
      sock.on('close', () => resolve(true));
      sock.on('error', () => undefined);
      setTimeout(() => {
        sock.destroy();
        resolve(false);
      }, 15_000).unref();
    });
    expect(closed).toBe(true);
    await waitFor('send timeout counted', async () =>
      (await s.total('timeouts_send')) - before === 1 ? true : undefined,
    );
  });
});

describe('half-close', () => {
  let s: RunningServe;
  beforeAll(async () => {
    s = await startServe(['--workers', '1']);
  });

  test('a client that shuts its side after the request still gets its delayed response', async () => {
    const half0 = await s.total('half_closes');
    const abort0 = await s.total('client_aborts');
    const r = await new Promise<{ raw: Buffer; ended: boolean }>((resolve) => {
      const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
      let raw = Buffer.alloc(0);
      sock.on('connect', () => sock.end(get('/delay?ms=300'))); // shutdown(SHUT_WR) after it
      sock.on('data', (d) => {
        raw = Buffer.concat([raw, d]);
      });
      sock.on('end', () => {
        sock.destroy();
        resolve({ raw, ended: true });
      });
      setTimeout(() => {
        sock.destroy();
        resolve({ raw, ended: false });
      }, 5000).unref();
    });
    expect(parseResponse(r.raw)?.body).toBe('delayed 300 ms\n');
    expect(r.ended).toBe(true); // then the server closed: nothing more can come
    expect((await s.total('half_closes')) - half0).toBe(1);
    expect((await s.total('client_aborts')) - abort0).toBe(0);
  });
});
