// Checks a scenario (any value: usually a scenario file's default export) before anything starts,
// and reports every error at once, each naming its field (`targets[1].server.workers`) and the fix.
// Server settings go through lab/server/config.ts `validateServeConfig`, per target and per matrix
// cell, so their rules and messages are written once. The ranges and defaults of the scenario's
// own fields live here, in SCENARIO_FIELDS; overrides.ts and resolve-scenario.ts use the same table.
import { engineErrors } from './engines';
import { isolationErrors } from './isolation';
import { DEFAULT_LOAD_DRIVER, LOAD_DRIVERS, type LoadDriverName } from './load-drivers';
import {
  FLAVOURS,
  LOOP_CREATIONS,
  SERVE_DEFAULTS,
  SERVE_OPTIONS,
  validateServeConfig,
  type ServeConfig,
  type ValidateOptions,
} from '../server/config';
import {
  COMPARISONS,
  EXPECTATION_METRICS,
  type LoadSpec,
  type Scenario,
  type ServerSettings,
} from './scenario';
import { figureDef, loadModeProblem } from '../record/figures';
import { closest } from '../server/argv';
import {
  cellValuesFor,
  realTargetInCell,
  resolvedRealSettings,
  validateTargetKind,
  type AnyTarget,
  type NginxTarget,
  type TornadoTarget,
} from './target-kinds';

export { closest };

export { COMPARISONS, EXPECTATION_METRICS };

export const LOAD_MODES = ['keep-alive', 'churn'] as const satisfies readonly LoadSpec['mode'][];

/** The scenario's load mode when it is a valid one, else null (that error is reported apart). */
function loadModeOf(x: Record<string, unknown>): LoadSpec['mode'] | null {
  const mode = isRecord(x.load) ? x.load.mode : undefined;
  return (LOAD_MODES as readonly unknown[]).includes(mode) ? (mode as LoadSpec['mode']) : null;
}

/** Server settings the lab chooses itself (addresses, ports, label): a scenario may not set them. */
const LAB_OWNED = {
  host: 'the lab chooses the address (all traffic stays on 127.0.0.1)',
  metricsHost: 'the lab chooses the address (all traffic stays on 127.0.0.1)',
  port: 'the lab gives each server its own port',
  metricsPort: 'the lab gives each server its own port',
  name: "the lab labels each server with the target's name",
} as const satisfies Partial<Record<keyof ServeConfig, string>>;

export type SettingKey = keyof ServerSettings;

/** The keys of ServerSettings, in the order of `forklab serve --help`. */
export const SERVER_SETTING_KEYS: readonly SettingKey[] = SERVE_OPTIONS.map((o) => o.key).filter(
  (k): k is SettingKey => !(k in LAB_OWNED),
);

/** The default of every server setting (from SERVE_DEFAULTS). */
export const SERVER_SETTING_DEFAULTS: Readonly<Required<ServerSettings>> = Object.freeze(
  Object.fromEntries(
    SERVER_SETTING_KEYS.map((k) => [k, SERVE_DEFAULTS[k]]),
  ) as Required<ServerSettings>,
);

type FieldRule =
  | { kind: 'int'; min: number; max: number; default?: number; unit?: string }
  | { kind: 'positive'; default?: undefined }
  | { kind: 'path'; default: string }
  | { kind: 'mode'; default?: undefined }
  | { kind: 'driver'; default: LoadDriverName };

/**
 * The scenario's own fields (not server settings): kinds, ranges, defaults. Targets have
 * `containers`; `load` has the load fields; the scenario has `sampleIntervalMs` and `drainSec`.
 */
export const SCENARIO_FIELDS = {
  containers: { kind: 'int', min: 1, max: 16, default: 1 },
  mode: { kind: 'mode' },
  connections: { kind: 'int', min: 1, max: 1000 },
  durationSec: { kind: 'int', min: 1, max: 3600, unit: 's' },
  warmupSec: { kind: 'int', min: 0, max: 600, default: 1, unit: 's' },
  rate: { kind: 'positive' },
  timeoutMs: { kind: 'int', min: 100, max: 60000, default: 2000, unit: 'ms' },
  path: { kind: 'path', default: '/' },
  pipelining: { kind: 'int', min: 1, max: 64, default: 1 },
  driver: { kind: 'driver', default: DEFAULT_LOAD_DRIVER },
  driverThreads: { kind: 'int', min: 1, max: 16, default: 1 },
  sampleIntervalMs: { kind: 'int', min: 100, max: 10000, default: 1000, unit: 'ms' },
  drainSec: { kind: 'int', min: 0, max: 60, default: 1, unit: 's' },
} as const satisfies Record<string, FieldRule>;

