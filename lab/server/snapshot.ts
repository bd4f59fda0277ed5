// The JSON document behind GET /snapshot.json: the config, the ports, and per worker its state and
// every counter as a plain number (u64 counters stay below 2^53 in any real run).
import type { CounterLayout } from '../native/engine';
import type { ServeConfig } from './config';
import type { ResolvedPace } from './pace';
import {
  RESTART_REASONS,
  type ExitReason,
  type RestartReason,
  type WorkerStatus,
} from './restart-policy';

export interface WorkerSnapshot {
  index: number;
  /** Pid of the running incarnation, 0 when none. */
  pid: number;
  up: boolean;
  failed: boolean;
  failedReason?: string;
  /** All restarts of this worker (crash + cycled + clean). */
  restarts: number;
  restartsByReason: Record<RestartReason, number>;
  exits: Record<ExitReason, number>;
  /** Every field of the worker's slot, including internal ones, by name. */
  counters: Record<string, number>;
}

/**
 * The configuration a real server (servers/tornado, the nginx adapter) reports: what it is and the
 * settings it runs with; fields named as in ServeConfig where they mean the same.
 */
export interface RealServerConfig {
  kind: 'tornado' | 'nginx' | 'command';
  name: string;
  host: string;
  port: number;
  metricsPort: number;
  workers: number;
  [setting: string]: unknown;
}

export interface ServerSnapshot {
  name: string;
  engineVersion: string;
  /** The port the workers listen on (the actual one when 0 was asked). */
  port: number;
  metricsPort: number;
  stopping: boolean;
  /** Unix time in ms when the snapshot was taken. */
  takenAtMs: number;
  /** The engine's configuration, or a real server's (its `kind` tells which). */
  config: ServeConfig | RealServerConfig;
  /** The engine's: the costs its workers burn and where they came from (preset, explicit,
   * calibration); absent for a real server. */
  pace?: ResolvedPace;
  workers: WorkerSnapshot[];
}

export interface SnapshotInput {
  config: ServeConfig;
  pace: ResolvedPace;
  engineVersion: string;
  port: number;
  metricsPort: number;
  stopping: boolean;
  layout: CounterLayout;
  counters: BigUint64Array;
  status: readonly WorkerStatus[];
}

export function buildSnapshot(s: SnapshotInput): ServerSnapshot {
  const view = s.counters.slice();
  return {
    name: s.config.name,
    engineVersion: s.engineVersion,
    port: s.port,
    metricsPort: s.metricsPort,
    stopping: s.stopping,
    takenAtMs: Date.now(),
    config: s.config,
    pace: s.pace,
    workers: s.status.map((w) => {
      const counters: Record<string, number> = {};
      s.layout.fields.forEach((field, f) => {
        counters[field] = Number(view[w.index * s.layout.stride + f] ?? 0n);
      });
      return {
        index: w.index,
        pid: w.pid,
        up: w.pid > 0,
        failed: w.failed,
        ...(w.failedReason === undefined ? {} : { failedReason: w.failedReason }),
        restarts: RESTART_REASONS.reduce((n, r) => n + w.restarts[r], 0),
        restartsByReason: { ...w.restarts },
        exits: { ...w.exits },
        counters,
      };
    }),
  };
}
