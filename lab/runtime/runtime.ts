// What the lab asks of a runtime: start N servers for a target and hand back started servers it
// can stop. Two implementations: containers (docker-runtime.ts) and local processes
// (local-runtime.ts); select-runtime.ts picks one.
import type { ServerKind } from './server-commands';

export type RuntimeKind = 'docker' | 'local';

export interface PortPair {
  /** The HTTP port the server's workers accept on. */
  port: number;
  /** The supervisor's metrics port: /healthz, /metrics, /snapshot.json. */
  metricsPort: number;
}

/** N servers of one target, all with the same flags and each with its own ports. */
export interface TargetSpec {
  runId: string;
  scenario: string;
  /** Short, [a-z0-9-]: part of container names and a label value. */
  target: string;
  /** What to run (lab/runtime/server-commands.ts); default `engine` (`forklab serve`). */
  kind?: ServerKind;
  /** How many servers; default 1. */
  count?: number;
  /**
   * The server's flags: `forklab serve`'s (e.g. from serveConfigToArgs) for the engine, the app's
   * for tornado (tornadoArgs), servers/nginx's for nginx; without --host, --port, --metrics-port
   * and --name: the runtime adds those for each server.
   */
  args: readonly string[];
  /** One pair per server; free ports on 127.0.0.1 are picked when left out. */
  ports?: readonly PortPair[];
  /**
   * A command target's own image (the Docker runtime runs it with host networking and the port in
   * $PORT; the local runtime runs the command line in FORKLAB_COMMAND instead).
   */
  image?: string;
  /** The container's command instead of the image's (`{port}` replaced). */
  imageArgs?: readonly string[];
  /** Extra environment (FORKLAB_* equivalents of flags). */
  env?: Readonly<Record<string, string>>;
  /** Folder of this run: each server's log goes to `<runDir>/<name>.log`. */
  runDir: string;
  /**
   * CPUs the servers may run on (`taskset -c` list, e.g. "0-1"): a container's CpusetCpus, a local
   * process started through taskset; default every CPU.
   */
  cpus?: string;
  /** How long a server may take to answer 200 on /healthz; default 15000 ms. */
  readyTimeoutMs?: number;
  /** The Docker engine to run on (lab/scenario/engines.ts); default the default engine. */
  engine?: string;
}

/** The line `forklab serve` prints once it is listening. */
export interface ReadyLine {
  port: number;
  metricsPort: number;
  /** Worker pids as the server sees them: inside a container, pids of its own pid namespace. */
  pids: number[];
  /** Ports of the lab's side of the server besides the metrics port (nginx's stub_status). */
  adapterPorts?: number[];
}

/** A server that answered 200 on /healthz. */
export interface StartedServer {
  readonly kind: RuntimeKind;
  /** `forklab-<runid>-<target>-<i>`: the container name or the local process's --name. */
  readonly name: string;
  /** Container id, or `pid:<pid>` for a local process. */
  readonly id: string;
  readonly target: string;
  readonly index: number;
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  /** The file the server's stdout and stderr go to. */
  readonly logFile: string;
  /** The FORKLAB_READY line, when the server printed it before it became healthy. */
  readonly ready: ReadyLine | undefined;
  /** The engine it runs on (docker runtime), when not the default one. */
  readonly engine?: string;
  /** Its first process's pid on this machine, when the runtime can tell (inspection). */
  hostPid?(): Promise<number>;
  /** The last `lines` lines of the server's log. */
  logs(lines?: number): Promise<string[]>;
  /** Stops the server (TERM, then KILL after a short grace) and removes what was started. */
  stop(): Promise<void>;
}

export interface Runtime {
  readonly kind: RuntimeKind;
  /** Docker engine version (docker runtime), for the run record. */
  dockerVersion?: string;
  /** Why this runtime was chosen when it was not the one asked for (the notice line). */
  note?: string;
  /** Builds or checks what starting needs (the image); start() calls it too. */
  prepare(): Promise<void>;
  /** Starts all servers of a target; on a failure stops those already started, then rethrows. */
  start(spec: TargetSpec): Promise<StartedServer[]>;
  /** Stops every server this runtime started and has not stopped yet. */
  stopAll(): Promise<void>;
}

/** The host every server listens on: traffic stays on the loopback. */
export const LOOPBACK = '127.0.0.1';

/** `forklab-<runid>-<target>-<i>`, checked to be a valid container name. */
export function serverName(runId: string, target: string, index: number): string {
  const name = `forklab-${runId}-${target}-${index}`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw new Error(
      `forklab: "${name}" is not a valid server name (run id and target: letters, digits, . _ -)`,
    );
  }
  return name;
}

/** The flags every server gets from the runtime, after the caller's. */
export function placementArgs(name: string, ports: PortPair, host: string = LOOPBACK): string[] {
  return [
    '--host',
    host,
    '--port',
    String(ports.port),
    '--metrics-port',
    String(ports.metricsPort),
    '--name',
    name,
  ];
}
