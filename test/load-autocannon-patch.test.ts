// patches/autocannon+9.0.0.patch (applied by `npm install` through patch-package): each test drives
// autocannon itself, not our driver, against the real server, and fails on unpatched autocannon.
import autocannon from 'autocannon';
import { startServe, stopAll, type RunningServe } from './support/serve-process';

let serve: RunningServe;
beforeAll(async () => {
  serve = await startServe(['--workers', '2']);
});
afterAll(stopAll);

interface Observed {
  result: autocannon.Result;
  responses: number;
  /** Latency of each response, ms, in arrival order. */
  latencies: number[];
  lost: number;
  server: number;
}

async function drive(
  opts: Partial<autocannon.Options>,
  s: RunningServe = serve,
): Promise<Observed> {
  const latencies: number[] = [];
  let lost = 0;
  const before = await s.total('requests');
  const result = await autocannon({
    url: `http://127.0.0.1:${s.port}/`,
    connections: 8,
    duration: 2,
    ...opts,
    setupClient: (c) => {
      c.on('response', (_status: number, _bytes: number, ms: number) => latencies.push(ms));
      (c as unknown as NodeJS.EventEmitter).on('lost', (n: number) => (lost += n));
    },
  });
  const server = (await s.total('requests')) - before;
  return { result, responses: latencies.length, latencies, lost, server };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function expectWithin1Pct(client: number, server: number): void {
  expect(server).toBeGreaterThan(0);
  expect(Math.abs(client - server) / server).toBeLessThanOrEqual(0.01);
}

test('reconnectRate 1 (a new connection per request) counts the responses', async () => {
  // Unpatched: the connection was reset before the response was emitted, so 0 responses.
  const o = await drive({ reconnectRate: 1 });
  expect(o.responses).toBeGreaterThan(1000);
  expect(o.result.requests.total).toBe(o.responses);
  expectWithin1Pct(o.responses, o.server);
});

test('a server that closes every connection: no request written onto a closing socket', async () => {
  // Unpatched: the next request went onto the closing socket, was lost, stayed in the queue and
  // every later response was timed from an older request: latency grew with the run. The patch
  // goes by the response's `Connection: close`, which the asyncio flavour sends (Tornado 5+) and
  // the tornado4 flavour, like Tornado 4.5, does not.
  const announcing = await startServe(['--workers', '2', '--flavour', 'asyncio']);
  try {
    const o = await drive({ headers: { connection: 'close' } }, announcing);
    expect(o.responses).toBeGreaterThan(1000);
    expect(o.result.errors).toBe(0);
    expect(o.lost).toBe(0);
    expectWithin1Pct(o.responses, o.server);
    const fifth = Math.floor(o.latencies.length / 5);
    expect(median(o.latencies)).toBeLessThan(50);
    expect(median(o.latencies.slice(-fifth))).toBeLessThan(50);
  } finally {
    await announcing.stop();
  }
});

test('workers cycled under keep-alive: latency does not grow, lost requests are reported', async () => {
  const cycling = await startServe(['--workers', '2', '--max-requests', '2000']);
  try {
    const o = await drive({ pipelining: 4 }, cycling);
    expect(o.responses).toBeGreaterThan(5000);
    expect(median(o.latencies)).toBeLessThan(20);
    const fifth = Math.floor(o.latencies.length / 5);
    expect(median(o.latencies.slice(-fifth))).toBeLessThan(20);
    // Every request written was answered or reported lost (autocannon's drain is ours: the
    // requests in flight at its stop are destroyed, at most connections × pipelining).
    expect(o.server - o.responses).toBeGreaterThanOrEqual(0);
    expect(o.server - o.responses).toBeLessThanOrEqual(8 * 4 + o.lost);
  } finally {
    await cycling.stop();
  }
});

test('a deadline below one second, counted once per pending request', async () => {
  // Unpatched: "timeout must be greater than 0" for anything below 1 (second).
  const o = await drive({
    url: `http://127.0.0.1:${serve.port}/delay?ms=2000`,
    connections: 2,
    duration: 1.2,
    timeout: 0.5,
  });
  expect(o.responses).toBe(0);
  expect(o.result.timeouts).toBeGreaterThanOrEqual(4);
  expect(o.result.timeouts).toBeLessThanOrEqual(6);
});

test('drain(): the requests in flight finish, then the client is done', async () => {
  const clients: Array<{ drain(): void }> = [];
  let responses = 0;
  const before = await serve.total('requests');
  const instance = autocannon(
    {
      url: `http://127.0.0.1:${serve.port}/`,
      connections: 8,
      pipelining: 4,
      duration: 30,
      sampleInt: 100,
      setupClient: (c) => {
        clients.push(c as unknown as { drain(): void });
        c.on('response', () => responses++);
      },
    },
    () => {},
  );
  const done = new Promise<void>((resolve) => instance.on('done', () => resolve()));
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  for (const c of clients) c.drain();
  await done; // all clients done: autocannon ends by itself
  expect(Date.now() - t0).toBeLessThan(1000);
  expect(responses).toBeGreaterThan(1000);
  expect((await serve.total('requests')) - before).toBe(responses);
});

test('bodies are gathered only for a reader, and still checked when one asks (expectBody)', async () => {
  // The patch skips copying bodies nobody reads; expectBody must still see every byte of them.
  const body = await (await fetch(`http://127.0.0.1:${serve.port}/`)).text();
  expect(body.length).toBeGreaterThan(0);
  const right = await drive({ expectBody: body, duration: 1 });
  expect(right.responses).toBeGreaterThan(100);
  expect(right.result.mismatches).toBe(0);
  const wrong = await drive({ expectBody: `${body}x`, duration: 1 });
  expect(wrong.responses).toBeGreaterThan(100);
  expect(wrong.result.mismatches).toBe(wrong.responses);
});
