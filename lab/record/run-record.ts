// The run record: everything a run writes to runs/<time>-<scenario>/results.json. Reports,
// comparisons and dashboards read only this; change it by adding fields, and bump `schema` when
// a field changes meaning.
import type { ServerInspection } from '../inspect/inspect-started-server';
import type { DriverUsage } from '../load/driver-usage';
import type { ServeConfig } from '../server/config';
import type { TargetKind } from '../scenario/target-kinds';
import type { ResolvedScenario } from '../scenario/resolve-scenario';
import type { Expectation } from '../scenario/scenario';
import type { FigureKey } from './figures';

export const RUN_RECORD_SCHEMA = 'forklab.run/2';

export interface RunEnvironment {
  gitCommit: string | null;
  gitDirty: boolean;
  host: string;
  kernel: string;
  node: string;
  cpus: number;
  runtime: 'docker' | 'local';
  /** Docker engine version when the runtime is docker. */
  docker: string | null;
  /** Why the local runtime was used, when docker was not. */
  runtimeNote: string | null;
  engineVersion: string;
  /**
   * The Docker engines of a run that placed targets or load generators on engines (scenario
   * `engines` / `placement`); absent otherwise.
   */
  engines?: EngineRecord[];
}

/** One Docker engine of a run, and its clock against the lab's. */
export interface EngineRecord {
  name: string;
  /** As DOCKER_HOST takes it. */
  address: string;
  /** Where its servers were reached. */
  host: string;
  version: string;
  /** What ran on it: target names, and `drivers` for the load generators. */
  roles: string[];
  /**
   * Its clock minus the lab's, ms: from the probe exchange with the smallest round trip
   * (NTP-style midpoint); null when it could not be measured.
   */
  clockOffsetMs: number | null;
  /** Round trip of that exchange, ms: the offset is known to within half of it. */
  clockRttMs: number | null;
  clockSamples: number;
  /** Images made present on it from the default engine (moved, or found there already). */
  images: Array<{ tag: string; moved: boolean; ms: number; bytes: number }>;
}

/** What the load generator saw for one target during the measured phase. */
export interface ClientResult {
  durationSec: number;
  /** Requests sent (completed or not). */
  sent: number;
  /** Responses received, all statuses. */
  responses: number;
  status2xx: number;
  statusOther: number;
  /** Connection errors (refused, reset, closed mid-response), excluding timeouts. */
  errors: number;
  timeouts: number;
  requestsPerSec: number;
  bytesRead: number;
  /** Latency in ms over completed requests; null when none completed. */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number } | null;
  /** How busy the load generator was (CPU, event-loop delay) and whether it was saturated. */
  usage?: DriverUsage;
  /**
   * True when latency was corrected for coordinated omission: timed from when the rate schedule
   * had each request due, not from when it was written (the native driver with a rate, as wrk2).
   */
  latencyCorrected?: boolean;
  /**
   * Where the load generator ran when it ran as a container on a Docker engine (placement
   * `drivers`): the engine, its container, and the generator's measured window in the lab's clock
   * (the generator's own timestamps corrected by the engine's clock offset).
   */
  generator?: {
    engine: string;
    container: string;
    clockOffsetMs: number | null;
    window: { startedAt: string; endedAt: string } | null;
  };
}

/** Sum over a target's containers and workers of each engine counter field, over a window. */
export type CounterTotals = Record<string, number>;

export interface WorkerRecord {
  /** `<container index>/<worker index>`. */
  key: string;
  container: number;
  worker: number;
  /** Counter deltas over the measured phase. */
  counters: CounterTotals;
  restarts: number;
  failed: boolean;
}

/**
 * The derived figures of one target, keyed as the figure catalogue (lab/record/figures.ts) names
 * them; null where a figure does not apply (the reason is in TargetRecord.notApplicable).
 */
export type DerivedFigures = Record<FigureKey, number | null>;

export type Phase = 'warmup' | 'load' | 'drain';

/** Samples of one target: cumulative counter sums at each sample time. */
export interface TargetSeries {
  /** ms since the run's start. */
  t: number[];
  phase: Phase[];
  /** field → cumulative value summed over containers and workers, one per sample. */
  totals: Record<string, number[]>;
  /** worker key → field → cumulative value, for the per-worker charts (a chosen subset of fields). */
  workers: Record<string, Record<string, number[]>>;
}

export interface ContainerRecord {
  name: string;
  id: string;
  port: number;
  metricsPort: number;
  logFile: string;
}

/** A target's server settings as recorded: every engine field is optional for a real kind. */
export type RecordedServer = Partial<Omit<ServeConfig, 'port' | 'metricsPort'>> &
  Record<string, unknown>;

export interface TargetRecord {
  name: string;
  /** What ran (lab/scenario/target-kinds.ts); absent in records older than target kinds: engine. */
  kind?: TargetKind;
  /**
   * The resolved server configuration (one per container, identical but for ports): the engine's
   * `forklab serve` configuration, or for a real kind its own settings (tornado: workers,
   * loopCreation, backlog; nginx: workers, acceptMutex, reuseport, multiAccept, backlog; command:
   * workers, argv, image), where the engine's fields are absent.
   */
  server: RecordedServer;
  containers: ContainerRecord[];
  client: ClientResult;
  /** Counter deltas over the measured phase, summed over containers and workers. */
  counters: CounterTotals;
  workers: WorkerRecord[];
  derived: DerivedFigures;
  /** Figures that do not apply to this target's window, with the reason (see figures.ts). */
  notApplicable: Partial<Record<FigureKey, string>>;
  series: TargetSeries;
  /** Kernel evidence of each server's set-up, taken once it was ready (lab/inspect). */
  inspection?: ServerInspection[];
  /** When its measured load started and ended (wall clock). */
  loadWindow?: { startedAt: string; endedAt: string };
  /** The CPU set its servers were pinned to (isolation `pinned`); absent when not pinned. */
  cpus?: string;
  /** The Docker engine its servers ran on, when the scenario placed targets on engines. */
  engine?: string;
}

export interface CellRecord {
  /** `cell-0`, … ; a scenario without a matrix has one cell. */
  id: string;
  /** The matrix values of this cell ({} without a matrix). */
  matrix: Record<string, unknown>;
  startedAt: string;
  endedAt: string;
  /**
   * The run was interrupted during this cell's measured load: its counters and samples run up
   * to the interrupt (a last snapshot of every server, no drain), its load was cut short.
   */
  interrupted?: true;
  targets: TargetRecord[];
}

export interface ExpectationResult extends Expectation {
  cell: string;
  /** The target it was checked on (a selector can match several: one result each). */
  checkedTarget: string;
  actual: number | null;
  passed: boolean;
  /** Set when the figure does not apply to the target's window: the reason (the check fails). */
  notApplicable?: string;
}

export interface RunRecord {
  schema: typeof RUN_RECORD_SCHEMA;
  runId: string;
  scenario: string;
  description: string;
  status: 'completed' | 'interrupted' | 'failed';
  error: string | null;
  startedAt: string;
  endedAt: string;
  environment: RunEnvironment;
  /** The scenario after overrides and defaults. */
  resolved: ResolvedScenario;
  /** Overrides given on the command line, as typed. */
  overrides: Record<string, string>;
  cells: CellRecord[];
  expectations: ExpectationResult[];
  warnings: string[];
  /** Set when the run is one of `--repeat N` runs of the same scenario and overrides. */
  repeat?: { group: string; index: number; count: number };
}