export type ScenarioField = keyof typeof SCENARIO_FIELDS;

/** The defaults of the scenario's own fields, read from SCENARIO_FIELDS. */
export const SCENARIO_DEFAULTS = {
  containers: SCENARIO_FIELDS.containers.default,
  warmupSec: SCENARIO_FIELDS.warmupSec.default,
  timeoutMs: SCENARIO_FIELDS.timeoutMs.default,
  path: SCENARIO_FIELDS.path.default,
  pipelining: SCENARIO_FIELDS.pipelining.default,
  driver: SCENARIO_FIELDS.driver.default,
  driverThreads: SCENARIO_FIELDS.driverThreads.default,
  sampleIntervalMs: SCENARIO_FIELDS.sampleIntervalMs.default,
  drainSec: SCENARIO_FIELDS.drainSec.default,
} as const;

/** What is wrong with `value` for a scenario field (without the field's name), or undefined. */
export function fieldProblem(field: ScenarioField, value: unknown): string | undefined {
  const rule: FieldRule = SCENARIO_FIELDS[field];
  switch (rule.kind) {
    case 'int':
      return typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= rule.min &&
        value <= rule.max
        ? undefined
        : `must be an integer from ${rule.min} to ${rule.max}`;
    case 'positive':
      return typeof value === 'number' && Number.isFinite(value) && value > 0
        ? undefined
        : 'must be a number greater than 0 (requests per second; leave it out for as fast as possible)';
    case 'path':
      return typeof value === 'string' && /^\/[\x21-\x7e]*$/.test(value)
        ? undefined
        : 'must start with "/" and hold no spaces or control characters, e.g. "/" or "/delay?ms=100"';
    case 'mode':
      return typeof value === 'string' && (LOAD_MODES as readonly string[]).includes(value)
        ? undefined
        : `must be one of ${LOAD_MODES.map((m) => JSON.stringify(m)).join(', ')} (keep-alive reuses connections; churn opens one per request)`;
    case 'driver':
      return typeof value === 'string' && (LOAD_DRIVERS as readonly string[]).includes(value)
        ? undefined
        : `must be one of ${LOAD_DRIVERS.map((m) => JSON.stringify(m)).join(', ')} (node: autocannon or the churn client; native: the addon's epoll client)`;
  }
}

/** The range of a field for help texts: `1..3600`, or undefined. */
export function fieldRange(field: ScenarioField): string | undefined {
  const rule: FieldRule = SCENARIO_FIELDS[field];
  return rule.kind === 'int' ? `${rule.min}..${rule.max}` : undefined;
}

/** `got 0`, `got "x"`: the value as it was written. */
export function got(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return `got ${String(value)}`;
  return `got ${JSON.stringify(value) ?? String(value)}`;
}

/**
 * Errors of one server setting's value on its own, from validateServeConfig (`workers: must be an
 * integer from 1 to 64, got 100`). Combination rules are left to the per-target check: config.ts
 * relates settings to loopCreation and flavour only (e.g. `exclusive` needs post-fork, a paced
 * preset needs its own flavour), so a value that passes with some loop creation and flavour is
 * fine on its own. (Were a rule added that relates other settings, such a value would be reported
 * here and per target as well: reported twice, never missed.)
 */
export function settingValueErrors(
  key: SettingKey,
  value: unknown,
  options: ValidateOptions = {},
): string[] {
  const alone = validateServeConfig({ [key]: value }, options);
  if (!alone.errors) return [];
  const partners = LOOP_CREATIONS.flatMap((loopCreation) =>
    FLAVOURS.map((flavour) => ({ loopCreation, flavour })),
  );
  if (partners.some((p) => !validateServeConfig({ ...p, [key]: value }).errors)) return [];
  return alone.errors;
}

