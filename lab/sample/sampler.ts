// Samples every server of every target: GET /snapshot.json every `intervalMs`, all servers in
// parallel, each sample handed to every output.
//
// Timing: ticks are due at fixed times (start + k·interval) on the monotonic clock, so they do not
// drift. A tick whose predecessor is still in flight is skipped (never queued), and ticks missed
// because the process was busy are skipped too; both are counted. Each request has a deadline
// shorter than the interval; a failed or late fetch is a gap (a Sample with `snapshot: null`),
// counted per server, never an exception.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Phase } from '../record/run-record';
import type { ServerSnapshot } from '../server/snapshot';
import type { Sample, SampleOutput } from './sample';

export type { Sample, SampleOutput } from './sample';

export interface SampledServer {
  name: string;
  metricsPort: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Its clock minus the lab's, ms (a server on another Docker engine): the time it stamps on a
   * snapshot is put on the lab's clock with it. Default 0.
   */
  clockOffsetMs?: number;
}

export interface SampledTarget {
  name: string;
  servers: readonly SampledServer[];
}

export interface SamplerOptions {
  targets: readonly SampledTarget[];
  /** 100..10000. */
  intervalMs: number;
  /** Unix ms of the run's start: sample times are relative to it. */
  startedAtMs: number;
  outputs: readonly SampleOutput[];
  /** Phase of the first samples. Default `warmup`. */
  phase?: Phase;
  /** Deadline of one periodic fetch; must be < intervalMs. Default 80 % of the interval. */
  requestTimeoutMs?: number;
  /** Deadline of one `snapshotNow()` fetch (retried once on failure). Default max(2000, interval). */
  snapshotNowTimeoutMs?: number;
}

/** One batch: every server's sample at one time. */
export interface SampleBatch {
  tick: number;
  tMs: number;
  phase: Phase;
  samples: Sample[];
  /** target → snapshot per server (in the target's server order); null where the fetch failed. */
  byTarget: Record<string, (ServerSnapshot | null)[]>;
  /** byTarget[target], or [] for an unknown target. */
  get(target: string): (ServerSnapshot | null)[];
}

export interface ServerGaps {
  target: string;
  server: number;
  serverName: string;
  metricsPort: number;
  samples: number;
  gaps: number;
  lastError: string | null;
}

export interface SamplerStats {
  intervalMs: number;
  /** Periodic ticks that were sampled. */
  ticks: number;
  /** Periodic ticks not sampled: the previous one was still in flight, or the process was late. */
  skippedTicks: number;
  /** `snapshotNow()` batches. */
  snapshotsNow: number;
  /** Server fetches attempted, and those that failed (gaps). */
  samples: number;
  gaps: number;
  servers: ServerGaps[];
  /** Exceptions thrown by outputs' onSample/close (swallowed so sampling goes on). */
  outputErrors: number;
  lastOutputError: string | null;
}

export interface Sampler {
  readonly phase: Phase;
  /** Phase stamped on the following samples. */
  setPhase(phase: Phase): void;
  /** Samples every server now (outside the periodic schedule) and emits it like any batch. */
  snapshotNow(): Promise<SampleBatch>;
  stats(): SamplerStats;
  /** Lines for the run record's warnings: gaps per server, skipped ticks, output errors. */
  warnings(): string[];
  /** Stops the schedule, waits for batches in flight, closes the outputs. Idempotent. */
  stop(): Promise<SamplerStats>;
}

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 10_000;

