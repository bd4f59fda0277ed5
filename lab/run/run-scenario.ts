// The scenario runner: the programmatic entry behind `forklab run` / `npm run scenario`.
//
// For each cell of the scenario (one, or one per matrix combination): start every target's
// servers, sample them, warm up, take a snapshot, drive the measured load into all targets at
// once, snapshot, drain, snapshot, stop the servers. Then derive the figures, check the
// expectations, and write the run record. Whatever happens — an error, Ctrl-C, SIGTERM — every
// server the run started is stopped and removed, and the record written so far is kept.
import { declaredSetup } from '../inspect/declared-setup';
import {
  contradictionError,
  inspectStartedServer,
  type ServerInspection,
} from '../inspect/inspect-started-server';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StartedServer, Runtime } from '../runtime/runtime';
import { selectRuntime, type RuntimePreference } from '../runtime/select-runtime';
import { connectEngines } from '../runtime/engine-set';
import { PlacedRuntime } from '../runtime/placed-runtime';
import { startDriverContainer } from '../runtime/driver-container';
import { CLOCK_SAMPLES, measureClockOffset, type ClockOffset } from '../runtime/clock-offset';
import { engineOfTarget, enginesUsed, usesEngines } from '../scenario/engines';
import { newRunId } from '../runtime/session';
import { LoadDriver, type LoadProgress } from '../load/load-driver';
import { LoadProgressView } from '../load/progress';
import { SeriesOutput } from '../sample/series-output';
import { startSampler, type SampleOutput } from '../sample/sampler';
import {
  expandCells,
  resolveScenario,
  type ResolvedCell,
  type ResolvedTarget,
} from '../scenario/resolve-scenario';
import type { Scenario } from '../scenario/scenario';
import { runtimeTargetErrors } from '../scenario/target-kinds';
import { allowedCpus, DEFAULT_ISOLATION, unavailableCpuErrors } from '../scenario/isolation';
import { serveConfigToArgs, type ServeConfig } from '../server/config';
import { checkExpectations } from '../record/check-expectations';
import { counterDeltas, crossCheck, deriveFigures } from '../record/derive-figures';
import { captureEnvironment } from './environment';
import {
  RUN_RECORD_SCHEMA,
  type CellRecord,
  type ClientResult,
  type EngineRecord,
  type RunRecord,
  type TargetRecord,
} from '../record/run-record';
import { createRunDir, writeRecord } from '../record/run-folder';
import { writeReport } from '../report/html-report';
import { runViews } from '../report/run-views';

export interface RunOptions {
  scenario: Scenario;
  /** Overrides as typed on the command line (recorded, already applied to `scenario`). */
  overrides?: Record<string, string>;
  runtime?: RuntimePreference;
  /** Container limits (docker runtime); defaults in lab/runtime/docker-runtime.ts. */
  limits?: { memoryBytes?: number; pidsLimit?: number };
  /** Where run folders go; default `runs` in the current directory. */
  runsDir?: string;
  /** Aborting stops the run: servers stopped, partial record written, status `interrupted`. */
  signal?: AbortSignal;
  /** Progress and notices; default stderr. */
  log?: (line: string) => void;
  /** Where load progress goes (a bar on a TTY, a line every few seconds otherwise); default
   * stderr; null for none. */
  progressStream?: NodeJS.WriteStream | null;
  /** Hooks for the Prometheus stack (service discovery, client metrics); optional. */
  hooks?: RunHooks;
  /** This run is one of `--repeat N`. */
  repeat?: { group: string; index: number; count: number };
}

export interface RunHooks {
  serversStarted?(run: {
    runId: string;
    scenario: string;
    cell: ResolvedCell;
    servers: Map<string, StartedServer[]>;
  }): Promise<void> | void;
  clientProgress?(target: string, cell: string, p: LoadProgress): void;
  serversStopping?(run: { runId: string; cell: ResolvedCell }): Promise<void> | void;
  runEnded?(run: { runId: string }): Promise<void> | void;
}

export interface RunOutcome {
  record: RunRecord;
  dir: string;
  /** True when the run completed and every expectation held. */
  ok: boolean;
  /** runs/<run>/report.html, or null when it could not be written. */
  report: string | null;
}

