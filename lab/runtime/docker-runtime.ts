// Servers as containers: one container per server, sharing the host's network so all traffic
// stays on 127.0.0.1 (each server gets its own port pair), locked down (non-root, read-only root
// with a tmpfs /tmp, no capabilities, no-new-privileges, memory and pids limits), labelled for
// cleanup, with its log streamed to a file in the run folder.
//
// Per kind: the engine from forklab-server, Tornado from forklab-tornado and nginx with its
// adapter from forklab-nginx (debian-image.ts, nginx-image.ts). A command target runs the user's
// own image as it is (host networking, its port in $PORT and, with imageArgs, in its command; the
// limits and labels, but not the lock-down, which a server of one's own may not expect); its
// figures come from the generic probes, servers/command/run.js attached from the host to the
// container's processes (the lab runs in the host's pid namespace), serving the metrics port.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { ensureTornadoImage } from './debian-image';
import { imageExists } from './docker-progress';
import { connectDocker } from './docker-engine';
import { ensureImageOn, type EngineConnection, type ImageMove } from './engine-set';
import { LABEL_MANAGED, LABEL_OWNER_PID, LABEL_RUN, LABEL_SESSION, serverLabels } from './labels';
import { tailLines } from './log-tail';
import { ensureNginxImage, NGINX_REPOSITORY } from './nginx-image';
import { reapContainersOnExit } from './reaper';
import { REPO_ROOT } from './repo-paths';
import { RuntimeBase } from './runtime-base';
import { SERVER_UID } from './node-base-image';
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
import {
  ensureServerImage,
  removeStaleImages,
  removeStaleServerImages,
  SERVER_REPOSITORY,
  type ImageSource,
  type ServerImage,
} from './server-image';
import { COMMAND_RUN, type ServerKind } from './server-commands';
import { SESSION_ID } from './session';

export interface DockerRuntimeOptions {
  docker?: Docker;
  /** Default: this process's session. */
  session?: string;
  /** Run this image instead of building forklab-server:<hash>. */
  image?: string;
  /** Default: FORKLAB_IMAGE_SOURCE, else `local`. */
  imageSource?: ImageSource;
  /** Memory limit per container, bytes (swap included); default 512 MiB. */
  memoryBytes?: number;
  /**
   * Tasks (processes and threads) per container. Default: 64 + 2 × workers — Node.js alone runs
   * about 7 threads, plus V8's and libuv's pools and esbuild's (tsx) threads while transpiling;
   * each forked worker is one task, and a restarted one briefly two.
   */
  pidsLimit?: number;
  /** Run docker-init (tini) as PID 1; default true (see `start`). */
  init?: boolean;
  /** Seconds between SIGTERM and SIGKILL on stop; default 3. */
  stopTimeoutS?: number;
  /** Size of the /tmp tmpfs; default 64m (nginx: 256m, below). */
  tmpfsSize?: string;
  /** Progress and notices (image builds, fallbacks). */
  onNotice?: (line: string) => void;
  /** The engine to run on (engine-set.ts); default the process-wide client (`docker`). */
  engine?: EngineConnection;
  /**
   * The engine images are built on, when not `engine` itself: images are built there and moved
   * over (save → load), once per tag.
   */
  imageHome?: EngineConnection;
  /** Each image made present on `engine` from `imageHome` (moved or found there). */
  onImageMove?: (m: ImageMove) => void;
}

const MiB = 1024 * 1024;
/**
 * nginx's /tmp holds its access log, about 20 bytes a request (`$pid $status $connection
 * $connection_requests`): 256 MiB is some 13 million requests, counted in the memory limit.
 */
const NGINX_TMPFS = '256m';
/** How long a container's init may take to start its first process. */
const INIT_CHILD_TIMEOUT_MS = 5000;

/** The workers a server will fork, from `--workers N`, `--workers=N` or FORKLAB_WORKERS. */
export function workersFrom(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): number {
  let v: string | undefined = env.FORKLAB_WORKERS;
  args.forEach((a, i) => {
    if (a === '--workers') v = args[i + 1];
    else if (a.startsWith('--workers=')) v = a.slice('--workers='.length);
  });
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : 8;
}

export class DockerRuntime extends RuntimeBase<DockerServer> implements Runtime {
  readonly kind = 'docker' as const;
  readonly docker: Docker;
  readonly session: string;
  private init: boolean;
  private image: Promise<string> | undefined;
  /** The image built (or reused) by prepare(), for reports. */
  builtImage: ServerImage | undefined;
  private cleaned: Promise<void> | undefined;

