// The supervisor: drives the engine through the order the story needs (listen → [parent loop →
// parent registration] → fork the workers), reaps them every 50 ms and restarts or gives up on each
// exit (restart-policy.ts), and serves /metrics, /healthz and /snapshot.json from this process.
import { constants } from 'node:os';
import { Engine, type EngineConfig, type EnginePace } from '../native/engine';
import { PACE_COST_FIELDS, type ServeConfig } from './config';
import { PACE_COSTS, parseCpuPct, resolvePace, type PaceCost, type ResolvedPace } from './pace';
import { createMetrics, type ForklabMetrics, type ServerInfo } from './metrics';
import { startMetricsServer, type Health, type MetricsServer } from './metrics-server';
import {
  classifyExit,
  decide,
  describeExit,
  exitLogLine,
  newWorkerStatus,
  type WorkerStatus,
} from './restart-policy';
import { oomKillCounter, type OomCounter } from './oom-kills';
import { buildSnapshot, type ServerSnapshot } from './snapshot';

/**
 * Where the event loop is created: the decisive lines of the lab. The listening socket is already
 * open (engine.listen(): one shared socket, or one SO_REUSEPORT socket per worker).
 *
 *   post-fork      fork; each worker creates its own epoll and registers the socket (worker.cc)
 *   pre-fork       the parent creates one epoll and registers the socket in it; fork: every
 *                  worker inherits the same epoll, and the same fd numbers (the KeyError)
 *   pre-fork-late  the parent creates one epoll; fork; each worker registers the inherited
 *                  socket in it, and all but the first get EEXIST
 */
export function createLoopAndFork(
  engine: Pick<EngineLike, 'createParentLoop' | 'registerListenerInParent'>,
  loopCreation: ServeConfig['loopCreation'],
  forkWorkers: () => void,
): void {
  if (loopCreation !== 'post-fork') engine.createParentLoop();
  if (loopCreation === 'pre-fork') engine.registerListenerInParent();
  forkWorkers();
}

/** The part of Engine the supervisor uses (a fake one in unit tests). */
export type EngineLike = Pick<
  Engine,
  | 'layout'
  | 'listen'
  | 'createParentLoop'
  | 'registerListenerInParent'
  | 'spawnWorker'
  | 'reap'
  | 'signalWorker'
  | 'counters'
  | 'close'
>;

export interface SupervisorOptions {
  /** One line per event (no trailing newline); default: stderr. */
  log?: (line: string) => void;
  /** Default: the real engine. */
  createEngine?: (config: EngineConfig) => EngineLike;
  /** Default: Engine.version(). */
  engineVersion?: string;
  reapIntervalMs?: number;
  /** Where OOM kills are counted (default: this process's cgroup, see oom-kills.ts). */
  oomCounter?: OomCounter;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /** How long start-up waits for every worker to finish setting up; default 5000 ms. */
  setupTimeoutMs?: number;
}

export interface Supervisor {
  readonly config: ServeConfig;
  readonly engineVersion: string;
  /** The port the workers listen on (actual, also when 0 was asked). */
  readonly port: number;
  readonly metricsPort: number;
  readonly metrics: ForklabMetrics;
  /** Pids of the running workers, by index (0 = not running). */
  pids(): number[];
  status(): readonly WorkerStatus[];
  health(): Health;
  snapshot(): ServerSnapshot;
  /** Stops restarting, SIGTERMs every worker, reaps them all (SIGKILL after the timeout), closes. */
  stop(): Promise<void>;
  /** Sends `signal` to every running worker now. */
  signalAll(signal: NodeJS.Signals): void;
  /** Forced exit: SIGKILL every worker and reap them synchronously (up to 1 s), no restarts. */
  killNow(): void;
  /** Resolves when stop() has finished. */
  readonly stopped: Promise<void>;
}

export function engineConfigOf(c: ServeConfig): EngineConfig {
  return {
    host: c.host,
    port: c.port,
    backlog: c.backlog,
    workers: c.workers,
    loopCreation: c.loopCreation,
    onEexist: c.onEexist,
    trigger: c.trigger,
    exclusive: c.exclusive,
    reusePort: c.reusePort,
    acceptBatch: c.acceptBatch,
    maxRequests: c.maxRequests,
    flavour: c.flavour,
    keyErrorLogPerSec: c.keyErrorLogPerSec,
    stuckAfterMs: c.stuckAfterMs,
    maxFds: c.maxFds,
    clientHeaderBufferBytes: c.clientHeaderBufferBytes,
    largeHeaderBufferBytes: c.largeHeaderBufferBytes,
    largeHeaderBuffers: c.largeHeaderBuffers,
    clientHeaderTimeoutMs: c.clientHeaderTimeoutMs,
    clientBodyTimeoutMs: c.clientBodyTimeoutMs,
    keepaliveTimeoutMs: c.keepaliveTimeoutMs,
    sendTimeoutMs: c.sendTimeoutMs,
    pace: enginePace(resolveServePace(c)),
  };
}

