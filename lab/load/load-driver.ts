// The lab's load driver: one per target, several at once, while the main process samples the
// servers every 100 ms. The load itself runs in a worker thread (load-worker.ts), so that the main
// event loop only receives a few progress messages a second and the final ClientResult.
//
// Modes (lab/scenario/scenario.ts LoadSpec): keep-alive goes through autocannon (patched, see
// keep-alive.ts); churn through our own client (churn-client.ts), since autocannon's churn loses
// responses. Both count every request exactly one way (response, error or timeout), and both let
// the requests in flight at the end finish, so the totals can be checked against the servers'.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ClientResult } from '../record/run-record';
import type { DriverContainer } from '../runtime/driver-container';
import type { LoadSpec } from '../scenario/scenario';
import type { HttpTarget } from './churn-client';
import { DEFAULT_LOAD_DRIVER, LOAD_DRIVERS } from '../scenario/load-drivers';
import type { LoadProgress } from './load-stats';
import type { FromWorker, ToWorker, WorkerInput } from './load-worker';

export type { LoadProgress } from './load-stats';

/** Defaults of the optional LoadSpec fields, as documented in scenario.ts. */
export const LOAD_DEFAULTS = {
  warmupSec: 1,
  timeoutMs: 2000,
  path: '/',
  pipelining: 1,
  driver: DEFAULT_LOAD_DRIVER,
  driverThreads: 1,
} as const;

export interface RunLoadOptions {
  /** Base URLs (`http://127.0.0.1:PORT`) of every container of one target; connections are spread over them. */
  urls: string[];
  /** The scenario's load; optional fields take LOAD_DEFAULTS. */
  load: LoadSpec;
  /** `warmup` runs for load.warmupSec, `load` for load.durationSec. */
  phase: 'warmup' | 'load';
  /** Called a few times a second (every `progressEveryMs`) with the running totals. */
  onProgress?: (p: LoadProgress) => void;
  /** Stops the load at once; runLoad then resolves with the partial result. */
  signal?: AbortSignal;
  /**
   * The load starts when its worker is loaded and this resolves: several drivers can be armed
   * first and released together, after a snapshot of the servers (default: start when loaded).
   */
  gate?: Promise<void>;
  /** Called once the worker is loaded and waits for the gate. */
  onReady?: () => void;
  /**
   * Warm-up only: keep the generator and its connections running when the warm-up's time is
   * over, for the measured load of this many seconds that the next run() on this driver starts
   * (it switches the counting to the measured window at its gate). Without it each run opens new
   * connections.
   */
  carryIntoSec?: number;
  /** Where the load runs: a worker thread (default) or a child process. */
  isolation?: 'thread' | 'process';
  progressEveryMs?: number;
}

/** How long a stopped load may take to report before it is terminated (and runLoad rejects). */
const STOP_LIMIT_MS = 3000;
/** Start-up allowance (thread, TypeScript compile, autocannon) on top of the load's own time. */
const START_LIMIT_MS = 20_000;

export function emptyClientResult(): ClientResult {
  return {
    durationSec: 0,
    sent: 0,
    responses: 0,
    status2xx: 0,
    statusOther: 0,
    errors: 0,
    timeouts: 0,
    requestsPerSec: 0,
    bytesRead: 0,
    latencyMs: null,
  };
}

