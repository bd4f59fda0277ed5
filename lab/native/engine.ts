// The typed wrapper around the C++ engine: the only file that loads the `.node` addon.
//
// The engine is a model of Tornado 4's PollIOLoop driven by epoll (see native/). The supervisor
// (lab/server/) drives it step by step, in the order the story needs:
//   listen() → [createParentLoop() → registerListenerInParent()] → spawnWorker(i)… → reap()…
// Workers are forked processes that run C++ only and never return to JavaScript.
import path from 'node:path';

export type LoopCreation = 'post-fork' | 'pre-fork' | 'pre-fork-late';
export type Flavour = 'tornado4' | 'asyncio';
export type Trigger = 'level' | 'edge';
export type OnEexist = 'fail' | 'ignore';

/** Everything the engine needs; validated by lab/server/config.ts before it gets here. */
export interface EngineConfig {
  host: string;
  /** 0 picks a free port; `listen()` returns the one the kernel chose. */
  port: number;
  backlog: number;
  workers: number;
  loopCreation: LoopCreation;
  onEexist: OnEexist;
  /** How connection fds are registered; the listening socket is always level-triggered. */
  trigger: Trigger;
  /** EPOLLEXCLUSIVE on the listening socket's registration (post-fork only). */
  exclusive: boolean;
  /** One SO_REUSEPORT listening socket per worker (post-fork only). */
  reusePort: boolean;
  /** Accepts per listening-socket event: 1 = once per event, Tornado 4 uses 128. */
  acceptBatch: number;
  /** A worker exits (and is restarted) after this many requests; 0 = never. */
  maxRequests: number;
  flavour: Flavour;
  /** KeyError log lines per second per worker; the rest are counted as suppressed. */
  keyErrorLogPerSec: number;
  /** A connection with unread data and no progress for this long counts as stuck. */
  stuckAfterMs: number;
  /** RLIMIT_NOFILE for each worker; 0 keeps the inherited limit. */
  maxFds: number;
  // Hostile clients: nginx's limits and timeouts, under nginx's names (README "Limits and timeouts").
  /** Input buffer a connection keeps between requests (client_header_buffer_size). */
  clientHeaderBufferBytes: number;
  /** Longest request line (else 414) or header field (else 431) (large_client_header_buffers size). */
  largeHeaderBufferBytes: number;
  /** Head limit = largeHeaderBuffers × largeHeaderBufferBytes, else 431 (large_client_header_buffers number). */
  largeHeaderBuffers: number;
  /** Whole request head, from its first byte (from the accept for the first request); 408. */
  clientHeaderTimeoutMs: number;
  /** Between two reads of a request body; 408. */
  clientBodyTimeoutMs: number;
  /** Idle keep-alive connection between requests; closed. */
  keepaliveTimeoutMs: number;
  /** Between two writes of a response the client does not read; closed. */
  sendTimeoutMs: number;
  /** CPU burned per accept, request, event, KeyError, skip (native/pace.h); all 0 = unpaced. */
  pace: EnginePace;
}

export interface EnginePace {
  /** Once per worker, on its first connection: the connection path's share of the cold start. */
  coldUs: number;
  /** Once per worker, on its first request answered: the request path's share of the cold start. */
  coldRequestUs: number;
  /** Per connection accepted, before its first read. */
  acceptUs: number;
  /** Per connection, with its first request, before that response is sent. */
  firstRequestUs: number;
  /** Per connection whose read after the accept would block, as it goes into epoll. */
  registerUs: number;
  /** Per connection closed, after its close(): the framework's teardown. */
  closeUs: number;
  /** Per request answered, before its response is sent. */
  requestUs: number;
  /** Per request answered, after its response is sent (after the close for a closing one). */
  requestAfterUs: number;
  eventUs: number;
  keyErrorUs: number;
  skipUs: number;
  /** Connections accepted per collection of the modelled cyclic garbage collector; 0: none. */
  gcEvery: number;
  /** The costs of its young, middle and full collections (native/pace.h CycleCollector). */
  gcYoungUs: number;
  gcMiddleUs: number;
  gcFullUs: number;
  /** Read a new connection before registering it with epoll (Tornado's IOStream). */
  inlineRead: boolean;
  /** Answer a request read in an event handler on the next pass (Tornado's coroutines). */
  deferAnswer: boolean;
  /** Take a keep-alive connection's next request by an inline read (Tornado 4.5's request loop). */
  nextReadInline: boolean;
  /** Burn each cost as this many work units per µs (interpreter-shaped work); 0: for its time. */
  workPerUs: number;
  /**
   * Per CPU (CPU 0 first): each cost burned on that CPU × this ÷ 100; empty: the same everywhere.
   * Timed burns only (native/pace.h PaceCosts::cpu_pct).
   */
  cpuPct: number[];
}

export type FieldKind = 'counter' | 'gauge' | 'internal';

export interface CounterLayout {
  /** Field names in slot order, e.g. `accepts_ok`, `keyerrors`, `open_connections`. */
  fields: string[];
  kinds: FieldKind[];
  /** u64 elements between the starts of two workers' slots. */
  stride: number;
  slots: number;
}

