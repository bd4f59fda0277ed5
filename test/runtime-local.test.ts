// The local runtime: the real `forklab serve` as a detached process group; healthy, serving,
// and gone without a trace after stop(); a failed start reports the log; the global cleanup
// kills whatever is still running.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StartupError } from '../lab/runtime/http-wait';
import { killAllLocalServers, localServerGroups, LocalRuntime } from '../lab/runtime/local-runtime';
import type { StartedServer } from '../lab/runtime/runtime';
import { newRunId } from '../lab/runtime/session';

const runtime = new LocalRuntime({ stopTimeoutMs: 3000 });
let runDir: string;

beforeAll(() => {
  runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-runtime-local-'));
});

afterAll(async () => {
  await runtime.stopAll();
  rmSync(runDir, { recursive: true, force: true });
});

/** Whether any process of the group (alive or a zombie) still exists. */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function leaderPid(s: StartedServer): number {
  return Number(s.id.replace(/^pid:/, ''));
}

test('a local server becomes healthy, serves, and stop() leaves no process behind', async () => {
  const [server] = await runtime.start({
    runId: newRunId(),
    scenario: 'runtime-test',
    target: 'local',
    args: ['--workers', '2'],
    runDir,
  });
  expect(server!.kind).toBe('local');
  const pgid = leaderPid(server!);
  expect(localServerGroups()).toContain(pgid);
  const workers = server!.ready?.pids ?? [];
  expect(workers).toHaveLength(2);

  expect((await fetch(`http://127.0.0.1:${server!.metricsPort}/healthz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${server!.port}/`)).status).toBe(200);
  const pid = (await (await fetch(`http://127.0.0.1:${server!.port}/pid`)).json()) as {
    pid: number;
  };
  expect(workers).toContain(pid.pid);
  // The workers are in the server's own process group, so they go with it.
  for (const w of workers)
    expect(readFileSync(`/proc/${w}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]).toBe(
      String(pgid),
    );

  await server!.stop();
  expect(groupExists(pgid)).toBe(false);
  for (const p of [pgid, ...workers]) expect(processExists(p)).toBe(false);
  expect(localServerGroups()).not.toContain(pgid);
  expect(readFileSync(server!.logFile, 'utf8')).toMatch(/^FORKLAB_READY \{/m);
}, 60_000);

test('a local server that exits at start rejects with its log lines and leaves no process', async () => {
  const before = localServerGroups();
  const err = await runtime
    .start({
      runId: newRunId(),
      scenario: 'runtime-test',
      target: 'bad',
      args: ['--flavour', 'perl'],
      runDir,
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(StartupError);
  expect((err as Error).message).toMatch(
    /exited before it became healthy \(process exited with status [1-9]/,
  );
  expect((err as Error).message).toMatch(/perl/);
  expect(localServerGroups()).toEqual(before);
}, 60_000);

test('killAllLocalServers kills every running group at once (the Ctrl-C path)', async () => {
  const servers = await runtime.start({
    runId: newRunId(),
    scenario: 'runtime-test',
    target: 'ctrlc',
    count: 2,
    args: ['--workers', '1'],
    runDir,
  });
  const groups = servers.map(leaderPid);
  expect(killAllLocalServers()).toBe(2);
  await Promise.all(servers.map((s) => s.stop())); // reaps them; nothing left to signal
  for (const g of groups) expect(groupExists(g)).toBe(false);
}, 60_000);
