// The readiness wait: it succeeds on the first 200, gives up at its limit with an error stating
// the limit and the log lines, and gives up at once when the server has exited.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpWait, StartupError, type WaitTarget } from '../lab/runtime/http-wait';

let server: http.Server;
let port: number;
let status = 503;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status : 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function target(gone?: string): WaitTarget {
  return { name: 'srv-0', gone: () => gone, logs: async (n) => ['line one', 'line two'].slice(-n) };
}

test('resolves once /healthz answers 200', async () => {
  status = 503;
  setTimeout(() => (status = 200), 150);
  await expect(HttpWait.forHealthz(port, 2000).waitUntilReady(target())).resolves.toBeUndefined();
});

test('times out with an error stating the limit, the last answer and the log lines', async () => {
  status = 503;
  const t0 = performance.now();
  const err = (await HttpWait.forHealthz(port, 300)
    .waitUntilReady(target())
    .catch((e: unknown) => e)) as StartupError;
  expect(performance.now() - t0).toBeLessThan(1500);
  expect(err).toBeInstanceOf(StartupError);
  expect(err.message).toContain('within 300 ms');
  expect(err.message).toContain(`GET http://127.0.0.1:${port}/healthz`);
  expect(err.message).toContain('last: HTTP 503');
  expect(err.message).toContain('line two');
  expect(err.logLines).toEqual(['line one', 'line two']);
});

test('nothing listening: the error names the connection failure', async () => {
  const err = (await new HttpWait('http://127.0.0.1:1/healthz', 200)
    .waitUntilReady(target())
    .catch((e: unknown) => e)) as Error;
  expect(err.message).toMatch(/within 200 ms.*ECONNREFUSED/);
});

test('gives up at once when the server has exited', async () => {
  const t0 = performance.now();
  const err = (await HttpWait.forHealthz(port, 10_000)
    .waitUntilReady(target('process exited with status 2'))
    .catch((e: unknown) => e)) as Error;
  expect(performance.now() - t0).toBeLessThan(500);
  expect(err.message).toMatch(
    /srv-0 exited before it became healthy \(process exited with status 2/,
  );
  expect(err.message).toContain('line one');
});
