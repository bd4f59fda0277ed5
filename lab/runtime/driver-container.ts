// A load generator as a container on a Docker engine (placement `drivers`): the lab's own load
// worker (lab/load/load-worker.ts) in the server image, which holds Node.js, the lab's code, its
// dependencies and the native addon. Host networking (the targets are reached as from the lab),
// locked down as the servers are, labelled with the session (the reaper and every cleanup find
// it). The lab talks to it over the attached stdio: its messages one JSON line each on stdin,
// the worker's on stdout; stderr goes to a log file in the run folder.
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { PassThrough, type Duplex } from 'node:stream';
import type { DockerRuntime } from './docker-runtime';
import { LABEL_ROLE, serverLabels } from './labels';
import { SERVER_UID } from './node-base-image';
import { serverName } from './runtime';

export interface DriverContainerOptions {
  runId: string;
  scenario: string;
  /** The target it drives: part of its name and labels. */
  target: string;
  /** Its stderr (and any stdout line that is not a message) goes here. */
  logFile: string;
  /** CpusetCpus (`taskset -c` list), for pinned isolation. */
  cpus?: string;
}

export interface DriverContainer {
  readonly name: string;
  readonly id: string;
  /** One line to the worker's stdin. */
  write(line: string): void;
  /** Each stdout line that is a message (starts with `{`). */
  onMessageLine(cb: (line: string) => void): void;
  /** Resolves with how it ended, once the container has exited. */
  readonly exited: Promise<string>;
  /** Closes its stdin and removes it (forced); never throws for a container already gone. */
  remove(): Promise<void>;
}

/** What the container runs: the load worker, TypeScript compiled by tsx as in the lab. */
const BOOT = "require('tsx/cjs/api').register(); require('/app/lab/load/load-worker.ts');";

const MiB = 1024 * 1024;

/** Starts a load generator container on `runtime`'s engine, attached; resolves once it runs. */
export async function startDriverContainer(
  runtime: DockerRuntime,
  o: DriverContainerOptions,
): Promise<DriverContainer> {
  const image = await runtime.imageTag();
  const name = `${serverName(o.runId, o.target, 0).replace(/-0$/, '')}-driver`;
  runtime.reapOnExit();
  const container = await runtime.docker.createContainer({
    name,
    Image: image,
    Entrypoint: ['node', '-e', BOOT],
    Cmd: [],
    WorkingDir: '/app',
    Env: ['FORKLAB_LOAD_CHANNEL=stdio', 'HOME=/tmp', 'NODE_ENV=production'],
    User: `${SERVER_UID}:${SERVER_UID}`,
    Labels: {
      ...serverLabels({
        session: runtime.session,
        runId: o.runId,
        scenario: o.scenario,
        target: o.target,
      }),
      [LABEL_ROLE]: 'load-generator',
    },
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': 'rw,nosuid,nodev,noexec,size=64m,mode=1777' },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Memory: 512 * MiB,
      MemorySwap: 512 * MiB,
      // Node.js's own threads, V8's and libuv's pools, tsx's esbuild and the native driver's.
      PidsLimit: 256,
      ...(o.cpus !== undefined ? { CpusetCpus: o.cpus } : {}),
    },
  });
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= container.remove({ force: true, v: true }).then(
      () => undefined,
      (err: { statusCode?: number }) => {
        // 404: already gone; 409: removal already in progress.
        if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
      },
    ));
  try {
    const stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    const out = new PassThrough();
    const err = new PassThrough();
    runtime.docker.modem.demuxStream(stream, out, err);
    const log = createWriteStream(o.logFile, { flags: 'a' });
    err.pipe(log, { end: false });
    const listeners: Array<(line: string) => void> = [];
    createInterface({ input: out, crlfDelay: Infinity }).on('line', (line) => {
      if (line.startsWith('{')) listeners.forEach((l) => l(line));
      else log.write(line + '\n');
    });
    stream.on('error', () => undefined);
    await container.start();
    // After the start: waiting on a container not yet started returns at once.
    const exited = container.wait().then(
      (r: { StatusCode?: number }) => `exited with status ${r.StatusCode}`,
      (e: Error) => `is gone (${e.message})`,
    );
    void exited.then(() => setTimeout(() => log.end(), 500));
    return {
      name,
      id: container.id,
      write: (line) => {
        if (!stream.destroyed) stream.write(line + '\n');
      },
      onMessageLine: (cb) => listeners.push(cb),
      exited,
      remove: async () => {
        stream.end();
        await remove();
      },
    };
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
}
