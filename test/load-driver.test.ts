// The load driver against the real server: what the client counts must match the server's own
// `requests` counter (within 1 %), in both modes; deadlines turn into timeouts; abort is prompt.
import type { ClientResult } from '../lab/record/run-record';
import type { LoadSpec } from '../lab/scenario/scenario';
import { LoadDriver, runLoad, workerInput, type LoadProgress } from '../lab/load/load-driver';
import { sleep, startServe, stopAll, type RunningServe } from './support/serve-process';

let serve: RunningServe;
beforeAll(async () => {
  serve = await startServe(['--workers', '2']);
});
afterAll(stopAll);

const url = (s: RunningServe): string => `http://127.0.0.1:${s.port}`;

/** Runs a load and returns its result with the server's `requests` delta over it. */
async function measured(
  load: LoadSpec,
  extra: { isolation?: 'thread' | 'process'; onProgress?: (p: LoadProgress) => void } = {},
  s: RunningServe = serve,
): Promise<{ client: ClientResult; server: number }> {
  const before = await s.total('requests');
  const client = await runLoad({ urls: [url(s)], load, phase: 'load', ...extra });
  const server = (await s.total('requests')) - before;
  return { client, server };
}

function expectConsistent(c: ClientResult): void {
  // Every request ends one way: response, error or timeout (none is abandoned in a normal stop).
  expect(c.responses + c.errors + c.timeouts).toBe(c.sent);
  expect(c.status2xx + c.statusOther).toBe(c.responses);
  expect(c.requestsPerSec).toBeCloseTo(c.responses / c.durationSec, 6);
}

function expectWithin1Pct(client: number, server: number): void {
  expect(server).toBeGreaterThan(0);
  expect(Math.abs(client - server) / server).toBeLessThanOrEqual(0.01);
}

describe('client totals against the server counters', () => {
  test.each([
    ['keep-alive', { mode: 'keep-alive', connections: 16, durationSec: 2 }],
    [
      'keep-alive, pipelining 8',
      { mode: 'keep-alive', connections: 8, durationSec: 2, pipelining: 8 },
    ],
    ['churn', { mode: 'churn', connections: 16, durationSec: 2 }],
  ] as Array<[string, LoadSpec]>)('%s', async (_name, load) => {
    const progress: LoadProgress[] = [];
    const { client, server } = await measured(load, { onProgress: (p) => progress.push(p) });
    expect(client.responses).toBeGreaterThan(1000);
    expect(client.status2xx).toBe(client.responses);
    expect(client.errors).toBe(0);
    expect(client.timeouts).toBe(0);
    expectConsistent(client);
    expectWithin1Pct(client.responses, server);
    expect(client.durationSec).toBeGreaterThanOrEqual(2);
    expect(client.durationSec).toBeLessThan(2.5);
    expect(client.latencyMs).not.toBeNull();
    const l = client.latencyMs!;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(client.bytesRead).toBeGreaterThan(client.responses * 50);
    // Progress came several times and only grew.
    expect(progress.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.responses).toBeGreaterThanOrEqual(progress[i - 1]!.responses);
    }
  });

  test('a rate limit holds (keep-alive and churn)', async () => {
    for (const mode of ['keep-alive', 'churn'] as const) {
      const { client, server } = await measured({
        mode,
        connections: 8,
        durationSec: 2,
        rate: 500,
      });
      expectConsistent(client);
      expectWithin1Pct(client.responses, server);
      expect(client.requestsPerSec).toBeGreaterThan(400);
      expect(client.requestsPerSec).toBeLessThan(600);
    }
  });

  test('connections are spread over every URL of the target', async () => {
    const second = await startServe(['--workers', '1']);
    try {
      for (const mode of ['keep-alive', 'churn'] as const) {
        const b1 = await serve.total('requests');
        const b2 = await second.total('requests');
        const client = await runLoad({
          urls: [url(serve), url(second)],
          load: { mode, connections: 4, durationSec: 1 },
          phase: 'load',
        });
        const d1 = (await serve.total('requests')) - b1;
        const d2 = (await second.total('requests')) - b2;
        expect(d1).toBeGreaterThan(client.responses / 5);
        expect(d2).toBeGreaterThan(client.responses / 5);
        expectWithin1Pct(client.responses, d1 + d2);
      }
    } finally {
      await second.stop();
    }
  });

  test('in a child process too', async () => {
    const { client, server } = await measured(
      { mode: 'churn', connections: 8, durationSec: 1 },
      { isolation: 'process' },
    );
    expectConsistent(client);
    expectWithin1Pct(client.responses, server);
  });
});

