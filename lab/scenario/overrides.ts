// Command-line overrides of a scenario (`--duration 10 --workers 4 …`): one table of flags, each
// checked by the same rules as a scenario file (SCENARIO_FIELDS, and validateServeConfig for server
// settings), every error at once, each naming its flag. The overridden scenario is validated again
// as a whole. Server-level flags set the setting on every target and take it out of the matrix.
import { settingApplies } from './target-kinds';
import { SERVE_OPTIONS } from '../server/config';
import { DURATION_FORMAT, parseDuration } from './duration';
import type { Scenario } from './scenario';
import {
  SCENARIO_FIELDS,
  closest,
  fieldProblem,
  fieldRange,
  got,
  settingValueErrors,
  validateScenario,
  type ScenarioField,
  type SettingKey,
} from './validate-scenario';

type Where =
  | {
      scope: 'load';
      field: Extract<
        ScenarioField,
        | 'durationSec'
        | 'warmupSec'
        | 'connections'
        | 'rate'
        | 'timeoutMs'
        | 'path'
        | 'mode'
        | 'driver'
        | 'driverThreads'
      >;
    }
  | { scope: 'scenario'; field: Extract<ScenarioField, 'sampleIntervalMs' | 'drainSec'> }
  | { scope: 'target'; field: Extract<ScenarioField, 'containers'> }
  | { scope: 'server'; key: SettingKey };

export type OverrideSpec = Where & { flag: string; value: string; help: string };

function serverOverride(key: SettingKey): OverrideSpec {
  const o = SERVE_OPTIONS.find((x) => x.key === key)!;
  return {
    scope: 'server',
    key,
    flag: o.flag,
    value: o.value ?? 'VALUE',
    help: o.help,
  };
}

/** Every override flag, in the order of the help text. */
export const OVERRIDE_OPTIONS: readonly OverrideSpec[] = [
  {
    scope: 'load',
    field: 'durationSec',
    flag: '--duration',
    value: 'TIME',
    help: 'measured load: 500ms, 30s, 2m (a bare number is seconds)',
  },
  {
    scope: 'load',
    field: 'warmupSec',
    flag: '--warmup',
    value: 'TIME',
    help: 'load before the measurement (a duration, as --duration)',
  },
  {
    scope: 'load',
    field: 'connections',
    flag: '--connections',
    value: 'N',
    help: 'concurrent connections per target',
  },
  {
    scope: 'load',
    field: 'rate',
    flag: '--rate',
    value: 'N',
    help: 'requests per second per target (> 0; default: as fast as possible)',
  },
  {
    scope: 'load',
    field: 'timeoutMs',
    flag: '--timeout-ms',
    value: 'MS',
    help: 'client deadline per request',
  },
  {
    scope: 'load',
    field: 'path',
    flag: '--path',
    value: 'PATH',
    help: 'request path, e.g. /pid or /delay?ms=100',
  },
  {
    scope: 'load',
    field: 'mode',
    flag: '--mode',
    value: 'keep-alive|churn',
    help: 'reuse connections, or open one per request (churn drops pipelining)',
  },
  {
    scope: 'load',
    field: 'driver',
    flag: '--driver',
    value: 'node|native',
    help: 'load generator: node (autocannon / churn client) or native (epoll client, as fast as wrk)',
  },
  {
    scope: 'load',
    field: 'driverThreads',
    flag: '--driver-threads',
    value: 'N',
    help: 'threads of the native driver',
  },
  {
    scope: 'scenario',
    field: 'sampleIntervalMs',
    flag: '--sample-interval-ms',
    value: 'MS',
    help: 'sampling interval of the counters',
  },
  {
    scope: 'scenario',
    field: 'drainSec',
    flag: '--drain',
    value: 'TIME',
    help: 'wait after the load before the final sample (a duration, as --duration)',
  },
  {
    scope: 'target',
    field: 'containers',
    flag: '--containers',
    value: 'N',
    help: 'servers (containers) per target',
  },
  serverOverride('workers'),
  serverOverride('flavour'),
  serverOverride('pace'),
  serverOverride('trigger'),
  serverOverride('acceptBatch'),
  serverOverride('maxRequests'),
];

