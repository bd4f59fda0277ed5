// The Docker runtime against a real engine and the real `forklab serve`: the image (built once,
// then reused), a locked-down container that becomes healthy and serves on its own port, a
// failed start that reports the server's log and leaves nothing behind, and leftover cleanup.
// Under CI=true a missing engine is a failure; elsewhere the suite is skipped with the reason.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import {
  DockerRuntime,
  removeByLabel,
  removeLeftovers,
  removeRun,
} from '../lab/runtime/docker-runtime';
import { StartupError } from '../lab/runtime/http-wait';
import {
  LABEL_MANAGED,
  LABEL_OWNER_PID,
  LABEL_RUN,
  LABEL_SCENARIO,
  LABEL_SESSION,
  LABEL_TARGET,
} from '../lab/runtime/labels';
import { ensureServerImage } from '../lab/runtime/server-image';
import { newRunId, SESSION_ID } from '../lab/runtime/session';

const engine = probeDockerSync(3000);
const inCI = process.env.CI === 'true';
if (!engine.ok && !inCI) {
  console.log(
    `runtime-docker tests skipped: no Docker engine answered (${engine.reason}); start dockerd or run scripts/setup.sh`,
  );
}

test('a Docker engine answers (required under CI=true)', () => {
  if (!inCI && !engine.ok) return; // reported above; the suite below is skipped
  expect(engine).toMatchObject({ ok: true });
});

const describeDocker = engine.ok ? describe : inCI ? describe : describe.skip;

