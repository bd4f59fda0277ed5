// Real Tornado 6.2 (Debian's python3-tornado) running servers/tornado/app.py, with real sockets on
// 127.0.0.1: the engine's routes, the three loop-creation choices, and counters that agree with
// what the lab's own client saw.
import { execFileSync } from 'node:child_process';
import { runLoad } from '../lab/load/load-driver';
import { FIELD_METRICS } from '../lab/server/metrics';
import type { ServerSnapshot } from '../lab/server/snapshot';
import {
  DEBIAN_PYTHON,
  tornadoArgs,
  tornadoCommand,
  type TornadoSettings,
} from '../lab/server/tornado-server';
import { REPO_ROOT } from '../lab/runtime/repo-paths';
import { startServerProcess, stopAll, waitFor, type RunningServe } from './support/serve-process';

jest.setTimeout(60_000);
afterEach(stopAll);

beforeAll(() => {
  // Installed by scripts/setup.sh; a clear failure rather than a skipped test when it is missing.
  const version = execFileSync(DEBIAN_PYTHON, ['-c', 'import tornado; print(tornado.version)'], {
    encoding: 'utf8',
  }).trim();
  expect(version).toMatch(/^6\./);
});

async function startTornado(s: TornadoSettings): Promise<RunningServe> {
  const { command, args } = tornadoCommand(REPO_ROOT, [
    ...tornadoArgs(s),
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--name',
    'test-tornado',
  ]);
  const server = await startServerProcess(command, args, 20_000);
  const base = `http://127.0.0.1:${server.metricsPort}`;
  await waitFor(
    'tornado /healthz 200',
    async () => ((await fetch(`${base}/healthz`)).status === 200 ? true : undefined),
    15_000,
  );
  return server;
}

const sum = (snap: ServerSnapshot, field: string): number =>
  snap.workers.reduce((n, w) => n + (w.counters[field] ?? 0), 0);

