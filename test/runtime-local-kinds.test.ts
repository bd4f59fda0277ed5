// The local runtime starts real servers too: Tornado (Debian's python3-tornado) and nginx (Debian's
// nginx-light, behind servers/nginx) as detached process groups, healthy on their metrics port,
// serving the engine's routes, and gone without a trace after stop().
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalRuntime } from '../lab/runtime/local-runtime';
import type { StartedServer } from '../lab/runtime/runtime';
import { newRunId } from '../lab/runtime/session';
import { realTargetLaunch } from '../lab/scenario/target-kinds';
import type { ServerSnapshot } from '../lab/server/snapshot';
import { waitFor } from './support/serve-process';

jest.setTimeout(60_000);
const runtime = new LocalRuntime({ stopTimeoutMs: 3000 });
let runDir: string;
beforeAll(() => {
  runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-runtime-kinds-'));
});
afterAll(async () => {
  await runtime.stopAll();
  rmSync(runDir, { recursive: true, force: true });
});

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function snapshot(s: StartedServer): Promise<ServerSnapshot> {
  return (await (
    await fetch(`http://127.0.0.1:${s.metricsPort}/snapshot.json`)
  ).json()) as ServerSnapshot;
}

test.each([
  ['tornado', realTargetLaunch({ name: 'real-tornado', kind: 'tornado', server: { workers: 2 } })],
  ['nginx', realTargetLaunch({ name: 'real-nginx', kind: 'nginx', server: { workers: 2 } })],
] as const)('%s: started, serving, counted, stopped', async (kind, launch) => {
  const [server] = await runtime.start({
    runId: newRunId(),
    scenario: 'runtime-kinds-test',
    target: kind,
    kind: launch.kind,
    args: launch.args,
    count: 1,
    runDir,
  });
  const s = server!;
  expect(s.ready?.pids).toHaveLength(launch.workers);
  for (let i = 0; i < 10; i++) {
    const r = await fetch(`http://127.0.0.1:${s.port}/`);
    expect(await r.text()).toBe('Hello, world\n');
  }
  // nginx's access log is flushed every 200 ms.
  await new Promise((r) => setTimeout(r, 500));
  const snap = await snapshot(s);
  expect(snap.config).toMatchObject({ kind, workers: 2, port: s.port });
  expect(snap.name).toBe(s.name);
  expect(snap.workers.map((w) => w.pid)).toEqual(s.ready?.pids);
  expect(snap.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(10);
  const pgid = Number(s.id.replace(/^pid:/, ''));
  await s.stop();
  expect(groupExists(pgid)).toBe(false);
  for (const pid of snap.workers.map((w) => w.pid)) {
    expect(() => process.kill(pid, 0)).toThrow();
  }
});

test('command: your own pre-forking server, its workers found and probed from /proc', async () => {
  // Any server will do; this one forks 2 workers and serves the engine's routes.
  const launch = realTargetLaunch({
    name: 'own',
    kind: 'command',
    command: {
      argv: [
        '/usr/bin/python3',
        path.resolve(__dirname, '..', 'servers', 'tornado', 'app.py'),
        '--port',
        '{port}',
        '--metrics-port',
        '0',
        '--workers',
        '2',
      ],
      workers: 2,
    },
  });
  const [server] = await runtime.start({
    runId: newRunId(),
    scenario: 'runtime-kinds-test',
    target: 'own',
    kind: launch.kind,
    args: launch.args,
    env: launch.env,
    runDir,
  });
  const s = server!;
  const pids = s.ready?.pids ?? [];
  expect(pids).toHaveLength(2);
  // The workers are the server's own: /pid names one of them.
  const who = (await (await fetch(`http://127.0.0.1:${s.port}/pid`)).json()) as { pid: number };
  expect(pids).toContain(who.pid);
  // The ready line comes once the workers exist; one may still be setting up and not yet have
  // slept in epoll_wait (its first voluntary switch): wait for that, bounded.
  const snap = await waitFor(
    'every worker has slept once',
    async () => {
      const v = await snapshot(s);
      return v.workers.every((w) => (w.counters.nvcsw ?? 0) > 0) ? v : undefined;
    },
    10_000,
  );
  expect(snap.config).toMatchObject({ kind: 'command', workers: 2, port: s.port });
  for (const w of snap.workers) {
    expect(w.up).toBe(true);
    expect(w.counters.nvcsw).toBeGreaterThan(0);
    expect(w.counters.open_connections).toBeGreaterThanOrEqual(0);
    expect(w.counters.requests).toBeUndefined(); // not something /proc can tell
  }
  const pgid = Number(s.id.replace(/^pid:/, ''));
  await s.stop();
  expect(groupExists(pgid)).toBe(false);
});
