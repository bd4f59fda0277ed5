// The Docker engines of a run: the default one (DOCKER_HOST or /var/run/docker.sock) and the ones
// a scenario declares (lab/scenario/engines.ts), each with its client, the host its servers are
// reached on, and whether it runs on this machine. All are probed before anything starts: an
// engine that does not answer fails the run with its name and address, and nothing is started on
// the others. Images are built on the default engine; an engine without a registry gets them
// moved over (`docker save` piped into `docker load`, through the API), once per tag.
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import {
  DEFAULT_ENGINE,
  parseEngineAddress,
  type EngineSpec,
  type ParsedEngineAddress,
} from '../scenario/engines';
import { connectDocker, dockerEndpoint, NoDockerEngineError, probeEngine } from './docker-engine';
import { followProgress, imageExists } from './docker-progress';

export interface EngineConnection {
  /** `default` or the scenario's name for it. */
  name: string;
  /** As DOCKER_HOST takes it. */
  address: string;
  spec: EngineSpec | null;
  parsed: ParsedEngineAddress;
  docker: Docker;
  /** The address the servers on it are reached at (127.0.0.1 for a unix socket). */
  host: string;
  /**
   * The address its servers listen on: 127.0.0.1 on this machine (traffic stays on the
   * loopback); 0.0.0.0 on another machine, which the lab reaches over the network.
   */
  listenHost: string;
  /** On this machine (a unix socket): its containers' pids are pids here, owner pids mean something. */
  sameHost: boolean;
  /** Engine version, from the probe. */
  version: string;
}

/** One or more engines did not answer: each named with its address and why. */
export class UnreachableEngineError extends NoDockerEngineError {
  constructor(readonly unreachable: Array<{ name: string; address: string; reason: string }>) {
    super(unreachable.map((u) => u.reason).join('; '));
    this.name = 'UnreachableEngineError';
    this.message =
      unreachable
        .map(
          (u) =>
            `forklab: engine "${u.name}" (${u.address}) did not answer: ${u.reason.replace(`${u.address}: `, '')}`,
        )
        .join('\n') +
      "\nNothing was started. Start that engine (for a second engine on this machine: bash scripts/second-engine.sh start) or fix its address in the scenario's engines.";
  }
}

