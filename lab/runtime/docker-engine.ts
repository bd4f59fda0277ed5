// The connection to the Docker engine: the unix socket /var/run/docker.sock, or DOCKER_HOST when
// it is set (docker-modem reads it). `probeDocker` answers quickly whether an engine is there.
import { spawnSync } from 'node:child_process';
import Docker from 'dockerode';

let shared: Docker | undefined;

/** The process-wide client. No request timeout: log streams and builds run for long. */
export function connectDocker(): Docker {
  shared ??= new Docker();
  return shared;
}

export interface DockerProbe {
  ok: boolean;
  /** Engine version, e.g. `20.10.24+dfsg1`, when ok. */
  version?: string;
  /** API version the engine speaks, when ok. */
  apiVersion?: string;
  /** Why there is no usable engine, when not ok. */
  reason?: string;
}

export class NoDockerEngineError extends Error {
  constructor(readonly reason: string) {
    super(
      `forklab: --runtime docker was asked for, but no Docker engine answered (${reason}). ` +
        `Start one (dockerd >/var/log/forklab-dockerd.log 2>&1 &) or run \`bash scripts/setup.sh\`, ` +
        `or use --runtime local.`,
    );
    this.name = 'NoDockerEngineError';
  }
}

/** Where the client looks for the engine, for messages. */
export function dockerEndpoint(): string {
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

/**
 * Whether an engine answers within `timeoutMs`: a ping, then the version. Never throws.
 * A separate client with a request timeout is used so a hung socket cannot stall the caller.
 */
export function probeDocker(timeoutMs = 2000): Promise<DockerProbe> {
  return probeEngine((o) => new Docker(o), dockerEndpoint(), timeoutMs);
}

/**
 * `probeDocker` for any engine: `client` makes a client with the given request timeout, `where`
 * names the engine in the reason. Never throws.
 */
export async function probeEngine(
  client: (o: { timeout: number }) => Docker,
  where: string,
  timeoutMs = 2000,
): Promise<DockerProbe> {
  let docker: Docker;
  try {
    docker = client({ timeout: timeoutMs });
  } catch (err) {
    return { ok: false, reason: `${where}: ${(err as Error).message}` };
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DockerProbe>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, reason: `${where} did not answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  const probe = (async (): Promise<DockerProbe> => {
    try {
      await docker.ping();
      const v = await docker.version();
      return { ok: true, version: v.Version, apiVersion: v.ApiVersion };
    } catch (err) {
      return { ok: false, reason: describeConnectError(err, where) };
    }
  })();
  try {
    return await Promise.race([probe, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function describeConnectError(err: unknown, where: string): string {
  const e = err as NodeJS.ErrnoException & { statusCode?: number };
  switch (e.code) {
    case 'ENOENT':
      return `${where}: no such socket`;
    case 'ECONNREFUSED':
      return `${where}: connection refused`;
    case 'EACCES':
      return `${where}: permission denied (is this user in the docker group?)`;
    default:
      return `${where}: ${e.statusCode ? `HTTP ${e.statusCode} ` : ''}${e.message ?? String(err)}`;
  }
}

/**
 * The same answer as `probeDocker`, synchronously (a short-lived child process does the asking),
 * for places that must decide before anything async can run, e.g. whether a test suite is skipped.
 */
export function probeDockerSync(timeoutMs = 2000): DockerProbe {
  const script = `
    const http = require('node:http');
    const host = process.env.DOCKER_HOST;
    let opts;
    if (!host || host.startsWith('unix://')) opts = { socketPath: host ? host.slice(7) : '/var/run/docker.sock' };
    else { const u = new URL(host.replace(/^tcp:/, 'http:')); opts = { host: u.hostname, port: u.port || 2375 }; }
    const req = http.get({ ...opts, path: '/version', timeout: ${timeoutMs} }, (res) => {
      let body = ''; res.on('data', (c) => (body += c));
      res.on('end', () => {
        try { const v = JSON.parse(body); console.log(JSON.stringify({ ok: true, version: v.Version, apiVersion: v.ApiVersion })); }
        catch { console.log(JSON.stringify({ ok: false, reason: 'HTTP ' + res.statusCode + ' from ' + (host || 'unix:///var/run/docker.sock') })); }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within ${timeoutMs} ms')));
    req.on('error', (e) => console.log(JSON.stringify({ ok: false, reason: (host || 'unix:///var/run/docker.sock') + ': ' + (e.code === 'ENOENT' ? 'no such socket' : e.code === 'ECONNREFUSED' ? 'connection refused' : e.message) })));
  `;
  const res = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: timeoutMs + 3000,
    env: process.env,
  });
  try {
    return JSON.parse(res.stdout) as DockerProbe;
  } catch {
    return {
      ok: false,
      reason: `${dockerEndpoint()}: probe failed (${res.error?.message ?? res.stderr.trim()})`,
    };
  }
}