async function get(
  s: RunningServe,
  p: string,
): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(`http://127.0.0.1:${s.port}${p}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

describe('servers/tornado: routes as the engine', () => {
  test('/, /pid, /healthz, /delay, unknown paths; requests counted per worker by status', async () => {
    const s = await startTornado({ workers: 2 });
    expect(await get(s, '/')).toEqual({ status: 200, type: 'text/plain', body: 'Hello, world\n' });
    const pid = await get(s, '/pid');
    expect(pid.type).toBe('application/json');
    const who = JSON.parse(pid.body) as { worker: number; pid: number };
    expect(s.pids[who.worker]).toBe(who.pid);
    expect((await get(s, '/healthz')).body).toBe('ok\n');
    const t0 = performance.now();
    expect((await get(s, '/delay?ms=150')).body).toBe('delayed 150 ms\n');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect(await get(s, '/delay?ms=x')).toEqual({
      status: 400,
      type: 'text/plain',
      body: '/delay needs ms=N with N an integer from 0 to 60000\n',
    });
    expect((await get(s, '/delay?ms=60001')).status).toBe(400);
    expect(await get(s, '/nope')).toEqual({ status: 404, type: 'text/plain', body: 'not found\n' });

    // Tornado counts a request in log_request, after its response is written: the client can have
    // the last response a moment before the count. Wait for it (bounded), then check exact values.
    let snap = await s.snapshot();
    for (const deadline = Date.now() + 3000; sum(snap, 'requests') < 7 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 50));
      snap = await s.snapshot();
    }
    expect(snap.config).toMatchObject({ kind: 'tornado', workers: 2, loopCreation: 'post-fork' });
    expect(snap.workers.map((w) => w.pid)).toEqual(s.pids);
    expect(snap.workers.map((w) => w.counters.pid)).toEqual(s.pids);
    // 7 requests sent above: 4 answered 200, 2 answered 400, 1 answered 404.
    expect(sum(snap, 'requests')).toBe(7);
    expect(sum(snap, 'responses_200')).toBe(4);
    expect(sum(snap, 'responses_400')).toBe(2);
    expect(sum(snap, 'responses_404')).toBe(1);
  });

  test('/metrics uses the engine series for every field it exports', async () => {
    const s = await startTornado({ workers: 2 });
    await get(s, '/');
    // The request is counted when Tornado logs it, just after the client has the response: wait
    // (bounded) until it is, so that /metrics and the snapshot read the same counts.
    const snap = await waitFor(
      'the request counted',
      async () => {
        const v = await s.snapshot();
        return v.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0) === 1 ? v : undefined;
      },
      5_000,
    );
    const text = await s.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('forklab_'));
    // The engine's series a field becomes: name plus its fixed labels.
    const engineSeries = new Map<string, string>();
    for (const [field, m] of Object.entries(FIELD_METRICS)) {
      if (!m.metric) continue;
      const labels = Object.entries(m.labels ?? {})
        .map(([k, v]) => `,${k}="${v}"`)
        .join('');
      engineSeries.set(`${m.metric}|${labels}`, field);
    }
    const seen = new Set<string>();
    for (const line of lines) {
      const m = /^(\w+)\{worker="(\d+)"((?:,\w+="[^"]*")*)\} (\S+)$/.exec(line);
      if (!m) continue; // forklab_server_info carries no worker label
      const [, name, worker, labels, value] = m;
      if (name!.startsWith('forklab_worker_') && !engineSeries.has(`${name}|${labels}`)) continue;
      const field = engineSeries.get(`${name}|${labels}`);
      expect({ line, field }).toEqual({ line, field: expect.any(String) });
      seen.add(field!);
      if (field === 'requests')
        expect(Number(value)).toBe(snap.workers[Number(worker)]!.counters.requests);
    }
    for (const f of ['requests', 'unknown_fd_events', 'accepts_ok', 'nvcsw', 'utime_us', 'pid'])
      expect(seen).toContain(f);
    expect(text).toMatch(/^forklab_server_info\{.*loop_creation="post-fork".*\} 1$/m);
  });
});

describe('servers/tornado: loop creation under keep-alive load', () => {
  async function loaded(
    s: RunningServe,
    connections = 8,
  ): Promise<{ responses: number; snap: ServerSnapshot }> {
    const before = await s.snapshot();
    const client = await runLoad({
      urls: [`http://127.0.0.1:${s.port}`],
      load: { mode: 'keep-alive', connections, durationSec: 2, timeoutMs: 5000 },
      phase: 'load',
    });
    // Every request ended as a response (no error, no timeout): the counts can be compared exactly.
    expect(client.errors + client.timeouts).toBe(0);
    expect(client.responses).toBe(client.status2xx);
    expect(client.responses).toBeGreaterThan(100);
    const after = await s.snapshot();
    const delta = (f: string): number => sum(after, f) - sum(before, f);
    // Tornado's own count of requests served equals the client's responses.
    expect(delta('requests')).toBe(client.responses);
    expect(delta('responses_200')).toBe(client.responses);
    return { responses: client.responses, snap: after };
  }

  test('post-fork, 2 workers: no event for an unknown fd', async () => {
    const s = await startTornado({ workers: 2, loopCreation: 'post-fork' });
    const { snap } = await loaded(s);
    expect(sum(snap, 'epoll_events')).toBeGreaterThan(0);
    for (const w of snap.workers) expect(w.counters.unknown_fd_events).toBe(0);
  });

  test('pre-fork, 2 workers: the shared epoll delivers events for fds the worker does not have', async () => {
    const s = await startTornado({ workers: 2, loopCreation: 'pre-fork' });
    // One connection: one worker owns it and the other has no fd of that number, so every event
    // for it the shared epoll hands to the other worker is one that worker has no key for. (With
    // many connections split evenly the workers hold the same fd numbers, and a misrouted event
    // lands on the wrong worker's own connection instead.)
    const { snap } = await loaded(s, 1);
    expect(sum(snap, 'unknown_fd_events')).toBeGreaterThan(0);
    const idle = snap.workers.find((w) => w.counters.requests === 0);
    expect(idle?.counters.unknown_fd_events).toBeGreaterThan(0);
    // Counted where select() skips them: each one is an event poll() returned that had no key.
    for (const w of snap.workers) {
      const c = w.counters;
      expect(c.unknown_fd_events! + c.events_dispatched!).toBe(c.epoll_events);
    }
  });

  test('pre-fork, 1 worker: the inherited loop behaves normally', async () => {
    const s = await startTornado({ workers: 1, loopCreation: 'pre-fork' });
    const { snap } = await loaded(s);
    expect(sum(snap, 'unknown_fd_events')).toBe(0);
  });

  test('pre-fork-late, 2 workers: one worker registers the socket, the other gets EEXIST and exits', async () => {
    const s = await startTornado({ workers: 2, loopCreation: 'pre-fork-late' });
    const snap = await waitFor(
      'one worker exited with eexist',
      async () => {
        const v = await s.snapshot();
        return v.workers.some((w) => w.exits.eexist === 1) ? v : undefined;
      },
      10_000,
    );
    const failed = snap.workers.filter((w) => w.failed);
    const up = snap.workers.filter((w) => w.up);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.counters.epoll_ctl_eexist).toBe(1);
    expect(failed[0]!.failedReason).toBe('eexist');
    expect(up).toHaveLength(1);
    expect(up[0]!.counters.epoll_ctl_eexist).toBe(0);
    const { snap: after } = await loaded(s);
    expect(after.workers.find((w) => w.failed)!.counters.requests).toBe(0);
  });
});