  constructor(private readonly opts: DockerRuntimeOptions = {}) {
    super();
    this.docker = opts.engine?.docker ?? opts.docker ?? connectDocker();
    this.session = opts.session ?? SESSION_ID;
    this.init = opts.init ?? true;
    if (opts.image) this.image = Promise.resolve(opts.image);
  }

  /** The engine's name, when it is not the default one. */
  get engineName(): string | undefined {
    return this.opts.engine && this.opts.engine.name !== 'default'
      ? this.opts.engine.name
      : undefined;
  }

  protected override reachHost(): string {
    return this.opts.engine?.host ?? LOOPBACK;
  }

  /** The engine to build images on: `imageHome`, else this one. */
  private get buildDocker(): Docker {
    return this.opts.imageHome?.docker ?? this.docker;
  }

  /** `tag` (built on imageHome) present on this engine: moved over when it is not. */
  private async present(tag: string): Promise<string> {
    const { engine, imageHome } = this.opts;
    if (!engine || !imageHome || engine === imageHome) return tag;
    const move = await ensureImageOn(imageHome, engine, tag);
    this.opts.onImageMove?.(move);
    // Each code change moves a new server tag: older ones go, as on the engine they are built on.
    if (move.moved && tag.startsWith(`${SERVER_REPOSITORY}:`))
      void removeStaleServerImages(this.docker, tag).catch(() => undefined);
    return tag;
  }

  /** Have this session's containers on this engine removed if the lab is killed outright. */
  reapOnExit(): void {
    const e = this.opts.engine;
    if (e?.spec)
      reapContainersOnExit(this.session, {
        address: e.address,
        ...(e.spec.tls ? { tls: e.spec.tls } : {}),
      });
    else reapContainersOnExit(this.session);
  }

  /** Removes the leftovers of crashed lab processes (once), then builds or reuses the image. */
  async prepare(): Promise<void> {
    // Owner pids mean something only for an engine on this machine.
    const local = this.opts.engine?.sameHost ?? true;
    this.cleaned ??= (
      local ? removeLeftovers(this.session, this.docker) : Promise.resolve([])
    ).then((removed) => {
      if (removed.length > 0) {
        this.opts.onNotice?.(
          `forklab: removed ${removed.length} container(s) left by crashed runs: ${removed.map((r) => r.name).join(', ')}`,
        );
      }
    });
    this.cleaned.catch(() => (this.cleaned = undefined));
    await this.cleaned;
    await this.imageTag();
  }

  private tornadoImage: Promise<string> | undefined;

  /** The server image on this engine (it also runs the load generators and the clock probe). */
  imageTag(): Promise<string> {
    this.image ??= ensureServerImage(this.buildDocker, { source: this.opts.imageSource }).then(
      (img) => {
        this.builtImage = img;
        const how = img.built ? `built in ${(img.ms / 1000).toFixed(1)} s` : 'reused';
        // Said once, by the engine it is built on (the others say when it is moved to them).
        if (this.buildDocker === this.docker)
          this.opts.onNotice?.(`forklab: server image ${img.tag} (${img.source}) ${how}`);
        if (img.built)
          void removeStaleServerImages(this.buildDocker, img.tag).catch(() => undefined);
        return this.present(img.tag);
      },
    );
    this.image.catch(() => (this.image = undefined));
    return this.image;
  }

  private nginxImage: Promise<string> | undefined;

  /** The engine's image, or for a real server its Debian image (debian-image.ts, nginx-image.ts). */
  private async imageFor(kind: Exclude<ServerKind, 'command'>): Promise<string> {
    if (kind === 'engine') return this.imageTag();
    if (kind === 'tornado') {
      this.tornadoImage ??= ensureTornadoImage(this.buildDocker, {
        onProgress: this.opts.onNotice,
      }).then((img) => {
        const how = img.built ? `built in ${(img.ms / 1000).toFixed(1)} s` : 'reused';
        this.opts.onNotice?.(`forklab: Tornado image ${img.tag} (on ${img.base.tag}) ${how}`);
        return this.present(img.tag);
      });
      this.tornadoImage.catch(() => (this.tornadoImage = undefined));
      return this.tornadoImage;
    }
    this.nginxImage ??= this.imageTag()
      .then((serverTag) =>
        // Built where the server image was built (the tag is on both engines when it was moved).
        ensureNginxImage(this.buildDocker, serverTag, { onProgress: this.opts.onNotice }),
      )
      .then((img) => {
        const how = img.built ? `built in ${(img.ms / 1000).toFixed(1)} s` : 'reused';
        this.opts.onNotice?.(`forklab: nginx image ${img.tag} (on ${img.base.tag}) ${how}`);
        if (img.built)
          void removeStaleImages(this.buildDocker, NGINX_REPOSITORY, img.tag).catch(
            () => undefined,
          );
        return this.present(img.tag);
      });
    this.nginxImage.catch(() => (this.nginxImage = undefined));
    return this.nginxImage;
  }