/** A selector's `value` text as the setting's type: `"4"` → 4, `"true"` → true. */
export function parseSettingText(key: SettingKey, text: string): unknown {
  const d = SERVER_SETTING_DEFAULTS[key];
  if (typeof d === 'number') return /^[+-]?\d+$/.test(text) ? Number(text) : text;
  if (typeof d === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

/** The server settings of a target in a cell: defaults, then its own, then the cell's values. */
export function cellSettings(
  server: ServerSettings,
  cellValues: ServerSettings = {},
): Required<ServerSettings> {
  return { ...SERVER_SETTING_DEFAULTS, ...server, ...cellValues };
}

/**
 * Whether an expectation's `target` selects a target: its name, `*`, or `setting=value` on its
 * (cell-resolved) server settings, compared as text as lab/record/check-expectations.ts does.
 */
export function selectorMatches(
  selector: string,
  targetName: string,
  settings: Readonly<Record<string, unknown>>,
): boolean {
  if (selector === '*' || selector === targetName) return true;
  const eq = selector.indexOf('=');
  if (eq <= 0) return false;
  const value = settings[selector.slice(0, eq)];
  return value !== undefined && String(value) === selector.slice(eq + 1);
}

/** The cartesian product of a matrix, first key slowest: [{workers: 1, exclusive: false}, …]. */
export function matrixCells(matrix: Scenario['matrix']): ServerSettings[] {
  let cells: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(matrix ?? {})) {
    if (!Array.isArray(values)) continue;
    cells = cells.flatMap((c) => values.map((v: unknown) => ({ ...c, [key]: v })));
  }
  return cells as ServerSettings[];
}

/** `workers=4, exclusive=true`. */
export function describeCellValues(values: ServerSettings): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
}

export const MAX_CELLS = 64;

/**
 * Target kinds that run on the default engine only, never placed: a command target's probes attach
 * to its processes from this machine (lab/runtime/docker-runtime.ts).
 */
const LOCAL_ONLY_KINDS = ['command'] as const;

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
const NAME_RULE =
  'must be 1 to 40 lowercase letters, digits or "-", starting with a letter or digit';

const SCENARIO_KEYS = [
  'kind',
  'name',
  'description',
  'targets',
  'load',
  'matrix',
  'sampleIntervalMs',
  'drainSec',
  'isolation',
  'engines',
  'placement',
  'expectations',
] as const satisfies readonly (keyof Scenario)[];
const TARGET_KEYS = ['name', 'containers', 'kind', 'server', 'command'] as const;
const LOAD_KEYS = [
  'mode',
  'connections',
  'durationSec',
  'warmupSec',
  'rate',
  'timeoutMs',
  'path',
  'pipelining',
  'driver',
  'driverThreads',
] as const;
/** Required besides `mode` (checked with its list of values); the rest of LOAD_KEYS are optional. */
const REQUIRED_LOAD_KEYS = ['connections', 'durationSec'] as const;
const OPTIONAL_LOAD_KEYS = LOAD_KEYS.filter(
  (k): k is Exclude<(typeof LOAD_KEYS)[number], 'mode' | (typeof REQUIRED_LOAD_KEYS)[number]> =>
    k !== 'mode' && !(REQUIRED_LOAD_KEYS as readonly string[]).includes(k),
);
const EXPECTATION_KEYS = ['target', 'metric', 'op', 'value', 'why'] as const;

export type ValidationResult = { ok: true; scenario: Scenario } | { ok: false; errors: string[] };