const BY_FLAG = new Map(OVERRIDE_OPTIONS.map((o) => [o.flag, o]));

export type OverrideResult =
  | { ok: true; scenario: Scenario; overrides: Record<string, string> }
  | { ok: false; errors: string[] };

/** Text to a number when it looks like one; otherwise the text, for validation to quote. */
function convert(raw: string): unknown {
  const t = raw.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : raw;
}

/** Parses override flags (`--flag value` or `--flag=value`) into flag → text, with every error. */
export function parseOverrides(argv: readonly string[]): {
  values: Record<string, string>;
  errors: string[];
} {
  const values: Record<string, string> = {};
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      errors.push(`${JSON.stringify(arg)}: unexpected argument; overrides are --flag value pairs`);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    const o = BY_FLAG.get(flag);
    if (value === undefined) {
      const next = argv[i + 1];
      // A value may start with "-" (a negative number, reported as out of range), not with "--".
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (!o) {
      const h = closest(flag, [...BY_FLAG.keys()]);
      errors.push(
        `${flag}: unknown override${h ? `; did you mean ${h}?` : ''} (overrides: ${[...BY_FLAG.keys()].join(', ')})`,
      );
      continue;
    }
    if (value === undefined) {
      errors.push(`${flag}: needs a value, e.g. ${flag} ${exampleValue(o)}`);
      continue;
    }
    if (values[flag] !== undefined) {
      errors.push(
        `${flag}: given twice (${JSON.stringify(values[flag])} and ${JSON.stringify(value)}); give it once`,
      );
      continue;
    }
    values[flag] = value;
  }
  return { values, errors };
}

/** One override flag checked on its own: where it goes and its value, converted. */
type CheckedOverride = { spec: OverrideSpec; flag: string; value: unknown };

/**
 * Checks override flags and their values by themselves, without a scenario: every error at once.
 * Used before applying them, and on their own when the scenario file does not load, so that bad
 * overrides are listed together with the file's errors.
 */
export function checkOverrides(argv: readonly string[]): {
  values: Record<string, string>;
  checked: CheckedOverride[];
  errors: string[];
} {
  const { values, errors } = parseOverrides(argv);
  const checked: CheckedOverride[] = [];
  for (const [flag, raw] of Object.entries(values)) {
    const o = BY_FLAG.get(flag)!;
    if (o.scope === 'server') {
      const value = convert(raw);
      const errs = settingValueErrors(o.key, value, {
        sources: { [o.key]: { label: flag, raw } },
      });
      if (errs.length > 0) errors.push(...errs);
      else checked.push({ spec: o, flag, value });
      continue;
    }
    let value: unknown;
    if (o.field === 'durationSec' || o.field === 'warmupSec' || o.field === 'drainSec') {
      const sec = parseDuration(raw);
      if (sec === null) {
        errors.push(`${flag}: must be ${DURATION_FORMAT}, ${got(raw)}`);
        continue;
      }
      value = sec;
    } else {
      value = o.field === 'path' || o.field === 'mode' || o.field === 'driver' ? raw : convert(raw);
    }
    const problem = fieldProblem(o.field, value);
    if (problem) {
      const seconds =
        typeof value === 'number' && String(value) !== raw.trim() ? ` (${value} s)` : '';
      errors.push(`${flag}: ${problem}${seconds ? ' seconds' : ''}, ${got(raw)}${seconds}`);
      continue;
    }
    checked.push({ spec: o, flag, value });
  }
  return { values, checked, errors };
}

/**
 * Applies override flags to a scenario: returns the overridden scenario (a copy) and the overrides
 * as typed, or every error (bad flags and values, and what the overridden scenario breaks).
 */