describe('client deadlines', () => {
  test.each(['keep-alive', 'churn'] as const)(
    '%s: requests without a response by timeoutMs are timeouts',
    async (mode) => {
      const t0 = Date.now();
      const { client, server } = await measured({
        mode,
        connections: 4,
        durationSec: 1.2,
        timeoutMs: 500,
        path: '/delay?ms=2000',
      });
      // Each connection times out every 0.5 s: 3 rounds of 4 (the last one in the final drain).
      expect(client.responses).toBe(0);
      expect(client.latencyMs).toBeNull();
      expect(client.errors).toBe(0);
      expect(client.timeouts).toBeGreaterThanOrEqual(8);
      expect(client.timeouts).toBeLessThanOrEqual(16);
      expectConsistent(client);
      expect(server).toBe(client.sent);
      // The drain waits for the deadline, not for the 2 s responses (which would take ≥ 3.2 s
      // of load and drain); the margin covers the worker's start-up on a loaded machine.
      expect(Date.now() - t0).toBeLessThan(1200 + 500 + 2500);
    },
  );
});

describe('abort', () => {
  test.each([
    ['keep-alive', 'thread'],
    ['churn', 'thread'],
    ['keep-alive', 'process'],
  ] as const)('%s in a %s: stops promptly with the partial result', async (mode, isolation) => {
    const ac = new AbortController();
    let started = 0;
    const before = await serve.total('requests');
    const running = runLoad({
      urls: [url(serve)],
      load: { mode, connections: 8, durationSec: 30 },
      phase: 'load',
      signal: ac.signal,
      isolation,
      onProgress: (p) => {
        if (p.responses > 0 && !started) started = Date.now();
      },
    });
    while (!started) await sleep(20);
    await sleep(500);
    const abortedAt = Date.now();
    ac.abort();
    const client = await running;
    // Promptly: far below the 30 s the load would have run (slack for a loaded 2-core machine).
    expect(Date.now() - abortedAt).toBeLessThan(2000);
    expect(client.responses).toBeGreaterThan(100);
    expect(client.durationSec).toBeGreaterThan(0.4);
    expect(client.durationSec).toBeLessThan(3);
    // Nothing is left sending: the server's count stands still, and matches the client's but for
    // the requests abandoned in flight (at most one per connection).
    const after = await serve.total('requests');
    await sleep(300);
    expect(await serve.total('requests')).toBe(after);
    expect(after - before - client.responses).toBeGreaterThanOrEqual(0);
    expect(after - before - client.responses).toBeLessThanOrEqual(8);
  });

  test('an already aborted signal runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const before = await serve.total('requests');
    const client = await runLoad({
      urls: [url(serve)],
      load: { mode: 'churn', connections: 8, durationSec: 5 },
      phase: 'load',
      signal: ac.signal,
    });
    expect(client.sent).toBe(0);
    expect(await serve.total('requests')).toBe(before);
  });
});

describe('options', () => {
  test('warmup runs for warmupSec; 0 runs nothing', async () => {
    const load: LoadSpec = { mode: 'churn', connections: 2, durationSec: 30, warmupSec: 0 };
    const r = await runLoad({ urls: [url(serve)], load, phase: 'warmup' });
    expect(r.sent).toBe(0);
    expect(
      workerInput({ urls: [url(serve)], load: { ...load, warmupSec: 2 }, phase: 'warmup' }),
    ).toMatchObject({ durationSec: 2, timeoutMs: 2000, path: '/', pipelining: 1 });
  });

  test('every problem is reported at once', async () => {
    await expect(
      runLoad({
        urls: ['ftp://x', 'http://127.0.0.1'],
        load: { mode: 'keep-alive', connections: 0, durationSec: -1, pipelining: 1.5, rate: 0 },
        phase: 'load',
      }),
    ).rejects.toThrow(
      /ftp:\/\/x.*http:\/\/127\.0\.0\.1.*connections.*durationSec.*pipelining.*rate/,
    );
  });

  test('a dead port gives errors, not a hang', async () => {
    const dead = await startServe(['--workers', '1']);
    const port = dead.port;
    await dead.stop();
    for (const mode of ['keep-alive', 'churn'] as const) {
      const r = await runLoad({
        urls: [`http://127.0.0.1:${port}`],
        load: { mode, connections: 2, durationSec: 0.5 },
        phase: 'load',
      });
      expect(r.responses).toBe(0);
      expect(r.errors).toBeGreaterThan(0);
      expect(r.errors + r.timeouts).toBe(r.sent);
    }
  });
});

test('one driver serves several runs (warm-up, then the measured load), each counted exactly', async () => {
  const driver = LoadDriver.open();
  try {
    for (const mode of ['keep-alive', 'churn', 'keep-alive'] as const) {
      const before = await serve.total('requests');
      const client = await driver.run({
        urls: [url(serve)],
        load: { mode, connections: 4, durationSec: 1 },
        phase: 'load',
      });
      expect(client.responses).toBeGreaterThan(100);
      expect(client.errors + client.timeouts).toBe(0);
      expect((await serve.total('requests')) - before).toBe(client.responses);
    }
  } finally {
    await driver.close();
  }
});