/** The pace a config runs at: its preset with its explicit costs. */
export function resolveServePace(c: ServeConfig): ResolvedPace {
  const explicit: Partial<Record<PaceCost, number>> = {};
  for (const cost of PACE_COSTS) explicit[cost] = c[PACE_COST_FIELDS[cost]];
  return resolvePace(c.pace, explicit, undefined, {
    burn: c.paceBurn,
    workPerMs: c.paceWorkPerMs,
    scalePct: c.paceScalePct,
    cpuPct: parseCpuPct(c.paceCpuPct) ?? [],
  });
}

function enginePace(p: ResolvedPace): EnginePace {
  const { coldUs, coldRequestUs, acceptUs, firstRequestUs, registerUs, closeUs } = p;
  const { requestUs, requestAfterUs } = p;
  const { eventUs, keyErrorUs, skipUs, inlineRead, deferAnswer, nextReadInline, workPerUs } = p;
  const { cpuPct } = p;
  const { gcEvery, gcYoungUs, gcMiddleUs, gcFullUs } = p;
  return {
    coldUs,
    coldRequestUs,
    acceptUs,
    firstRequestUs,
    registerUs,
    closeUs,
    requestUs,
    requestAfterUs,
    eventUs,
    keyErrorUs,
    skipUs,
    gcEvery,
    gcYoungUs,
    gcMiddleUs,
    gcFullUs,
    inlineRead,
    deferAnswer,
    nextReadInline,
    workPerUs,
    cpuPct,
  };
}

export function serverInfo(c: ServeConfig, port: number, engineVersion: string): ServerInfo {
  return {
    name: c.name,
    loop_creation: c.loopCreation,
    flavour: c.flavour,
    trigger: c.trigger,
    exclusive: String(c.exclusive),
    reuseport: String(c.reusePort),
    workers: String(c.workers),
    accept_batch: String(c.acceptBatch),
    max_requests: String(c.maxRequests),
    pace: c.pace,
    port: String(port),
    engine_version: engineVersion,
  };
}

