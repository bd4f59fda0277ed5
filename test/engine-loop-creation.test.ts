// Where the loop is created decides whether workers see each other's events.
// Real kernel, real forked workers, loopback only; every run is bounded in requests and time.
import { keepAliveLoad } from './support/http-client';
import { startServe, stopAll } from './support/serve-process';

afterEach(stopAll);

const LOAD = { connections: 32, perConnection: 100, timeoutMs: 5000 };

describe('post-fork: one loop per worker', () => {
  test('no KeyErrors and no unknown-fd events under concurrent keep-alive load', async () => {
    // Accept batch 1 and connections arriving 5 ms apart, so that the workers are asleep when
    // each arrives and the herd decides who accepts it: the load is spread over several workers.
    // (All at once, with Tornado's batch of 128, the first worker awake may take every one.)
    const s = await startServe([
      '--workers',
      '4',
      '--loop-creation',
      'post-fork',
      '--accept-batch',
      '1',
    ]);
    const r = await keepAliveLoad({ port: s.port, ...LOAD, staggerMs: 5 });
    expect(r.responses).toBe(LOAD.connections * LOAD.perConnection);
    expect(await s.total('keyerrors')).toBe(0);
    expect(await s.total('unknown_fd_events')).toBe(0);
    // More than one worker served: the load really was spread over the forked processes.
    const snap = await s.snapshot();
    expect(snap.workers.filter((w) => w.counters.requests! > 0).length).toBeGreaterThan(1);
  });

  test("the server's request total equals the responses the client received", async () => {
    const s = await startServe(['--workers', '2']);
    const r = await keepAliveLoad({ port: s.port, connections: 8, perConnection: 250 });
    expect(r.timeouts + r.errors).toBe(0);
    expect(await s.total('requests')).toBe(r.responses);
    expect(await s.total('responses_200')).toBe(r.statuses[200]);
    const m = await s.metrics();
    const sum = [...m.matchAll(/^forklab_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
      (a, x) => a + Number(x[1]),
      0,
    );
    expect(sum).toBe(r.responses);
  });
});

describe('pre-fork: one loop shared by every worker', () => {
  test('tornado4: events for a sibling’s fd raise KeyErrors', async () => {
    const s = await startServe(['--workers', '4', '--loop-creation', 'pre-fork']);
    const r = await keepAliveLoad({ port: s.port, ...LOAD });
    expect(r.responses).toBe(LOAD.connections * LOAD.perConnection);
    expect(await s.total('keyerrors')).toBeGreaterThan(0);
    expect(await s.total('unknown_fd_events')).toBe(0);
    // Logged in Tornado's shape, rate-limited, with the rest counted.
    expect(s.stderr()).toMatch(/Exception in callback None[\s\S]*KeyError: \d+/);
    expect(await s.total('keyerror_log_lines')).toBeGreaterThan(0);
    expect(await s.total('keyerror_log_suppressed')).toBeGreaterThan(0);
    const m = await s.metrics();
    expect(m).toMatch(/^forklab_keyerrors_total\{[^}]*worker="\d+"[^}]*\} [1-9]\d*$/m);
    expect(m).toMatch(/^forklab_server_info\{[^}]*loop_creation="pre-fork"[^}]*\} 1$/m);
  });

  test('asyncio: the same events are skipped silently and counted as unknown-fd events', async () => {
    const s = await startServe([
      '--workers',
      '4',
      '--loop-creation',
      'pre-fork',
      '--flavour',
      'asyncio',
    ]);
    const r = await keepAliveLoad({ port: s.port, ...LOAD });
    expect(r.responses).toBe(LOAD.connections * LOAD.perConnection);
    expect(await s.total('unknown_fd_events')).toBeGreaterThan(0);
    expect(await s.total('keyerrors')).toBe(0);
    expect(s.stderr()).not.toMatch(/KeyError/);
  });

  test('one worker is the control: nobody to share with, no KeyErrors', async () => {
    const s = await startServe(['--workers', '1', '--loop-creation', 'pre-fork']);
    const r = await keepAliveLoad({ port: s.port, ...LOAD });
    expect(r.responses).toBe(LOAD.connections * LOAD.perConnection);
    expect(await s.total('keyerrors')).toBe(0);
    expect(await s.total('unknown_fd_events')).toBe(0);
    expect(await s.total('spurious_reads')).toBe(0);
  });
});