export function startSampler(opts: SamplerOptions): Sampler {
  const interval = opts.intervalMs;
  if (!Number.isFinite(interval) || interval < MIN_INTERVAL_MS || interval > MAX_INTERVAL_MS) {
    throw new RangeError(
      `sampler: intervalMs must be ${MIN_INTERVAL_MS}..${MAX_INTERVAL_MS}, got ${interval}`,
    );
  }
  const requestTimeout = opts.requestTimeoutMs ?? Math.max(50, Math.floor(interval * 0.8));
  if (!(requestTimeout > 0 && requestTimeout < interval)) {
    throw new RangeError(
      `sampler: requestTimeoutMs must be > 0 and < intervalMs (${interval}), got ${requestTimeout}`,
    );
  }
  const nowTimeout = opts.snapshotNowTimeoutMs ?? Math.max(2000, interval);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  const servers: ServerGaps[] = [];
  const plan = opts.targets.map((t) => ({
    target: t.name,
    servers: t.servers.map((s, i) => {
      const g: ServerGaps = {
        target: t.name,
        server: i,
        serverName: s.name,
        metricsPort: s.metricsPort,
        samples: 0,
        gaps: 0,
        lastError: null,
      };
      servers.push(g);
      return { spec: s, gaps: g };
    }),
  }));

  let phase: Phase = opts.phase ?? 'warmup';
  let nextTick = 0;
  let ticks = 0;
  let skippedTicks = 0;
  let snapshotsNow = 0;
  let outputErrors = 0;
  let lastOutputError: string | null = null;
  let periodicInFlight = false;
  let emitChain: Promise<void> = Promise.resolve();
  let stopping: Promise<SamplerStats> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const outputError = (err: unknown): void => {
    outputErrors++;
    lastOutputError = err instanceof Error ? err.message : String(err);
  };

  const runBatch = (kind: Sample['kind']): Promise<SampleBatch> => {
    const tick = nextTick++;
    const tMs = Date.now() - opts.startedAtMs;
    const batchPhase = phase;
    const timeout = kind === 'interval' ? requestTimeout : nowTimeout;
    const fetched = Promise.all(
      plan.flatMap((t) =>
        t.servers.map(async ({ spec, gaps }, i): Promise<Sample> => {
          const base = {
            tick,
            tMs,
            phase: batchPhase,
            kind,
            target: t.target,
            targetServers: t.servers.length,
            server: i,
            serverName: spec.name,
          };
          gaps.samples++;
          const attempts = kind === 'now' ? 2 : 1;
          let error = '';
          for (let a = 0; a < attempts; a++) {
            try {
              const snapshot = await fetchSnapshot(
                agent,
                spec.host ?? '127.0.0.1',
                spec.metricsPort,
                timeout,
              );
              // When the server took it (same clock), not when we asked: fetches jitter.
              const taken = Number.isFinite(snapshot.takenAtMs)
                ? snapshot.takenAtMs - (spec.clockOffsetMs ?? 0) - opts.startedAtMs
                : tMs;
              return { ...base, tMs: taken, snapshot };
            } catch (err) {
              error = (err as Error).message;
            }
          }
          gaps.gaps++;
          gaps.lastError = error;
          return { ...base, snapshot: null, error };
        }),
      ),
    );
    // Batches reach the outputs in tick order, even when a later one finishes first.
    const emitted = emitChain
      .then(() => fetched)
      .then((samples) => {
        for (const s of samples) {
          for (const o of opts.outputs) {
            try {
              o.onSample(s);
            } catch (err) {
              outputError(err);
            }
          }
        }
        const byTarget: Record<string, (ServerSnapshot | null)[]> = {};
        for (const t of plan) byTarget[t.target] = [];
        for (const s of samples) byTarget[s.target]![s.server] = s.snapshot;
        const batch: SampleBatch = {
          tick,
          tMs,
          phase: batchPhase,
          samples,
          byTarget,
          get: (target) => byTarget[target] ?? [],
        };
        return batch;
      });
    emitChain = emitted.then(
      () => undefined,
      () => undefined,
    );
    return emitted;
  };

  const origin = performance.now();
  let lastSlot = -1;
  const onTimer = (): void => {
    timer = undefined;
    if (stopping) return;
    // The slot we are in; never behind the previous one even if the timer fired a hair early.
    const slot = Math.max(lastSlot + 1, Math.floor((performance.now() - origin) / interval));
    skippedTicks += slot - lastSlot - 1;
    lastSlot = slot;
    if (periodicInFlight) {
      skippedTicks++;
    } else {
      ticks++;
      periodicInFlight = true;
      void runBatch('interval')
        .catch(outputError)
        .finally(() => {
          periodicInFlight = false;
        });
    }
    timer = setTimeout(onTimer, Math.max(0, origin + (slot + 1) * interval - performance.now()));
  };
  onTimer();

  const stats = (): SamplerStats => ({
    intervalMs: interval,
    ticks,
    skippedTicks,
    snapshotsNow,
    samples: servers.reduce((n, s) => n + s.samples, 0),
    gaps: servers.reduce((n, s) => n + s.gaps, 0),
    servers: servers.map((s) => ({ ...s })),
    outputErrors,
    lastOutputError,
  });

  return {
    get phase() {
      return phase;
    },
    setPhase(p) {
      phase = p;
    },
    snapshotNow() {
      if (stopping) return Promise.reject(new Error('sampler: snapshotNow() after stop()'));
      snapshotsNow++;
      return runBatch('now');
    },
    stats,
    warnings() {
      const out: string[] = [];
      for (const s of servers) {
        if (s.gaps === 0) continue;
        out.push(
          `sampler: target ${s.target} server ${s.server} (${s.serverName}, metrics port ` +
            `${s.metricsPort}): ${s.gaps} of ${s.samples} samples failed` +
            (s.lastError ? ` (last: ${s.lastError})` : '') +
            '; the series carries its last values over the gaps',
        );
      }
      if (skippedTicks > 0) {
        out.push(
          `sampler: ${skippedTicks} of ${ticks + skippedTicks} ticks at ${interval} ms skipped ` +
            '(a sample still in flight, or the process busy): the series is sparser than asked',
        );
      }
      if (outputErrors > 0) {
        out.push(`sampler: ${outputErrors} output errors (last: ${lastOutputError})`);
      }
      return out;
    },
    stop() {
      stopping ??= (async () => {
        clearTimeout(timer);
        timer = undefined;
        await emitChain;
        for (const o of opts.outputs) {
          try {
            await o.close();
          } catch (err) {
            outputError(err);
          }
        }
        agent.destroy();
        return stats();
      })();
      return stopping;
    },
  };
}

/** GET /snapshot.json with an overall deadline; rejects on any failure. */
export function fetchSnapshot(
  agent: http.Agent | undefined,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<ServerSnapshot> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.destroy();
      reject(err);
    };
    const deadline = setTimeout(
      () => fail(new Error(`GET /snapshot.json on port ${port}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const req = http.get({ host, port, path: '/snapshot.json', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        if (res.statusCode !== 200) {
          fail(new Error(`GET /snapshot.json on port ${port}: HTTP ${res.statusCode}`));
          return;
        }
        try {
          const snap = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ServerSnapshot;
          if (!Array.isArray(snap.workers)) throw new Error('no workers array');
          settled = true;
          clearTimeout(deadline);
          resolve(snap);
        } catch (err) {
          fail(
            new Error(`GET /snapshot.json on port ${port}: bad JSON (${(err as Error).message})`),
          );
        }
      });
    });
    req.on('error', (err) => fail(new Error(`GET /snapshot.json on port ${port}: ${err.message}`)));
  });
}
