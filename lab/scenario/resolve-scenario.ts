// A validated scenario with every default filled in, and its matrix expanded into cells: the form
// the runner works from. The defaults come from SCENARIO_FIELDS (validate-scenario.ts) and, for
// server settings, SERVE_DEFAULTS (lab/server/config.ts); nothing here has a default of its own.
import { DEFAULT_ISOLATION, type IsolationSpec } from './isolation';
import { SERVE_DEFAULTS, type ServeConfig } from '../server/config';
import type { Expectation, LoadSpec, Scenario, ServerSettings } from './scenario';
import {
  realTargetInCell,
  realTargetLaunch,
  resolvedRealSettings,
  type AnyTarget,
  type RealTarget,
  type TargetKind,
} from './target-kinds';
import {
  SCENARIO_DEFAULTS,
  cellSettings,
  describeCellValues,
  matrixCells,
  selectorMatches,
} from './validate-scenario';

/** Every field of a load given, but `rate` (unset = as fast as possible). */
type ResolveLoad<L> = L extends LoadSpec ? Required<Omit<L, 'rate'>> & { rate?: number } : never;
export type ResolvedLoad = ResolveLoad<LoadSpec>;

/** A server's whole configuration but its ports (the runtime picks those). */
export type ResolvedServer = Omit<ServeConfig, 'port' | 'metricsPort'>;

/** A target of the engine: `server` is the whole `forklab serve` configuration. */
export interface ResolvedEngineTarget {
  kind: 'engine';
  name: string;
  containers: number;
  server: ResolvedServer;
}

/** A real target (tornado, nginx, command): its kind's settings and what the runtime starts. */
export interface ResolvedRealTarget {
  kind: Exclude<TargetKind, 'engine'>;
  name: string;
  containers: number;
  /** The kind's settings with every default given (lab/scenario/target-kinds.ts). */
  server: Record<string, unknown>;
  launch: RealLaunch;
}

export type ResolvedTarget = ResolvedEngineTarget | ResolvedRealTarget;

/** A target with a cell's values applied (the values a real target's kind takes). */
function resolveTarget(t: AnyTarget, values: ServerSettings): ResolvedTarget {
  const containers = t.containers ?? SCENARIO_DEFAULTS.containers;
  if (t.kind === undefined || t.kind === 'engine')
    return {
      kind: 'engine',
      name: t.name,
      containers,
      server: resolveServer(t.name, { ...t.server, ...values }),
    };
  const inCell = realTargetInCell(t as RealTarget, values as Record<string, unknown>);
  return {
    kind: t.kind,
    name: t.name,
    containers,
    server: resolvedRealSettings(inCell),
    launch: realTargetLaunch(inCell),
  };
}

/** What the runtime starts for a real target (lab/scenario/target-kinds.ts). */
export type RealLaunch = ReturnType<typeof realTargetLaunch>;

export interface ResolvedScenario extends Omit<Scenario, 'targets'> {
  isolation: IsolationSpec;
  targets: ResolvedTarget[];
  load: ResolvedLoad;
  sampleIntervalMs: number;
  drainSec: number;
  expectations: Expectation[];
}

/** One round of a scenario: every target, with the cell's matrix values applied. */
export interface ResolvedCell {
  /** `cell-0`, `cell-1`, … in the order they run. */
  id: string;
  /** The matrix values of this cell; {} without a matrix. */
  matrix: ServerSettings;
  /** Target names are the same in every cell; the cell id tells the rounds apart. */
  targets: ResolvedTarget[];
  load: ResolvedLoad;
  sampleIntervalMs: number;
  drainSec: number;
  isolation: IsolationSpec;
}

function resolveServer(name: string, settings: ServerSettings): ResolvedServer {
  return {
    ...cellSettings(settings),
    host: SERVE_DEFAULTS.host,
    metricsHost: SERVE_DEFAULTS.host,
    name,
  };
}

export function resolveLoad(l: LoadSpec): ResolvedLoad {
  const common = {
    connections: l.connections,
    durationSec: l.durationSec,
    warmupSec: l.warmupSec ?? SCENARIO_DEFAULTS.warmupSec,
    ...(l.rate !== undefined ? { rate: l.rate } : {}),
    timeoutMs: l.timeoutMs ?? SCENARIO_DEFAULTS.timeoutMs,
    path: l.path ?? SCENARIO_DEFAULTS.path,
    driver: l.driver ?? SCENARIO_DEFAULTS.driver,
    driverThreads: l.driverThreads ?? SCENARIO_DEFAULTS.driverThreads,
  };
  return l.mode === 'keep-alive'
    ? { mode: 'keep-alive', ...common, pipelining: l.pipelining ?? SCENARIO_DEFAULTS.pipelining }
    : { mode: 'churn', ...common };
}

/** The scenario with every default given (expects a scenario that validateScenario accepted). */
export function resolveScenario(s: Scenario): ResolvedScenario {
  const out: ResolvedScenario = {
    kind: 'scenario',
    name: s.name,
    description: s.description,
    targets: s.targets.map((t) => resolveTarget(t, {})),
    load: resolveLoad(s.load),
    sampleIntervalMs: s.sampleIntervalMs ?? SCENARIO_DEFAULTS.sampleIntervalMs,
    drainSec: s.drainSec ?? SCENARIO_DEFAULTS.drainSec,
    isolation: s.isolation ?? DEFAULT_ISOLATION,
    expectations: s.expectations ?? [],
  };
  if (s.matrix !== undefined) out.matrix = s.matrix;
  if (s.engines !== undefined) out.engines = s.engines;
  if (s.placement !== undefined) out.placement = s.placement;
  return out;
}

/**
 * The rounds of a scenario: the cartesian product of its matrix (first key slowest), one cell
 * when there is none. In each cell every target gets the cell's values over its own settings.
 */
export function expandCells(s: Scenario): ResolvedCell[] {
  const r = resolveScenario(s);
  return matrixCells(s.matrix).map((values, i) => ({
    id: `cell-${i}`,
    matrix: values,
    targets: s.targets.map((t) => resolveTarget(t, values)),
    load: r.load,
    sampleIntervalMs: r.sampleIntervalMs,
    drainSec: r.drainSec,
    isolation: r.isolation,
  }));
}

/** The targets of a cell an expectation's `target` selects (a name, `*` or `setting=value`). */
export function selectTargets(selector: string, cell: ResolvedCell): ResolvedTarget[] {
  return cell.targets.filter((t) =>
    selectorMatches(selector, t.name, t.server as unknown as Record<string, unknown>),
  );
}

/** `cell-3 (workers=2, exclusive=true)`, or just the id without a matrix. */
export function describeCell(cell: Pick<ResolvedCell, 'id' | 'matrix'>): string {
  const values = describeCellValues(cell.matrix);
  return values ? `${cell.id} (${values})` : cell.id;
}