/** The worker's input from the options, or every problem with them. */
export function workerInput(o: RunLoadOptions): WorkerInput {
  const problems: string[] = [];
  const l = o.load;
  const targets: HttpTarget[] = [];
  if (o.urls.length === 0) problems.push('urls: at least one server URL is needed');
  for (const u of o.urls) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {
      // reported below
    }
    if (!url || url.protocol !== 'http:' || url.port === '') {
      problems.push(`urls: ${JSON.stringify(u)} is not http://HOST:PORT`);
    } else {
      targets.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) });
    }
  }
  const durationSec =
    o.phase === 'warmup' ? (l.warmupSec ?? LOAD_DEFAULTS.warmupSec) : l.durationSec;
  const timeoutMs = l.timeoutMs ?? LOAD_DEFAULTS.timeoutMs;
  const pipelining = l.mode === 'keep-alive' ? (l.pipelining ?? LOAD_DEFAULTS.pipelining) : 1;
  const pathName = l.path ?? LOAD_DEFAULTS.path;
  const positive = (name: string, v: number, integer: boolean): void => {
    if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
      problems.push(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${v}`);
    }
  };
  positive('connections', l.connections, true);
  if (durationSec !== 0)
    positive(o.phase === 'warmup' ? 'warmupSec' : 'durationSec', durationSec, false);
  positive('timeoutMs', timeoutMs, false);
  positive('pipelining', pipelining, true);
  if (l.rate !== undefined) positive('rate', l.rate, false);
  if (!pathName.startsWith('/') || /[\s]/.test(pathName)) {
    problems.push(
      `path must start with / and hold no white space, got ${JSON.stringify(pathName)}`,
    );
  }
  const driver = l.driver ?? LOAD_DEFAULTS.driver;
  if (!(LOAD_DRIVERS as readonly string[]).includes(driver)) {
    problems.push(
      `driver must be one of ${LOAD_DRIVERS.join(', ')}, got ${JSON.stringify(driver)}`,
    );
  }
  const driverThreads = l.driverThreads ?? LOAD_DEFAULTS.driverThreads;
  positive('driverThreads', driverThreads, true);
  if (driverThreads > l.connections) {
    problems.push(
      `driverThreads (${driverThreads}) must not exceed connections (${l.connections})`,
    );
  }
  if (problems.length > 0) throw new Error(`runLoad: ${problems.join('; ')}`);
  return {
    mode: l.mode,
    driver,
    driverThreads,
    targets,
    path: pathName,
    connections: l.connections,
    pipelining,
    rate: l.rate,
    timeoutMs,
    durationSec,
    progressEveryMs: o.progressEveryMs ?? 100,
    ...(o.phase === 'warmup' && o.carryIntoSec !== undefined
      ? { carryIntoSec: o.carryIntoSec }
      : {}),
  };
}

/** A running load worker, thread or process, seen from the driver. */
interface Host {
  /** The process's pid (a child process); undefined for a thread. */
  pid?: number | undefined;
  send(m: ToWorker): void;
  /** Ends it for good; resolves once it is gone. */
  kill(): Promise<void>;
  /** A container's name. */
  readonly name?: string | undefined;
}

interface HostEvents {
  message(m: FromWorker): void;
  /** It ended (or failed) without being killed. */
  gone(why: string): void;
}

const WORKER_FILE = path.join(__dirname, `load-worker${path.extname(__filename)}`);

/** JavaScript that loads the worker module, compiling TypeScript through tsx when needed. */
function bootstrap(): string {
  const load = `require(${JSON.stringify(WORKER_FILE)});`;
  if (!WORKER_FILE.endsWith('.ts')) return load;
  return `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();${load}`;
}

function startThread(ev: HostEvents): Host {
  const worker = new Worker(bootstrap(), { eval: true });
  let killed = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (m: FromWorker) => ev.message(m));
  worker.on('error', (e) => ev.gone(`load worker failed: ${e.stack ?? e.message}`));
  worker.on('exit', (code) => {
    if (!killed) ev.gone(`load worker exited (code ${code}) before reporting`);
  });
  return {
    send: (m) => worker.postMessage(m),
    kill: async () => {
      killed = true;
      await worker.terminate();
      await exited;
    },
  };
}

function startProcess(ev: HostEvents, cpus: string | undefined): Host {
  const argv = ['-e', bootstrap()];
  // Pinned: taskset sets the affinity and execs node (same pid); the native driver's threads
  // inherit it.
  const child =
    cpus === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      : spawn('taskset', ['-c', cpus, process.execPath, ...argv], {
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
  let killed = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m) => ev.message(m as FromWorker));
  child.on('error', (e) => ev.gone(`load process failed: ${e.message}`));
  child.on('exit', (code, signal) => {
    if (!killed) ev.gone(`load process exited (${signal ?? `code ${code}`}) before reporting`);
  });
  return {
    pid: child.pid,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    kill: async () => {
      killed = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A load generator container (lab/runtime/driver-container.ts), once it runs. */
function startContainer(ev: HostEvents, open: () => Promise<DriverContainer>): Host {
  const queue: ToWorker[] = [];
  let container: DriverContainer | undefined;
  let killed = false;
  const started = open().then(
    (c) => {
      container = c;
      c.onMessageLine((line) => {
        try {
          ev.message(JSON.parse(line) as FromWorker);
        } catch {
          // a broken line: the worker writes whole JSON lines only
        }
      });
      void c.exited.then((why) => {
        if (!killed) ev.gone(`load generator container ${c.name} ${why} before reporting`);
      });
      for (const m of queue.splice(0)) c.write(JSON.stringify(m));
      if (killed) void c.remove().catch(() => undefined);
      return c;
    },
    (e: Error) => {
      if (!killed) ev.gone(`the load generator container could not start: ${e.message}`);
      return undefined;
    },
  );
  return {
    send: (m) => (container ? container.write(JSON.stringify(m)) : void queue.push(m)),
    kill: async () => {
      killed = true;
      const c = await started;
      await c?.remove();
    },
    get name() {
      return container?.name;
    },
  };
}

/** Where a container driver runs, for its record. */
export interface DriverPlacement {
  engine: string;
  /** The engine's clock minus the lab's, ms; null when unknown (timestamps left as they are). */
  clockOffsetMs: number | null;
}

/**
 * A load generator for one target, kept for several runs (warm-up, then the measured load), so
 * that the measured load starts with a warm client instead of a freshly started thread.
 */
export class LoadDriver {
  private readonly host: Host;
  private readonly loaded: Promise<void>;
  private listener: ((m: FromWorker) => void) | null = null;
  private dead: string | null = null;
  private onGone: ((why: string) => void) | null = null;

  private placement: DriverPlacement | undefined;

  private constructor(
    isolation: 'thread' | 'process' | 'container',
    cpus: string | undefined,
    open?: () => Promise<DriverContainer>,
  ) {
    let markLoaded!: () => void;
    this.loaded = new Promise<void>((r) => (markLoaded = r));
    const events: HostEvents = {
      message: (m) => {
        if (m.type === 'ready') markLoaded();
        else this.listener?.(m);
      },
      gone: (why) => {
        this.dead = why;
        this.onGone?.(why);
      },
    };
    this.host =
      isolation === 'container'
        ? startContainer(events, open!)
        : isolation === 'process'
          ? startProcess(events, cpus)
          : startThread(events);
  }

  /**
   * A driver that runs as a container on a Docker engine (`open` starts it: lab/runtime/
   * driver-container.ts). Its results come back as if it ran here; its window is put on the lab's
   * clock with the engine's offset.
   */
  static inContainer(open: () => Promise<DriverContainer>, placement: DriverPlacement): LoadDriver {
    const d = new LoadDriver('container', undefined, open);
    d.placement = placement;
    return d;
  }

  /**
   * Starts the worker (thread or process); it loads while the caller goes on. With `cpus` (a
   * `taskset -c` list) it is a process pinned to those CPUs.
   */
  static open(isolation: 'thread' | 'process' = 'thread', cpus?: string): LoadDriver {
    return new LoadDriver(cpus === undefined ? isolation : 'process', cpus);
  }

  /** The pid of a driver that runs as a process; undefined for a thread. */
  get pid(): number | undefined {
    return this.host.pid;
  }

  /**
   * Drives `load` into one target until its duration is over (then lets the requests in flight
   * finish, up to the client deadline) or `signal` aborts (then stops at once). Resolves with what
   * the client saw; rejects on bad options, or if the load cannot start or will not stop.
   */
  run(o: RunLoadOptions): Promise<ClientResult> {
    let input: WorkerInput;
    try {
      input = workerInput(o);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    if (input.durationSec === 0 || o.signal?.aborted) return Promise.resolve(emptyClientResult());
    if (this.dead) return Promise.reject(new Error(`runLoad: ${this.dead}`));
    return new Promise<ClientResult>((resolve, reject) => {
      let settled = false;
      let startSent = false;
      let stopTimer: NodeJS.Timeout | undefined;
      const settle = (how: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        clearTimeout(stopTimer);
        o.signal?.removeEventListener('abort', onAbort);
        this.listener = null;
        this.onGone = null;
        how();
      };
      // A run that cannot end cleanly takes the worker with it: it may still be sending.
      const fail = (why: string): void =>
        settle(() => {
          this.dead ??= why;
          void this.host.kill().then(
            () => reject(new Error(why)),
            () => reject(new Error(why)),
          );
        });
      this.listener = (m) => {
        if (m.type === 'progress') o.onProgress?.(m.progress);
        else if (m.type === 'result') settle(() => resolve(this.placed(m.result, m.window)));
        else if (m.type === 'error') fail(`runLoad: ${m.message}`);
      };
      this.onGone = (why) => fail(`runLoad: ${why}`);
      const onAbort = (): void => {
        if (!startSent) return settle(() => resolve(emptyClientResult())); // nothing was sent yet
        this.host.send({ type: 'stop' });
        stopTimer ??= setTimeout(
          () => fail(`runLoad: the load did not stop within ${STOP_LIMIT_MS} ms of the abort`),
          STOP_LIMIT_MS,
        );
      };
      const limitMs = START_LIMIT_MS + input.durationSec * 1000 + input.timeoutMs + STOP_LIMIT_MS;
      const watchdog = setTimeout(
        () => fail(`runLoad: the load did not end within ${Math.round(limitMs / 1000)} s`),
        limitMs,
      );
      o.signal?.addEventListener('abort', onAbort, { once: true });
      void this.loaded.then(() => {
        if (settled) return;
        o.onReady?.();
        void (o.gate ?? Promise.resolve()).then(() => {
          if (settled || o.signal?.aborted) return;
          startSent = true;
          this.host.send({ type: 'start', input });
        });
      });
    });
  }

  /** A container driver's result with where it ran and its window on the lab's clock. */
  private placed(result: ClientResult, window?: { startMs: number; endMs: number }): ClientResult {
    const p = this.placement;
    if (!p) return result;
    const offset = p.clockOffsetMs ?? 0;
    const iso = (ms: number): string => new Date(Math.round(ms - offset)).toISOString();
    return {
      ...result,
      generator: {
        engine: p.engine,
        container: this.host.name ?? 'unknown',
        clockOffsetMs: p.clockOffsetMs,
        window: window ? { startedAt: iso(window.startMs), endedAt: iso(window.endMs) } : null,
      },
    };
  }

  /** Ends the worker (a generator carried from a warm-up is told to stop first); resolves once it is gone. */
  close(): Promise<void> {
    if (!this.dead) this.host.send({ type: 'stop' });
    return this.host.kill();
  }
}

/** One run on a driver of its own (started and ended around it). */
export function runLoad(o: RunLoadOptions): Promise<ClientResult> {
  const driver = LoadDriver.open(o.isolation);
  return driver.run(o).finally(() => driver.close());
}
