// `forklab run [scenario] [flags] [overrides]` (also `npm run scenario -- …`): parse, then call
// runScenario, the same entry a program would use.
import { spawnSync } from 'node:child_process';
import { LABEL_SESSION } from '../runtime/labels';
import { usesEngines, type EngineSpec } from '../scenario/engines';
import { killAllLocalServers } from '../runtime/local-runtime';
import { SESSION_ID } from '../runtime/session';
import { listScenarios, loadScenario, DEFAULT_SCENARIO } from '../scenario/load-scenario';
import {
  OVERRIDE_OPTIONS,
  applyOverrides,
  checkOverrides,
  overridesHelp,
} from '../scenario/overrides';
import {
  ENGINES_NEED_DOCKER,
  RuntimeTargetError,
  runScenario,
  type RunOutcome,
} from '../run/run-scenario';
import { renderSummary, shouldUseColor } from '../report/terminal-summary';
import {
  NoDockerEngineError,
  parseRuntimePreference,
  type RuntimePreference,
} from '../runtime/select-runtime';
import { startClientExporter } from '../prometheus/client-exporter';
import { prometheusRunHooks } from '../prometheus/run-hooks';
import { parseFlags, usageFailure, type FlagSpec } from './args';
import { EXIT, type CliIO, type Command } from './command';

interface RunFlags {
  scenario: string;
  list: boolean;
  help: boolean;
  runtime: RuntimePreference;
  runsDir: string;
  repeat: number;
  limits: { memoryBytes?: number; pidsLimit?: number };
}

const HELP = `Usage: forklab run [scenario] [flags] [overrides]
       npm run scenario -- [scenario] [flags] [overrides]

Runs a scenario (a name from scenarios/ or a path to a .ts file; default: ${DEFAULT_SCENARIO}):
starts its servers (containers when a Docker engine answers, local processes otherwise), drives
load into every target at once, samples their counters, and writes runs/<time>-<scenario>/.
Exit code: 0 when every expectation held, 1 when one failed or the run failed, 130 when
interrupted (every server is stopped and the partial record kept), 2 for bad input, 3 when
--runtime docker was asked for and no Docker engine answered, or an engine the scenario places
targets or load generators on did not answer (nothing is started on any engine).

Flags:
  --list               list the scenarios and exit
  --runtime R          auto (default), docker or local (env FORKLAB_RUNTIME)
  --runs-dir DIR       where run folders go (default: runs)
  --repeat N           run the scenario N times (1..20) for medians and spreads (forklab compare)
  --memory-mib N       memory limit per container, MiB (64..65536; default 512;
                       env FORKLAB_CONTAINER_MEMORY_MIB)
  --pids-limit N       pids limit per container, threads included (16..100000; default
                       64 + 2 × workers; env FORKLAB_CONTAINER_PIDS_LIMIT)
  -h, --help           this text

Short forms: -d = --duration, -c = --connections, -w = --workers. Durations take units
(500ms, 30s, 2m); a bare number is seconds.
`;

/** Short forms of the most used overrides. */
const SHORT_OVERRIDES: Record<string, string> = { duration: 'd', connections: 'c', workers: 'w' };

const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'list', type: 'boolean' },
  { name: 'help', type: 'boolean', short: 'h' },
  { name: 'runtime', type: 'string' },
  { name: 'runs-dir', type: 'string' },
  { name: 'repeat', type: 'string' },
  { name: 'memory-mib', type: 'string' },
  { name: 'pids-limit', type: 'string' },
  ...OVERRIDE_OPTIONS.map((o) => {
    const name = o.flag.slice(2);
    const short = SHORT_OVERRIDES[name];
    return { name, type: 'string' as const, ...(short ? { short } : {}) };
  }),
];

const OVERRIDE_NAMES = new Set(OVERRIDE_OPTIONS.map((o) => o.flag.slice(2)));

function parseRunFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { flags: RunFlags; overrides: string[]; errors: string[] } {
  const p = parseFlags(argv, RUN_FLAGS);
  const errors = [...p.errors];
  const str = (name: string): string | undefined => {
    const v = p.values.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const flags: RunFlags = {
    scenario: DEFAULT_SCENARIO,
    list: p.values.has('list'),
    help: p.values.has('help'),
    runtime: 'auto',
    runsDir: str('runs-dir') ?? 'runs',
    repeat: 1,
    limits: {},
  };
  const [scenario, ...extra] = p.positionals;
  if (scenario !== undefined) flags.scenario = scenario;
  for (const a of extra) {
    errors.push(`${a}: one scenario per run (already given: ${flags.scenario})`);
  }
  const overrides: string[] = [];
  for (const [name, v] of p.values) {
    if (OVERRIDE_NAMES.has(name) && typeof v === 'string') overrides.push(`--${name}`, v);
  }
  const int = (name: string, raw: string | undefined, lo: number, hi: number) => {
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < lo || n > hi) {
      errors.push(`${name}: must be an integer from ${lo} to ${hi}, got "${raw}"`);
      return undefined;
    }
    return n;
  };
  const repeat = int('--repeat', str('repeat'), 1, 20);
  if (repeat !== undefined) flags.repeat = repeat;
  const memoryMiB = int(
    '--memory-mib',
    str('memory-mib') ?? env.FORKLAB_CONTAINER_MEMORY_MIB,
    64,
    65536,
  );
  if (memoryMiB !== undefined) flags.limits.memoryBytes = memoryMiB * 1024 * 1024;
  const pidsLimit = int(
    '--pids-limit',
    str('pids-limit') ?? env.FORKLAB_CONTAINER_PIDS_LIMIT,
    16,
    100000,
  );
  if (pidsLimit !== undefined) flags.limits.pidsLimit = pidsLimit;
  const runtimeRaw = str('runtime') ?? env.FORKLAB_RUNTIME;
  try {
    flags.runtime = parseRuntimePreference(runtimeRaw);
  } catch {
    errors.push(`--runtime: must be auto, docker or local, got "${runtimeRaw}"`);
  }
  return { flags, overrides, errors };
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a scenario: servers, load, sampling, run record and summary',
  async run(argv, env, io) {
    const { flags, overrides, errors } = parseRunFlags(argv, env);
    if (flags.help) {
      io.stdout.write(HELP + '\n' + overridesHelp());
      return 0;
    }
    if (flags.list) {
      for (const s of listScenarios()) {
        io.stdout.write(
          `${s.name.padEnd(14)} ${s.errors ? `(does not load: ${s.errors[0]})` : s.summary}\n`,
        );
      }
      return 0;
    }
    const loaded = loadScenario(flags.scenario);
    // The overrides are checked by themselves too, so that their errors are listed together
    // with the scenario file's.
    if (!loaded.ok) errors.push(...loaded.errors, ...checkOverrides(overrides).errors);
    const applied = loaded.ok ? applyOverrides(loaded.scenario, overrides) : undefined;
    if (applied && !applied.ok) errors.push(...applied.errors);
    if (applied?.ok && flags.runtime === 'local' && usesEngines(applied.scenario))
      errors.push(`--runtime: ${ENGINES_NEED_DOCKER.replace(/^forklab: /, '')}`);
    if (errors.length > 0 || !applied?.ok) {
      return usageFailure(io, 'run', errors, 'nothing was started (see forklab run --help)');
    }
    return runWithSignals(applied.scenario, applied.overrides, flags, io);
  },
};