describeDocker('docker runtime', () => {
  const docker = connectDocker();
  const runId = newRunId();
  const notices: string[] = [];
  const runtime = new DockerRuntime({ onNotice: (l) => notices.push(l), stopTimeoutS: 2 });
  let runDir: string;

  beforeAll(() => {
    runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-runtime-docker-'));
  });

  afterAll(async () => {
    await runtime.stopAll();
    await removeRun(runId, docker);
    rmSync(runDir, { recursive: true, force: true });
  });

  async function runContainers(id: string = runId): Promise<string[]> {
    const list = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_RUN}=${id}`] },
    });
    return list.map((c) => c.Names[0] ?? c.Id);
  }

  test('the server image is built from the checkout, then reused by its content hash', async () => {
    const first = await ensureServerImage(docker);
    const second = await ensureServerImage(docker);
    expect(second.built).toBe(false);
    expect(second.tag).toBe(first.tag);
    expect(second.tag).toMatch(/^forklab-server:[0-9a-f]{12}$/);
    expect(second.base?.built).toBe(false);
    const info = await docker.getImage(second.tag).inspect();
    expect(info.Config.User).toBe('10001:10001');
    expect(info.Config.Entrypoint).toEqual(['node', '/app/bin/forklab.js', 'serve']);
    expect(info.Config.Labels?.[LABEL_MANAGED]).toBe('true');
    console.log(
      `server image ${first.tag}: ${(info.Size / 1e6).toFixed(0)} MB, ${first.files} context entries; ` +
        `first call ${first.built ? 'built' : 'reused'} in ${first.ms.toFixed(0)} ms, second reused in ${second.ms.toFixed(0)} ms`,
    );
  }, 180_000);

  test('a locked-down container on the host network becomes healthy, serves, and is removed by stop()', async () => {
    const [server, ...rest] = await runtime.start({
      runId,
      scenario: 'runtime-test',
      target: 'ok',
      args: ['--workers', '2'],
      runDir,
    });
    expect(rest).toHaveLength(0);
    expect(server!.name).toBe(`forklab-${runId}-ok-0`);

    const info = await docker.getContainer(server!.id).inspect();
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toEqual(
      expect.arrayContaining([expect.stringMatching(/^no-new-privileges/)]),
    );
    expect(info.HostConfig.NetworkMode).toBe('host');
    // docker-init as PID 1, unless the engine has none (the runtime then says so).
    expect(info.HostConfig.Init).toBe(!notices.some((n) => /docker-init/.test(n)));
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0);
    expect(info.HostConfig.Memory).toBeGreaterThan(0);
    expect(info.Config.User).toBe('10001:10001');
    expect(info.Config.Labels).toMatchObject({
      [LABEL_MANAGED]: 'true',
      [LABEL_SESSION]: SESSION_ID,
      [LABEL_RUN]: runId,
      [LABEL_SCENARIO]: 'runtime-test',
      [LABEL_TARGET]: 'ok',
      [LABEL_OWNER_PID]: String(process.pid),
    });
    // The server's processes are not root inside the container either.
    const top = await docker.getContainer(server!.id).top({ ps_args: '-o uid,pid,comm' });
    const uids = (top.Processes as string[][]).map((p) => p[0]);
    expect(uids.length).toBeGreaterThanOrEqual(4); // docker-init, supervisor, 2 workers
    expect(new Set(uids)).toEqual(new Set(['10001']));

    const health = await fetch(`http://127.0.0.1:${server!.metricsPort}/healthz`);
    expect(health.status).toBe(200);
    const root = await fetch(`http://127.0.0.1:${server!.port}/`);
    expect(root.status).toBe(200);
    const pid = (await (await fetch(`http://127.0.0.1:${server!.port}/pid`)).json()) as {
      worker: number;
      pid: number;
    };
    expect(server!.ready?.pids).toContain(pid.pid);
    expect(server!.ready).toMatchObject({ port: server!.port, metricsPort: server!.metricsPort });

    await server!.stop();
    expect(await runContainers()).toEqual([]);
    // The log was streamed to the run folder, demultiplexed (no 8-byte frame headers).
    const log = readFileSync(server!.logFile, 'utf8');
    expect(log).toMatch(/^FORKLAB_READY \{/m);
    expect(log.includes('\u0000')).toBe(false);
  }, 180_000);

  test('two servers of one target get distinct names and ports', async () => {
    const servers = await runtime.start({
      runId,
      scenario: 'runtime-test',
      target: 'pair',
      count: 2,
      args: ['--workers', '1'],
      runDir,
    });
    try {
      expect(new Set(servers.map((s) => s.name)).size).toBe(2);
      expect(new Set(servers.flatMap((s) => [s.port, s.metricsPort])).size).toBe(4);
      for (const s of servers)
        expect((await fetch(`http://127.0.0.1:${s.port}/`)).status).toBe(200);
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
    expect(await runContainers()).toEqual([]);
  }, 180_000);

  test('a server that exits at start rejects with its log lines and leaves no container', async () => {
    const failRun = newRunId();
    const t0 = performance.now();
    const err = await runtime
      .start({
        runId: failRun,
        scenario: 'runtime-test',
        target: 'bad',
        args: ['--workers', 'banana'],
        runDir,
        readyTimeoutMs: 30_000,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(StartupError);
    const e = err as StartupError;
    expect(e.message).toMatch(/exited before it became healthy/);
    expect(e.message).toMatch(/banana/); // the server's own complaint, from its log
    expect(e.logLines.length).toBeGreaterThan(0);
    // It gave up when the container exited, not at the 30 s limit.
    expect(performance.now() - t0).toBeLessThan(20_000);
    expect(await runContainers(failRun)).toEqual([]);
    expect(existsSync(path.join(runDir, `forklab-${failRun}-bad-0.log`))).toBe(true);
  }, 180_000);

  test('removeLeftovers removes containers of dead sessions; removeByLabel by run', async () => {
    const image = (await ensureServerImage(docker)).tag;
    // A pid that is certainly gone: a child that has exited and been reaped.
    const deadPid = spawnSync('true').pid;
    const leftoverRun = newRunId();
    const leftover = await docker.createContainer({
      name: `forklab-${leftoverRun}-crashed-0`,
      Image: image,
      Cmd: ['--help'],
      Labels: {
        [LABEL_MANAGED]: 'true',
        [LABEL_SESSION]: 'crashed-session',
        [LABEL_RUN]: leftoverRun,
        [LABEL_OWNER_PID]: String(deadPid),
      },
    });
    // One of this session's, which must survive.
    const mineRun = newRunId();
    const mine = await docker.createContainer({
      name: `forklab-${mineRun}-mine-0`,
      Image: image,
      Cmd: ['--help'],
      Labels: {
        [LABEL_MANAGED]: 'true',
        [LABEL_SESSION]: SESSION_ID,
        [LABEL_RUN]: mineRun,
        [LABEL_OWNER_PID]: String(process.pid),
      },
    });
    try {
      const removed = await removeLeftovers(SESSION_ID, docker);
      expect(removed.map((r) => r.id)).toContain(leftover.id);
      expect(removed.map((r) => r.id)).not.toContain(mine.id);
      expect(await runContainers(leftoverRun)).toEqual([]);
      expect(await runContainers(mineRun)).toHaveLength(1);

      const byLabel = await removeByLabel(`${LABEL_RUN}=${mineRun}`, docker);
      expect(byLabel.map((r) => r.id)).toEqual([mine.id]);
      expect(await runContainers(mineRun)).toEqual([]);
    } finally {
      await leftover.remove({ force: true }).catch(() => undefined);
      await mine.remove({ force: true }).catch(() => undefined);
    }
  }, 60_000);
});
