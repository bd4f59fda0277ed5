// `forklab run [scenario] [flags] [overrides]` (also `npm run scenario -- …`): parse, then call
// runScenario, the same entry a program would use.
import { spawnSync } from 'node:child_process';
import { LABEL_SESSION } from '../runtime/labels';
import { killAllLocalServers } from '../runtime/local-runtime';
import { SESSION_ID } from '../runtime/session';
import { listScenarios, loadScenario, DEFAULT_SCENARIO } from '../scenario/load-scenario';
import { applyOverrides, overridesHelp, splitOverrideArgs } from '../scenario/overrides';
import { runScenario, type RunOutcome } from '../run/run-scenario';
import { renderSummary, shouldUseColor } from '../report/terminal-summary';
import { parseRuntimePreference, type RuntimePreference } from '../runtime/select-runtime';
import { startClientExporter } from '../prometheus/client-exporter';
import { prometheusRunHooks } from '../prometheus/run-hooks';
import type { CliIO, Command } from './command';

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
interrupted (every server is stopped and the partial record kept), 2 for bad input.

Flags:
  --list               list the scenarios and exit
  --runtime R          auto (default), docker or local (env FORKLAB_RUNTIME)
  --runs-dir DIR       where run folders go (default: runs)
  --repeat N           run the scenario N times (1..20) for medians and spreads (forklab compare)
  --memory-mib N       memory limit per container, MiB (64..65536; default 512;
                       env FORKLAB_CONTAINER_MEMORY_MIB)
  --pids-limit N       pids limit per container, threads included (16..100000; default
                       64 + 2 × workers; env FORKLAB_CONTAINER_PIDS_LIMIT)
  --help               this text
`;

function parseRunFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { flags: RunFlags; errors: string[] } {
  const errors: string[] = [];
  const flags: RunFlags = {
    scenario: DEFAULT_SCENARIO,
    list: false,
    help: false,
    runtime: 'auto',
    runsDir: 'runs',
    repeat: 1,
    limits: {},
  };
  let memoryRaw = env.FORKLAB_CONTAINER_MEMORY_MIB;
  let pidsRaw = env.FORKLAB_CONTAINER_PIDS_LIMIT;
  let runtimeRaw = env.FORKLAB_RUNTIME;
  let named = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = (): string | undefined => {
      if (inline !== undefined) return inline;
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) {
        errors.push(`${flag}: needs a value`);
        return undefined;
      }
      i++;
      return v;
    };
    switch (flag) {
      case '--list':
        flags.list = true;
        break;
      case '--help':
      case '-h':
        flags.help = true;
        break;
      case '--runtime':
        runtimeRaw = value();
        break;
      case '--runs-dir': {
        const v = value();
        if (v !== undefined) flags.runsDir = v;
        break;
      }
      case '--memory-mib':
        memoryRaw = value();
        break;
      case '--pids-limit':
        pidsRaw = value();
        break;
      case '--repeat': {
        const v = value();
        if (v === undefined) break;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 20) {
          errors.push(`--repeat: must be an integer from 1 to 20, got "${v}"`);
        } else {
          flags.repeat = n;
        }
        break;
      }
      default:
        if (a.startsWith('-')) {
          errors.push(`${a}: unknown flag (see forklab run --help for flags and overrides)`);
        } else if (named) {
          errors.push(`${a}: one scenario per run (already given: ${flags.scenario})`);
        } else {
          flags.scenario = a;
          named = true;
        }
    }
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
  const memoryMiB = int('--memory-mib', memoryRaw, 64, 65536);
  if (memoryMiB !== undefined) flags.limits.memoryBytes = memoryMiB * 1024 * 1024;
  const pidsLimit = int('--pids-limit', pidsRaw, 16, 100000);
  if (pidsLimit !== undefined) flags.limits.pidsLimit = pidsLimit;
  try {
    flags.runtime = parseRuntimePreference(runtimeRaw);
  } catch {
    errors.push(`--runtime: must be auto, docker or local, got "${runtimeRaw}"`);
  }
  return { flags, errors };
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a scenario: servers, load, sampling, run record and summary',
  async run(argv, env, io) {
    const { overrides, rest } = splitOverrideArgs(argv);
    const { flags, errors } = parseRunFlags(rest, env);
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
    if (!loaded.ok) errors.push(...loaded.errors);
    const applied = loaded.ok ? applyOverrides(loaded.scenario, overrides) : undefined;
    if (applied && !applied.ok) errors.push(...applied.errors);
    if (errors.length > 0 || !applied?.ok) {
      for (const e of errors) io.stderr.write(`forklab run: ${e}\n`);
      io.stderr.write(
        `forklab run: ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was started\n`,
      );
      return 2;
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
      forceRemoveServers();
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
      });
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
  if (abort.signal.aborted || outcomes.some((o) => o.record.status === 'interrupted')) return 130;
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

/**
 * The second Ctrl-C: no time for an orderly stop, but nothing may be left running. Kills this
 * process's local servers and removes its containers (by session label), synchronously.
 */
function forceRemoveServers(): void {
  killAllLocalServers('SIGKILL');
  const opts = { encoding: 'utf8' as const, timeout: 10_000 };
  const label = `label=${LABEL_SESSION}=${SESSION_ID}`;
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', label], opts).stdout?.trim();
  if (ids) spawnSync('docker', ['rm', '-f', ...ids.split(/\s+/)], opts);
}
