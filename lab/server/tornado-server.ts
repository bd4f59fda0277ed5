// Tornado 6.2 from Debian as a lab target: servers/tornado/app.py (the engine's routes and
// loop-creation choices, counters in the engine's snapshot and Prometheus shape) run by the
// system's python3, where Debian's python3-tornado lives.
import path from 'node:path';
import type { LoopCreation } from '../native/engine';
import { DEBIAN_PYTHON, TORNADO_APP } from '../runtime/server-commands';
import { LOOP_CREATIONS } from './config';

export { DEBIAN_PYTHON, TORNADO_APP };

export interface TornadoSettings {
  /** Worker processes, 1..64. Default 2. */
  workers?: number;
  /** When the IOLoop (the epoll instance) is created. Default `post-fork`. */
  loopCreation?: LoopCreation;
  /** listen() backlog, 1..65535. Default 128. */
  backlog?: number;
}

export const TORNADO_DEFAULTS: Readonly<Required<TornadoSettings>> = Object.freeze({
  workers: 2,
  loopCreation: 'post-fork',
  backlog: 128,
});

/** Every problem with `s`, each naming the field and the fix; [] when valid. */
export function validateTornadoSettings(s: TornadoSettings, where = 'server'): string[] {
  const errors: string[] = [];
  const int = (key: keyof TornadoSettings, min: number, max: number): void => {
    const v = s[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max))
      errors.push(`${where}.${key}: must be an integer from ${min} to ${max}, got ${String(v)}`);
  };
  int('workers', 1, 64);
  int('backlog', 1, 65535);
  if (s.loopCreation !== undefined && !LOOP_CREATIONS.includes(s.loopCreation))
    errors.push(
      `${where}.loopCreation: must be one of ${LOOP_CREATIONS.join(', ')}, got ${JSON.stringify(s.loopCreation)}`,
    );
  return errors;
}

/** The app's flags for `s`, without --host, --port, --metrics-port and --name. */
export function tornadoArgs(s: TornadoSettings): string[] {
  const r = { ...TORNADO_DEFAULTS, ...s };
  return [
    '--workers',
    String(r.workers),
    '--loop-creation',
    r.loopCreation,
    '--backlog',
    String(r.backlog),
  ];
}

/** python3 and its arguments: the app, then `args`. */
export function tornadoCommand(
  repoRoot: string,
  args: readonly string[],
): { command: string; args: string[] } {
  return { command: DEBIAN_PYTHON, args: [path.join(repoRoot, TORNADO_APP), ...args] };
}
