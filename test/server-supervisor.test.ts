// The supervisor against a fake engine: start-up order, restart policy, HTTP endpoints, stop().
// (The real engine is exercised by the engine tests through `forklab serve`.)
import http from 'node:http';
import { constants } from 'node:os';
import type { CounterLayout, EngineConfig, Listening, ReapedWorker } from '../lab/native/engine';
import { validateServeConfig, type ServeConfig } from '../lab/server/config';
import { classifyExit, decide, exitLogLine } from '../lab/server/restart-policy';
import type { OomCount } from '../lab/server/oom-kills';
import {
  startSupervisor,
  type EngineLike,
  type Supervisor,
  type SupervisorOptions,
} from '../lab/server/supervisor';

const SIG = constants.signals;

class FakeEngine implements EngineLike {
  readonly layout: CounterLayout = {
    fields: ['requests', 'open_connections', 'pid', 'pub_nvcsw'],
    kinds: ['counter', 'gauge', 'gauge', 'internal'],
    stride: 8,
    slots: 0,
  };
  calls: string[] = [];
  pids: number[];
  nextPid = 1000;
  queue: ReapedWorker[] = [];
  /** Workers that ignore SIGTERM (like one stuck in a long handler). */
  deaf = new Set<number>();
  array: BigUint64Array;
  failListen = false;

  constructor(readonly config: EngineConfig) {
    this.layout.slots = config.workers;
    this.pids = new Array<number>(config.workers).fill(0);
    this.array = new BigUint64Array(8 * config.workers);
  }
  listen(): Listening {
    this.calls.push('listen');
    if (this.failListen) throw new Error('forklab engine: bind/listen: Address already in use');
    return { port: 5555, fds: [3] };
  }
  createParentLoop(): void {
    this.calls.push('createParentLoop');
  }
  registerListenerInParent(): void {
    this.calls.push('registerListenerInParent');
  }
  spawnWorker(index: number): number {
    this.calls.push(`spawn ${index}`);
    this.pids[index] = this.nextPid++;
    this.array[index * 8 + 2] = BigInt(this.pids[index]!);
    return this.pids[index]!;
  }
  reap(): ReapedWorker[] {
    const out = this.queue;
    this.queue = [];
    for (const r of out) {
      this.pids[r.index] = 0;
      this.array[r.index * 8 + 2] = 0n;
    }
    return out;
  }
  signalWorker(index: number, signal: NodeJS.Signals | number): boolean {
    const pid = this.pids[index]!;
    if (pid === 0 || this.queue.some((q) => q.pid === pid)) return pid !== 0;
    const n = typeof signal === 'number' ? signal : SIG[signal];
    this.calls.push(`signal ${index} ${typeof signal === 'number' ? signal : signal}`);
    if (n === SIG.SIGTERM && this.deaf.has(index)) return true;
    this.exit(index, n === SIG.SIGTERM ? { exitCode: 0 } : { signal: n });
    return true;
  }
  counters(): BigUint64Array {
    return this.array;
  }
  close(): void {
    this.calls.push('close');
  }
  /** Makes worker `index` exit (it is reaped at the next tick). */
  exit(index: number, how: { exitCode?: number; signal?: number }): number {
    const pid = this.pids[index]!;
    this.queue.push({ index, pid, exitCode: how.exitCode ?? null, signal: how.signal ?? null });
    return pid;
  }
}

function config(partial: Partial<ServeConfig> = {}): ServeConfig {
  const r = validateServeConfig({ port: 0, metricsPort: 0, ...partial });
  if (!r.config) throw new Error(r.errors!.join('\n'));
  return r.config;
}

const waitFor = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }),
        );
      })
      .on('error', reject);
  });
}

interface Started {
  sup: Supervisor;
  engine: FakeEngine;
  lines: string[];
}