/** The `forklab serve` flags of a target, without what the runtime sets per server. */
export function serverArgs(server: Omit<ServeConfig, 'port' | 'metricsPort'>): string[] {
  const full: ServeConfig = { ...server, port: 0, metricsPort: 0 };
  const args = serveConfigToArgs(full);
  const owned = new Set(['--host', '--port', '--metrics-port', '--metrics-host', '--name']);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (owned.has(a)) {
      i++; // and its value
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Why a scenario with engines cannot run with --runtime local. */
export const ENGINES_NEED_DOCKER =
  'forklab: the scenario places targets or load generators on Docker engines (engines, placement), which needs the Docker runtime: leave out --runtime local (or FORKLAB_RUNTIME=local), or remove engines and placement from the scenario';

/** Each engine of a placed run, what runs on it and the images it got (clock offsets later). */
function engineRecords(
  scenario: Scenario,
  runtime: PlacedRuntime,
  clocks: ReadonlyMap<string, ClockOffset>,
): EngineRecord[] {
  return enginesUsed(scenario).map(({ name }) => {
    const e = runtime.engines.get(name)!;
    const roles = scenario.targets
      .filter((t) => engineOfTarget(scenario.placement, t.name) === name)
      .map((t) => t.name);
    if (scenario.placement?.drivers === name) roles.push('drivers');
    return {
      name,
      address: e.address,
      host: e.host,
      version: e.version,
      roles,
      clockOffsetMs: clocks.get(name)?.offsetMs ?? null,
      clockRttMs: clocks.get(name)?.rttMs ?? null,
      clockSamples: clocks.get(name)?.samples ?? 0,
      images: runtime.imageMoves
        .filter((m) => m.engine === name)
        .map(({ tag, moved, ms, bytes }) => ({ tag, moved, ms: Math.round(ms), bytes })),
    };
  });
}

/** Targets the chosen runtime cannot run; nothing was started (the CLI exits with code 2). */
export class RuntimeTargetError extends Error {
  constructor(readonly errors: string[]) {
    super(`the scenario cannot run with this runtime:\n  ${errors.join('\n  ')}`);
    this.name = 'RuntimeTargetError';
  }
}

class Interrupted extends Error {
  constructor() {
    super('interrupted');
  }
}

export async function runScenario(opts: RunOptions): Promise<RunOutcome> {
  const log = opts.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  const scenario = opts.scenario;
  const cells = expandCells(scenario);
  // Pinned CPU sets this machine does not give the lab: refused before anything starts.
  const allowed = allowedCpus();
  const cpuErrors = allowed
    ? unavailableCpuErrors(scenario.isolation ?? DEFAULT_ISOLATION, allowed)
    : [];
  if (cpuErrors.length > 0) throw new Error(cpuErrors.join('; '));
  // Engines: every one probed before anything starts; one that does not answer stops the run
  // here (UnreachableEngineError names it), with nothing started on the others.
  const placed = usesEngines(scenario);
  if (placed && opts.runtime === 'local') throw new Error(ENGINES_NEED_DOCKER);
  const runtime: Runtime = placed
    ? new PlacedRuntime(await connectEngines(enginesUsed(scenario)), {
        onNotice: log,
        ...(opts.limits ?? {}),
      })
    : await selectRuntime({
        prefer: opts.runtime ?? 'auto',
        notice: log,
        ...(opts.limits ? { docker: opts.limits } : {}),
      });
  // What this runtime cannot run (a command target without its image or command line): refused
  // before anything starts, as a scenario error.
  const mismatch = runtimeTargetErrors(scenario.targets, runtime.kind);
  if (mismatch.length > 0) throw new RuntimeTargetError(mismatch);
  const startedAt = new Date();
  const runId = newRunId();
  const dir = await createRunDir(opts.runsDir ?? 'runs', scenario.name, startedAt);
  const signal = opts.signal;
  const abortLoad = new AbortController();
  const onAbort = () => abortLoad.abort();
  signal?.addEventListener('abort', onAbort);
  const checkAborted = () => {
    if (signal?.aborted) throw new Interrupted();
  };

  const record: RunRecord = {
    schema: RUN_RECORD_SCHEMA,
    runId,
    scenario: scenario.name,
    description: scenario.description,
    status: 'completed',
    error: null,
    startedAt: startedAt.toISOString(),
    endedAt: startedAt.toISOString(),
    environment: captureEnvironment({
      kind: runtime.kind,
      docker: runtime.dockerVersion ?? null,
      note: runtime.note ?? null,
    }),
    resolved: resolveScenario(scenario),
    overrides: opts.overrides ?? {},
    cells: [],
    expectations: [],
    warnings: [],
    ...(opts.repeat ? { repeat: opts.repeat } : {}),
  };
  log(
    `forklab: run ${runId} of "${scenario.name}" (${cells.length} cell${cells.length === 1 ? '' : 's'}, ${runtime.kind} runtime) → ${dir}`,
  );

  try {
    await runtime.prepare();
    const clocks = new Map<string, ClockOffset>();
    if (runtime instanceof PlacedRuntime) {
      for (const [name, r] of runtime.runtimes) {
        checkAborted();
        try {
          clocks.set(name, await measureClockOffset(r, CLOCK_SAMPLES, runId));
        } catch (e) {
          record.warnings.push(
            `engine ${name}: its clock offset could not be measured (${(e as Error).message}); its timestamps are taken as they are`,
          );
        }
      }
      record.environment.engines = engineRecords(scenario, runtime, clocks);
      for (const e of record.environment.engines)
        if (e.clockOffsetMs !== null)
          log(
            `forklab: engine "${e.name}" (${e.address}): clock offset ${e.clockOffsetMs.toFixed(3)} ms (±${(e.clockRttMs! / 2).toFixed(3)} ms)`,
          );
    }
    for (const cell of cells) {
      checkAborted();
      const context = {
        cells: cells.length,
        scenario,
        runtime,
        runId,
        dir,
        log,
        opts,
        abort: abortLoad.signal,
        record,
        clocks,
      };
      record.cells.push(
        cell.isolation.mode === 'sequential'
          ? await runSequentially(cell, (part) => runCell({ ...context, cell: part }), checkAborted)
          : await runCell({ ...context, cell }),
      );
      {
        const partial = { ...record, endedAt: new Date().toISOString() };
        await writeRecord(dir, partial, runViews(partial));
      }
    }
    checkAborted(); // a signal during the last cell's drain still makes the run interrupted
    record.expectations = checkExpectations(scenario.expectations ?? [], record.cells);
  } catch (err) {
    if (err instanceof Interrupted || signal?.aborted) {
      record.status = 'interrupted';
      const cut = record.cells.find((x) => x.interrupted);
      record.error = cut
        ? `interrupted by a signal during the measured load of ${cut.id}; that cell holds the counters and samples up to the interrupt (no drain), the cells before it completed`
        : 'interrupted by a signal; the record holds the cells that completed';
    } else {
      record.status = 'failed';
      record.error = (err as Error).message;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await runtime
      .stopAll()
      .catch((e: Error) => log(`forklab: stopping servers failed: ${e.message}`));
    await guard(log, 'runEnded', () => opts.hooks?.runEnded?.({ runId }));
    record.endedAt = new Date().toISOString();
    await writeRecord(dir, record, runViews(record));
  }
  // The HTML report is made from results.json alone; a failure to render it loses no data.
  const report = await writeReport(dir).catch((e: Error) => {
    log(`forklab: the HTML report could not be written: ${e.message}`);
    return null;
  });
  const ok = record.status === 'completed' && record.expectations.every((e) => e.passed);
  return { record, dir, ok, report };
}

interface CellContext {
  cell: ResolvedCell;
  cells: number;
  scenario: Scenario;
  runtime: Runtime;
  runId: string;
  dir: string;
  log: (line: string) => void;
  opts: RunOptions;
  abort: AbortSignal;
  record: RunRecord;
  /** Each engine's clock against the lab's (placed runs). */
  clocks: ReadonlyMap<string, ClockOffset>;
}

async function runCell(c: CellContext): Promise<CellRecord> {
  const { cell, scenario, runtime, runId, dir, log, abort } = c;
  const load = cell.load;
  const cellStarted = new Date();
  const label = c.cells > 1 ? `${cell.id} ${JSON.stringify(cell.matrix)}` : '';
  if (label) log(`forklab: ${label}`);

  // 1. Servers: every target of the cell, started before any load.
  const servers = new Map<string, StartedServer[]>();
  // The cell's load stops on the run's abort (Ctrl-C) and when one of its drivers fails.
  const cellAbort = new AbortController();
  const closers: Array<() => Promise<unknown>> = [];
  const onRunAbort = () => cellAbort.abort();
  abort.addEventListener('abort', onRunAbort);
  try {
    const pinned = cell.isolation.mode === 'pinned' ? cell.isolation : null;
    for (const t of cell.targets) {
      const name = c.cells > 1 ? `${t.name}-${cell.id.replace('cell-', 'c')}` : t.name;
      const cpus = pinned?.targets[t.name];
      servers.set(
        t.name,
        await runtime.start({
          runId,
          scenario: scenario.name,
          target: name,
          count: t.containers,
          ...(t.kind === 'engine'
            ? { args: serverArgs(t.server) }
            : {
                kind: t.launch.kind,
                args: t.launch.args,
                ...(t.launch.env ? { env: t.launch.env } : {}),
                ...(t.launch.image ? { image: t.launch.image } : {}),
                ...(t.launch.imageArgs ? { imageArgs: t.launch.imageArgs } : {}),
              }),
          runDir: dir,
          ...(cpus !== undefined ? { cpus } : {}),
          ...(scenario.placement ? { engine: engineOfTarget(scenario.placement, t.name) } : {}),
        }),
      );
    }
    await c.opts.hooks?.serversStarted?.({ runId, scenario: scenario.name, cell, servers });
    const inspections = await inspectCellServers(cell, servers, (w) =>
      c.record.warnings.push(label ? `${cell.id}: ${w}` : w),
    );

    // 2. Sampling from now until the servers stop.
    const series = new SeriesOutput();
    const outputs: SampleOutput[] = [series];
    const sampler = startSampler({
      targets: cell.targets.map((t) => ({
        name: t.name,
        servers: servers.get(t.name)!.map((s) => ({
          name: s.name,
          metricsPort: s.metricsPort,
          host: s.host,
          // A server on another engine stamps its snapshots with that engine's clock.
          ...(s.engine !== undefined && c.clocks.has(s.engine)
            ? { clockOffsetMs: c.clocks.get(s.engine)!.offsetMs }
            : {}),
        })),
      })),
      intervalMs: cell.sampleIntervalMs,
      startedAtMs: Date.parse(c.record.startedAt),
      outputs,
    });
    const urls = (t: ResolvedTarget) =>
      servers.get(t.name)!.map((s) => `http://${s.host}:${s.port}${load.path}`);
    // One load driver per target for the whole cell: warmed up by the warm-up, so the measured
    // load does not start with a cold client.
    // Placed on an engine, each target's driver is a container there; otherwise a thread (or a
    // pinned process) of the lab.
    const driverEngine = scenario.placement?.drivers;
    const drivers = new Map(
      cell.targets.map((t) => {
        if (driverEngine === undefined || !(runtime instanceof PlacedRuntime))
          return [t.name, LoadDriver.open('thread', pinned?.drivers)];
        const name = c.cells > 1 ? `${t.name}-${cell.id.replace('cell-', 'c')}` : t.name;
        const open = () =>
          startDriverContainer(runtime.on(driverEngine), {
            runId,
            scenario: scenario.name,
            target: name,
            logFile: path.join(dir, `forklab-${runId}-${name}-driver.log`),
            ...(pinned?.drivers !== undefined ? { cpus: pinned.drivers } : {}),
          });
        return [
          t.name,
          LoadDriver.inContainer(open, {
            engine: driverEngine,
            clockOffsetMs: c.clocks.get(driverEngine)?.offsetMs ?? null,
          }),
        ];
      }),
    );
    closers.push(() => Promise.all([...drivers.values()].map((d) => d.close())));
    const driveAll = async (
      phase: 'warmup' | 'load',
      durationSec: number,
      arm?: { gate: Promise<void>; onReady: () => void } | { carryIntoSec: number },
    ) => {
      const view =
        c.opts.progressStream === null
          ? undefined
          : new LoadProgressView({
              targets: cell.targets.map((t) => t.name),
              phase,
              durationSec,
              ...(c.opts.progressStream ? { stream: c.opts.progressStream } : {}),
            });
      try {
        return await Promise.all(
          cell.targets.map((t) =>
            drivers
              .get(t.name)!
              .run({
                urls: urls(t),
                load: { ...load, durationSec },
                phase,
                signal: cellAbort.signal,
                ...(arm ?? {}),
                onProgress: (p) => {
                  view?.update(t.name, p);
                  c.opts.hooks?.clientProgress?.(t.name, cell.id, p);
                },
              })
              .catch((e: Error) => {
                // One driver failed: stop the others now rather than at their watchdogs.
                cellAbort.abort();
                throw new Error(`target ${t.name}, ${phase}: ${e.message}`);
              }),
          ),
        );
      } finally {
        view?.done();
      }
    };

    try {
      // 3. Warm-up: the same load, not measured.
      if (load.warmupSec > 0) {
        sampler.setPhase('warmup');
        // Its connections end with it. The drivers can carry them into the measured load
        // (`carryIntoSec`, lab/load/load-worker.ts), but a generator that keeps sending across the
        // first snapshot puts the requests in flight at the gate on the client's side of the window
        // and not the server's: measured 1.6–2.2 % apart in 2 s paced runs of 16 connections. Until
        // the gate quiesces the generator around that snapshot, the window starts with new
        // connections and the counts agree exactly.
        await driveAll('warmup', load.warmupSec);
      }
      if (abort.aborted) throw new Interrupted();

      // 4. Measured load into every target at once, between two snapshots. The drivers are
      // loaded first (a worker thread each) and released together after the first snapshot, so
      // their start-up is neither in the measured window nor staggered between targets.
      let go!: () => void;
      const gate = new Promise<void>((r) => (go = r));
      let ready = 0;
      let allReady!: () => void;
      const armed = new Promise<void>((r) => (allReady = r));
      const loads = driveAll('load', load.durationSec, {
        gate,
        onReady: () => {
          if (++ready === cell.targets.length) allReady();
        },
      });
      await Promise.race([armed, loads]);
      const before = await sampler.snapshotNow();
      if (abort.aborted) throw new Interrupted(); // nothing measured yet
      sampler.setPhase('load');
      const loadStarted = Date.now();
      go();
      const clients: ClientResult[] = await loads;
      const loadEnded = Date.now();
      const loadSec = (loadEnded - loadStarted) / 1000;
      // Interrupted during the measured load: the cell is kept, with the counters up to the
      // interrupt (a last snapshot of every server, which still runs, without the drain) and the
      // samples so far, marked interrupted.
      const interrupted = abort.aborted;
      if (!interrupted) {
        sampler.setPhase('drain');
        await sleep(cell.drainSec * 1000, undefined, { signal: abort }).catch(() => undefined);
      }
      const after = await sampler.snapshotNow();
      await sampler.stop();
      // A boundary snapshot that failed would make the deltas wrong (from zero, or missing a
      // server): say so in the record, with whatever the sampler itself noticed.
      for (const t of cell.targets) {
        servers.get(t.name)!.forEach((sv, i) => {
          for (const [when, batch] of [
            ['start', before],
            ['end', after],
          ] as const) {
            if (!batch.get(t.name)[i]) {
              c.record.warnings.push(
                `${label ? `${cell.id}: ` : ''}target ${t.name}: no counters from ${sv.name} at the ${when} of the measured load; its figures are incomplete`,
              );
            }
          }
        });
      }
      for (const w of sampler.warnings()) c.record.warnings.push(label ? `${cell.id}: ${w}` : w);

      // 5. Figures per target.
      const targets: TargetRecord[] = cell.targets.map((t, i) => {
        const b = before.get(t.name) ?? [];
        const a = after.get(t.name) ?? [];
        const deltas = counterDeltas(b, a);
        const client = clients[i]!;
        const s = series.seriesOf(t.name);
        const { derived, notApplicable } = deriveFigures({
          totals: deltas.totals,
          workers: deltas.workers,
          client,
          series: s,
          durationSec: client.durationSec || loadSec,
          // EEXIST happens when workers start, before the measured window: count since start.
          eexist: counterDeltas([], a).totals.epoll_ctl_eexist ?? 0,
          loadMode: cell.load.mode,
          kind: t.kind,
        });
        // A server that does not count requests (a command target) has nothing to cross-check.
        const warning =
          'requests' in deltas.totals || deltas.workers.length === 0
            ? crossCheck(t.name, client, deltas.totals.requests ?? 0)
            : null;
        if (warning) c.record.warnings.push(label ? `${cell.id}: ${warning}` : warning);
        return {
          name: t.name,
          kind: t.kind,
          server: t.server,
          containers: servers.get(t.name)!.map((sv) => ({
            name: sv.name,
            id: sv.id,
            port: sv.port,
            metricsPort: sv.metricsPort,
            logFile: path.relative(dir, sv.logFile),
          })),
          client,
          counters: deltas.totals,
          workers: deltas.workers,
          derived,
          notApplicable,
          series: s,
          inspection: inspections.get(t.name) ?? [],
          loadWindow: {
            startedAt: new Date(loadStarted).toISOString(),
            endedAt: new Date(loadEnded).toISOString(),
          },
          ...(pinned ? { cpus: pinned.targets[t.name]! } : {}),
          ...(scenario.placement ? { engine: engineOfTarget(scenario.placement, t.name) } : {}),
        };
      });
      return {
        id: cell.id,
        matrix: cell.matrix,
        startedAt: cellStarted.toISOString(),
        endedAt: new Date().toISOString(),
        ...(interrupted ? { interrupted: true as const } : {}),
        targets,
      };
    } finally {
      await sampler.stop();
    }
  } finally {
    abort.removeEventListener('abort', onRunAbort);
    cellAbort.abort();
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
    await guard(log, 'serversStopping', () => c.opts.hooks?.serversStopping?.({ runId, cell }));
    for (const list of servers.values()) {
      await Promise.all(
        list.map((s) =>
          s.stop().catch((e: Error) => log(`forklab: stopping ${s.name}: ${e.message}`)),
        ),
      );
    }
  }
}

/**
 * Isolation `sequential`: the cell's targets one after another, each alone under the same load
 * (its own servers, warm-up, snapshots and drain), merged into one cell record.
 */
async function runSequentially(
  cell: ResolvedCell,
  run: (part: ResolvedCell) => Promise<CellRecord>,
  checkAborted: () => void,
): Promise<CellRecord> {
  const parts: CellRecord[] = [];
  for (const t of cell.targets) {
    if (parts.length > 0) checkAborted();
    parts.push(await run({ ...cell, targets: [t] }));
  }
  return {
    id: cell.id,
    matrix: cell.matrix,
    startedAt: parts[0]!.startedAt,
    endedAt: parts[parts.length - 1]!.endedAt,
    targets: parts.flatMap((p) => p.targets),
  };
}

/**
 * Kernel evidence (lab/inspect): every server of the cell inspected once ready, one at a time.
 * Throws when the evidence contradicts a target's declared set-up (the run fails with that
 * error); what could not be seen becomes a warning.
 */
async function inspectCellServers(
  cell: ResolvedCell,
  servers: Map<string, StartedServer[]>,
  warn: (w: string) => void,
): Promise<Map<string, ServerInspection[]>> {
  const out = new Map<string, ServerInspection[]>();
  for (const t of cell.targets) {
    const list: ServerInspection[] = [];
    for (const s of servers.get(t.name)!)
      list.push(await inspectStartedServer(s, declaredSetup(t)));
    out.set(t.name, list);
    const error = contradictionError(t.name, list);
    if (error) throw new Error(error);
    for (const i of list)
      for (const u of i.unseen) warn(`target ${t.name}, ${i.server}: not inspected fully: ${u}`);
  }
  return out;
}

/** Runs a hook, logging instead of throwing: a hook must never stop servers from being stopped. */
async function guard(
  log: (line: string) => void,
  name: string,
  hook: () => Promise<void> | void,
): Promise<void> {
  try {
    await hook();
  } catch (e) {
    log(`forklab: the ${name} hook failed: ${(e as Error).message}`);
  }
}