/** Runs (repeatedly), turning SIGINT/SIGTERM into an orderly stop; a second signal is final. */
async function runWithSignals(
  scenario: Parameters<typeof runScenario>[0]['scenario'],
  overrides: Record<string, string>,
  flags: RunFlags,
  io: CliIO,
): Promise<number> {
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      io.stderr.write(
        `\nforklab run: ${sig}: stopping the load and every server, keeping the partial record (again to force)\n`,
      );
      abort.abort();
    } else {
      io.stderr.write(`forklab run: ${sig} again: removing every server now and exiting\n`);
      forceRemoveServers(scenario);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const group = `${Date.now().toString(36)}`;
  const outcomes: RunOutcome[] = [];
  // Every run is visible to Prometheus while it runs (file service discovery, removed at the end),
  // and so are the client's own figures (the exporter on a free loopback port).
  const exporter = await startClientExporter();
  const hooks = prometheusRunHooks({
    exporter,
    ...(process.env.FORKLAB_PROMETHEUS_URL
      ? { prometheusUrl: process.env.FORKLAB_PROMETHEUS_URL }
      : {}),
  });
  try {
    for (let i = 0; i < flags.repeat && !abort.signal.aborted; i++) {
      const outcome = await runScenario({
        scenario,
        overrides,
        runtime: flags.runtime,
        runsDir: flags.runsDir,
        limits: flags.limits,
        signal: abort.signal,
        hooks,
        ...(flags.repeat > 1 ? { repeat: { group, index: i + 1, count: flags.repeat } } : {}),
      }).catch((e: unknown) => {
        // No engine where one is needed: one line and its own exit code, not a stack trace.
        if (e instanceof RuntimeTargetError) return e;
        if (!(e instanceof NoDockerEngineError)) throw e;
        for (const line of e.message.split('\n'))
          io.stderr.write(`forklab run: ${line.replace(/^forklab: /, '')}\n`);
        return null;
      });
      if (outcome === null) return EXIT.noDocker;
      if (outcome instanceof RuntimeTargetError)
        return usageFailure(io, 'run', outcome.errors, 'nothing was started');
      outcomes.push(outcome);
      io.stdout.write(
        renderSummary(outcome.record, { color: shouldUseColor(process.stdout) }) + '\n',
      );
      io.stdout.write(`run record: ${outcome.dir}/results.json\n`);
      if (outcome.report) io.stdout.write(`report:     ${outcome.report}\n`);
      if (outcome.record.error) io.stderr.write(`forklab run: ${outcome.record.error}\n`);
    }
  } finally {
    await exporter.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (abort.signal.aborted || outcomes.some((o) => o.record.status === 'interrupted')) {
    return EXIT.interrupted;
  }
  return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failed;
}

/**
 * The second Ctrl-C: no time for an orderly stop, but nothing may be left running. Kills this
 * process's local servers and removes its containers (by session label), synchronously.
 */
function forceRemoveServers(scenario: { engines?: Record<string, EngineSpec> }): void {
  killAllLocalServers('SIGKILL');
  const opts = { encoding: 'utf8' as const, timeout: 10_000 };
  const label = `label=${LABEL_SESSION}=${SESSION_ID}`;
  // The default engine, and every engine the scenario declares (the reaper does so too).
  const engines: string[][] = [
    [],
    ...Object.values(scenario.engines ?? {}).map((e) => [
      '-H',
      e.address,
      ...(e.tls
        ? ['--tlsverify', '--tlscacert', e.tls.ca, '--tlscert', e.tls.cert, '--tlskey', e.tls.key]
        : []),
    ]),
  ];
  for (const host of engines) {
    const ids = spawnSync('docker', [...host, 'ps', '-aq', '--filter', label], opts).stdout?.trim();
    if (ids) spawnSync('docker', [...host, 'rm', '-f', ...ids.split(/\s+/)], opts);
  }
}
