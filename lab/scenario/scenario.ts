// A scenario is typed data: what to start, what load to drive into it, how to sample it, and
// what the results must show. Scenario files (scenarios/<name>.ts) default-export
// `defineScenario({...})`; validate-scenario.ts checks them (every error at once) before anything
// starts.
import { FIGURE_KEYS, type FigureKey } from '../record/figures';
import type { EngineSpec, PlacementSpec } from './engines';
import type { IsolationSpec } from './isolation';
import type { LoadDriverName } from './load-drivers';
import type { ServeConfig } from '../server/config';
import type { AnyTarget } from './target-kinds';

/** Server settings a scenario may set per target; host, ports and name are the lab's to choose. */
export type ServerSettings = Partial<
  Omit<ServeConfig, 'host' | 'port' | 'metricsPort' | 'metricsHost' | 'name'>
>;

/** A target of the lab's engine (`kind` left out or `engine`). */
export interface EngineTargetSpec {
  /** [a-z0-9-], unique in the scenario: used in container names, labels and reports. */
  name: string;
  /** Servers (containers or processes) of this target; load is spread over them. Default 1. */
  containers?: number;
  kind?: 'engine';
  server: ServerSettings;
}

/** A target of any kind (lab/scenario/target-kinds.ts): engine, tornado, nginx or command. */
export type TargetSpec = AnyTarget;

interface LoadCommon {
  /** Concurrent connections per target (spread over its containers). */
  connections: number;
  /** Measured load, seconds. */
  durationSec: number;
  /** Load before the measurement starts (not counted in the figures), seconds. Default 1. */
  warmupSec?: number;
  /** Requests per second per target, all connections together; unset = as fast as possible. */
  rate?: number;
  /** Client deadline per request: a request with no response by then is a timeout. Default 2000. */
  timeoutMs?: number;
  /** Request path. Default `/`. */
  path?: string;
  /**
   * The load generator (lab/scenario/load-drivers.ts): `node` (autocannon for keep-alive, the churn
   * client for churn; default) or `native` (the addon's epoll client, as fast as wrk).
   */
  driver?: LoadDriverName;
  /** Threads of the native driver. Default 1. */
  driverThreads?: number;
}

/** Discriminated by `mode`: keep-alive reuses connections; churn opens one per request. */
export type LoadSpec =
  | (LoadCommon & {
      mode: 'keep-alive';
      /** Requests in flight per connection. Default 1. */ pipelining?: number;
    })
  | (LoadCommon & { mode: 'churn' });

/** Derived figures an expectation can name: every figure of the catalogue (lab/record/figures.ts). */
export const EXPECTATION_METRICS: readonly FigureKey[] = FIGURE_KEYS;
export type ExpectationMetric = FigureKey;

export const COMPARISONS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type Comparison = (typeof COMPARISONS)[number];

export interface Expectation {
  /** A target name, or a server-setting selector such as `loopCreation=pre-fork`, or `*`. */
  target: string;
  metric: ExpectationMetric;
  op: Comparison;
  value: number;
  /** Why this must hold, in words: shown when it fails. */
  why?: string;
}

export interface Scenario {
  /** Discriminator for scenario files; lets the loader reject anything else clearly. */
  kind: 'scenario';
  /** [a-z0-9-]; the file name without .ts. */
  name: string;
  /** One paragraph: what it shows and why. */
  description: string;
  targets: TargetSpec[];
  load: LoadSpec;
  /**
   * Optional sweep: the cartesian product of these server settings; each cell is one round with
   * every target (the cell's values override the targets' own). Rounds run one after another.
   */
  matrix?: { [K in keyof ServerSettings]?: Array<NonNullable<ServerSettings[K]>> };
  /** Sampling interval of every target's counters, ms (100..10000). Default 1000. */
  sampleIntervalMs?: number;
  /** Time after the load before the final sample (in-flight requests finish), seconds. Default 1. */
  drainSec?: number;
  /**
   * How the targets share the machine (lab/scenario/isolation.ts): `concurrent` (default),
   * `pinned` (a CPU set per target and for the load generators) or `sequential`.
   */
  isolation?: IsolationSpec;
  /**
   * Docker engines besides the default one (lab/scenario/engines.ts): name → address, as
   * DOCKER_HOST takes it. Needs the Docker runtime.
   */
  engines?: Record<string, EngineSpec>;
  /** Which engine each target and the load generators run on; default: the default engine. */
  placement?: PlacementSpec;
  expectations?: Expectation[];
}

/** Identity function that gives scenario files their types. */
export function defineScenario(s: Omit<Scenario, 'kind'> & { kind?: 'scenario' }): Scenario {
  return { ...s, kind: 'scenario' };
}
