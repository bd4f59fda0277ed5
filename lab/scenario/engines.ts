// Where a scenario's servers and load generators run when there is more than one Docker engine:
//  - `engines`: name → address, as DOCKER_HOST takes it (`unix:///path/docker.sock`,
//    `tcp://host:port` with TLS certificate files, `ssh://user@host`);
//  - `placement`: each target on an engine (`targets: { <target>: <engine> }`) and the load
//    generators on one (`drivers: <engine>`).
// The engine named `default` is the one the lab talks to without a scenario saying so (DOCKER_HOST,
// else /var/run/docker.sock): targets not placed run there, as they always did, and load
// generators not placed run inside the lab's own process. Load generators placed on an engine run
// there as containers.

/** The name of the engine the lab uses when nothing is placed (DOCKER_HOST or the default socket). */
export const DEFAULT_ENGINE = 'default';

export const ENGINE_SCHEMES = ['unix', 'tcp', 'ssh'] as const;
export type EngineScheme = (typeof ENGINE_SCHEMES)[number];

/** TLS client certificate files (PEM) for a `tcp://` engine, as `docker --tlsverify` takes them. */
export interface EngineTls {
  ca: string;
  cert: string;
  key: string;
}

export interface EngineSpec {
  /** `unix:///run/…/docker.sock`, `tcp://10.0.0.2:2376` or `ssh://user@10.0.0.2`. */
  address: string;
  /** Only for `tcp://`: the engine is reached over TLS with these files. */
  tls?: EngineTls;
}

export interface PlacementSpec {
  /** Target name → engine name; a target left out runs on the default engine. */
  targets?: Record<string, string>;
  /** Engine of the load generators (one container per target); left out: inside the lab. */
  drivers?: string;
}

/** An address taken apart: its scheme, the host traffic to its servers goes to, and the rest. */
export interface ParsedEngineAddress {
  scheme: EngineScheme;
  /** Where the servers on this engine are reached: 127.0.0.1 for a unix socket (same machine). */
  host: string;
  /** tcp and ssh: the port of the engine (tcp) or of sshd (ssh), when given. */
  port?: number;
  /** unix: the socket's path. */
  socketPath?: string;
  /** ssh: the user, when given. */
  username?: string;
}

