// The native load driver (native/load_driver.cc through lab/load/native-load.ts): every response
// counted exactly (against the server's own counter), pacing, coordinated-omission-corrected
// latency, errors, deadlines, servers that close connections, and its usage figures.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../lab/load/load-driver';
import { createNativeLoadDriver } from '../lab/native/load-driver';
import type { ClientResult } from '../lab/record/run-record';
import type { LoadSpec } from '../lab/scenario/scenario';
import { startServe, stopAll, type RunningServe } from './support/serve-process';

let serve: RunningServe;
beforeAll(async () => {
  serve = await startServe(['--workers', '2']);
});
afterAll(stopAll);

const native = (load: Partial<LoadSpec> & Pick<LoadSpec, 'mode'>): LoadSpec =>
  ({
    connections: 8,
    durationSec: 1,
    warmupSec: 0,
    timeoutMs: 2000,
    driver: 'native',
    ...load,
  }) as LoadSpec;

async function against(port: number, load: LoadSpec): Promise<ClientResult> {
  return runLoad({ urls: [`http://127.0.0.1:${port}`], load, phase: 'load' });
}

function expectConsistent(c: ClientResult): void {
  expect(c.responses + c.errors + c.timeouts).toBe(c.sent);
  expect(c.status2xx + c.statusOther).toBe(c.responses);
}

/** A plain HTTP server in this process; `handler` answers. Closed by the caller. */
async function httpServer(handler: http.RequestListener): Promise<http.Server> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const portOf = (s: net.Server): number => (s.address() as AddressInfo).port;
const close = (s: net.Server): Promise<void> =>
  new Promise((r) => {
    if (s instanceof http.Server) s.closeAllConnections();
    s.close(() => r());
  });

describe.each(['keep-alive', 'churn'] as const)('%s against the engine', (mode) => {
  test('every response counted exactly: client total equals the server counter', async () => {
    const before = await serve.total('requests');
    const c = await against(serve.port, native({ mode }));
    const server = (await serve.total('requests')) - before;
    expect(c.responses).toBeGreaterThan(500);
    expect(c.responses).toBe(server);
    expect(c.errors + c.timeouts).toBe(0);
    expectConsistent(c);
    expect(c.status2xx).toBe(c.responses);
    expect(c.latencyMs!.p50).toBeGreaterThan(0);
    expect(c.usage).toMatchObject({ driver: 'native', generator: 'native', threads: 1 });
    expect(c.usage!.loopDelayMs).toBeNull();
    expect(c.usage!.cpuCores).toBeGreaterThan(0);
    expect(c.usage!.utilization).toBeGreaterThan(0);
    expect(c.usage!.utilization).toBeLessThanOrEqual(1);
  });

  test('a rate is kept: 400 requests/s for 2 s is 800 ± 2 %', async () => {
    const before = await serve.total('requests');
    const c = await against(serve.port, native({ mode, rate: 400, durationSec: 2 }));
    const server = (await serve.total('requests')) - before;
    expect(c.responses).toBe(server);
    expect(Math.abs(c.responses - 800)).toBeLessThanOrEqual(16);
  });
});

test('two threads share the connections and the count stays exact', async () => {
  const before = await serve.total('requests');
  const c = await against(serve.port, native({ mode: 'keep-alive', driverThreads: 2 }));
  expect(c.responses).toBe((await serve.total('requests')) - before);
  expect(c.usage!.threads).toBe(2);
});

test('latency with a rate is timed from when each request was due (coordinated omission)', async () => {
  // One connection, 100 requests/s, a server that stalls 500 ms on its first request: the ~50
  // requests due meanwhile could not be sent, and each is charged from its due time (500, 490, …
  // ms). Timed from the write instead, only the first would be slow and p90 would stay < 10 ms.
  let first = true;
  const s = await httpServer((_req, res) => {
    if (first) {
      first = false;
      const until = Date.now() + 500;
      while (Date.now() < until); // stall this event loop (the driver runs in other threads)
    }
    res.end('ok');
  });
  try {
    const c = await against(
      portOf(s),
      native({ mode: 'keep-alive', connections: 1, rate: 100, durationSec: 2 }),
    );
    expect(c.errors + c.timeouts).toBe(0);
    expect(c.responses).toBeGreaterThanOrEqual(190);
    expect(c.latencyMs!.max).toBeGreaterThanOrEqual(450);
    expect(c.latencyMs!.p90).toBeGreaterThan(100);
  } finally {
    await close(s);
  }
});

