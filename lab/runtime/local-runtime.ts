// Servers as local processes, for machines without a Docker engine: `node bin/forklab.js serve`,
// each in its own process group (detached) so that the supervisor and its forked workers go
// together; logs to a file in the run folder; the same readiness wait as the containers.
// Every group still running is tracked, so a global cleanup (Ctrl-C, exit) can kill them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { tailLines } from './log-tail';
import {
  LOOPBACK,
  placementArgs,
  serverName,
  type PortPair,
  type ReadyLine,
  type Runtime,
  type StartedServer,
  type TargetSpec,
} from './runtime';
import { ADDON_PATH, CLI_PATH, REPO_ROOT } from './repo-paths';
import { RuntimeBase } from './runtime-base';
import { localServerCommand } from './server-commands';

/** Process group ids (= leader pids) of local servers not yet stopped, in this process. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

/**
 * Kills every local server's process group (supervisor and workers) at once, synchronously: safe
 * in a SIGINT handler or on 'exit'. Returns how many groups were signalled.
 */
export function killAllLocalServers(signal: NodeJS.Signals = 'SIGKILL'): number {
  let n = 0;
  for (const pgid of liveGroups) {
    if (signalGroup(pgid, signal)) n++;
  }
  return n;
}

/** The pids (process group ids) of the local servers still tracked. */
export function localServerGroups(): number[] {
  return [...liveGroups];
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: no process left in the group
  }
}

export interface LocalRuntimeOptions {
  repoRoot?: string;
  /** Default: the Node.js running this process. */
  nodeBinary?: string;
  /** Milliseconds between SIGTERM and SIGKILL on stop; default 3000. */
  stopTimeoutMs?: number;
}

export class LocalRuntime extends RuntimeBase<LocalServer> implements Runtime {
  readonly kind = 'local' as const;
  readonly repoRoot: string;

  constructor(private readonly opts: LocalRuntimeOptions = {}) {
    super();
    this.repoRoot = opts.repoRoot ?? REPO_ROOT;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // Detached groups outlive the lab otherwise.
      process.on('exit', () => killAllLocalServers('SIGKILL'));
    }
  }

  async prepare(): Promise<void> {
    for (const f of [CLI_PATH, ADDON_PATH]) {
      if (!existsSync(path.join(this.repoRoot, f))) {
        throw new Error(
          `forklab: ${f} is missing in ${this.repoRoot} (build it: npm run build:native)`,
        );
      }
    }
  }

  protected async startOne(spec: TargetSpec, index: number, ports: PortPair): Promise<LocalServer> {
    const name = serverName(spec.runId, spec.target, index);
    const logFile = path.join(spec.runDir, `${name}.log`);
    // The lab's own FORKLAB_* settings are not the server's: it gets only spec.env, as a
    // container would.
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('FORKLAB_')),
    );
    Object.assign(env, spec.env);
    // The server stops when this process goes away, however it goes: it watches its stdin.
    env.FORKLAB_LIFELINE = 'stdin';
    const workDir = path.join(spec.runDir, name);
    if (spec.kind === 'nginx') mkdirSync(workDir, { recursive: true });
    const run = localServerCommand(
      spec.kind ?? 'engine',
      this.repoRoot,
      this.opts.nodeBinary ?? process.execPath,
      workDir,
    );
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      const argv = [...run.args, ...spec.args, ...placementArgs(name, ports)];
      // Pinned: taskset sets the affinity and execs the server (same pid); workers inherit it.
      const [command, args] =
        spec.cpus === undefined
          ? [run.command, argv]
          : ['taskset', ['-c', spec.cpus, run.command, ...argv]];
      child = spawn(command, args, {
        cwd: this.repoRoot,
        env,
        detached: true,
        stdio: ['pipe', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const server = new LocalServer(
      this,
      child,
      name,
      spec,
      index,
      ports,
      logFile,
      this.opts.stopTimeoutMs ?? 3000,
    );
    this.live.add(server);
    return server;
  }
}

class LocalServer implements StartedServer {
  readonly kind = 'local' as const;
  readonly host = LOOPBACK;
  readonly id: string;
  readonly pid: number;
  readonly target: string;
  readonly port: number;
  readonly metricsPort: number;
  ready: ReadyLine | undefined;
  private exitReason: string | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly runtime: LocalRuntime,
    private readonly child: ChildProcess,
    readonly name: string,
    spec: TargetSpec,
    readonly index: number,
    ports: PortPair,
    readonly logFile: string,
    private readonly stopTimeoutMs: number,
  ) {
    this.target = spec.target;
    this.port = ports.port;
    this.metricsPort = ports.metricsPort;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitReason = signal
          ? `process killed by ${signal}`
          : `process exited with status ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        this.exitReason = `could not start: ${err.message}`;
        resolve();
      });
    });
    // pid is undefined only when spawn failed ('error' follows).
    this.pid = child.pid ?? -1;
    this.id = `pid:${this.pid}`;
    if (this.pid > 0) liveGroups.add(this.pid);
  }

  gone(): string | undefined {
    return this.exitReason;
  }

  async logs(lines = 20): Promise<string[]> {
    return tailLines(this.logFile, lines);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.pid > 0) {
      if (this.exitReason === undefined) {
        signalGroup(this.pid, 'SIGTERM');
        if (!(await settlesWithin(this.exited, this.stopTimeoutMs)))
          signalGroup(this.pid, 'SIGKILL');
      }
      await this.exited; // the child is reaped by Node.js
      // Workers left behind by a supervisor that died (or ignored TERM) go too; then wait until
      // the group is empty (orphans are reaped by init).
      signalGroup(this.pid, 'SIGKILL');
      const deadline = Date.now() + 2000;
      while (signalGroup(this.pid, 0) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      liveGroups.delete(this.pid);
    }
    this.runtime.forget(this);
  }
}

async function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