describe('pre-fork, edge-triggered: the silent hang', () => {
  test('stuck connections are detected and client requests time out', async () => {
    const s = await startServe([
      '--workers',
      '4',
      '--loop-creation',
      'pre-fork',
      '--trigger',
      'edge',
      '--stuck-after-ms',
      '500',
    ]);
    const r = await keepAliveLoad({
      port: s.port,
      connections: 16,
      perConnection: 200,
      timeoutMs: 1500,
    });
    expect(r.timeouts).toBeGreaterThan(0);
    // The owner never heard of the data: the worker's scan sees unread bytes and no progress.
    expect(await s.total('stuck_detected')).toBeGreaterThan(0);
    // Every response the server wrote was received; the missing ones were never written.
    expect(await s.total('responses_200')).toBeGreaterThanOrEqual(r.responses);
    expect(r.responses).toBeLessThan(16 * 200);
  });

  test('post-fork, edge-triggered: the same load completes with nothing stuck', async () => {
    const s = await startServe(['--workers', '4', '--trigger', 'edge', '--stuck-after-ms', '500']);
    const r = await keepAliveLoad({
      port: s.port,
      connections: 16,
      perConnection: 200,
      timeoutMs: 1500,
    });
    expect(r.timeouts + r.errors).toBe(0);
    expect(r.responses).toBe(16 * 200);
    expect(await s.total('stuck_detected')).toBe(0);
  });
});

describe('pre-fork-late: each worker registers the inherited listening socket itself', () => {
  test.each([
    ['fail', 4],
    ['ignore', 4],
  ])('on-eexist %s: EEXIST in all workers but one', async (onEexist, workers) => {
    const s = await startServe([
      '--workers',
      String(workers),
      '--loop-creation',
      'pre-fork-late',
      '--on-eexist',
      onEexist,
    ]);
    const snap = await waitForExits(s, onEexist === 'fail' ? workers - 1 : 0);
    const eexist = snap.workers.filter((w) => w.counters.epoll_ctl_eexist! > 0);
    expect(eexist.length).toBe(workers - 1);
    expect(snap.workers.reduce((a, w) => a + w.counters.epoll_ctl_eexist!, 0)).toBe(workers - 1);
    if (onEexist === 'fail') {
      // Those workers exited as Tornado's do, and are not restarted into the same failure.
      for (const w of eexist) {
        expect(w.exits.eexist).toBe(1);
        expect(w.failed).toBe(true);
        expect(w.up).toBe(false);
      }
      expect(s.stderr()).toMatch(/File exists/);
    } else {
      expect(snap.workers.every((w) => w.up)).toBe(true);
    }
    // The server still answers: through the one worker that registered (fail), or all (ignore).
    const r = await keepAliveLoad({ port: s.port, connections: 4, perConnection: 50 });
    expect(r.responses).toBe(200);
  });
});

async function waitForExits(s: Awaited<ReturnType<typeof startServe>>, n: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const snap = await s.snapshot();
    const exited = snap.workers.filter((w) => w.exits.eexist > 0).length;
    const eexist = snap.workers.reduce((a, w) => a + w.counters.epoll_ctl_eexist!, 0);
    if (exited >= n && eexist >= snap.workers.length - 1) return snap;
    if (Date.now() > deadline) {
      throw new Error(`expected ${n} EEXIST exits and workers - 1 EEXISTs within 5000 ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('pre-fork-late asyncio: the worker whose registration gave EEXIST keeps no handler, accepts nothing and skips every event', async () => {
  // selectors.EpollSelector.register removes its key when epoll_ctl raises (Tornado 4 keeps it).
  const s = await startServe([
    '--workers',
    '2',
    '--loop-creation',
    'pre-fork-late',
    '--on-eexist',
    'ignore',
    '--flavour',
    'asyncio',
  ]);
  const r = await keepAliveLoad({ port: s.port, connections: 8, perConnection: 100 });
  expect(r.responses).toBe(800);
  const w = (await s.snapshot()).workers;
  const eexist = w.filter((x) => x.counters.epoll_ctl_eexist! > 0);
  expect(eexist).toHaveLength(1);
  const loser = eexist[0]!;
  const winner = w.find((x) => x !== loser)!;
  expect(loser.counters.accepts_ok).toBe(0);
  expect(loser.counters.requests).toBe(0);
  expect(loser.counters.unknown_fd_events).toBeGreaterThan(0);
  expect(winner.counters.requests).toBe(800);
});
