// The load generator's own thread (or process): load-driver.ts starts it, sends `start` and maybe
// `stop`, and receives progress and one result. Runs keep-alive (autocannon) or churn (our client)
// against one target, so that the main process stays free to sample the servers.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import type { ClientResult } from '../record/run-record';
import { startChurn, type ChurnOptions, type Generator } from './churn-client';
import { assessUsage, type DriverUsage } from './driver-usage';
import { startKeepAlive } from './keep-alive';
import type { LoadDriverName } from '../scenario/load-drivers';
import { LoadStats, type LoadProgress } from './load-stats';
import type { NativeGenerator } from './native-load';
import { threadCpu } from './thread-cpu';

/** What the driver asks for; every value resolved. */
export interface WorkerInput extends ChurnOptions {
  mode: 'keep-alive' | 'churn';
  driver: LoadDriverName;
  /** Threads of the native driver. */
  driverThreads: number;
  pipelining: number;
  durationSec: number;
  progressEveryMs: number;
  /**
   * Keep the generator (its connections, its rate schedule) running when this run's time is
   * over, for a next run of the same load to take over at its start: the warm-up does so for the
   * measured load. The number is how long that next run lasts, seconds (the backstop allows for it).
   */
  carryIntoSec?: number;
}

/** A generator left running by a run with carryIntoSec, waiting for the next run. */
interface Carried {
  input: WorkerInput;
  stats: LoadStats;
  generator: Generator;
  native: NativeGenerator | undefined;
}

/** The fields that must be equal for a run to take over a carried generator. */
function sameLoad(a: WorkerInput, b: WorkerInput): boolean {
  const key = (x: WorkerInput) =>
    JSON.stringify([
      x.mode,
      x.driver,
      x.driverThreads,
      x.targets,
      x.path,
      x.connections,
      x.pipelining,
      x.rate,
      x.timeoutMs,
    ]);
  return key(a) === key(b);
}

export type ToWorker = { type: 'start'; input: WorkerInput } | { type: 'stop' };

export type FromWorker =
  /** Loaded (autocannon included) and waiting for `start`. */
  | { type: 'ready' }
  | { type: 'progress'; progress: LoadProgress }
  | {
      type: 'result';
      result: ClientResult;
      aborted: boolean;
      /** The measured window by this generator's wall clock (Unix ms): its engine's clock. */
      window?: { startMs: number; endMs: number };
    }
  | { type: 'error'; message: string };

interface Channel {
  send(m: FromWorker): Promise<void>;
  onMessage(listener: (m: ToWorker) => void): void;
}

/**
 * A container on a Docker engine (lab/runtime/driver-container.ts): one JSON message a line, the
 * driver's on stdin, ours on stdout (anything else on stdout is not a line starting with `{`).
 * When stdin ends — the lab closed it, or the lab is gone — stop, and exit soon after.
 */
function stdioChannel(): Channel {
  process.on('SIGINT', () => {});
  return {
    send: (m) =>
      new Promise<void>((resolve) => {
        process.stdout.write(JSON.stringify(m) + '\n', () => resolve());
      }),
    onMessage: (l) => {
      let buffered = '';
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          try {
            l(JSON.parse(line) as ToWorker);
          } catch {
            // not a message: the lab writes whole JSON lines only
          }
        }
      });
      process.stdin.on('end', () => {
        l({ type: 'stop' });
        setTimeout(() => process.exit(0), 2000);
      });
    },
  };
}

function channel(): Channel {
  const port = parentPort;
  if (port) {
    return {
      send: async (m) => port.postMessage(m),
      onMessage: (l) => port.on('message', l),
    };
  }
  if (process.env.FORKLAB_LOAD_CHANNEL === 'stdio') return stdioChannel();
  if (!process.send) throw new Error('load-worker: neither a worker thread nor an IPC child');
  // A child process: Ctrl-C reaches the whole process group, but only the driver decides when
  // to stop (it sends `stop` and waits for the partial result). Without the driver, stop now.
  process.on('SIGINT', () => {});
  return {
    send: (m) =>
      new Promise<void>((resolve) => {
        if (!process.connected) return resolve();
        process.send!(m, undefined, {}, () => resolve());
      }),
    onMessage: (l) => {
      process.on('message', (m) => l(m as ToWorker));
      process.on('disconnect', () => {
        // The driver is gone (its process died): stop, and do not outlive it for long.
        l({ type: 'stop' });
        setTimeout(() => process.exit(0), 2000).unref();
      });
    },
  };
}

/** Resolution of the event-loop delay histogram, ms. */
const LOOP_RESOLUTION_MS = 10;

/** Timer resolution slack on top of the client deadline when the last requests drain. */
const DRAIN_MARGIN_MS = 100;

