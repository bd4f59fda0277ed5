// The typed wrapper around the addon's lean load driver (native/load_driver.h): an epoll HTTP
// client in threads of its own. Loads the same `.node` file as engine.ts (require caches it).
import path from 'node:path';

export interface NativeLoadConfig {
  targets: Array<{ host: string; port: number }>;
  path: string;
  mode: 'keep-alive' | 'churn';
  connections: number;
  /** Requests in flight per connection (keep-alive). */
  pipelining: number;
  /** Requests per second over all threads; 0 = as fast as possible. */
  rate: number;
  timeoutMs: number;
  /** Threads, each with its own epoll and a share of the connections. */
  threads: number;
}

/** Running totals over the driver's threads. */
export interface NativeLoadTotals {
  sent: number;
  responses: number;
  status2xx: number;
  statusOther: number;
  errors: number;
  timeouts: number;
  bytesRead: number;
  /** Latency samples lost because nobody took them in time (bounded ring per thread). */
  samplesDropped: number;
  /** CPU time of the driver's threads, summed, ns. */
  cpuNs: number;
  /** Time since start(), ns. */
  wallNs: number;
  /** Passes through epoll_wait, all threads. */
  passes: number;
  /** Time the threads spent waiting in epoll_wait, summed, ns. */
  idleNs: number;
  threadsRunning: number;
}

export interface NativeLoadDriver {
  start(): void;
  /** Stops sending; the threads end once nothing is in flight or after `graceMs`. Returns at once. */
  stop(graceMs: number): void;
  finished(): boolean;
  /** Waits for the threads; call once finished() (otherwise it blocks). */
  join(): void;
  read(): NativeLoadTotals;
  /** Latency samples (µs from when each request was due) since the previous call. */
  takeLatencies(): Uint32Array;
  /**
   * The same samples counted by value: `[µs, count, µs, count, …]`, one pair per distinct value
   * (a third as many pairs as samples in a keep-alive run here), counts adding up to the samples
   * taken.
   */
  takeLatencyCounts(): Uint32Array;
}

interface LoadAddon {
  LoadDriver: new (config: NativeLoadConfig) => NativeLoadDriver;
}

let addon: LoadAddon | undefined;

function load(): LoadAddon {
  if (addon) return addon;
  const file = path.resolve(__dirname, '..', '..', 'build', 'Release', 'forklab.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    addon = require(file) as LoadAddon;
  } catch (err) {
    throw new Error(
      `forklab: cannot load the native addon at ${file} (${(err as Error).message}); ` +
        'build it with `npm run build:native`',
    );
  }
  if (typeof addon.LoadDriver !== 'function') {
    throw new Error(`forklab: ${file} has no LoadDriver; rebuild it with \`npm run build:native\``);
  }
  return addon;
}

export function createNativeLoadDriver(config: NativeLoadConfig): NativeLoadDriver {
  return new (load().LoadDriver)(config);
}