const NAME_RE = /^[a-z0-9][a-z0-9-]{0,39}$/;
const show = (v: unknown): string => (v === undefined ? 'missing' : `got ${JSON.stringify(v)}`);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The address taken apart, or the problem with it (the fix included). */
export function parseEngineAddress(address: string): ParsedEngineAddress | string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(address);
  const example =
    'unix:///run/forklab-engine2/docker.sock, tcp://10.0.0.2:2376 or ssh://user@10.0.0.2';
  if (!m) return `must be an address as DOCKER_HOST takes it, e.g. ${example}`;
  const scheme = m[1]!.toLowerCase();
  if (!(ENGINE_SCHEMES as readonly string[]).includes(scheme)) {
    const fix =
      scheme === 'http' || scheme === 'https'
        ? ` (write tcp://${m[2]}; TLS is given by tls: { ca, cert, key })`
        : '';
    return `scheme "${scheme}://" is not one of unix://, tcp://, ssh://${fix}`;
  }
  if (scheme === 'unix') {
    const socketPath = m[2]!;
    if (!socketPath.startsWith('/'))
      return `a unix:// address needs an absolute socket path (three slashes: unix:///path/docker.sock)`;
    return { scheme, host: '127.0.0.1', socketPath };
  }
  let url: URL;
  try {
    url = new URL(`${scheme === 'tcp' ? 'http' : 'ssh'}://${m[2]}`);
  } catch {
    return `"${address}" has no valid host (e.g. ${scheme}://10.0.0.2${scheme === 'tcp' ? ':2376' : ''})`;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') return `"${address}" names no host`;
  if (url.pathname !== '/' && url.pathname !== '')
    return `"${address}" has a path; an engine address is ${scheme}://HOST${scheme === 'tcp' ? ':PORT' : ''}`;
  if (scheme === 'tcp' && url.port === '')
    return `a tcp:// address needs a port (2376 with TLS, 2375 without): tcp://${host}:2376`;
  return {
    scheme: scheme as EngineScheme,
    host,
    ...(url.port !== '' ? { port: Number(url.port) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
  };
}

/**
 * Every problem with `engines` and `placement` (each naming its field and the fix), given the
 * scenario's targets (null when they are invalid: their names are not checked then).
 * `localKinds`: target kinds that run on the default engine only (they cannot be placed).
 */
export function engineErrors(
  engines: unknown,
  placement: unknown,
  targets: ReadonlyArray<{ name: string; kind: string }> | null,
  localKinds: readonly string[],
): string[] {
  const errors: string[] = [];
  const known = new Set<string>([DEFAULT_ENGINE]);
  if (engines !== undefined) {
    if (!isRecord(engines)) {
      errors.push(
        `engines: must be an object { <name>: { address: "unix:///…" | "tcp://HOST:PORT" | "ssh://USER@HOST", tls? } }, ${show(engines)}`,
      );
    } else {
      for (const [name, spec] of Object.entries(engines)) {
        const p = `engines.${name}`;
        if (name === DEFAULT_ENGINE) {
          errors.push(
            `${p}: "${DEFAULT_ENGINE}" is the engine the lab already uses (DOCKER_HOST or /var/run/docker.sock); give this engine another name`,
          );
          continue;
        }
        if (!NAME_RE.test(name)) {
          errors.push(
            `${p}: an engine name must be 1 to 40 lowercase letters, digits or "-", starting with a letter or digit`,
          );
          continue;
        }
        known.add(name);
        if (!isRecord(spec)) {
          errors.push(
            `${p}: must be an object { address: "unix:///…" | "tcp://HOST:PORT" | "ssh://USER@HOST", tls? }, ${show(spec)}`,
          );
          continue;
        }
        for (const k of Object.keys(spec)) {
          if (k !== 'address' && k !== 'tls')
            errors.push(`${p}.${k}: unknown field; an engine has address and tls`);
        }
        if (typeof spec.address !== 'string') {
          errors.push(
            `${p}.address: must be a string such as "unix:///run/forklab-engine2/docker.sock", ${show(spec.address)}`,
          );
          continue;
        }
        const parsed = parseEngineAddress(spec.address);
        if (typeof parsed === 'string') {
          errors.push(`${p}.address: ${parsed}, ${show(spec.address)}`);
          continue;
        }
        if (spec.tls !== undefined) {
          if (parsed.scheme !== 'tcp') {
            errors.push(
              `${p}.tls: only a tcp:// engine is reached over TLS (${parsed.scheme}:// has its own transport); remove tls`,
            );
          } else if (!isRecord(spec.tls)) {
            errors.push(
              `${p}.tls: must be { ca, cert, key }: paths of PEM files, ${show(spec.tls)}`,
            );
          } else {
            for (const k of ['ca', 'cert', 'key'] as const) {
              const v = spec.tls[k];
              if (typeof v !== 'string' || v === '')
                errors.push(`${p}.tls.${k}: must be the path of a PEM file, ${show(v)}`);
            }
            for (const k of Object.keys(spec.tls)) {
              if (!['ca', 'cert', 'key'].includes(k))
                errors.push(`${p}.tls.${k}: unknown field; tls has ca, cert and key`);
            }
          }
        }
      }
    }
  }

  if (placement === undefined) return errors;
  if (!isRecord(placement)) {
    errors.push(
      `placement: must be an object { targets?: { <target>: <engine> }, drivers?: <engine> }, ${show(placement)}`,
    );
    return errors;
  }
  const engineNames = [...known].map((n) => JSON.stringify(n)).join(', ');
  const checkEngine = (field: string, v: unknown): void => {
    if (typeof v !== 'string' || !known.has(v)) {
      errors.push(
        `${field}: must name an engine: one of ${engineNames}${typeof v === 'string' ? ` (declare "${v}" in engines: { "${v}": { address: "unix:///…" } })` : ''}, ${show(v)}`,
      );
    }
  };
  for (const k of Object.keys(placement)) {
    if (k !== 'targets' && k !== 'drivers')
      errors.push(`placement.${k}: unknown field; placement has targets and drivers`);
  }
  if (placement.drivers !== undefined) checkEngine('placement.drivers', placement.drivers);
  if (placement.targets !== undefined) {
    if (!isRecord(placement.targets)) {
      errors.push(
        `placement.targets: must be an object { <target>: <engine> }, ${show(placement.targets)}`,
      );
    } else {
      for (const [t, engine] of Object.entries(placement.targets)) {
        const field = `placement.targets.${t}`;
        checkEngine(field, engine);
        if (!targets) continue;
        const target = targets.find((x) => x.name === t);
        if (!target) {
          errors.push(
            `${field}: no target is named "${t}"; targets are ${targets.map((x) => JSON.stringify(x.name)).join(', ')}`,
          );
        } else if (localKinds.includes(target.kind)) {
          errors.push(
            `${field}: a ${target.kind} target runs on the default engine only (its probes attach to its processes from this machine); remove it from placement`,
          );
        }
      }
    }
  }
  return errors;
}

/** Whether the scenario uses engines at all (then it needs the Docker runtime). */
export function usesEngines(s: { engines?: unknown; placement?: unknown }): boolean {
  return s.engines !== undefined || s.placement !== undefined;
}

/** The engine of a target: its placement, else the default engine. */
export function engineOfTarget(placement: PlacementSpec | undefined, target: string): string {
  return placement?.targets?.[target] ?? DEFAULT_ENGINE;
}

/**
 * The engines a scenario uses, default first (always: the images are built there), each with its
 * spec (none for the default engine).
 */
export function enginesUsed(s: {
  engines?: Record<string, EngineSpec>;
  placement?: PlacementSpec;
}): Array<{ name: string; spec: EngineSpec | null }> {
  const names = new Set<string>([DEFAULT_ENGINE]);
  for (const e of Object.values(s.placement?.targets ?? {})) names.add(e);
  if (s.placement?.drivers !== undefined) names.add(s.placement.drivers);
  return [...names].map((name) => ({
    name,
    spec: name === DEFAULT_ENGINE ? null : (s.engines?.[name] ?? null),
  }));
}
