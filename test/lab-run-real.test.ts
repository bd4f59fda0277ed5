// Real servers end to end: `forklab run real-tornado` and `forklab run nginx-herd` as a user runs
// them, with the local runtime (Debian's python3-tornado and nginx-light on the host, installed by
// scripts/setup.sh). Short runs on 127.0.0.1; what is checked comes from results.json only.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRecordJson } from '../lab/record/run-folder';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { LABEL_RUN } from '../lab/runtime/labels';
import type { RunRecord, TargetRecord } from '../lab/record/run-record';
import { tempDir } from './support/temp-dir';

const BIN = path.resolve(__dirname, '..', 'bin', 'forklab.js');

jest.setTimeout(180_000);

const engine = probeDockerSync(3000);
// Under CI=true a missing engine fails the Docker test instead of skipping it.
const describeDocker = engine.ok || process.env.CI === 'true' ? describe : describe.skip;
if (!engine.ok && process.env.CI !== 'true')
  console.log(`lab-run-real docker test skipped: no Docker engine answered (${engine.reason})`);

function forklab(
  args: string[],
  timeoutMs = 150_000,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stderr });
    });
  });
}

function onlyRecord(runsDir: string): RunRecord {
  const dirs = readdirSync(runsDir);
  expect(dirs).toHaveLength(1);
  const file = path.join(runsDir, dirs[0]!, 'results.json');
  return parseRecordJson(readFileSync(file, 'utf8')) as RunRecord;
}

/** Command lines of live processes that carry `needle` (the run id is in every server's name). */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function target(r: RunRecord, name: string, cell = 0): TargetRecord {
  const t = r.cells[cell]!.targets.find((x) => x.name === name);
  if (!t) throw new Error(`no target ${name} in ${r.cells[cell]!.targets.map((x) => x.name)}`);
  return t;
}

/** Each server's inspection: found, evidence taken, nothing contradicting its declared set-up. */
function expectInspected(t: TargetRecord): void {
  expect(t.inspection).toHaveLength(t.containers.length);
  for (const i of t.inspection!) {
    expect(i.pid).toEqual(expect.any(Number));
    expect(i.evidence).not.toBeNull();
    expect(i.contradictions).toEqual([]);
    expect(i.evidence!.listeners.some((l) => l.port === t.containers[0]!.port)).toBe(true);
  }
}