  /**
   * Init: docker-init (tini) as PID 1 forwards SIGTERM to the supervisor (PID 1 ignores signals it
   * has no handler for) and reaps workers orphaned when the supervisor dies, which the supervisor
   * itself never does (it reaps only its own pids). If the engine has no init binary, the start is
   * retried once without it.
   */
  protected async startOne(
    spec: TargetSpec,
    index: number,
    ports: PortPair,
  ): Promise<DockerServer> {
    const kind = spec.kind ?? 'engine';
    const own = kind === 'command' ? await this.commandImage(spec) : undefined;
    const image = own?.image ?? (await this.imageFor(kind as Exclude<ServerKind, 'command'>));
    const name = serverName(spec.runId, spec.target, index);
    // Before the first container exists: if this process is killed outright, the reaper
    // removes the session's containers within seconds.
    this.reapOnExit();
    const limits = {
      NetworkMode: 'host',
      Memory: this.opts.memoryBytes ?? 512 * MiB,
      MemorySwap: this.opts.memoryBytes ?? 512 * MiB,
      PidsLimit: this.opts.pidsLimit ?? 64 + 2 * workersFrom(spec.args, spec.env),
      SecurityOpt: ['no-new-privileges:true'],
      ...(spec.cpus !== undefined ? { CpusetCpus: spec.cpus } : {}),
    };
    const labels = serverLabels({
      session: this.session,
      runId: spec.runId,
      scenario: spec.scenario,
      target: spec.target,
    });
    const tmpfs = this.opts.tmpfsSize ?? (kind === 'nginx' ? NGINX_TMPFS : '64m');
    const create = async (): Promise<Docker.Container> =>
      own
        ? this.docker.createContainer({
            name,
            Image: image,
            ...(own.argv
              ? { Cmd: own.argv.map((a) => a.replaceAll('{port}', String(ports.port))) }
              : {}),
            Env: [`PORT=${ports.port}`],
            Labels: labels,
            StopSignal: 'SIGTERM',
            HostConfig: { ...limits, Init: this.init },
          })
        : this.docker.createContainer({
            name,
            Image: image,
            Cmd: [...spec.args, ...placementArgs(name, ports, this.opts.engine?.listenHost)],
            Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
            User: `${SERVER_UID}:${SERVER_UID}`,
            Labels: labels,
            StopSignal: 'SIGTERM',
            HostConfig: {
              ...limits,
              ReadonlyRootfs: true,
              Tmpfs: { '/tmp': `rw,nosuid,nodev,noexec,size=${tmpfs},mode=1777` },
              CapDrop: ['ALL'],
              Init: this.init,
            },
          });

    const logFile = path.join(spec.runDir, `${name}.log`);
    let container = await create();
    let server = new DockerServer(this, container, name, spec, index, ports, logFile);
    try {
      try {
        await container.start();
      } catch (err) {
        if (
          !this.init ||
          !/docker-init|init binary|no such file.*init/i.test(String((err as Error).message))
        )
          throw err;
        this.opts.onNotice?.(
          `forklab: the engine has no docker-init; containers run without --init`,
        );
        this.init = false;
        await server.remove();
        container = await create();
        server = new DockerServer(this, container, name, spec, index, ports, logFile);
        await container.start();
      }
      this.live.add(server);
      await server.followLogsAndExit();
      if (own) await server.attachProbes(spec, ports, this.init);
      return server;
    } catch (err) {
      await server.stop().catch(() => undefined);
      throw err;
    }
  }

  get stopTimeoutS(): number {
    return this.opts.stopTimeoutS ?? 3;
  }