const running: Supervisor[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function start(
  partial: Partial<ServeConfig> = {},
  setup?: (e: FakeEngine) => void,
  extra: Partial<SupervisorOptions> = {},
): Promise<Started> {
  const lines: string[] = [];
  let engine!: FakeEngine;
  const sup = await startSupervisor(config(partial), {
    log: (l) => lines.push(l),
    engineVersion: 'fake',
    reapIntervalMs: 5,
    stopTimeoutMs: 100,
    // No OOM kills unless a test says so (the machine's own count must not leak in).
    oomCounter: { read: () => [] },
    ...extra,
    createEngine: (c) => {
      engine = new FakeEngine(c);
      setup?.(engine);
      return engine;
    },
  });
  running.push(sup);
  return { sup, engine, lines };
}

describe('start-up order', () => {
  test.each([
    ['post-fork', ['listen', 'spawn 0', 'spawn 1']],
    ['pre-fork', ['listen', 'createParentLoop', 'registerListenerInParent', 'spawn 0', 'spawn 1']],
    ['pre-fork-late', ['listen', 'createParentLoop', 'spawn 0', 'spawn 1']],
  ] as const)('%s', async (loopCreation, calls) => {
    const { sup, engine } = await start({ loopCreation });
    expect(engine.calls).toEqual(calls);
    expect(sup.port).toBe(5555);
    expect(sup.metricsPort).toBeGreaterThan(0);
    expect(sup.pids()).toEqual([1000, 1001]);
  });

  test('only EngineConfig fields reach the engine', async () => {
    const { engine } = await start();
    expect(Object.keys(engine.config).sort()).toEqual(
      [
        'acceptBatch',
        'backlog',
        'clientBodyTimeoutMs',
        'clientHeaderBufferBytes',
        'clientHeaderTimeoutMs',
        'exclusive',
        'flavour',
        'host',
        'keepaliveTimeoutMs',
        'keyErrorLogPerSec',
        'largeHeaderBufferBytes',
        'largeHeaderBuffers',
        'loopCreation',
        'maxFds',
        'maxRequests',
        'onEexist',
        'pace',
        'port',
        'reusePort',
        'sendTimeoutMs',
        'stuckAfterMs',
        'trigger',
        'workers',
      ].sort(),
    );
    // The costs resolved from the preset (native: none), not the -1 placeholders of ServeConfig.
    expect(engine.config.pace).toEqual({
      coldUs: 0,
      coldRequestUs: 0,
      acceptUs: 0,
      firstRequestUs: 0,
      registerUs: 0,
      closeUs: 0,
      requestUs: 0,
      requestAfterUs: 0,
      eventUs: 0,
      keyErrorUs: 0,
      skipUs: 0,
      gcEvery: 0,
      gcYoungUs: 0,
      gcMiddleUs: 0,
      gcFullUs: 0,
      inlineRead: false,
      deferAnswer: false,
      nextReadInline: false,
      workPerUs: 0,
      cpuPct: [],
    });
  });

  test('a per-CPU scale reaches the engine as numbers, CPU 0 first', async () => {
    const { engine } = await start({ pace: 'tornado4', paceCpuPct: '100,155' });
    expect(engine.config.pace.cpuPct).toEqual([100, 155]);
  });

  test('a port that cannot be bound fails start-up, naming --port, and closes the engine', async () => {
    let engine!: FakeEngine;
    await expect(
      startSupervisor(config(), {
        log: () => undefined,
        engineVersion: 'fake',
        createEngine: (c) => {
          engine = new FakeEngine(c);
          engine.failListen = true;
          return engine;
        },
      }),
    ).rejects.toThrow(
      'cannot listen on 127.0.0.1:0 (--port): forklab engine: bind/listen: Address already in use',
    );
    expect(engine.calls).toEqual(['listen', 'close']);
  });

  test('a metrics port in use fails start-up before any fork, naming --metrics-port', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    let engine!: FakeEngine;
    try {
      await expect(
        startSupervisor(config({ metricsPort: port }), {
          log: () => undefined,
          engineVersion: 'fake',
          createEngine: (c) => (engine = new FakeEngine(c)),
        }),
      ).rejects.toThrow(`the metrics server cannot listen on 127.0.0.1:${port} (--metrics-port)`);
      expect(engine.calls).toEqual(['listen', 'close']);
    } finally {
      blocker.close();
    }
  });
});

