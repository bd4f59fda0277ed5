// The lab's nginx (servers/nginx/run.js, started as a run starts it) listens on two ports: the
// server's, under load, and stub_status's, which the adapter polls. Inspect must tell them apart:
// the status socket is labelled `adapter`, left out of the findings and of the SO_REUSEPORT
// group, and the server's sockets are labelled `server`. nginx's workers hold both sockets and
// watch both in their epolls (ngx_event_process_init registers every listening socket), so
// without the labels the status port would look like a second port under load.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspectStartedServer } from '../lab/inspect/inspect-started-server';
import { renderText } from '../lab/inspect/render-text';
import { LocalRuntime } from '../lab/runtime/local-runtime';
import type { StartedServer } from '../lab/runtime/runtime';
import { newRunId } from '../lab/runtime/session';
import { realTargetLaunch } from '../lab/scenario/target-kinds';
import type { NginxSettings } from '../lab/server/nginx-config';

jest.setTimeout(60_000);

const runtime = new LocalRuntime();
let runDir: string;
beforeAll(() => {
  runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-inspect-roles-'));
});
afterAll(async () => {
  await runtime.stopAll();
  rmSync(runDir, { recursive: true, force: true });
});

async function nginx(server: NginxSettings): Promise<StartedServer> {
  const launch = realTargetLaunch({ name: 'n', kind: 'nginx', server });
  const [s] = await runtime.start({
    runId: newRunId(),
    scenario: 'inspect-roles-test',
    target: 'nginx',
    kind: launch.kind,
    args: launch.args,
    runDir,
  });
  return s!;
}

test('reuseport: the server port is a group of one socket per worker, stub_status is the adapter’s', async () => {
  const s = await nginx({ workers: 3, reuseport: true });
  const statusPort = s.ready?.adapterPorts?.[0];
  expect(statusPort).toEqual(expect.any(Number));
  const i = await inspectStartedServer(s, {
    loopCreation: 'post-fork',
    workers: 3,
    reusePort: true,
    exclusive: undefined,
  });
  expect(i.contradictions).toEqual([]);
  const e = i.evidence!;
  const onServer = e.listeners.filter((l) => l.port === s.port);
  const onStatus = e.listeners.filter((l) => l.port === statusPort);
  expect(onServer).toHaveLength(3);
  expect(onServer.every((l) => l.role === 'server')).toBe(true);
  // stub_status: one socket (no reuseport on it), held and watched by nginx's workers too.
  expect(onStatus).toHaveLength(1);
  expect(onStatus[0]!.role).toBe('adapter');
  expect(onStatus[0]!.watchedBy.length).toBeGreaterThan(0);
  // The group is the server's three sockets, and only they.
  expect(e.reuseportGroups).toHaveLength(1);
  expect([...e.reuseportGroups[0]!.inodes].sort()).toEqual(onServer.map((l) => l.inode).sort());
  // No finding speaks of the status port or the metrics port; one speaks of the group.
  const texts = i.findings.map((f) => f.text).join('\n');
  expect(texts).not.toContain(`:${statusPort}`);
  expect(texts).not.toContain(`:${s.metricsPort}`);
  expect(texts).toContain(`SO_REUSEPORT group of 3 listening sockets on 127.0.0.1:${s.port}`);
  const text = renderText(e, i.findings);
  expect(text).toContain(`127.0.0.1:${statusPort}  [adapter, not under load]`);
  expect(text).toContain(`127.0.0.1:${s.port}  [server]`);
  await s.stop();
});

test('accept_mutex on: the status socket is no herd finding; the server port is', async () => {
  const s = await nginx({ workers: 2, acceptMutex: true });
  const statusPort = s.ready!.adapterPorts![0]!;
  const i = await inspectStartedServer(s, null);
  const e = i.evidence!;
  expect(e.listeners.find((l) => l.port === statusPort)?.role).toBe('adapter');
  expect(e.listeners.find((l) => l.port === s.port)?.role).toBe('server');
  const texts = i.findings.map((f) => f.text);
  expect(texts.filter((t) => t.includes(`:${statusPort}`))).toEqual([]);
  expect(texts.filter((t) => t.includes(`127.0.0.1:${s.port}`)).length).toBeGreaterThan(0);
  await s.stop();
});