/** A dockerode client for an engine's address (TLS files read here: a missing one is named). */
export function dockerFor(
  address: string,
  tls: EngineSpec['tls'] | undefined,
  extra: { timeout?: number } = {},
): Docker {
  const p = parseEngineAddress(address);
  if (typeof p === 'string') throw new Error(`engine address ${JSON.stringify(address)}: ${p}`);
  if (p.scheme === 'unix') return new Docker({ socketPath: p.socketPath!, ...extra });
  if (p.scheme === 'ssh') {
    return new Docker({
      protocol: 'ssh',
      host: p.host,
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.username !== undefined ? { username: p.username } : {}),
      sshOptions: { agent: process.env.SSH_AUTH_SOCK },
      ...extra,
    } as Docker.DockerOptions);
  }
  const read = (what: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(
        `engine ${address}: tls.${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  };
  return new Docker({
    protocol: tls ? 'https' : 'http',
    host: p.host,
    port: p.port!,
    ...(tls
      ? { ca: read('ca', tls.ca), cert: read('cert', tls.cert), key: read('key', tls.key) }
      : {}),
    ...extra,
  });
}

/**
 * A TLS failure of engine `name` said with the field of the scenario to fix, or `raw` as it is.
 * Node's messages: the engine's certificate not signed by tls.ca, not made for the address's host,
 * or the client certificate refused by the engine (a TLS alert); an HTTP request to a TLS port.
 */
export function tlsHint(name: string, spec: EngineSpec, raw: string): string {
  const f = `engines.${name}`;
  // One line: OpenSSL's "…:error:0A000412:SSL routines:…:sslv3 alert bad certificate:…" says the alert.
  const reason = raw
    .replace(/\S*:error:[0-9A-F]+:SSL routines:\S* alert ([a-z ]+):.*$/im, 'TLS alert "$1"')
    .replace(/\s+/g, ' ')
    .trim();
  if (spec.tls) {
    if (
      /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate signature failure/i.test(
        reason,
      )
    )
      return `${reason} (its TLS certificate is not signed by the CA in ${f}.tls.ca, ${spec.tls.ca}: give the CA that signed it, as docker --tlscacert takes it)`;
    if (/certificate has expired|certificate is not yet valid/i.test(reason))
      return `${reason} (its TLS certificate or the CA in ${f}.tls.ca, ${spec.tls.ca}, is out of date: renew it)`;
    if (/does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i.test(reason))
      return `${reason} (its TLS certificate is not for the host of ${f}.address: use the host or IP the certificate names)`;
    if (
      /alert "?(bad certificate|unknown ca|certificate required|certificate unknown)/i.test(reason)
    )
      return `${reason} (the engine refused the client certificate in ${f}.tls.cert, ${spec.tls.cert}: give a certificate and key signed by the CA the engine trusts, its --tlscacert)`;
  } else if (/HTTP request to an HTTPS server/i.test(reason)) {
    return `${reason} (the engine speaks TLS: give ${f}.tls: { ca, cert, key }, the files docker --tlsverify takes)`;
  }
  return raw;
}

/**
 * Connects to every engine in `list` (the default one when its spec is null), probing all at
 * once. Throws UnreachableEngineError naming every engine that did not answer.
 */
export async function connectEngines(
  list: ReadonlyArray<{ name: string; spec: EngineSpec | null }>,
  timeoutMs = 3000,
): Promise<Map<string, EngineConnection>> {
  const probes = await Promise.all(
    list.map(async ({ name, spec }) => {
      const address = spec ? spec.address : dockerEndpoint();
      const parsed = parseEngineAddress(address);
      if (typeof parsed === 'string')
        return { name, address, error: `${address}: ${parsed}` } as const;
      const client = (o: { timeout?: number }): Docker =>
        spec ? dockerFor(address, spec.tls, o) : new Docker(o);
      const probe = await probeEngine(client, address, timeoutMs);
      if (!probe.ok) {
        const reason = probe.reason ?? `${address}: no answer`;
        return { name, address, error: spec ? tlsHint(name, spec, reason) : reason };
      }
      const docker = name === DEFAULT_ENGINE && !spec ? connectDocker() : client({});
      const sameHost = parsed.scheme === 'unix';
      const conn: EngineConnection = {
        name,
        address,
        spec,
        parsed,
        docker,
        host: parsed.host,
        listenHost: sameHost || parsed.host === '127.0.0.1' ? '127.0.0.1' : '0.0.0.0',
        sameHost,
        version: probe.version ?? 'unknown',
      };
      return { name, address, conn } as const;
    }),
  );
  const bad = probes.flatMap((p) =>
    'error' in p ? [{ name: p.name, address: p.address, reason: p.error ?? 'no answer' }] : [],
  );
  if (bad.length > 0) throw new UnreachableEngineError(bad);
  return new Map(probes.map((p) => [p.name, (p as { conn: EngineConnection }).conn]));
}

export interface ImageMove {
  tag: string;
  engine: string;
  /** Whether it was moved now; false: the engine had it already. */
  moved: boolean;
  ms: number;
  bytes: number;
}

const moves = new Map<string, Promise<ImageMove>>();

/**
 * Makes sure `to` has image `tag`, moving it from `from` when it does not (save → load through
 * the API, streamed: the image never lands on disk here). Each (engine, tag) is moved at most once
 * per process; an engine that has the tag already is left alone.
 */
export function ensureImageOn(
  from: EngineConnection,
  to: EngineConnection,
  tag: string,
): Promise<ImageMove> {
  const key = `${to.address} ${tag}`;
  let move = moves.get(key);
  if (!move) {
    move = (async (): Promise<ImageMove> => {
      const t0 = performance.now();
      if (to === from || (await imageExists(to.docker, tag)))
        return { tag, engine: to.name, moved: false, ms: performance.now() - t0, bytes: 0 };
      const tar = (await from.docker.getImage(tag).get()) as NodeJS.ReadableStream;
      let bytes = 0;
      tar.on('data', (c: Buffer) => (bytes += c.length));
      const answer = (await to.docker.loadImage(tar, { quiet: true })) as NodeJS.ReadableStream;
      await followProgress(to.docker, answer);
      if (!(await imageExists(to.docker, tag)))
        throw new Error(`forklab: moving ${tag} to engine "${to.name}" ended without the image`);
      return { tag, engine: to.name, moved: true, ms: performance.now() - t0, bytes };
    })();
    moves.set(key, move);
    move.catch(() => moves.delete(key));
  }
  return move;
}
