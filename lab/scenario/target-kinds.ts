// Target kinds: what a scenario target runs. A discriminated union on `kind`:
// - `engine` (the default when `kind` is left out): the lab's engine, `server` = ServerSettings;
// - `tornado`: Debian's Tornado 6.2 running servers/tornado/app.py (loop created post-fork,
//   pre-fork or pre-fork-late), counted by its instrumentation in the engine's shape;
// - `nginx`: Debian's nginx-light with a config generated from `server` (worker_processes,
//   accept_mutex, reuseport, multi_accept), figures from its access log and stub_status;
// - `command` (bring your own): a command line (local runtime) or an image (Docker runtime), the
//   port it serves and its worker count, measured with the generic /proc probes only.
// validateTarget returns every error at once, each naming the field and the fix; runtimeTarget gives
// the runtime's kind and flags for the kinds the runtimes start today.
import {
  NGINX_DEFAULTS,
  nginxArgs,
  validateNginxSettings,
  type NginxSettings,
} from '../server/nginx-config';
import {
  TORNADO_DEFAULTS,
  tornadoArgs,
  validateTornadoSettings,
  type TornadoSettings,
} from '../server/tornado-server';
import type { EngineTargetSpec, Scenario } from './scenario';

export const TARGET_KINDS = ['engine', 'tornado', 'nginx', 'command'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

interface TargetCommon {
  /** [a-z0-9-], unique in the scenario: used in container names, labels and reports. */
  name: string;
  /** Servers (containers or processes) of this target; load is spread over them. Default 1. */
  containers?: number;
}

export type EngineTarget = EngineTargetSpec;

export interface TornadoTarget extends TargetCommon {
  kind: 'tornado';
  server: TornadoSettings;
}

export interface NginxTarget extends TargetCommon {
  kind: 'nginx';
  server: NginxSettings;
}

export interface CommandTarget extends TargetCommon {
  kind: 'command';
  /**
   * The local runtime runs `argv`; `{port}` in an argument becomes the port the lab picked. The
   * Docker runtime runs `image` as it is (its entrypoint and command) with host networking and
   * the port in $PORT; `imageArgs` ({port} replaced) replace the image's command when given. One
   * of `argv` and `image` is needed, the one of the runtime that runs it (runtimeTargetErrors).
   */
  command: { argv?: string[]; image?: string; imageArgs?: string[]; workers: number };
}

export type RealTarget = TornadoTarget | NginxTarget | CommandTarget;
export type AnyTarget = EngineTarget | RealTarget;

/** The kind of `t`, `engine` when it has none. */
export function targetKind(t: AnyTarget): TargetKind {
  return t.kind ?? 'engine';
}

const TORNADO_KEYS = ['workers', 'loopCreation', 'backlog'];
const NGINX_KEYS = ['workers', 'acceptMutex', 'reuseport', 'multiAccept', 'backlog'];

/**
 * Errors of the kind-specific part of target `i` (the engine's settings are checked by
 * validate-scenario.ts): an unknown kind, settings the kind does not have, values out of range.
 */
export function validateTargetKind(t: AnyTarget, i: number): string[] {
  const where = `targets[${i}]`;
  const raw = t as unknown as Record<string, unknown>;
  const kind = raw.kind;
  if (kind !== undefined && !TARGET_KINDS.includes(kind as TargetKind))
    return [
      `${where}.kind: must be one of ${TARGET_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
    ];
  const errors: string[] = [];
  const settingsOf = (keys: string[]): Record<string, unknown> | undefined => {
    const s = raw.server;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) {
      errors.push(`${where}.server: must be an object of ${kind} settings (${keys.join(', ')})`);
      return undefined;
    }
    for (const k of Object.keys(s))
      if (!keys.includes(k))
        errors.push(`${where}.server.${k}: not a ${kind} setting (${kind} has ${keys.join(', ')})`);
    return s as Record<string, unknown>;
  };
  switch (kind) {
    case 'tornado': {
      const s = settingsOf(TORNADO_KEYS);
      if (s) errors.push(...validateTornadoSettings(s as TornadoSettings, `${where}.server`));
      break;
    }
    case 'nginx': {
      const s = settingsOf(NGINX_KEYS);
      if (s) errors.push(...validateNginxSettings(s as NginxSettings, `${where}.server`));
      break;
    }
    case 'command': {
      const c = raw.command as Record<string, unknown> | undefined;
      if (typeof c !== 'object' || c === null) {
        errors.push(
          `${where}.command: needs { argv: [...], workers: N } (local runtime) or { image: '…', workers: N } (Docker runtime)`,
        );
        break;
      }
      const argv = c.argv;
      if (argv === undefined) {
        if (c.image === undefined)
          errors.push(
            `${where}.command: needs argv (a command line with {port}, for the local runtime) or image (for the Docker runtime), or both`,
          );
      } else if (
        !Array.isArray(argv) ||
        argv.length === 0 ||
        !argv.every((a) => typeof a === 'string' && a !== '')
      )
        errors.push(`${where}.command.argv: must be a non-empty list of non-empty strings`);
      else if (!argv.some((a: string) => a.includes('{port}')))
        errors.push(
          `${where}.command.argv: must pass the port the lab picked: put {port} in an argument`,
        );
      if (!Number.isInteger(c.workers) || (c.workers as number) < 1)
        errors.push(`${where}.command.workers: must be an integer ≥ 1 (the server's worker count)`);
      if (c.image !== undefined && (typeof c.image !== 'string' || c.image === ''))
        errors.push(`${where}.command.image: must be an image name or left out`);
      const imageArgs = c.imageArgs;
      if (imageArgs !== undefined) {
        if (!Array.isArray(imageArgs) || !imageArgs.every((a) => typeof a === 'string'))
          errors.push(
            `${where}.command.imageArgs: must be a list of strings (the container's command)`,
          );
        else if (c.image === undefined)
          errors.push(`${where}.command.imageArgs: only with command.image (the Docker runtime's)`);
      }
      for (const k of Object.keys(c))
        if (!['argv', 'image', 'imageArgs', 'workers'].includes(k))
          errors.push(
            `${where}.command.${k}: not a command setting (argv, image, imageArgs, workers)`,
          );
      if (raw.server !== undefined)
        errors.push(`${where}.server: a command target has no server settings (use command)`);
      break;
    }
    default:
      break; // engine: validate-scenario.ts
  }
  return errors;
}

/**
 * What a runtime cannot run: a command target with no command line for the local runtime, or no
 * image for the Docker runtime. Each error names the field and the fix; checked once the runtime
 * is chosen, before anything starts.
 */
export function runtimeTargetErrors(
  targets: readonly AnyTarget[],
  runtime: 'docker' | 'local',
): string[] {
  const errors: string[] = [];
  targets.forEach((t, i) => {
    if (t.kind !== 'command') return;
    const where = `targets[${i}].command`;
    if (runtime === 'local' && t.command.argv === undefined)
      errors.push(
        `${where}.argv: the local runtime runs a command target's command line: set command.argv (with {port} in an argument), or run with --runtime docker (it runs command.image ${t.command.image})`,
      );
    if (runtime === 'docker' && t.command.image === undefined)
      errors.push(
        `${where}.image: the Docker runtime runs a command target from an image: set command.image (an image on this Docker engine), or run with --runtime local`,
      );
  });
  return errors;
}

/** What the runtime starts for a real target: its kind and flags (lab/runtime/server-commands.ts). */
export function realTargetLaunch(t: TornadoTarget | NginxTarget | CommandTarget): {
  kind: 'tornado' | 'nginx' | 'command';
  args: string[];
  /** Environment the runtime passes (the command line of a command target). */
  env?: Record<string, string>;
  /** A command target's image and the command to give it (the Docker runtime). */
  image?: string;
  imageArgs?: string[];
  workers: number;
} {
  switch (t.kind) {
    case 'tornado':
      return {
        kind: 'tornado',
        args: tornadoArgs(t.server),
        workers: t.server.workers ?? TORNADO_DEFAULTS.workers,
      };
    case 'nginx':
      return {
        kind: 'nginx',
        args: nginxArgs(t.server),
        workers: t.server.workers ?? NGINX_DEFAULTS.workers,
      };
    case 'command':
      return {
        kind: 'command',
        args: ['--workers', String(t.command.workers)],
        ...(t.command.argv ? { env: { FORKLAB_COMMAND: JSON.stringify(t.command.argv) } } : {}),
        ...(t.command.image ? { image: t.command.image } : {}),
        ...(t.command.imageArgs ? { imageArgs: t.command.imageArgs } : {}),
        workers: t.command.workers,
      };
  }
}

/** A scenario whose targets may be of any kind: every scenario (kept as a name for scenario files). */
export type RealScenario = Scenario;

/** Identity function that gives scenario files with real targets their types. */
export function defineRealScenario(s: Omit<Scenario, 'kind'> & { kind?: 'scenario' }): Scenario {
  return { ...s, kind: 'scenario' };
}

/** Matrix settings a real target takes over from a cell (or a command-line override). */
export const REAL_SWEPT_SETTINGS: Readonly<Record<'tornado' | 'nginx' | 'command', string[]>> = {
  tornado: ['workers', 'backlog'],
  nginx: ['workers', 'backlog'],
  command: [],
};

/** Whether a server setting from a matrix or an override applies to target `t`. */
export function settingApplies(t: AnyTarget, key: string): boolean {
  const kind = targetKind(t);
  return kind === 'engine' || REAL_SWEPT_SETTINGS[kind].includes(key);
}

/** The part of a cell's values that applies to `t`. */
export function cellValuesFor(
  t: AnyTarget,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([k]) => settingApplies(t, k)));
}

/** A real target with a cell's applicable values over its own settings. */
export function realTargetInCell<T extends TornadoTarget | NginxTarget | CommandTarget>(
  t: T,
  values: Readonly<Record<string, unknown>>,
): T {
  if (t.kind === 'command') return t;
  return { ...t, server: { ...t.server, ...cellValuesFor(t, values) } };
}

/** The settings of a real target with every default given: what its record shows. */
export function resolvedRealSettings(
  t: TornadoTarget | NginxTarget | CommandTarget,
): Record<string, unknown> {
  switch (t.kind) {
    case 'tornado':
      return { ...TORNADO_DEFAULTS, ...t.server };
    case 'nginx':
      return { ...NGINX_DEFAULTS, ...t.server };
    case 'command':
      return {
        workers: t.command.workers,
        ...(t.command.argv ? { argv: [...t.command.argv] } : {}),
        ...(t.command.image ? { image: t.command.image } : {}),
        ...(t.command.imageArgs ? { imageArgs: [...t.command.imageArgs] } : {}),
      };
  }
}
