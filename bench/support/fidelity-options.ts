// bench:fidelity's command line: parsed and checked here, every default in one place.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

export type Load = 'keep-alive' | 'churn';
/** What the engine is run beside: nothing (the fixed reference figures), or a real framework. */
export type Against = 'tornado6' | 'tornado45';

export interface FidelityOptions {
  rounds: number;
  durationSec: number;
  workers: number[];
  pace: string;
  loads: Load[];
  /** A real framework run beside the engine in the same rounds, or none. */
  against: Against | undefined;
  /** Extra arguments passed to every engine run (e.g. `--pace-keyerror-us=200`). */
  engineArgs: string[];
  /**
   * How fast the engine's framework runs: `reference` (the fixed reference's: each load's costs
   * scaled until the engine spends the CPU per request the reference runs' Tornado spent),
   * `calibrated` (the presets as calibrated on this machine), `match` (with --against: each engine
   * run scaled to the real framework's CPU per request in the run just before it, same N, load
   * and placement), or a percentage of the presets' costs.
   */
  speed: 'reference' | 'calibrated' | 'match' | number;
  /**
   * The engine's speed per CPU: `measured` (each engine run burns on each CPU × how much slower
   * than the fastest CPU the CPU check before it ran Python: `--pace-cpu-pct`) or `even` (the same
   * on every CPU). Default: measured beside a real framework (it slows where the interpreter
   * slows), even for the fixed reference (whose machine's CPUs are not known).
   */
  cpus: 'even' | 'measured';
}

export const FIDELITY_USAGE =
  'usage: npm run bench:fidelity -- [--rounds 3] [--duration 10] [--workers 1,2] ' +
  '[--pace tornado4|asyncio|native] [--loads keep-alive,churn] [--speed reference|calibrated|PCT] ' +
  '[--cpus even|measured] [--engine-arg=ARG ...]\n' +
  '       npm run bench:fidelity -- --against tornado6 [--rounds 3] [--duration 10] ' +
  '[--workers 1,2,4] [--loads keep-alive] [--speed calibrated|match|PCT] [--cpus measured|even] [--engine-arg=ARG ...]\n' +
  '       TORNADO45=DIR [TORNADO45_PYTHON=PY] [TORNADO45_SLOW_CPU=K|TORNADO45_SLOW_SHARE=P] npm run bench:fidelity -- --against tornado45 [--rounds 3] [--duration 10] ' +
  '[--workers 1,2,4] [--loads keep-alive,churn] [--speed calibrated|match|PCT] [--cpus measured|even] [--engine-arg=ARG ...]';

/** The pace preset each --against runs the engine with (and the flavour of the same name's model). */
const PACE_AGAINST: Record<Against, string> = { tornado6: 'asyncio', tornado45: 'tornado4' };
const DEFAULTS: Record<'none' | Against, { workers: string; loads: string }> = {
  none: { workers: '1,2', loads: 'keep-alive,churn' },
  tornado6: { workers: '1,2,4', loads: 'keep-alive' },
  tornado45: { workers: '1,2,4', loads: 'keep-alive,churn' },
};

/** Parses bench:fidelity's arguments; `undefined` for --help. Throws naming the option and the fix. */
export function parseFidelityOptions(argv: string[]): FidelityOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      workers: { type: 'string' },
      pace: { type: 'string' },
      loads: { type: 'string' },
      against: { type: 'string' },
      cpus: { type: 'string' },
      speed: { type: 'string' },
      'engine-arg': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name}: an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    return n;
  };
  const against = values.against;
  if (against !== undefined && against !== 'tornado6' && against !== 'tornado45')
    throw new Error(
      `--against: tornado6 (real Tornado 6.2) or tornado45 (real Tornado 4.5.3), got ${JSON.stringify(against)}`,
    );
  if (against && values.pace !== undefined && values.pace !== PACE_AGAINST[against])
    throw new Error(
      `--against ${against} runs --pace ${PACE_AGAINST[against]}; drop --pace ${values.pace}`,
    );
  const pace = values.pace ?? (against ? PACE_AGAINST[against] : 'tornado4');
  if (!['native', 'tornado4', 'asyncio'].includes(pace))
    throw new Error(`--pace: native, tornado4 or asyncio, got ${JSON.stringify(pace)}`);
  const defaults = DEFAULTS[against ?? 'none'];
  const loads = (values.loads ?? defaults.loads).split(',').map((l) => l.trim());
  for (const l of loads) {
    if (l !== 'keep-alive' && l !== 'churn')
      throw new Error(`--loads: keep-alive and/or churn, got ${JSON.stringify(l)}`);
  }
  const engineArgs = values['engine-arg'];
  for (const a of engineArgs) {
    if (!a.startsWith('--'))
      throw new Error(
        `--engine-arg: an option of forklab serve starting with --, got ${JSON.stringify(a)} ` +
          '(write --engine-arg=--pace-keyerror-us=200)',
      );
  }
  // The fixed reference figures are Tornado's at the reference runs' speed; beside a real framework
  // the engine runs at the calibrated speed unless told otherwise.
  const speedText = values.speed ?? (!against && pace === 'tornado4' ? 'reference' : 'calibrated');
  let speed: FidelityOptions['speed'];
  if (speedText === 'reference' || speedText === 'calibrated' || speedText === 'match')
    speed = speedText;
  else if (!/^\d+$/.test(speedText))
    throw new Error(
      `--speed: reference, calibrated, match or a percentage of the calibrated costs (10 to 1000), got ${JSON.stringify(speedText)}`,
    );
  else speed = int('speed', speedText, 10, 1000);
  if (speed === 'match' && !against)
    throw new Error(
      '--speed match: runs the engine at the speed of the real framework beside it; add --against tornado45 or --against tornado6',
    );
  if (speed === 'reference' && (against || pace !== 'tornado4'))
    throw new Error(
      `--speed reference: the reference runs are Tornado 4.5.3's, for --pace tornado4 without --against; ` +
        'use --speed calibrated or a percentage of the costs (--speed 150)',
    );
  const cpus = values.cpus ?? (against ? 'measured' : 'even');
  if (cpus !== 'even' && cpus !== 'measured')
    throw new Error(`--cpus: even or measured, got ${JSON.stringify(cpus)}`);
  if (cpus === 'measured' && engineArgs.some((a) => a.startsWith('--pace-cpu-pct')))
    throw new Error(
      "--cpus measured sets the engine's --pace-cpu-pct from each CPU check; drop --engine-arg=--pace-cpu-pct or use --cpus even",
    );
  return {
    rounds: int('rounds', values.rounds, 1, 100),
    durationSec: int('duration', values.duration, 1, 600),
    workers: (values.workers ?? defaults.workers)
      .split(',')
      .map((w) => int('workers', w.trim(), 1, 64)),
    pace,
    loads: loads as Load[],
    against,
    engineArgs,
    speed,
    cpus,
  };
}