export interface ReapedWorker {
  index: number;
  pid: number;
  /** Exit status when the worker exited, otherwise null. */
  exitCode: number | null;
  /** Signal number when the worker was killed by a signal, otherwise null. */
  signal: number | null;
}

/** Exit codes a worker uses on purpose; anything else is a crash. */
export const WorkerExit = {
  /** Stopped on SIGTERM or because the supervisor went away. */
  clean: 0,
  /** Served maxRequests and left to be replaced (worker cycling). */
  cycled: 3,
  /** pre-fork-late with on-eexist=fail: registering the listening socket gave EEXIST. */
  eexist: 4,
  /** Could not start (setup failed); the worker printed why. */
  startupFailed: 5,
} as const;

export interface Listening {
  port: number;
  /** One fd, or one per worker with SO_REUSEPORT. */
  fds: number[];
}

interface NativeEngine {
  listen(): Listening;
  createParentLoop(): void;
  registerListenerInParent(): void;
  spawnWorker(index: number): number;
  reap(): ReapedWorker[];
  signalWorker(index: number, signal: number): boolean;
  workerPid(index: number): number;
  counters(): BigUint64Array;
  layout(): CounterLayout;
  close(): void;
}

interface Addon {
  Engine: new (config: EngineConfig) => NativeEngine;
  engineVersion: string;
  workRate: (tries: number) => number;
}

function loadAddon(): Addon {
  const file = path.resolve(__dirname, '..', '..', 'build', 'Release', 'forklab.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as Addon;
  } catch (err) {
    throw new Error(
      `forklab: cannot load the native engine at ${file} (${(err as Error).message}); ` +
        'build it with `npm run build:native` (needs g++, make and python3)',
    );
  }
}

let addon: Addon | undefined;

/**
 * The pace model's work burn on this CPU now, in work units per µs: the best of `tries` timed
 * runs (native/pace.cc MeasureWorkRate), in this process.
 */
export function measureWorkRate(tries = 10): number {
  addon ??= loadAddon();
  return addon.workRate(tries);
}

/** One engine per supervisor process: listening sockets, shared counters, workers. */
export class Engine {
  private readonly native: NativeEngine;
  private view: BigUint64Array | undefined;
  readonly layout: CounterLayout;

  constructor(readonly config: EngineConfig) {
    addon ??= loadAddon();
    this.native = new addon.Engine(config);
    this.layout = this.native.layout();
  }

  static version(): string {
    addon ??= loadAddon();
    return addon.engineVersion;
  }

  /** Binds and listens; with reusePort, one socket per worker on the same port. */
  listen(): Listening {
    return this.native.listen();
  }

  /** pre-fork and pre-fork-late: the parent creates the IOLoop (epoll + waker) before fork. */
  createParentLoop(): void {
    this.native.createParentLoop();
  }

  /** pre-fork: the parent adds the accept handler to its loop before fork. */
  registerListenerInParent(): void {
    this.native.registerListenerInParent();
  }

  /** Forks worker `index`; returns its pid. The child never comes back to JavaScript. */
  spawnWorker(index: number): number {
    return this.native.spawnWorker(index);
  }

  /** Collects exited workers (waitpid on our own pids only, WNOHANG); folds their final rusage. */
  reap(): ReapedWorker[] {
    return this.native.reap();
  }

  signalWorker(index: number, signal: NodeJS.Signals | number): boolean {
    const n = typeof signal === 'number' ? signal : osSignal(signal);
    return this.native.signalWorker(index, n);
  }

  /** The live pid of worker `index`, or 0 when it is not running. */
  workerPid(index: number): number {
    return this.native.workerPid(index);
  }

  /** Reads one field of one worker's slot from shared memory. */
  read(index: number, field: string): bigint {
    const f = this.layout.fields.indexOf(field);
    if (f < 0) throw new Error(`forklab: unknown counter field ${field}`);
    return this.counters()[index * this.layout.stride + f]!;
  }

  /** A copy of every field of every worker: `snapshot()[worker][field]`. */
  snapshot(): Record<string, bigint>[] {
    const view = this.counters();
    const out: Record<string, bigint>[] = [];
    for (let w = 0; w < this.layout.slots; w++) {
      const slot: Record<string, bigint> = {};
      this.layout.fields.forEach((name, f) => {
        slot[name] = view[w * this.layout.stride + f]!;
      });
      out.push(slot);
    }
    return out;
  }

  /** Live view of the shared counters (u64 per field, `stride` per worker). */
  counters(): BigUint64Array {
    this.view ??= this.native.counters();
    return this.view;
  }

  /** Closes the listening sockets and the parent's loop; call after every worker is reaped. */
  close(): void {
    this.native.close();
  }
}

function osSignal(name: NodeJS.Signals): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const n = (require('node:os') as typeof import('node:os')).constants.signals[name];
  if (n === undefined) throw new Error(`forklab: unknown signal ${name}`);
  return n;
}
