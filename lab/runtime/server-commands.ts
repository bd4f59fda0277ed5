// What a runtime starts for each kind of target. Every kind takes the same placement flags
// (--host, --port, --metrics-port, --name), prints the FORKLAB_READY line and serves /healthz,
// /metrics and /snapshot.json on its metrics port, so the runtimes treat them alike:
// - engine: `forklab serve` (Node.js and the native engine);
// - tornado: servers/tornado/app.py run by Debian's python3 (python3-tornado);
// - nginx: servers/nginx/run.js, which runs Debian's nginx and serves its figures;
// - command: servers/command/run.js, which runs your server and serves what /proc says of it.
import path from 'node:path';
import { CLI_PATH } from './repo-paths';

export const SERVER_KINDS = ['engine', 'tornado', 'nginx', 'command'] as const;
export type ServerKind = (typeof SERVER_KINDS)[number];

/** The app, relative to the repository root. */
export const TORNADO_APP = 'servers/tornado/app.py';
/** Debian's python3 (python3-tornado installs for it; a python3 earlier on PATH may lack it). */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const NGINX_RUN = 'servers/nginx/run.js';
/** Runs a command line given as a JSON array in FORKLAB_COMMAND and probes it from /proc. */
export const COMMAND_RUN = 'servers/command/run.js';

export interface LocalCommand {
  command: string;
  /** Arguments before the target's own flags. */
  args: string[];
}

/** The local process for `kind`, in the checkout at `repoRoot`. */
export function localServerCommand(
  kind: ServerKind,
  repoRoot: string,
  nodeBinary: string,
  /** A folder of this server's own (nginx keeps its config and logs there). */
  workDir: string,
): LocalCommand {
  switch (kind) {
    case 'engine':
      return { command: nodeBinary, args: [path.join(repoRoot, CLI_PATH), 'serve'] };
    case 'tornado':
      return { command: DEBIAN_PYTHON, args: [path.join(repoRoot, TORNADO_APP)] };
    case 'nginx':
      return { command: nodeBinary, args: [path.join(repoRoot, NGINX_RUN), '--prefix', workDir] };
    case 'command':
      return { command: nodeBinary, args: [path.join(repoRoot, COMMAND_RUN)] };
  }
}