/** Checks everything about a scenario; returns it typed, or every error found. */
export function validateScenario(x: unknown): ValidationResult {
  const errors: string[] = [];
  if (!isRecord(x)) {
    return {
      ok: false,
      errors: [
        `scenario: must be an object (export default defineScenario({ ... })), got ${typeOf(x)}`,
      ],
    };
  }
  unknownKeys(x, SCENARIO_KEYS, '', errors);

  if (x.kind !== 'scenario') {
    errors.push(
      `kind: must be "scenario" (write the file as export default defineScenario({ ... })), ${x.kind === undefined ? 'missing' : got(x.kind)}`,
    );
  }
  if (typeof x.name !== 'string' || !NAME_RE.test(x.name)) {
    errors.push(`name: ${NAME_RULE} (the file name without .ts), ${missingOr(x.name)}`);
  }
  if (typeof x.description !== 'string' || x.description.trim() === '') {
    errors.push(
      `description: must be a non-empty string: one paragraph on what the scenario shows and why, ${missingOr(x.description)}`,
    );
  }

  // Targets: structure, names, containers and each one's server settings.
  const targets: CheckedTarget[] = [];
  if (!Array.isArray(x.targets) || x.targets.length === 0) {
    errors.push(
      `targets: must be a non-empty array of targets, e.g. [{ name: "post-fork", server: { loopCreation: "post-fork" } }], ${missingOr(x.targets)}`,
    );
  } else {
    const seen = new Map<string, number>();
    x.targets.forEach((t: unknown, i: number) => {
      const p = `targets[${i}]`;
      if (!isRecord(t)) {
        errors.push(`${p}: must be an object { name, server, containers? }, ${got(t)}`);
        return;
      }
      unknownKeys(t, TARGET_KEYS, p, errors);
      let name: string | undefined;
      if (typeof t.name !== 'string' || !NAME_RE.test(t.name)) {
        errors.push(`${p}.name: ${NAME_RULE}, ${missingOr(t.name)}`);
      } else if (seen.has(t.name)) {
        errors.push(
          `${p}.name: "${t.name}" is already the name of targets[${seen.get(t.name)}]; target names must be unique`,
        );
      } else {
        seen.set(t.name, i);
        name = t.name;
      }
      if (t.containers !== undefined) field('containers', t.containers, `${p}.containers`, errors);
      // A real target (tornado, nginx, command): its kind's own settings, checked by its kind.
      if (t.kind !== undefined && t.kind !== 'engine') {
        const kindErrors = validateTargetKind(t as unknown as AnyTarget, i);
        errors.push(...kindErrors);
        const settings = isRecord(t.server) ? t.server : {};
        targets.push({
          index: i,
          name,
          server: kindErrors.length === 0 ? (settings as ServerSettings) : null,
          real: t as unknown as AnyTarget,
        });
        return;
      }
      if (t.command !== undefined)
        errors.push(
          `${p}.command: only a target of kind "command" has a command; add kind: "command"`,
        );
      let server: ServerSettings | null = null;
      if (!isRecord(t.server)) {
        errors.push(
          `${p}.server: must be an object of server settings, e.g. { loopCreation: "pre-fork", workers: 4 } ({} for the defaults), ${missingOr(t.server)}`,
        );
      } else {
        server = checkServer(t.server, `${p}.server`, errors);
      }
      targets.push({ index: i, name, server });
    });
  }

  // Load.
  if (!isRecord(x.load)) {
    errors.push(
      `load: must be an object, e.g. { mode: "keep-alive", connections: 32, durationSec: 10 }, ${missingOr(x.load)}`,
    );
  } else {
    const l = x.load;
    unknownKeys(l, LOAD_KEYS, 'load', errors);
    if (l.mode === undefined) {
      errors.push(
        `load.mode: missing; must be one of ${LOAD_MODES.map((m) => JSON.stringify(m)).join(', ')}`,
      );
    } else field('mode', l.mode, 'load.mode', errors);
    for (const k of REQUIRED_LOAD_KEYS) {
      if (l[k] === undefined) {
        errors.push(
          `load.${k}: missing; must be an integer from ${fieldRange(k)!.replace('..', ' to ')}`,
        );
      } else field(k, l[k], `load.${k}`, errors);
    }
    for (const k of OPTIONAL_LOAD_KEYS) {
      if (l[k] !== undefined) field(k, l[k], `load.${k}`, errors);
    }
    // autocannon (keep-alive) spends a whole number of requests per second, and never runs more
    // connections than that: a lower rate would silently lower the connection count.
    if (
      l.mode === 'keep-alive' &&
      l.driver !== 'native' &&
      typeof l.rate === 'number' &&
      typeof l.connections === 'number' &&
      (!Number.isInteger(l.rate) || l.rate < l.connections)
    ) {
      errors.push(
        `load.rate: with keep-alive load the rate must be a whole number of requests per second, at least load.connections (${l.connections}); got ${l.rate}: raise the rate or lower connections`,
      );
    }
    if (
      typeof l.driverThreads === 'number' &&
      typeof l.connections === 'number' &&
      l.driverThreads > l.connections
    ) {
      errors.push(
        `load.driverThreads: ${l.driverThreads} threads for ${l.connections} connections: each thread needs a connection; lower driverThreads`,
      );
    }
    if (l.pipelining !== undefined && l.mode === 'churn') {
      errors.push(
        'load.pipelining: only keep-alive load pipelines requests (churn sends one request per connection): remove pipelining or use mode: "keep-alive"',
      );
    }
  }

  // Load is spread over a target's containers: each needs a connection of its own.
  const connections = isRecord(x.load) ? x.load.connections : undefined;
  if (Array.isArray(x.targets) && !fieldProblem('connections', connections)) {
    x.targets.forEach((t: unknown, i: number) => {
      const c = isRecord(t) ? t.containers : undefined;
      if (!fieldProblem('containers', c) && (c as number) > (connections as number)) {
        errors.push(
          `load.connections: ${String(connections)} connections cannot reach the ${String(c)} containers of targets[${i}]; raise connections or lower containers`,
        );
      }
    });
  }

  for (const k of ['sampleIntervalMs', 'drainSec'] as const) {
    if (x[k] !== undefined) field(k, x[k], k, errors);
  }

  errors.push(
    ...isolationErrors(
      x.isolation,
      targets.every((t) => t.name !== undefined) ? targets.map((t) => t.name!) : null,
    ),
  );

  errors.push(
    ...engineErrors(
      x.engines,
      x.placement,
      targets.every((t) => t.name !== undefined)
        ? targets.map((t) => ({ name: t.name!, kind: t.real?.kind ?? 'engine' }))
        : null,
      LOCAL_ONLY_KINDS,
    ),
  );

  // Matrix: known settings, non-empty arrays of valid values, at most MAX_CELLS cells.
  let cells: ServerSettings[] = [{}];
  if (x.matrix !== undefined) {
    const m = checkMatrix(x.matrix, errors);
    if (m) {
      cells = matrixCells(m);
      checkCells(cells, targets, errors);
    } else cells = [];
  }

  // Expectations.
  if (x.expectations !== undefined) {
    if (!Array.isArray(x.expectations)) {
      errors.push(
        `expectations: must be an array of { target, metric, op, value, why? }, ${got(x.expectations)}`,
      );
    } else {
      x.expectations.forEach((e: unknown, i: number) =>
        checkExpectation(e, `expectations[${i}]`, targets, cells, loadModeOf(x), errors),
      );
    }
  }

  return errors.length > 0
    ? { ok: false, errors }
    : { ok: true, scenario: x as unknown as Scenario };
}

