// The HTTP/1.1 responder: routes, keep-alive, bad input, clients that leave.
import net from 'node:net';
import { oneShot } from './support/http-client';
import { startServe, stopAll, waitFor, type RunningServe } from './support/serve-process';

let s: RunningServe;
beforeAll(async () => {
  s = await startServe(['--workers', '2']);
});
afterAll(stopAll);

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

test('/ answers hello, keep-alive by default', async () => {
  const r = await oneShot(s.port, get('/'), 500);
  expect(r.response?.status).toBe(200);
  expect(r.response?.body).toBe('Hello, world\n');
  expect(r.response?.headers.connection).toBe('keep-alive');
  expect(r.closedByServer).toBe(false); // it waited for the next request until our deadline
});

test('/pid names the worker and its pid', async () => {
  const r = await oneShot(s.port, get('/pid', 'Connection: close\r\n'));
  const body = JSON.parse(r.response!.body) as { worker: number; pid: number };
  expect(s.pids).toContain(body.pid);
  expect(s.pids.indexOf(body.pid)).toBe(body.worker);
  expect(r.closedByServer).toBe(true); // Connection: close honoured
});

test('/healthz, 404, 405 and HEAD', async () => {
  expect((await oneShot(s.port, get('/healthz', 'Connection: close\r\n'))).response?.body).toBe(
    'ok\n',
  );
  expect((await oneShot(s.port, get('/nope', 'Connection: close\r\n'))).response?.status).toBe(404);
  const post = await oneShot(s.port, 'DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(post.response?.status).toBe(405);
  expect(post.response?.headers.allow).toBe('GET, HEAD');
  const head = await oneShot(s.port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(head.response?.status).toBe(200);
  expect(head.response?.headers['content-length']).toBe('13');
  expect(head.raw.endsWith('\r\n\r\n')).toBe(true); // no body
});

test('HTTP/1.0 closes unless asked to keep alive', async () => {
  const r = await oneShot(s.port, 'GET / HTTP/1.0\r\n\r\n');
  expect(r.response?.status).toBe(200);
  expect(r.closedByServer).toBe(true);
  const k = await oneShot(s.port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 400);
  expect(k.response?.headers.connection).toBe('keep-alive');
  expect(k.closedByServer).toBe(false);
});

test('request bodies with Content-Length are read and discarded; pipelined requests all answered', async () => {
  const body = 'x'.repeat(20000);
  const req =
    `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
    get('/') +
    get('/', 'Connection: close\r\n');
  const r = await oneShot(s.port, req);
  expect(r.closedByServer).toBe(true);
  expect(r.raw.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3);
});

test('malformed request → 400 and close', async () => {
  const before = await s.total('responses_400');
  const r = await oneShot(s.port, 'GARBAGE\r\n\r\n');
  expect(r.response?.status).toBe(400);
  expect(r.closedByServer).toBe(true);
  const r2 = await oneShot(s.port, 'GET / HTTP/1.1\r\nBad Header\r\n\r\n');
  expect(r2.response?.status).toBe(400);
  expect(r2.closedByServer).toBe(true);
  expect((await s.total('responses_400')) - before).toBe(2);
});

test('headers over 8 KiB → 431 and close', async () => {
  const r = await oneShot(s.port, get('/', `X-Big: ${'a'.repeat(9000)}\r\n`));
  expect(r.response?.status).toBe(431);
  expect(r.closedByServer).toBe(true);
  // Also when the head never ends: the server does not buffer without bound.
  const r2 = await oneShot(s.port, `GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(10000)}`);
  expect(r2.response?.status).toBe(431);
  expect(r2.closedByServer).toBe(true);
});

test('/delay answers later from a timer; a bad ms is a 400 on a connection that stays open', async () => {
  const t0 = Date.now();
  const r = await oneShot(s.port, get('/delay?ms=300', 'Connection: close\r\n'));
  expect(r.response?.body).toBe('delayed 300 ms\n');
  expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  const bad = await oneShot(s.port, get('/delay?ms=abc'), 300);
  expect(bad.response?.status).toBe(400);
  expect(bad.closedByServer).toBe(false);
});

test('a client that resets before its delayed response is a client abort; the worker carries on', async () => {
  const before = await s.total('client_aborts');
  await new Promise<void>((resolve) => {
    const c = net.connect(s.port, '127.0.0.1', () => {
      c.write(get('/delay?ms=500'));
      setTimeout(() => {
        c.resetAndDestroy(); // RST; a FIN alone is a half-close, answered (engine-hostile.test.ts)
        resolve();
      }, 100);
    });
  });
  // The worker saw the close, counted one abort and cleaned the connection up (no client of this
  // file is connected any more, so nothing stays open).
  await waitFor('connection cleaned up', async () =>
    (await s.total('open_connections')) === 0 ? true : undefined,
  );
  expect((await s.total('client_aborts')) - before).toBe(1);
  const written = await s.total('responses_200');
  // The timer did not fire into the closed connection: no response was written for it.
  await new Promise((r) => setTimeout(r, 500));
  expect(await s.total('responses_200')).toBe(written);
  const ok = await oneShot(s.port, get('/', 'Connection: close\r\n'));
  expect(ok.response?.status).toBe(200);
  expect((await s.snapshot()).workers.every((w) => w.up)).toBe(true);
});
