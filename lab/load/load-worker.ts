// The load generator's own thread (or process): load-driver.ts starts it, sends `start` and maybe
// `stop`, and receives progress and one result. Runs keep-alive (autocannon) or churn (our client)
// against one target, so that the main process stays free to sample the servers.
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import type { ClientResult } from '../record/run-record';
import { startChurn, type ChurnOptions, type Generator } from './churn-client';
import { startKeepAlive } from './keep-alive';
import { LoadStats, type LoadProgress } from './load-stats';

/** What the driver asks for; every value resolved. */
export interface WorkerInput extends ChurnOptions {
  mode: 'keep-alive' | 'churn';
  pipelining: number;
  durationSec: number;
  progressEveryMs: number;
}

export type ToWorker = { type: 'start'; input: WorkerInput } | { type: 'stop' };

export type FromWorker =
  /** Loaded (autocannon included) and waiting for `start`. */
  | { type: 'ready' }
  | { type: 'progress'; progress: LoadProgress }
  | { type: 'result'; result: ClientResult; aborted: boolean }
  | { type: 'error'; message: string };

interface Channel {
  send(m: FromWorker): Promise<void>;
  onMessage(listener: (m: ToWorker) => void): void;
}

function channel(): Channel {
  const port = parentPort;
  if (port) {
    return {
      send: async (m) => port.postMessage(m),
      onMessage: (l) => port.on('message', l),
    };
  }
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

/** Timer resolution slack on top of the client deadline when the last requests drain. */
const DRAIN_MARGIN_MS = 100;

function run(
  input: WorkerInput,
  ch: Channel,
  stopRequested: Promise<void>,
  done: () => void,
): void {
  const stats = new LoadStats();
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  const generator: Generator =
    input.mode === 'churn'
      ? startChurn(input, stats)
      : startKeepAlive(
          { ...input, backstopSec: input.durationSec + input.timeoutMs / 1000 + 10 },
          stats,
        );
  const progress = setInterval(
    () => void ch.send({ type: 'progress', progress: stats.progress(elapsed()) }),
    input.progressEveryMs,
  );
  let finishing = false;
  const finish = async (aborted: boolean): Promise<void> => {
    if (finishing) return;
    finishing = true;
    clearTimeout(timer);
    // The measured window ends when we stop sending; the requests in flight then still finish
    // (within the client deadline) and count, so that the totals match the server's counters.
    const durationSec = elapsed();
    try {
      // A little over the deadline, so a request written just before the end times out (and
      // counts) rather than being abandoned by a drain that ended a millisecond too soon.
      await generator.stop(aborted ? 0 : input.timeoutMs + DRAIN_MARGIN_MS);
      await ch.send({ type: 'result', result: stats.toClientResult(durationSec), aborted });
    } catch (e) {
      await ch.send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    } finally {
      clearInterval(progress);
      done();
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
  ch.onMessage((m) => {
    if (m.type === 'stop') return current?.requestStop();
    if (current) return;
    let requestStop!: () => void;
    const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
    const mine = { requestStop };
    current = mine;
    const done = (): void => {
      if (current === mine) current = null;
    };
    try {
      run(m.input, ch, stopRequested, done);
    } catch (e) {
      done();
      void ch.send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
  void ch.send({ type: 'ready' });
}

main();
