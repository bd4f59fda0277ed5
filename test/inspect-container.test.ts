// `forklab inspect --container`: a real `forklab serve` container (the lab's Docker runtime),
// found by name; its State.Pid is docker-init, whose child is the supervisor. pre-fork with 2
// workers: one epoll instance shared by the supervisor and both workers.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../lab/cli';
import type { Evidence } from '../lab/inspect/evidence';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { DockerRuntime, removeRun } from '../lab/runtime/docker-runtime';
import type { StartedServer } from '../lab/runtime/runtime';
import { newRunId } from '../lab/runtime/session';

const engine = probeDockerSync(3000);
const inCI = process.env.CI === 'true';
const describeDocker = engine.ok || inCI ? describe : describe.skip;
if (!engine.ok && !inCI)
  console.log(`inspect-container skipped: no Docker engine (${engine.reason})`);

describeDocker('forklab inspect --container', () => {
  const runId = newRunId();
  const runtime = new DockerRuntime({ onNotice: () => undefined, stopTimeoutS: 2 });
  let runDir: string;
  let server: StartedServer;
  beforeAll(async () => {
    runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-inspect-container-'));
    [server] = (await runtime.start({
      runId,
      scenario: 'inspect',
      target: 'pre-fork',
      args: ['--workers', '2', '--loop-creation', 'pre-fork'],
      runDir,
    })) as [StartedServer];
  }, 180_000);
  afterAll(async () => {
    await runtime.stopAll();
    await removeRun(runId, connectDocker());
    rmSync(runDir, { recursive: true, force: true });
  });

  const capture = () => {
    const o = { out: '', err: '' };
    return {
      o,
      io: {
        stdout: { write: (t: string) => (o.out += t) },
        stderr: { write: (t: string) => (o.err += t) },
      },
    };
  };

  it('finds the container by name and shows the shared instance (exit 1)', async () => {
    const c = capture();
    expect(await main(['inspect', '--container', server.name, '--json'], {}, c.io)).toBe(1);
    const e = JSON.parse(c.o.out) as Evidence;
    const info = await connectDocker().getContainer(server.id).inspect();
    expect(e.rootPid).toBe(info.State.Pid);
    const shared = e.instances.filter((x) => x.pids.length > 1);
    expect(shared).toHaveLength(1);
    // docker-init holds no epoll; the supervisor (its child) and 2 workers share one.
    expect(shared[0]!.pids).toHaveLength(3);
    expect(shared[0]!.pids).not.toContain(info.State.Pid);
    const [l] = e.listeners.filter((x) => x.port === server.port);
    expect(l!.watchedBy).toEqual([{ instance: shared[0]!.id, exclusive: false, trigger: 'level' }]);
  });

  it('exits 2 naming the container when there is no such container', async () => {
    const c = capture();
    expect(await main(['inspect', '--container', `forklab-no-such-${runId}`], {}, c.io)).toBe(2);
    expect(c.o.err).toMatch(new RegExp(`container "forklab-no-such-${runId}"`));
  });
});
