// The Docker runtime runs real Tornado and nginx from their Debian images (built once per machine,
// reused after that: see runtime-debian-image.test.ts) with host networking, labelled and removed
// like the engine's containers. Command targets: runtime-docker-command.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectDocker } from '../lab/runtime/docker-engine';
import { DockerRuntime } from '../lab/runtime/docker-runtime';
import { LABEL_RUN } from '../lab/runtime/labels';
import { newRunId } from '../lab/runtime/session';
import { realTargetLaunch } from '../lab/scenario/target-kinds';
import type { ServerSnapshot } from '../lab/server/snapshot';

// The first run on a machine builds the Debian root with mmdebstrap (1 to 10 minutes).
jest.setTimeout(25 * 60_000);
const notices: string[] = [];
const runtime = new DockerRuntime({ onNotice: (l) => notices.push(l), stopTimeoutS: 2 });
let runDir: string;
beforeAll(() => {
  runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-docker-kinds-'));
});
afterAll(async () => {
  await runtime.stopAll();
  rmSync(runDir, { recursive: true, force: true });
});

test('tornado pre-fork in a container: serves, counts every request, removed on stop', async () => {
  const runId = newRunId();
  const launch = realTargetLaunch({
    name: 'tornado',
    kind: 'tornado',
    server: { workers: 2, loopCreation: 'pre-fork' },
  });
  const [server] = await runtime.start({
    runId,
    scenario: 'docker-kinds-test',
    target: 'tornado',
    kind: launch.kind,
    args: launch.args,
    runDir,
  });
  const s = server!;
  expect(s.kind).toBe('docker');
  expect(notices.some((n) => /Tornado image forklab-tornado:[0-9a-f]{12}/.test(n))).toBe(true);
  // (Unknown-fd events in a container: runtime-debian-image.test.ts. Here the readiness probe's
  // connection may leave the other worker holding the same fd number, so a misrouted event reads
  // that worker's own connection instead, which Tornado does not count.)
  for (let i = 0; i < 30; i++)
    expect(await (await fetch(`http://127.0.0.1:${s.port}/`)).text()).toBe('Hello, world\n');
  const snap = (await (
    await fetch(`http://127.0.0.1:${s.metricsPort}/snapshot.json`)
  ).json()) as ServerSnapshot;
  expect(snap.config).toMatchObject({ kind: 'tornado', loopCreation: 'pre-fork', workers: 2 });
  expect(snap.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(30);
  await s.stop();
  const left = await connectDocker().listContainers({
    all: true,
    filters: { label: [`${LABEL_RUN}=${runId}`] },
  });
  expect(left).toEqual([]);
});

test('nginx in a container: every request in its access log, per worker, settled against stub_status', async () => {
  const runId = newRunId();
  const launch = realTargetLaunch({
    name: 'nginx',
    kind: 'nginx',
    server: { workers: 2, acceptMutex: false },
  });
  const [server] = await runtime.start({
    runId,
    scenario: 'docker-kinds-test',
    target: 'nginx',
    kind: launch.kind,
    args: launch.args,
    runDir,
  });
  const s = server!;
  expect(s.kind).toBe('docker');
  expect(notices.some((n) => /nginx image forklab-nginx:[0-9a-f]{12}/.test(n))).toBe(true);
  // A new connection per request, so both workers can take some.
  for (let i = 0; i < 50; i++) {
    const r = await fetch(`http://127.0.0.1:${s.port}/pid`, { headers: { connection: 'close' } });
    expect(r.status).toBe(200);
    await r.text();
  }
  // At once after the last response: the snapshot waits until the log holds what stub_status
  // counted (no buffered log lines left out).
  const snap = (await (
    await fetch(`http://127.0.0.1:${s.metricsPort}/snapshot.json`)
  ).json()) as ServerSnapshot & { nginx: { requests: number; accepts: number; unlogged: number } };
  expect(snap.config).toMatchObject({ kind: 'nginx', workers: 2, acceptMutex: false });
  expect(snap.workers).toHaveLength(2);
  expect(snap.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(50);
  expect(snap.nginx).toMatchObject({ requests: 50, accepts: 50, unlogged: 0 });
  // The probes ran in the container, on nginx's workers (pids of the container's namespace).
  for (const w of snap.workers) expect(w.counters.nvcsw).toBeGreaterThan(0);
  await s.stop();
  const left = await connectDocker().listContainers({
    all: true,
    filters: { label: [`${LABEL_RUN}=${runId}`] },
  });
  expect(left).toEqual([]);
});
