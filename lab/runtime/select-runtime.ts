// Which runtime the lab uses: containers when a Docker engine answers, local processes otherwise
// (with a one-line notice), or exactly what the user asked for.
import { dockerEndpoint, NoDockerEngineError, probeDocker } from './docker-engine';

export { NoDockerEngineError };
import { DockerRuntime, type DockerRuntimeOptions } from './docker-runtime';
import { LocalRuntime, type LocalRuntimeOptions } from './local-runtime';
import type { Runtime } from './runtime';

export type RuntimePreference = 'auto' | 'docker' | 'local';

export interface SelectRuntimeOptions {
  prefer?: RuntimePreference;
  /** How long the engine may take to answer the probe; default 2000 ms. */
  probeTimeoutMs?: number;
  docker?: DockerRuntimeOptions;
  local?: LocalRuntimeOptions;
  /** Where the notice goes; default: stderr. */
  notice?: (line: string) => void;
}

export function parseRuntimePreference(v: string | undefined): RuntimePreference {
  if (v === undefined || v === '') return 'auto';
  if (v === 'auto' || v === 'docker' || v === 'local') return v;
  throw new Error(`forklab: runtime must be auto, docker or local, not "${v}"`);
}

export async function selectRuntime(opts: SelectRuntimeOptions = {}): Promise<Runtime> {
  const prefer = opts.prefer ?? 'auto';
  const notice = opts.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (prefer === 'local') return new LocalRuntime(opts.local);

  const probe = await probeDocker(opts.probeTimeoutMs ?? 2000);
  if (probe.ok) {
    const docker: Runtime = new DockerRuntime({ onNotice: notice, ...opts.docker });
    if (probe.version) docker.dockerVersion = probe.version;
    return docker;
  }
  const reason = probe.reason ?? `${dockerEndpoint()}: no answer`;
  if (prefer === 'docker') throw new NoDockerEngineError(reason);
  const line = `forklab: no Docker engine answered (${reason}); running the servers as local processes`;
  notice(line);
  const local: Runtime = new LocalRuntime(opts.local);
  local.note = line;
  return local;
}