export function applyOverrides(scenario: Scenario, argv: readonly string[]): OverrideResult {
  const { values, checked: overrides, errors } = checkOverrides(argv);
  const out = structuredClone(scenario);
  for (const { spec: o, value } of overrides) {
    if (o.scope === 'server') {
      // A server setting applies to the engine's targets; of a real target's, only those its
      // kind has (workers, backlog).
      for (const t of out.targets)
        if (t.kind !== 'command' && settingApplies(t, o.key))
          (t.server as Record<string, unknown>)[o.key] = value;
      if (out.matrix && o.key in out.matrix) {
        delete (out.matrix as Record<string, unknown>)[o.key];
        if (Object.keys(out.matrix).length === 0) delete out.matrix;
      }
      continue;
    }
    switch (o.scope) {
      case 'load': {
        const load = out.load as unknown as Record<string, unknown>;
        load[o.field] = value;
        if (o.field === 'mode' && value === 'churn') delete load.pipelining;
        break;
      }
      case 'scenario':
        out[o.field] = value as number;
        break;
      case 'target':
        for (const t of out.targets) t.containers = value as number;
        break;
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const checked = validateScenario(out);
  if (!checked.ok) {
    const given = Object.entries(values)
      .map(([f, v]) => `${f} ${v}`)
      .join(' ');
    return {
      ok: false,
      errors: checked.errors.map((e) => `with the overrides (${given || 'none'}): ${e}`),
    };
  }
  return { ok: true, scenario: checked.scenario, overrides: values };
}

/**
 * Splits a command line into the override flags (with their values) and the rest, for a command
 * that takes overrides and flags of its own.
 */
export function splitOverrideArgs(argv: readonly string[]): {
  overrides: string[];
  rest: string[];
} {
  const overrides: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (!BY_FLAG.has(flag)) {
      rest.push(arg);
      continue;
    }
    overrides.push(arg);
    const next = argv[i + 1];
    if (!arg.includes('=') && next !== undefined && !next.startsWith('--')) {
      overrides.push(next);
      i++;
    }
  }
  return { overrides, rest };
}

/** The help text of the override flags (for the command that runs scenarios). */
export function overridesHelp(): string {
  const lines = ['Overrides (change the scenario for this run; recorded in the run record):'];
  for (const o of OVERRIDE_OPTIONS) {
    const range =
      o.scope === 'server'
        ? serverRange(o.key)
        : fieldRange(o.field) !== undefined
          ? ` (${fieldRange(o.field)})`
          : '';
    const every = o.scope === 'server' || o.scope === 'target' ? '; every target' : '';
    lines.push(`  ${o.flag} ${o.value}`, `      ${o.help}${range}${every}`);
  }
  const everyTarget = OVERRIDE_OPTIONS.filter((o) => o.scope === 'server' || o.scope === 'target');
  lines.push(
    '',
    `${everyTarget.map((o) => o.flag).join(', ')} apply to every target of the scenario;`,
    'a server setting given here also replaces the matrix values of that setting.',
  );
  return lines.join('\n') + '\n';
}

function serverRange(key: SettingKey): string {
  const k = SERVE_OPTIONS.find((x) => x.key === key)!.kind;
  return k.type === 'int' ? ` (${k.min}..${k.max})` : '';
}

function exampleValue(o: OverrideSpec): string {
  if (o.scope === 'server') {
    const k = SERVE_OPTIONS.find((x) => x.key === o.key)!.kind;
    if (k.type === 'enum') return k.values[0]!;
    return k.type === 'int' ? String(Math.max(k.min, 1)) : 'VALUE';
  }
  const rule = SCENARIO_FIELDS[o.field];
  switch (rule.kind) {
    case 'int':
      return String(Math.max(rule.min, 1));
    case 'path':
      return '/pid';
    case 'mode':
      return 'churn';
    case 'driver':
      return 'native';
    case 'positive':
      return '1000';
  }
}