/** A target as the checks below see it: its settings when valid, and the target when real. */
interface CheckedTarget {
  index: number;
  name: string | undefined;
  server: ServerSettings | null;
  real?: AnyTarget;
}

/** The settings an expectation's selector is matched against in a cell. */
function checkedSettings(t: CheckedTarget, cell: ServerSettings): Record<string, unknown> {
  if (t.real)
    return t.real.kind === 'command'
      ? { workers: t.real.command.workers }
      : resolvedRealSettings(realTargetInCell(t.real as TornadoTarget | NginxTarget, cell));
  return cellSettings(t.server!, cell);
}

/** Validates one scenario field and records the error under `label`. */
function field(f: ScenarioField, value: unknown, label: string, errors: string[]): void {
  const problem = fieldProblem(f, value);
  if (problem) errors.push(`${label}: ${problem}, ${got(value)}`);
}

/** Checks a target's server settings; returns the settings when they are valid, else null. */
function checkServer(
  server: Record<string, unknown>,
  p: string,
  errors: string[],
): ServerSettings | null {
  const before = errors.length;
  const known: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(server)) {
    if (k in LAB_OWNED) {
      errors.push(`${p}.${k}: ${LAB_OWNED[k as keyof typeof LAB_OWNED]}; remove ${k}`);
    } else if (!(SERVER_SETTING_KEYS as readonly string[]).includes(k)) {
      errors.push(`${p}.${k}: unknown key; ${hint(k, SERVER_SETTING_KEYS)}`);
    } else if (v !== undefined) known[k] = v;
  }
  const r = validateServeConfig(known);
  for (const e of r.errors ?? []) errors.push(`${p}.${e}`);
  return errors.length === before ? (known as ServerSettings) : null;
}

