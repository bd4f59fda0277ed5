// Whether a response to `Connection: close` says so. Tornado 4.5.3 answers it without the header
// (5.0 added it): checked against Tornado 4.5.3's HTTP1Connection, which sets `Connection` only for
// an HTTP/1.0 keep-alive. A client that trusts the header (wrk) then writes its next request onto
// the closing socket and reconnects on the server's FIN — which changes the churn load that the
// tornado4 flavour models. A close the server decides on is announced in every flavour.
import { oneShot } from './support/http-client';
import { startServe, stopAll, type RunningServe } from './support/serve-process';

let t4: RunningServe;
let aio: RunningServe;
beforeAll(async () => {
  t4 = await startServe(['--workers', '1', '--flavour', 'tornado4']);
  aio = await startServe(['--workers', '1', '--flavour', 'asyncio']);
});
afterAll(stopAll);

const closing = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

test('tornado4 closes without announcing it; asyncio announces it', async () => {
  const a = await oneShot(t4.port, closing);
  expect(a.response?.status).toBe(200);
  expect(a.response?.headers.connection).toBeUndefined();
  expect(a.closedByServer).toBe(true);
  const b = await oneShot(aio.port, closing);
  expect(b.response?.status).toBe(200);
  expect(b.response?.headers.connection).toBe('close');
  expect(b.closedByServer).toBe(true);
});

test('HTTP/1.0 without keep-alive: closed, announced only by asyncio', async () => {
  const a = await oneShot(t4.port, 'GET / HTTP/1.0\r\n\r\n');
  expect(a.closedByServer).toBe(true);
  expect(a.response?.headers.connection).toBeUndefined();
  const b = await oneShot(aio.port, 'GET / HTTP/1.0\r\n\r\n');
  expect(b.closedByServer).toBe(true);
  expect(b.response?.headers.connection).toBe('close');
});

test('a close the server decides on (a bad request) is announced by both', async () => {
  for (const s of [t4, aio]) {
    const r = await oneShot(s.port, 'GET / HTTP/3.0\r\nHost: x\r\n\r\n');
    expect(r.response?.status).toBe(400);
    expect(r.response?.headers.connection).toBe('close');
    expect(r.closedByServer).toBe(true);
  }
});

test('keep-alive is unchanged in both', async () => {
  for (const s of [t4, aio]) {
    const r = await oneShot(s.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    expect(r.response?.headers.connection).toBe('keep-alive');
    expect(r.closedByServer).toBe(false);
  }
});