describe('forklab run --runtime local with real servers', () => {
  test('real-tornado: Tornado counts every response the client received, inspect sees its epolls', async () => {
    const runs = tempDir('forklab-real-tornado-');
    const r = await forklab([
      'run',
      'real-tornado',
      '--runtime',
      'local',
      '-d',
      '2s',
      '--warmup',
      '1',
      '--runs-dir',
      runs,
    ]);
    const record = onlyRecord(runs);
    expect({ status: record.status, error: record.error }).toEqual({
      status: 'completed',
      error: null,
    });
    expect(r.code).toBe(0);

    for (const name of ['tornado-post-fork', 'tornado-pre-fork']) {
      const t = target(record, name);
      expect(t.kind).toBe('tornado');
      expect(t.server).toMatchObject({ workers: 4 });
      // The figures come from the real server: its own request count, per worker and in total,
      // equals what the lab's client received over the same window.
      expect(t.client.responses).toBeGreaterThan(0);
      expect(t.counters.requests).toBe(t.client.responses);
      expect(t.workers).toHaveLength(4);
      expect(t.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(
        t.client.responses,
      );
      // What Tornado does not count is n/a, not 0.
      expect(t.derived.keyErrorsPer1000).toBeNull();
      expect(t.notApplicable.keyErrorsPer1000).toBe('the tornado server does not count keyerrors');
      expectInspected(t);
    }

    // The kernel's view of the loop creation, from the real processes.
    const shared = (t: TargetRecord) =>
      t.inspection![0]!.evidence!.instances.filter((x) => x.pids.length > 1);
    expect(shared(target(record, 'tornado-post-fork'))).toEqual([]);
    expect(shared(target(record, 'tornado-pre-fork')).length).toBeGreaterThan(0);
    // Pre-fork, asyncio's selector skips its siblings' events: counted by the instrumentation.
    expect(target(record, 'tornado-pre-fork').counters.unknown_fd_events).toBeGreaterThan(0);
    expect(target(record, 'tornado-post-fork').counters.unknown_fd_events).toBe(0);
    // The model beside it, in the same record.
    expect(target(record, 'model-pre-fork').kind).toBe('engine');
    expect(processesWith(record.runId)).toEqual([]);
  });

  test('nginx-herd, one cell: requests from the access log, accepts from stub_status, inspected', async () => {
    const runs = tempDir('forklab-nginx-herd-');
    const r = await forklab([
      'run',
      'nginx-herd',
      '--runtime',
      'local',
      '-d',
      '1s',
      '--warmup',
      '1',
      '--workers',
      '2',
      '--runs-dir',
      runs,
    ]);
    const record = onlyRecord(runs);
    expect({ status: record.status, error: record.error }).toEqual({
      status: 'completed',
      error: null,
    });
    // The scenario's balance expectations judge a one-second window of 2 workers on a shared
    // machine, which may miss; the exit code says whether they held. The counts below may not.
    expect(r.code).toBe(record.expectations.every((x) => x.passed) ? 0 : 1);
    expectNginxHerd(record, 2);
    expect(processesWith(record.runId)).toEqual([]);
  });
});

/**
 * nginx-herd's nginx targets, checked from the record against what the client saw: nginx's own
 * counts (the access log per worker, stub_status's accepted connections) equal the client's,
 * exactly, in a one-cell run with a one-second window; and the kernel evidence of each set-up.
 */
function expectNginxHerd(record: RunRecord, workers: number): void {
  expect(record.cells).toHaveLength(1);
  for (const name of ['nginx-exclusive', 'nginx-mutex', 'nginx-reuseport']) {
    const t = target(record, name);
    expect(t.kind).toBe('nginx');
    expect(t.server).toMatchObject({ workers });
    expect(t.workers).toHaveLength(workers);
    expect(t.client.responses).toBeGreaterThan(0);
    expect({ errors: t.client.errors, timeouts: t.client.timeouts }).toEqual({
      errors: 0,
      timeouts: 0,
    });
    // Every response the client received is one line of nginx's access log, in the window: per
    // worker ($pid) summed, and in total. No late warm-up line, none missing.
    expect(t.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(t.client.responses);
    expect(t.counters.requests).toBe(t.client.responses);
    expect(t.derived.clientServerDiffPct).toBe(0);
    // Churn: a new connection for every request; stub_status accepted exactly those (its own
    // status connections taken out).
    expect(t.counters.accepts_ok).toBe(t.client.sent);
    // stub_status counts the whole server: no per-worker accept share, said so.
    expect(t.notApplicable.acceptShareJain).toBe(
      'the nginx server does not count accepts_ok per worker',
    );
    expectInspected(t);
    // The status port is the adapter's, labelled, never counted with the server's sockets.
    const e = t.inspection![0]!.evidence!;
    const port = t.containers[0]!.port;
    expect(e.listeners.filter((l) => l.port === port).every((l) => l.role === 'server')).toBe(true);
    expect(e.listeners.filter((l) => l.port !== port).every((l) => l.role === 'adapter')).toBe(
      true,
    );
  }
  const onPort = (name: string) => {
    const t = target(record, name);
    const e = t.inspection![0]!.evidence!;
    return { e, ls: e.listeners.filter((l) => l.port === t.containers[0]!.port) };
  };
  // accept_mutex off: one listening socket, in every worker's own epoll with EPOLLEXCLUSIVE.
  const excl = onPort('nginx-exclusive');
  expect(excl.ls).toHaveLength(1);
  expect(excl.ls[0]!.watchedBy).toHaveLength(workers);
  expect(excl.ls[0]!.watchedBy.every((w) => w.exclusive)).toBe(true);
  expect(excl.e.instances.filter((x) => x.pids.length > 1)).toEqual([]);
  // reuseport: one socket per worker, each in one epoll, no exclusive flag; one group, the
  // server's (stub_status is not in it).
  const reuse = onPort('nginx-reuseport');
  expect(reuse.ls).toHaveLength(workers);
  for (const l of reuse.ls) expect(l.watchedBy.map((w) => w.exclusive)).toEqual([false]);
  expect(reuse.e.reuseportGroups).toHaveLength(1);
  expect([...reuse.e.reuseportGroups[0]!.inodes].sort()).toEqual(
    reuse.ls.map((l) => l.inode).sort(),
  );
}

describeDocker('forklab run --runtime docker with real nginx', () => {
  // Builds (or reuses, by content hash) the Debian root and forklab-nginx on the engine's image.
  jest.setTimeout(900_000);

  test('nginx-herd in containers: the same exact counts and kernel evidence as locally', async () => {
    const runs = tempDir('forklab-nginx-herd-docker-');
    const r = await forklab(
      [
        'run',
        'nginx-herd',
        '--runtime',
        'docker',
        '-d',
        '1s',
        '--warmup',
        '1',
        '--workers',
        '2',
        '--runs-dir',
        runs,
      ],
      800_000,
    );
    const record = onlyRecord(runs);
    expect({ status: record.status, error: record.error }).toEqual({
      status: 'completed',
      error: null,
    });
    expect(r.code).toBe(record.expectations.every((x) => x.passed) ? 0 : 1);
    expect(record.environment.runtime).toBe('docker');
    expectNginxHerd(record, 2);
    const left = await connectDocker().listContainers({
      all: true,
      filters: { label: [`${LABEL_RUN}=${record.runId}`] },
    });
    expect(left).toEqual([]);
  });
});

describeDocker('forklab run --runtime docker with real Tornado', () => {
  // Builds (or reuses, by content hash) the Debian image with python3-tornado and the engine image.
  jest.setTimeout(900_000);

  test('real-tornado in containers: the same counts and inspect evidence as locally', async () => {
    const runs = tempDir('forklab-real-tornado-docker-');
    const r = await forklab(
      [
        'run',
        'real-tornado',
        '--runtime',
        'docker',
        '-d',
        '2s',
        '--warmup',
        '1',
        '--runs-dir',
        runs,
      ],
      800_000,
    );
    const record = onlyRecord(runs);
    expect({ status: record.status, error: record.error }).toEqual({
      status: 'completed',
      error: null,
    });
    expect(r.code).toBe(0);
    expect(record.environment.runtime).toBe('docker');
    for (const name of ['tornado-post-fork', 'tornado-pre-fork']) {
      const t = target(record, name);
      expect(t.kind).toBe('tornado');
      expect(t.client.responses).toBeGreaterThan(0);
      expect(t.counters.requests).toBe(t.client.responses);
      expectInspected(t);
    }
    const shared = (t: TargetRecord) =>
      t.inspection![0]!.evidence!.instances.filter((x) => x.pids.length > 1);
    expect(shared(target(record, 'tornado-post-fork'))).toEqual([]);
    expect(shared(target(record, 'tornado-pre-fork')).length).toBeGreaterThan(0);
  });
});