function checkMatrix(matrix: unknown, errors: string[]): Scenario['matrix'] | null {
  if (!isRecord(matrix)) {
    errors.push(
      `matrix: must be an object of server settings to sweep, e.g. { workers: [1, 2, 4, 8] }, ${got(matrix)}`,
    );
    return null;
  }
  const before = errors.length;
  const keys = Object.keys(matrix);
  if (keys.length === 0) {
    errors.push(
      'matrix: is empty; remove it, or give a setting to sweep, e.g. { workers: [1, 2, 4] }',
    );
  }
  let cells = 1;
  for (const k of keys) {
    const p = `matrix.${k}`;
    const values = matrix[k];
    if (k in LAB_OWNED) {
      errors.push(`${p}: ${LAB_OWNED[k as keyof typeof LAB_OWNED]}; remove ${k}`);
      continue;
    }
    if (!(SERVER_SETTING_KEYS as readonly string[]).includes(k)) {
      errors.push(`${p}: not a server setting; ${hint(k, SERVER_SETTING_KEYS)}`);
      continue;
    }
    if (!Array.isArray(values) || values.length === 0) {
      errors.push(
        `${p}: must be a non-empty array of values, e.g. ${k}: [${example(k as SettingKey)}], ${got(values)}`,
      );
      continue;
    }
    cells *= values.length;
    values.forEach((v: unknown, i: number) => {
      for (const e of settingValueErrors(k as SettingKey, v)) {
        errors.push(
          e.startsWith(`${k}: `) ? `${p}[${i}]: ${e.slice(k.length + 2)}` : `${p}[${i}]: ${e}`,
        );
      }
      const first = values.findIndex((w: unknown) => w === v);
      if (first < i) {
        errors.push(
          `${p}[${i}]: ${JSON.stringify(v)} repeats ${p}[${first}]; remove it (each value makes its own cells)`,
        );
      }
    });
  }
  if (cells > MAX_CELLS) {
    const sizes = keys.map((k) => (Array.isArray(matrix[k]) ? (matrix[k] as unknown[]).length : 1));
    errors.push(
      `matrix: ${sizes.join(' × ')} = ${cells} cells; at most ${MAX_CELLS}: sweep fewer values or split the scenario`,
    );
  }
  return errors.length === before ? (matrix as Scenario['matrix']) : null;
}

/** Each valid target's settings with each cell's values: a cell may make an impossible combination. */
function checkCells(cells: ServerSettings[], targets: CheckedTarget[], errors: string[]): void {
  for (const t of targets) {
    if (!t.server) continue; // its own errors are reported already
    if (t.real) {
      // A real target takes the cell values that apply to its kind (workers, backlog).
      const byMessage = new Map<string, string[]>();
      cells.forEach((values, i) => {
        const inCell = { ...t.real!, server: { ...t.server, ...cellValuesFor(t.real!, values) } };
        for (const e of validateTargetKind(inCell as AnyTarget, t.index)) {
          const list = byMessage.get(e) ?? [];
          list.push(`cell-${i} (${describeCellValues(values)})`);
          byMessage.set(e, list);
        }
      });
      for (const [message, cellList] of byMessage)
        errors.push(
          `matrix ${cellList.length === 1 ? 'cell' : 'cells'} ${cellList.join(', ')}: ${message}`,
        );
      continue;
    }
    // Message → cells that give it, so that one problem in four cells is one line.
    const byMessage = new Map<string, string[]>();
    cells.forEach((values, i) => {
      const r = validateServeConfig({ ...t.server, ...values });
      for (const e of r.errors ?? []) {
        const list = byMessage.get(e) ?? [];
        list.push(`cell-${i} (${describeCellValues(values)})`);
        byMessage.set(e, list);
      }
    });
    const who = `targets[${t.index}]${t.name ? ` ("${t.name}")` : ''}`;
    for (const [message, cellList] of byMessage) {
      errors.push(
        `matrix ${cellList.length === 1 ? 'cell' : 'cells'} ${cellList.join(', ')} on ${who}: server.${message}; a matrix value applies to every target: drop the value from the matrix or change this target's server settings`,
      );
    }
  }
}