function run(
  input: WorkerInput,
  ch: Channel,
  stopRequested: Promise<void>,
  done: (carry: Carried | null) => void,
  carried: Carried | null,
): void {
  const stats = carried?.stats ?? new LoadStats();
  const t0 = performance.now();
  // The window by this clock (for a generator on another engine, the lab corrects it by the
  // engine's clock offset).
  const wall = (t: number): number => performance.timeOrigin + t;
  const elapsed = (): number => (performance.now() - t0) / 1000;
  // Saturation: CPU time of the thread that runs the generator (this one, or the native
  // driver's threads) and the delay of this event loop, over the measured window.
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = threadCpu().ns;
  let native: NativeGenerator | undefined;
  let generator: Generator;
  // Beyond this run's own time, a carried generator must last into the next run.
  const backstopSec = input.durationSec + (input.carryIntoSec ?? 0) + input.timeoutMs / 1000 + 10;
  if (carried) {
    // The warm-up's generator goes on: same connections, the window starts here.
    ({ generator, native } = carried);
    if (native) native.beginWindow();
    else stats.beginWindow();
  } else if (input.driver === 'native') {
    // Loaded only when chosen: the node drivers start without the addon.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startNative } = require('./native-load') as typeof import('./native-load');
    native = startNative({ ...input, threads: input.driverThreads }, stats);
    generator = native;
  } else if (input.mode === 'churn') {
    generator = startChurn(input, stats);
  } else {
    generator = startKeepAlive({ ...input, backstopSec }, stats);
  }
  const usage = (): DriverUsage => {
    const wallNs = elapsed() * 1e9;
    loop.disable();
    // The histogram holds the time between two ticks of a LOOP_RESOLUTION_MS timer: the delay is
    // what exceeds the resolution.
    const ms = (ns: number): number =>
      Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);
    const t = native?.totals();
    const threads = native ? input.driverThreads : 1;
    return assessUsage({
      driver: input.driver,
      generator: native ? 'native' : input.mode === 'churn' ? 'churn-client' : 'autocannon',
      threads,
      cpuNs: t ? t.cpuNs : threadCpu().ns - cpu0,
      wallNs: t ? t.wallNs : wallNs,
      utilization: t
        ? 1 - t.idleNs / (t.wallNs * threads)
        : performance.eventLoopUtilization(elu0).utilization,
      responses: stats.responses,
      loopDelayMs: native
        ? null
        : { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
    });
  };
  const progress = setInterval(() => {
    native?.sync();
    void ch.send({ type: 'progress', progress: stats.progress(elapsed()) });
  }, input.progressEveryMs);
  let finishing = false;
  const finish = async (aborted: boolean): Promise<void> => {
    if (finishing) return;
    finishing = true;
    clearTimeout(timer);
    // The measured window ends when we stop sending; the requests in flight then still finish
    // (within the client deadline) and count, so that the totals match the server's counters.
    const endMs = wall(performance.now());
    const durationSec = elapsed();
    native?.sync();
    // Over the window in which requests were started; the drain that follows is mostly waiting.
    const measured = usage();
    const carry = !aborted && input.carryIntoSec !== undefined;
    try {
      // A little over the deadline, so a request written just before the end times out (and
      // counts) rather than being abandoned by a drain that ended a millisecond too soon. A
      // carried generator is not stopped: the next run takes it over.
      if (!carry) await generator.stop(aborted ? 0 : input.timeoutMs + DRAIN_MARGIN_MS);
      await ch.send({
        type: 'result',
        result: {
          ...stats.toClientResult(durationSec),
          usage: measured,
          // Only the native driver times a request from its slot in the rate's schedule.
          latencyCorrected: native !== undefined && input.rate !== undefined,
        },
        aborted,
        window: { startMs: wall(t0), endMs },
      });
    } catch (e) {
      await ch.send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    } finally {
      clearInterval(progress);
      done(carry ? { input, stats, generator, native } : null);
    }
  };
  const timer = setTimeout(() => void finish(false), input.durationSec * 1000);
  void stopRequested.then(() => finish(true));
}

/**
 * One run at a time, as many as the driver asks for: the thread (and the JIT-compiled client in
 * it) stays warm from the warm-up into the measured load.
 */
function main(): void {
  const ch = channel();
  let current: { requestStop: () => void } | null = null;
  let carried: Carried | null = null;
  // A carried generator nobody takes over is stopped at once (its requests abandoned).
  const dropCarried = async (): Promise<void> => {
    const c = carried;
    carried = null;
    if (c) await c.generator.stop(0).catch(() => undefined);
  };
  ch.onMessage((m) => {
    if (m.type === 'stop') {
      if (current) return current.requestStop();
      return void dropCarried();
    }
    if (current) return;
    let requestStop!: () => void;
    const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
    const mine = { requestStop };
    current = mine;
    const done = (carry: Carried | null): void => {
      if (current === mine) current = null;
      carried = carry;
    };
    const start = (take: Carried | null): void => {
      try {
        run(m.input, ch, stopRequested, done, take);
      } catch (e) {
        done(null);
        void ch.send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    };
    if (carried && sameLoad(carried.input, m.input)) {
      const take = carried;
      carried = null;
      start(take);
    } else if (carried) {
      void dropCarried().then(() => start(null));
    } else start(null);
  });
  void ch.send({ type: 'ready' });
}

main();