test('latency samples taken counted by value: every response once, its own value', async () => {
  // Every other response waits 20 ms, the others 80 ms (above the 65,536 µs the driver's counting
  // table holds even with the slack below: those come as pairs of their own). The driver is used directly, its samples
  // taken every 50 ms as native-load.ts does.
  let n = 0;
  let slow = 0;
  const s = await httpServer((_req, res) => {
    const ms = n++ % 2 ? 80 : 20;
    if (ms === 80) slow++;
    setTimeout(() => res.end('ok'), ms);
  });
  const d = createNativeLoadDriver({
    targets: [{ host: '127.0.0.1', port: portOf(s) }],
    path: '/',
    mode: 'keep-alive',
    connections: 4,
    pipelining: 1,
    rate: 0,
    timeoutMs: 2000,
    threads: 1,
  });
  const counts = new Map<number, number>();
  const take = (): void => {
    const pairs = d.takeLatencyCounts();
    expect(pairs.length % 2).toBe(0);
    const seen = new Set<number>();
    for (let i = 0; i < pairs.length; i += 2) {
      expect(seen.has(pairs[i]!)).toBe(false); // one pair per value in a take
      seen.add(pairs[i]!);
      expect(pairs[i + 1]!).toBeGreaterThan(0);
      counts.set(pairs[i]!, (counts.get(pairs[i]!) ?? 0) + pairs[i + 1]!);
    }
  };
  try {
    d.start();
    const taker = setInterval(take, 50);
    await new Promise((r) => setTimeout(r, 1000));
    d.stop(2000);
    while (!d.finished()) await new Promise((r) => setTimeout(r, 5));
    clearInterval(taker);
    d.join();
    take();
    const t = d.read();
    expect(t.samplesDropped).toBe(0);
    expect(t.responses).toBe(n);
    const sum = (keep: (us: number) => boolean): number =>
      [...counts].filter(([us]) => keep(us)).reduce((a, [, c]) => a + c, 0);
    expect(sum(() => true)).toBe(t.responses);
    // Node's timers may fire up to a millisecond early (whole ms, a cached loop time): 2 ms slack.
    expect(sum((us) => us < 18_000)).toBe(0);
    // every slow response took at least 78 ms; a fast one may have been late, never early
    expect(sum((us) => us >= 78_000)).toBeGreaterThanOrEqual(slow);
    expect(slow).toBeGreaterThan(10);
  } finally {
    await close(s);
  }
});

test('a server that closes every keep-alive connection: reconnects, no response lost', async () => {
  let served = 0;
  const s = await httpServer((_req, res) => {
    served++;
    res.setHeader('Connection', 'close');
    res.end('bye');
  });
  try {
    const c = await against(portOf(s), native({ mode: 'keep-alive', connections: 4 }));
    expect(c.responses).toBeGreaterThan(100);
    expect(c.responses).toBe(served);
    expect(c.errors).toBe(0);
    expectConsistent(c);
  } finally {
    await close(s);
  }
});

test('a refused port: errors, no responses, no timeouts', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = portOf(s);
  await close(s);
  const c = await against(port, native({ mode: 'churn', connections: 2, durationSec: 0.5 }));
  expect(c.responses).toBe(0);
  expect(c.timeouts).toBe(0);
  expect(c.errors).toBeGreaterThan(0);
  expectConsistent(c);
});

test('a server that never answers: one timeout per pending request at the deadline', async () => {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    // 4 connections, 300 ms deadline, 1 s: each connection times out about 3 times.
    const c = await against(
      portOf(s),
      native({ mode: 'keep-alive', connections: 4, durationSec: 1, timeoutMs: 300 }),
    );
    expect(c.responses).toBe(0);
    expect(c.timeouts).toBeGreaterThanOrEqual(8);
    expect(c.timeouts).toBeLessThanOrEqual(16);
    expectConsistent(c);
  } finally {
    for (const sock of sockets) sock.destroy();
    await close(s);
  }
});

test('bad options are refused before anything is sent, naming the field', async () => {
  await expect(
    against(serve.port, native({ mode: 'keep-alive', connections: 2, driverThreads: 3 })),
  ).rejects.toThrow(/driverThreads \(3\) must not exceed connections \(2\)/);
  await expect(
    against(serve.port, { ...native({ mode: 'churn' }), driver: 'wrk' } as unknown as LoadSpec),
  ).rejects.toThrow(/driver must be one of node, native/);
});