  /** The engine this runtime runs on, when it was given one. */
  get engine(): EngineConnection | undefined {
    return this.opts.engine;
  }

  /** A command target's image (on this engine: nothing is pulled) and its command, if given. */
  private async commandImage(spec: TargetSpec): Promise<{ image: string; argv?: string[] }> {
    const image = spec.image;
    if (!image)
      throw new Error(
        `forklab: target ${spec.target}: command.image is not set: the Docker runtime runs a command target from its image (set command.image, or run it with --runtime local and command.argv)`,
      );
    if (!(await imageExists(this.docker, image)))
      throw new Error(
        `forklab: target ${spec.target}: command.image ${image} is not on this Docker engine (build it, or docker load it, first)`,
      );
    return spec.imageArgs ? { image, argv: [...spec.imageArgs] } : { image };
  }
}

/** The first child of `pid` (a container's init and the process it started), when it has one. */
async function firstChild(pid: number): Promise<number | undefined> {
  try {
    for (const t of await readdir(`/proc/${pid}/task`)) {
      const kids = (await readFile(`/proc/${pid}/task/${t}/children`, 'utf8')).trim();
      if (kids) return Number(kids.split(/\s+/)[0]);
    }
  } catch {
    // gone
  }
  return undefined;
}

class DockerServer implements StartedServer {
  readonly kind = 'docker' as const;
  readonly host: string;
  readonly engine: string | undefined;
  readonly id: string;
  readonly target: string;
  readonly port: number;
  readonly metricsPort: number;
  ready: ReadyLine | undefined;
  private exitReason: string | undefined;
  private logDone: Promise<void> = Promise.resolve();
  private out: WriteStream | undefined;
  private stopping: Promise<void> | undefined;
  /** A command target's probes: servers/command/run.js on the host, attached to the container. */
  private probes: ChildProcess | undefined;
  private probesExited: Promise<void> = Promise.resolve();

  constructor(
    private readonly runtime: DockerRuntime,
    private readonly container: Docker.Container,
    readonly name: string,
    spec: TargetSpec,
    readonly index: number,
    ports: PortPair,
    readonly logFile: string,
  ) {
    this.id = container.id;
    this.host = runtime.engine?.host ?? LOOPBACK;
    this.engine = runtime.engineName;
    this.target = spec.target;
    this.port = ports.port;
    this.metricsPort = ports.metricsPort;
  }

  /** Streams stdout and stderr (demultiplexed) into the log file; watches for the exit. */
  async followLogsAndExit(): Promise<void> {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    this.out = out;
    const raw = (await this.container.logs({
      follow: true,
      stdout: true,
      stderr: true,
    })) as NodeJS.ReadableStream;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.pipe(out, { end: false });
    stderr.pipe(out, { end: false });
    this.runtime.docker.modem.demuxStream(raw, stdout, stderr);
    this.logDone = new Promise<void>((resolve) => {
      raw.on('end', resolve);
      raw.on('close', resolve);
      raw.on('error', () => resolve());
    }).then(
      () =>
        new Promise<void>((resolve) => {
          // Let the PassThroughs drain into the file before the caller reads it.
          setImmediate(resolve);
        }),
    );
    this.container.wait().then(
      async (r: { StatusCode?: number }) => {
        let oom = false;
        try {
          oom = (await this.container.inspect()).State.OOMKilled;
        } catch {
          // removed already
        }
        this.exitReason = `container exited with status ${r.StatusCode}${oom ? ', killed for lack of memory (OOMKilled)' : ''}`;
      },
      (err: Error) => {
        this.exitReason = `container gone: ${err.message}`;
      },
    );
  }