/** Real Tornado 4.5.3 serving as the lab's servers do (run with TORNADO45 in its environment). */
export const TORNADO45_SERVER = path.resolve(__dirname, '..', 'tornado45', 'server.py');

export const TORNADO45_FIX =
  'git clone https://github.com/tornadoweb/tornado && git -C tornado archive v4.5.3 tornado | tar x -C DIR';

/**
 * The directory holding the `tornado` package of tag v4.5.3, from TORNADO45, checked: an error
 * naming TORNADO45 and the fix when it is unset or holds another version.
 */
export function tornado45Dir(env: NodeJS.ProcessEnv): string {
  const dir = env.TORNADO45;
  if (!dir)
    throw new Error(
      `--against tornado45 needs TORNADO45, a directory holding the tornado package of v4.5.3: ` +
        `${TORNADO45_FIX}, then TORNADO45=DIR`,
    );
  const init = path.join(dir, 'tornado', '__init__.py');
  let text: string;
  try {
    text = readFileSync(init, 'utf8');
  } catch (e) {
    throw new Error(
      `TORNADO45=${dir}: cannot read ${init} (${(e as Error).message}); ${TORNADO45_FIX}, then TORNADO45=DIR`,
    );
  }
  const version = /^version = "([^"]*)"/m.exec(text)?.[1];
  if (version !== '4.5.3')
    throw new Error(
      `TORNADO45=${dir}: ${init} is version ${version ?? '(none found)'}, not 4.5.3; ${TORNADO45_FIX}, then TORNADO45=DIR`,
    );
  return dir;
}

/**
 * The Python that runs real Tornado 4.5.3: `TORNADO45_PYTHON`, or `debian` (Debian's python3)
 * when it is not set. Another build of CPython runs Tornado at another speed (README, bench:fidelity
 * `--against tornado45`, for one measured here): real Tornado at a slower interpreter's speed, for
 * comparing the engine at the same CPU per request (`--speed match`).
 */
export function tornado45Python(env: NodeJS.ProcessEnv, debian: string): string {
  const python = env.TORNADO45_PYTHON;
  if (!python) return debian;
  const r = spawnSync(python, ['-c', 'import sys; print(sys.version_info >= (3, 7))'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const said = r.error?.message ?? (r.stderr.trim() || r.stdout.trim());
  if (r.status !== 0 || r.stdout.trim() !== 'True')
    throw new Error(
      `TORNADO45_PYTHON=${python}: not a Python 3.7 or later that runs (${said}); ` +
        `give the path of a python3 executable, or leave it unset for ${debian}`,
    );
  return python;
}

/**
 * How real Tornado 4.5.3 is slowed (bench/tornado45/server.py): `TORNADO45_SLOW_SHARE` (a share of
 * its loop passes, drawn at random) or `TORNADO45_SLOW_CPU` (the passes that start on one CPU), at
 * most one of them; undefined when neither is set. Checked here so that a bad value is named before
 * any server starts, not found in a worker's assert.
 */
export function tornado45Slowing(
  env: NodeJS.ProcessEnv,
  cpus: number,
): { share: number } | { cpu: number } | undefined {
  const share = env.TORNADO45_SLOW_SHARE;
  const cpu = env.TORNADO45_SLOW_CPU;
  if (share !== undefined && share !== '' && cpu !== undefined && cpu !== '')
    throw new Error(
      `TORNADO45_SLOW_SHARE=${share} and TORNADO45_SLOW_CPU=${cpu}: they exclude each other; unset one`,
    );
  if (share !== undefined && share !== '') {
    const p = Number(share);
    if (!(p >= 0 && p <= 1))
      throw new Error(
        `TORNADO45_SLOW_SHARE=${share}: not a share from 0 to 1; give e.g. 0.5, or leave it unset`,
      );
    return { share: p };
  }
  if (cpu !== undefined && cpu !== '') {
    const k = Number(cpu);
    if (!Number.isInteger(k) || k < 0 || k >= cpus)
      throw new Error(
        `TORNADO45_SLOW_CPU=${cpu}: not a CPU of this machine; give one of 0–${cpus - 1}, or leave it unset`,
      );
    return { cpu: k };
  }
  return undefined;
}