describe('restarts', () => {
  test('a killed worker is restarted until --max-restarts, then marked failed', async () => {
    const { sup, engine, lines } = await start({ maxRestarts: 2 });
    const p1 = engine.exit(1, { signal: SIG.SIGKILL });
    await waitFor(() => sup.pids()[1] === 1002);
    const p2 = engine.exit(1, { exitCode: 1 });
    await waitFor(() => sup.pids()[1] === 1003);
    const p3 = engine.exit(1, { signal: SIG.SIGSEGV });
    await waitFor(() => sup.status()[1]!.failed);
    expect(lines).toEqual([
      `forklab: worker 1 (pid ${p1}) killed by SIGKILL; restarting (1/2)`,
      `forklab: worker 1 (pid ${p2}) exited with code 1; restarting (2/2)`,
      `forklab: worker 1 (pid ${p3}) killed by SIGSEGV; not restarting: gave up after 2 restarts (--max-restarts); worker 1 marked failed`,
    ]);
    expect(sup.status()[1]).toMatchObject({
      pid: 0,
      failed: true,
      restarts: { crash: 2, cycled: 0, clean: 0 },
      exits: { signal: 2, crash: 1 },
    });
    expect(sup.health()).toEqual({ ok: true, reason: 'ok' });
  });

  test('cycled and clean exits restart without counting against the limit', async () => {
    const { sup, engine, lines } = await start({ maxRestarts: 0, workers: 1 });
    for (let i = 0; i < 5; i++) {
      engine.exit(0, { exitCode: 3 });
      await waitFor(() => sup.pids()[0] === 1001 + i);
    }
    engine.exit(0, { exitCode: 0 });
    await waitFor(() => sup.pids()[0] === 1006);
    expect(sup.status()[0]).toMatchObject({
      failed: false,
      restarts: { crash: 0, cycled: 5, clean: 1 },
    });
    expect(lines[0]).toBe(
      'forklab: worker 0 (pid 1000) served --max-requests and exited to be replaced (code 3); restarting',
    );
    expect(lines[5]).toBe('forklab: worker 0 (pid 1005) exited cleanly (code 0); restarting');
  });

  test('EEXIST and start-up failures are not restarted; /healthz says why when none is left', async () => {
    const { sup, engine, lines } = await start({ loopCreation: 'pre-fork-late' });
    engine.exit(1, { exitCode: 4 });
    await waitFor(() => sup.status()[1]!.failed);
    expect(sup.health()).toEqual({ ok: true, reason: 'ok' });
    engine.exit(0, { exitCode: 5 });
    await waitFor(() => sup.status()[0]!.failed);
    expect(engine.calls.filter((c) => c.startsWith('spawn'))).toEqual(['spawn 0', 'spawn 1']);
    expect(lines[0]).toBe(
      'forklab: worker 1 (pid 1001) exited: registering the inherited listening socket in the shared epoll gave EEXIST (code 4, --on-eexist fail); not restarting: a restart would get EEXIST again (use --on-eexist ignore, or --loop-creation post-fork or pre-fork); worker 1 marked failed',
    );
    expect(lines[1]).toMatch(
      /^forklab: worker 0 \(pid 1000\) could not start \(code 5\); not restarting: a restart would fail the same way/,
    );
    const h = sup.health();
    expect(h.ok).toBe(false);
    expect(h.reason).toMatch(/^no worker is running; failed: worker 0 \(could not start/);
  });

  test('a restart that cannot fork marks the worker failed', async () => {
    const { sup, engine, lines } = await start();
    engine.spawnWorker = () => {
      throw new Error('fork: Resource temporarily unavailable');
    };
    engine.exit(0, { signal: SIG.SIGKILL });
    await waitFor(() => sup.status()[0]!.failed);
    expect(lines[1]).toBe(
      'forklab: worker 0 could not be restarted: fork: Resource temporarily unavailable; marked failed',
    );
  });
});

describe('HTTP endpoints', () => {
  test('/metrics, /healthz, /snapshot.json and 404', async () => {
    const { sup, engine } = await start({ workers: 2, name: 'fake-lab' });
    engine.array[0] = 42n;
    const m = await get(sup.metricsPort, '/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toContain('forklab_requests_total{worker="0"} 42\n');
    expect(m.body).toContain('forklab_worker_up{worker="1"} 1\n');
    expect(m.body).toContain('forklab_server_info{name="fake-lab",');
    expect(m.body).toContain('port="5555",engine_version="fake"} 1');
    expect(m.body).not.toContain('pub_nvcsw');

    expect(await get(sup.metricsPort, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });

    const s = await get(sup.metricsPort, '/snapshot.json');
    expect(s.status).toBe(200);
    const snap = JSON.parse(s.body);
    expect(snap).toMatchObject({
      name: 'fake-lab',
      engineVersion: 'fake',
      port: 5555,
      metricsPort: sup.metricsPort,
      stopping: false,
    });
    expect(snap.config.workers).toBe(2);
    expect(snap.workers[0]).toEqual({
      index: 0,
      pid: 1000,
      up: true,
      failed: false,
      restarts: 0,
      restartsByReason: { crash: 0, cycled: 0, clean: 0 },
      exits: { clean: 0, cycled: 0, eexist: 0, startup_failed: 0, crash: 0, signal: 0, oom: 0 },
      counters: { requests: 42, open_connections: 0, pid: 1000, pub_nvcsw: 0 },
    });

    expect((await get(sup.metricsPort, '/nope')).status).toBe(404);
  });
});

describe('stop()', () => {
  test('SIGTERMs every worker, reaps them, closes the server and the engine', async () => {
    const { sup, engine, lines } = await start({ workers: 3 });
    const port = sup.metricsPort;
    await sup.stop();
    expect(engine.calls.slice(-4)).toEqual([
      'signal 0 SIGTERM',
      'signal 1 SIGTERM',
      'signal 2 SIGTERM',
      'close',
    ]);
    expect(sup.pids()).toEqual([0, 0, 0]);
    expect(lines).toEqual([]);
    await expect(get(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    await expect(sup.stopped).resolves.toBeUndefined();
    expect(sup.stop()).toBe(sup.stop());
  });

  test('nothing is restarted while stopping; a worker deaf to SIGTERM gets SIGKILL after the timeout', async () => {
    const { sup, engine, lines } = await start({ workers: 2 }, (e) => e.deaf.add(1));
    const t0 = Date.now();
    await sup.stop();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(95);
    expect(engine.calls.filter((c) => c.startsWith('spawn'))).toHaveLength(2);
    expect(engine.calls).toContain('signal 1 SIGKILL');
    expect(lines).toEqual([
      'forklab: worker 1 (pid 1001) did not stop within 100 ms of SIGTERM; sending SIGKILL',
      'forklab: worker 1 (pid 1001) killed by SIGKILL',
    ]);
    expect(sup.health()).toEqual({ ok: false, reason: 'stopping' });
  });

  test('killNow() SIGKILLs and reaps synchronously', async () => {
    const { sup } = await start({ workers: 2 });
    sup.killNow();
    expect(sup.pids()).toEqual([0, 0]);
  });
});

describe('restart policy', () => {
  test('classifies exits', () => {
    expect(classifyExit({ exitCode: 0, signal: null })).toBe('clean');
    expect(classifyExit({ exitCode: 3, signal: null })).toBe('cycled');
    expect(classifyExit({ exitCode: 4, signal: null })).toBe('eexist');
    expect(classifyExit({ exitCode: 5, signal: null })).toBe('startup_failed');
    expect(classifyExit({ exitCode: 1, signal: null })).toBe('crash');
    expect(classifyExit({ exitCode: 134, signal: null })).toBe('crash');
    expect(classifyExit({ exitCode: null, signal: 9 })).toBe('signal');
    expect(classifyExit({ exitCode: null, signal: 9 }, true)).toBe('oom');
    // Only SIGKILL is the OOM killer's: a SIGSEGV while the count went up is still a signal.
    expect(classifyExit({ exitCode: null, signal: 11 }, true)).toBe('signal');
  });

  test('an OOM kill is told from another SIGKILL by the OOM-kill count, each increase used once', async () => {
    const oom: OomCount = { count: 7, source: '/sys/fs/cgroup/memory/memory.oom_control oom_kill' };
    const machine: OomCount = { count: 40, source: '/proc/vmstat oom_kill (whole machine)' };
    const { sup, engine, lines } = await start({ workers: 2 }, undefined, {
      oomCounter: { read: () => [{ ...oom }, { ...machine }] },
    });
    engine.exit(0, { signal: SIG.SIGKILL }); // count unchanged: someone's kill -9
    await waitFor(() => lines.length === 1);
    oom.count = 8; // the kernel's OOM killer took worker 1: counted in the cgroup and the machine
    machine.count = 41;
    engine.exit(1, { signal: SIG.SIGKILL });
    await waitFor(() => lines.length === 2);
    engine.exit(1, { signal: SIG.SIGKILL }); // no new increase: not an OOM kill
    await waitFor(() => lines.length === 3);
    machine.count = 42; // a kill seen by the machine only (a worker moved to a group of its own)
    engine.exit(0, { signal: SIG.SIGKILL });
    await waitFor(() => lines.length === 4);
    expect(lines[0]).toBe('forklab: worker 0 (pid 1000) killed by SIGKILL; restarting (1/10)');
    expect(lines[1]).toBe(
      "forklab: worker 1 (pid 1001) killed by SIGKILL: out of memory (the kernel's OOM killer; counted in /sys/fs/cgroup/memory/memory.oom_control oom_kill); restarting (1/10)",
    );
    expect(lines[2]).toMatch(
      /^forklab: worker 1 \(pid \d+\) killed by SIGKILL; restarting \(2\/10\)$/,
    );
    expect(lines[3]).toContain('killed by SIGKILL: out of memory');
    expect(lines[3]).toContain('counted in /proc/vmstat oom_kill (whole machine)');
    const snap = sup.snapshot();
    expect(snap.workers[0]!.exits).toMatchObject({ signal: 1, oom: 1 });
    expect(snap.workers[1]!.exits).toMatchObject({ signal: 1, oom: 1 });
    expect(snap.workers[1]!.restartsByReason.crash).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${sup.metricsPort}/metrics`)).text();
    expect(metrics).toContain('forklab_worker_exits_total{worker="1",reason="oom"} 1');
    expect(metrics).toContain('forklab_worker_exits_total{worker="0",reason="oom"} 1');
    expect(metrics).toContain('forklab_worker_exits_total{worker="0",reason="signal"} 1');
  });

  test('decides', () => {
    expect(decide('signal', 0, 10, false)).toEqual({
      action: 'restart',
      reason: 'crash',
      attempt: 1,
    });
    expect(decide('crash', 10, 10, false)).toMatchObject({ action: 'give-up' });
    expect(decide('crash', 0, 0, false)).toMatchObject({ action: 'give-up' });
    expect(decide('cycled', 99, 0, false)).toEqual({ action: 'restart', reason: 'cycled' });
    expect(decide('crash', 0, 10, true)).toEqual({ action: 'none' });
  });

  test('the log line of the brief', () => {
    expect(
      exitLogLine(
        { index: 2, pid: 1234, exitCode: null, signal: SIG.SIGKILL },
        decide('signal', 0, 10, false),
        10,
      ),
    ).toBe('forklab: worker 2 (pid 1234) killed by SIGKILL; restarting (1/10)');
  });
});