  /**
   * Starts the generic probes of a command target on the host: servers/command/run.js attached to
   * the container's server process as the host sees it (its init's child), serving the metrics
   * port. It stops with the container, and by itself when the lab goes (its stdin lifeline).
   */
  async attachProbes(spec: TargetSpec, ports: PortPair, init: boolean): Promise<void> {
    const { State } = await this.container.inspect();
    let pid: number | undefined = State.Pid;
    if (init) {
      const deadline = Date.now() + INIT_CHILD_TIMEOUT_MS;
      do {
        pid = await firstChild(State.Pid);
        if (pid === undefined) await new Promise((r) => setTimeout(r, 20));
      } while (pid === undefined && Date.now() < deadline);
    }
    if (!pid || pid <= 0)
      throw new Error(
        `forklab: ${this.name}: no server process in the container (${this.exitReason ?? 'its init started nothing'})`,
      );
    const env: NodeJS.ProcessEnv = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('FORKLAB_')),
    );
    env.FORKLAB_LIFELINE = 'stdin';
    const fd = openSync(this.logFile, 'a');
    try {
      this.probes = spawn(
        process.execPath,
        [
          `${REPO_ROOT}/${COMMAND_RUN}`,
          '--attach-pid',
          String(pid),
          '--workers',
          String(workersFrom(spec.args, spec.env)),
          ...placementArgs(this.name, ports),
        ],
        { cwd: REPO_ROOT, env, stdio: ['pipe', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    const probes = this.probes;
    this.probesExited = new Promise<void>((resolve) => {
      probes.once('exit', () => resolve());
      probes.once('error', () => resolve());
    });
  }

  gone(): string | undefined {
    return this.exitReason;
  }

  /** The container's first process, as a pid of this machine (an engine on this machine only). */
  async hostPid(): Promise<number> {
    const e = this.runtime.engine;
    if (e && !e.sameHost)
      throw new Error(
        `${this.name} runs on engine "${e.name}" (${e.address}), not on this machine: its processes cannot be inspected from here`,
      );
    const info = await this.container.inspect();
    if (!info.State.Running || info.State.Pid <= 0)
      throw new Error(`container ${this.name} is not running (${info.State.Status})`);
    return info.State.Pid;
  }

  async logs(lines = 20): Promise<string[]> {
    if (this.exitReason !== undefined) await withTimeout(this.logDone, 2000);
    else await new Promise((r) => setTimeout(r, 50));
    return tailLines(this.logFile, lines);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.probes && this.probes.exitCode === null && this.probes.signalCode === null) {
      this.probes.kill('SIGTERM');
      await withTimeout(this.probesExited, 2000);
      this.probes.kill('SIGKILL');
    }
    try {
      // SIGTERM, SIGKILL after the grace period; 304 (not running) and 404 (gone) are fine, and
      // any other failure is covered by the forced remove.
      await this.container.stop({ t: this.runtime.stopTimeoutS });
    } catch {
      // see above
    }
    await this.remove();
    await withTimeout(this.logDone, 2000);
    await new Promise<void>((resolve) => (this.out ? this.out.end(resolve) : resolve()));
    this.runtime.forget(this);
  }

  /** @internal Removes the container (forced: killed if still running). */
  async remove(): Promise<void> {
    try {
      await this.container.remove({ force: true, v: true });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      // 404: already gone; 409: removal already in progress.
      if (code !== 404 && code !== 409) throw err;
    }
  }
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

export interface RemovedContainer {
  name: string;
  id: string;
}

/** Removes (forced) every lab container carrying `label` (`key` or `key=value`). */
export async function removeByLabel(
  label: string,
  docker: Docker = connectDocker(),
): Promise<RemovedContainer[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_MANAGED}=true`, label] },
  });
  return removeListed(docker, list);
}

/** Removes the containers of one run. */
export function removeRun(
  runId: string,
  docker: Docker = connectDocker(),
): Promise<RemovedContainer[]> {
  return removeByLabel(`${LABEL_RUN}=${runId}`, docker);
}

/**
 * Removes the leftovers of crashed lab processes: lab containers of another session whose owner
 * process is gone. Containers of other live lab processes (another run in parallel) are kept.
 */
export async function removeLeftovers(
  currentSession: string = SESSION_ID,
  docker: Docker = connectDocker(),
): Promise<RemovedContainer[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_MANAGED}=true`] },
  });
  const stale = list.filter((c) => {
    const labels = c.Labels ?? {};
    if (labels[LABEL_SESSION] === currentSession) return false;
    return !processAlive(Number(labels[LABEL_OWNER_PID]));
  });
  return removeListed(docker, stale);
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function removeListed(
  docker: Docker,
  list: Docker.ContainerInfo[],
): Promise<RemovedContainer[]> {
  const removed: RemovedContainer[] = [];
  await Promise.all(
    list.map(async (c) => {
      try {
        await docker.getContainer(c.Id).remove({ force: true, v: true });
        removed.push({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') });
      } catch (err) {
        // 404: already gone; 409: another lab process is removing it right now.
        const code = (err as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw err;
      }
    }),
  );
  return removed;
}