const SIGKILL = constants.signals.SIGKILL;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startSupervisor(
  config: ServeConfig,
  options: SupervisorOptions = {},
): Promise<Supervisor> {
  const log = options.log ?? ((line: string) => void process.stderr.write(line + '\n'));
  const reapIntervalMs = options.reapIntervalMs ?? 50;
  const stopTimeoutMs = options.stopTimeoutMs ?? 5000;
  const engineVersion = options.engineVersion ?? Engine.version();
  const engine: EngineLike = (options.createEngine ?? ((c) => new Engine(c)))(
    engineConfigOf(config),
  );

  const status: WorkerStatus[] = Array.from({ length: config.workers }, (_, i) =>
    newWorkerStatus(i),
  );
  let stopping = false;
  /** The reap poll; started once every worker is forked. */
  const reaper: { timer?: NodeJS.Timeout } = {};
  let server: MetricsServer | undefined;
  let port = 0;
  let stopPromise: Promise<void> | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  const alive = (): WorkerStatus[] => status.filter((w) => w.pid > 0);
  /** A worker writes its pid into its slot as the last step of its set-up (native/worker.cc). */
  const pidField = engine.layout.fields.indexOf('pid');
  const setUp = (w: WorkerStatus): boolean =>
    w.pid > 0 && Number(engine.counters()[w.index * engine.layout.stride + pidField]) === w.pid;

  const spawn = (w: WorkerStatus): void => {
    w.pid = engine.spawnWorker(w.index);
  };

  // OOM kills: a SIGKILLed worker was OOM-killed when an OOM-kill count went up since the last
  // kill attributed (each increase is used once, in every source that shows it). A kill of another
  // process counted in the same place between two worker exits would be attributed to the next
  // SIGKILLed worker: the cgroup's count narrows that to the container, the machine's does not.
  const oomCounter = options.oomCounter ?? oomKillCounter();
  const oomSeen = new Map(oomCounter.read().map((c) => [c.source, c.count]));
  const oomKill = (): string | undefined => {
    const risen = oomCounter.read().filter((c) => c.count > (oomSeen.get(c.source) ?? c.count));
    for (const c of risen) oomSeen.set(c.source, oomSeen.get(c.source)! + 1);
    return risen[0]?.source;
  };

  /** Reaps exited workers and acts on each exit. */
  const tick = (): void => {
    let reaped;
    try {
      reaped = engine.reap();
    } catch (err) {
      log(`forklab: reaping workers failed: ${(err as Error).message}`);
      return;
    }
    for (const r of reaped) {
      const w = status[r.index];
      if (!w) continue;
      if (w.pid === r.pid) w.pid = 0;
      const oom = r.signal === SIGKILL ? oomKill() : undefined;
      const reason = classifyExit(r, oom !== undefined);
      w.exits[reason]++;
      const d = decide(reason, w.restarts.crash, config.maxRestarts, stopping);
      // While stopping, clean exits are expected: say nothing about them.
      if (!(stopping && reason === 'clean')) log(exitLogLine(r, d, config.maxRestarts, oom));
      if (d.action === 'restart') {
        w.restarts[d.reason]++;
        try {
          spawn(w);
        } catch (err) {
          w.failed = true;
          w.failedReason = `could not be restarted: ${(err as Error).message}`;
          log(`forklab: worker ${w.index} ${w.failedReason}; marked failed`);
        }
      } else if (d.action === 'give-up') {
        w.failed = true;
        w.failedReason = `${describeExit(r, oom)}; ${d.why}`;
      }
    }
  };

  const stop = (): Promise<void> => {
    stopPromise ??= (async () => {
      stopping = true;
      for (const w of alive()) engine.signalWorker(w.index, 'SIGTERM');
      const deadline = Date.now() + stopTimeoutMs;
      while (alive().length > 0 && Date.now() < deadline) {
        await sleep(10);
        tick();
      }
      if (alive().length > 0) {
        log(
          `forklab: ${alive()
            .map((w) => `worker ${w.index} (pid ${w.pid})`)
            .join(', ')} did not stop within ${stopTimeoutMs} ms of SIGTERM; sending SIGKILL`,
        );
        for (const w of alive()) engine.signalWorker(w.index, 'SIGKILL');
        const killDeadline = Date.now() + 5000;
        while (alive().length > 0 && Date.now() < killDeadline) {
          await sleep(10);
          tick();
        }
        for (const w of alive())
          log(`forklab: worker ${w.index} (pid ${w.pid}) survived SIGKILL for 5 s; leaving it`);
      }
      clearInterval(reaper.timer);
      if (server) await server.close();
      engine.close();
    })().finally(resolveStopped);
    return stopPromise;
  };

  const health = (): Health => {
    if (stopping) return { ok: false, reason: 'stopping' };
    const down = status.filter((w) => !w.failed && w.pid === 0);
    if (down.length > 0)
      return {
        ok: false,
        reason: `not running (being restarted): ${down.map((w) => `worker ${w.index}`).join(', ')}`,
      };
    const starting = alive().filter((w) => !setUp(w));
    if (starting.length > 0)
      return {
        ok: false,
        reason: `still setting up: ${starting.map((w) => `worker ${w.index}`).join(', ')}`,
      };
    if (alive().length === 0) {
      return {
        ok: false,
        reason: `no worker is running; failed: ${status.map((w) => `worker ${w.index} (${w.failedReason ?? 'failed'})`).join(', ')}`,
      };
    }
    return { ok: true, reason: 'ok' };
  };

  const pace = resolveServePace(config);
  const snapshot = (): ServerSnapshot =>
    buildSnapshot({
      config,
      pace,
      engineVersion,
      port,
      metricsPort: server?.port ?? 0,
      stopping,
      layout: engine.layout,
      counters: engine.counters(),
      status,
    });

  let metrics: ForklabMetrics;
  try {
    try {
      port = engine.listen().port;
    } catch (err) {
      throw new Error(
        `cannot listen on ${config.host}:${config.port} (--port): ${(err as Error).message}`,
      );
    }
    metrics = createMetrics({
      layout: engine.layout,
      counters: () => engine.counters(),
      workers: config.workers,
      status: () => status,
      info: serverInfo(config, port, engineVersion),
    });
    // The metrics server binds before any fork, so a taken metrics port fails fast.
    server = await startMetricsServer(config.metricsHost, config.metricsPort, {
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.render() }),
      health,
      snapshot,
    }).catch((err: Error) => {
      throw new Error(
        `the metrics server cannot listen on ${config.metricsHost}:${config.metricsPort} (--metrics-port): ${err.message}`,
      );
    });
    createLoopAndFork(engine, config.loopCreation, () => status.forEach(spawn));
  } catch (err) {
    // Undo what was done: kill the workers already forked, close the server and the engine.
    await stop().catch(() => undefined);
    throw err;
  }
  // Ready means every worker has set up (or exited and been dealt with): only then do the
  // caller's FORKLAB_READY line and a 200 from /healthz promise a server that serves.
  const setupDeadline = Date.now() + (options.setupTimeoutMs ?? 5000);
  while (alive().some((w) => !setUp(w)) && Date.now() < setupDeadline) {
    await sleep(5);
    tick();
  }
  for (const w of alive().filter((x) => !setUp(x))) {
    log(`forklab: worker ${w.index} (pid ${w.pid}) has not finished setting up; going on`);
  }
  reaper.timer = setInterval(tick, reapIntervalMs);

  const metricsPort = server.port;
  return {
    config,
    engineVersion,
    port,
    metricsPort,
    metrics,
    pids: () => status.map((w) => w.pid),
    status: () => status,
    health,
    snapshot,
    stop,
    signalAll(signal) {
      for (const w of alive()) engine.signalWorker(w.index, signal);
    },
    killNow() {
      stopping = true;
      for (const w of alive()) engine.signalWorker(w.index, 'SIGKILL');
      const deadline = Date.now() + 1000;
      const nap = new Int32Array(new SharedArrayBuffer(4));
      while (alive().length > 0 && Date.now() < deadline) {
        tick();
        if (alive().length > 0) Atomics.wait(nap, 0, 0, 5);
      }
    },
    stopped,
  };
}