function checkExpectation(
  e: unknown,
  p: string,
  targets: CheckedTarget[],
  cells: ServerSettings[],
  mode: LoadSpec['mode'] | null,
  errors: string[],
): void {
  if (!isRecord(e)) {
    errors.push(
      `${p}: must be an object { target, metric, op, value, why? }, e.g. { target: "*", metric: "keyErrorsPer1000", op: "==", value: 0 }, ${got(e)}`,
    );
    return;
  }
  unknownKeys(e, EXPECTATION_KEYS, p, errors);
  const names = targets.map((t) => t.name).filter((n): n is string => n !== undefined);

  const sel = e.target;
  if (typeof sel !== 'string' || sel === '') {
    errors.push(
      `${p}.target: must be a target name (${names.join(', ') || 'none yet'}), "*", or a selector such as "loopCreation=pre-fork", ${missingOr(sel)}`,
    );
  } else if (sel !== '*' && sel.includes('=')) {
    const eq = sel.indexOf('=');
    const key = sel.slice(0, eq);
    const text = sel.slice(eq + 1);
    if (!(SERVER_SETTING_KEYS as readonly string[]).includes(key)) {
      errors.push(
        `${p}.target: "${sel}": a selector names a server setting before "="; ${JSON.stringify(key)} is not one; ${hint(key, SERVER_SETTING_KEYS)}`,
      );
    } else {
      const valueErrors = settingValueErrors(
        key as SettingKey,
        parseSettingText(key as SettingKey, text),
      );
      for (const ve of valueErrors) errors.push(`${p}.target: "${sel}": ${ve}`);
      // Does it select anything? Only decidable when the targets and the matrix are valid.
      const checkable =
        valueErrors.length === 0 && cells.length > 0 && targets.every((t) => t.server);
      if (checkable && targets.length > 0) {
        const hit = targets.some((t) =>
          cells.some((c) => selectorMatches(sel, t.name ?? '', checkedSettings(t, c))),
        );
        if (!hit) {
          const seen = [
            ...new Set(
              targets.flatMap((t) =>
                cells.map((c) => `${t.name}: ${key}=${String(checkedSettings(t, c)[key])}`),
              ),
            ),
          ];
          errors.push(
            `${p}.target: "${sel}" selects no target (${seen.join('; ')}); change the value or name a target`,
          );
        }
      }
    }
  } else if (sel !== '*' && !names.includes(sel)) {
    const h = closest(sel, names);
    errors.push(
      `${p}.target: "${sel}" names no target; ${h ? `did you mean "${h}"? ` : ''}use a target name (${names.join(', ') || 'none'}), "*" or a selector such as "loopCreation=pre-fork"`,
    );
  }

  if (
    typeof e.metric !== 'string' ||
    !(EXPECTATION_METRICS as readonly string[]).includes(e.metric)
  ) {
    const h = typeof e.metric === 'string' ? closest(e.metric, EXPECTATION_METRICS) : undefined;
    errors.push(
      `${p}.metric: ${h ? `did you mean "${h}"? ` : ''}must be one of ${EXPECTATION_METRICS.join(', ')}, ${missingOr(e.metric)}`,
    );
  } else if (mode !== null) {
    // A figure that cannot apply under this load mode would only ever fail: say so now.
    const problem = loadModeProblem(figureDef(e.metric)!, mode);
    if (problem) {
      const need = figureDef(e.metric)!.applies!.loadMode!;
      errors.push(
        `${p}.metric: ${e.metric} ${problem}; this scenario's load.mode is '${mode}': set load.mode to '${need}' (or run with --mode ${need}), or remove this expectation`,
      );
    }
  }
  if (typeof e.op !== 'string' || !(COMPARISONS as readonly string[]).includes(e.op)) {
    errors.push(`${p}.op: must be one of ${COMPARISONS.join(' ')}, ${missingOr(e.op)}`);
  }
  if (typeof e.value !== 'number' || !Number.isFinite(e.value)) {
    errors.push(`${p}.value: must be a finite number, ${missingOr(e.value)}`);
  }
  if (e.why !== undefined && (typeof e.why !== 'string' || e.why.trim() === '')) {
    errors.push(
      `${p}.why: must be a non-empty string (shown when the expectation fails), ${got(e.why)}`,
    );
  }
}

function unknownKeys(
  obj: Record<string, unknown>,
  known: readonly string[],
  p: string,
  errors: string[],
): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) errors.push(`${p ? `${p}.` : ''}${k}: unknown key; ${hint(k, known)}`);
  }
}

/** `did you mean "server"?` or `known keys: a, b, c`. */
function hint(word: string, known: readonly string[]): string {
  const h = closest(word, known);
  return h ? `did you mean "${h}"?` : `known keys: ${known.join(', ')}`;
}

function example(k: SettingKey): string {
  const d = SERVER_SETTING_DEFAULTS[k];
  if (typeof d === 'boolean') return 'false, true';
  if (typeof d === 'number') return k === 'workers' ? '1, 2, 4, 8' : String(d);
  const o = SERVE_OPTIONS.find((x) => x.key === k);
  const values = o?.kind.type === 'enum' ? o.kind.values : [d];
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function typeOf(x: unknown): string {
  return x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x;
}

function missingOr(value: unknown): string {
  return value === undefined ? 'missing' : got(value);
}
