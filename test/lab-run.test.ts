// The lab end to end: `forklab run` as a user runs it, against the real Docker engine and as local
// processes. Short runs, loopback only; every server they start must be gone afterwards.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { waitFor } from './support/serve-process';
import { parseRecordJson } from '../lab/record/run-folder';
import type { RunRecord } from '../lab/record/run-record';
import { tempDir } from './support/temp-dir';

const BIN = path.resolve(__dirname, '..', 'bin', 'forklab.js');
const engine = probeDockerSync(3000);
const inCI = process.env.CI === 'true';
// Under CI=true a missing engine fails these tests instead of skipping them.
const describeDocker = engine.ok || inCI ? describe : describe.skip;
if (!engine.ok && !inCI) {
  console.log(`lab-run docker tests skipped: no Docker engine answered (${engine.reason})`);
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function forklab(
  args: string[],
  opts: { onStderr?: (all: string) => void; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
) {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    opts.onStderr?.(stderr);
  });
  const done = new Promise<CliRun>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    // 'close', not 'exit': the output streams are drained by then.
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done };
}

function onlyRun(runsDir: string): { dir: string; record: RunRecord } {
  const dirs = readdirSync(runsDir);
  expect(dirs).toHaveLength(1);
  const dir = path.join(runsDir, dirs[0]!);
  return {
    dir,
    record: parseRecordJson(readFileSync(path.join(dir, 'results.json'), 'utf8')) as RunRecord,
  };
}

/** Processes whose command line names this run (local servers carry `--name forklab-<run>-…`). */
async function processesOf(runId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`forklab-${runId}-`)) pids.push(Number(p));
  }
  return pids;
}

async function containersOf(runId: string) {
  return connectDocker().listContainers({
    all: true,
    filters: { label: [`forklab.run=${runId}`] },
  });
}

/** Both targets of a compare run have their container running. */
const bothContainersRunning = (id: string) =>
  waitFor(
    'both containers running',
    async () =>
      (await containersOf(id)).filter((c) => c.State === 'running').length >= 2 ? true : undefined,
    60_000,
    100,
  );

/** Both targets of a compare run have their local server running. */
const bothLocalServersRunning = (id: string) =>
  waitFor(
    'both local servers running',
    async () => ((await processesOf(id)).length >= 2 ? true : undefined),
    30_000,
    100,
  );

const SHORT = ['--duration', '2', '--warmup', '1', '--drain', '1', '--connections', '16'];

function expectCompareVerdicts(record: RunRecord): void {
  expect(record.status).toBe('completed');
  const [cell] = record.cells;
  const pre = cell!.targets.find((t) => t.server.loopCreation === 'pre-fork')!;
  const post = cell!.targets.find((t) => t.server.loopCreation === 'post-fork')!;
  expect(pre.derived.keyErrorsPer1000).toBeGreaterThan(0);
  expect(post.derived.keyErrorsPer1000).toBe(0);
  expect(post.derived.unknownFdPer1000).toBe(0);
  // The client's and the server's counts agree (the cross-check found nothing to warn about).
  for (const t of cell!.targets) {
    expect(t.client.responses).toBeGreaterThan(0);
    // A finite number (it applies: the server counted requests), and within 1 %.
    const diff = t.derived.clientServerDiffPct;
    expect(typeof diff).toBe('number');
    expect(Math.abs(diff ?? Infinity)).toBeLessThanOrEqual(1);
  }
  expect(record.expectations.length).toBeGreaterThan(0);
  expect(record.expectations.every((e) => e.passed)).toBe(true);
}

describeDocker('forklab run with containers', () => {
  test('a short compare run: KeyErrors on pre-fork, none on post-fork, no container left', async () => {
    const runsDir = tempDir('forklab-runs-');
    const r = await forklab([
      'run',
      'compare',
      '--runtime',
      'docker',
      '--runs-dir',
      runsDir,
      ...SHORT,
    ]).done;
    expect(r.code).toBe(0);
    const { dir, record } = onlyRun(runsDir);
    expect(record.environment.runtime).toBe('docker');
    expect(record.environment.docker).toBeTruthy();
    expectCompareVerdicts(record);
    expect(r.stdout).toMatch(/Expectations: \d+ passed, 0 failed/);
    // Container logs were streamed into the run folder.
    for (const c of record.cells[0]!.targets.flatMap((t) => t.containers)) {
      expect(readFileSync(path.join(dir, c.logFile), 'utf8')).toMatch(/FORKLAB_READY/);
    }
    expect(existsSync(path.join(dir, 'figures.csv'))).toBe(true);
    expect(await containersOf(record.runId)).toEqual([]);
  });

  test('SIGINT mid-load: no container or process left, the partial record kept', async () => {
    const runsDir = tempDir('forklab-runs-');
    const run = startRun(['run', 'compare', '--runtime', 'docker', '--runs-dir', runsDir]);
    const id = await run.id;
    // Wait until both targets' containers run and the load has gone on for a moment.
    await bothContainersRunning(id);
    await new Promise((r) => setTimeout(r, 3000));
    const t0 = Date.now();
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await containersOf(id)).toEqual([]);
    expect(await processesOf(id)).toEqual([]);
    const { record } = onlyRun(runsDir);
    expect(record.status).toBe('interrupted');
    expect(record.runId).toBe(id);
  });
});

// The reaper (lab/runtime/reaper.ts) removes the containers of a lab killed outright, and its
// Prometheus target file. 10 s: the reaper sees the lab's pipe close at once; it then lists the
// session's containers and removes them with force (SIGKILL, then removal: well under a second
// each here), in parallel; the rest is margin for a loaded machine.
const REAP_WITHIN_MS = 10_000;

test('a lab killed outright (SIGKILL) leaves no container and no target file', async () => {
  if (!engine.ok && !inCI) return; // reported above
  const runsDir = tempDir('forklab-runs-');
  const sdDir = tempDir('forklab-sd-');
  const sdFiles = () => readdirSync(sdDir).filter((f) => f.endsWith('.json'));
  const run = startRun(['run', 'compare', '--runtime', 'docker', '--runs-dir', runsDir], {
    FORKLAB_SD_DIR: sdDir,
  });
  const id = await run.id;
  await bothContainersRunning(id);
  const sessions = new Set((await containersOf(id)).map((c) => c.Labels['forklab.session']));
  expect(sessions.size).toBe(1);
  const session = [...sessions][0]!;
  await waitFor(
    'its target file',
    async () => (sdFiles().length > 0 ? true : undefined),
    10_000,
    50,
  );
  const t0 = Date.now();
  run.child.kill('SIGKILL');
  await run.done;
  await waitFor(
    'containers and target file gone after the lab was killed',
    async () => {
      const left = await connectDocker().listContainers({
        all: true,
        filters: { label: [`forklab.session=${session}`] },
      });
      return left.length === 0 && sdFiles().length === 0 ? true : undefined;
    },
    REAP_WITHIN_MS,
    100,
  );
  process.stderr.write(`reaped ${Date.now() - t0} ms after SIGKILL\n`);
});

test('a second SIGINT exits at once and still leaves no container', async () => {
  if (!engine.ok && !inCI) return; // reported above
  const runsDir = tempDir('forklab-runs-');
  const run = startRun(['run', 'compare', '--runtime', 'docker', '--runs-dir', runsDir]);
  const id = await run.id;
  await bothContainersRunning(id);
  run.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  run.child.kill('SIGINT');
  const r = await run.done;
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(/again: removing every server now/);
  expect(await containersOf(id)).toEqual([]);
});

/** A long run (30 s of load unless told) to interrupt; `id` resolves with its run id from its first line. */
function startRun(args: string[], env?: NodeJS.ProcessEnv, durationSec = 30) {
  let seen!: (id: string) => void;
  let failed!: (e: Error) => void;
  const id = new Promise<string>((resolve, reject) => {
    seen = resolve;
    failed = reject;
  });
  let loadSeen!: () => void;
  const loading = new Promise<void>((resolve) => (loadSeen = resolve));
  const run = forklab([...args, '--duration', String(durationSec), '--warmup', '0'], {
    ...(env ? { env } : {}),
    onStderr: (all) => {
      const m = /forklab: run (\w+) of/.exec(all);
      if (m) seen(m[1]!);
      if (/\[load [\d.]+\/\d+ s\]/.test(all)) loadSeen();
    },
  });
  // A run that ends before naming itself fails the test at once instead of at Jest's timeout.
  void run.done.then((r) =>
    failed(new Error(`forklab run exited (${r.code}) early:\n${r.stderr}`)),
  );
  return { ...run, id, loading };
}

describe('forklab run with local processes', () => {
  test('the local runtime gives the same verdicts, says so, and leaves no process', async () => {
    const runsDir = tempDir('forklab-runs-');
    const r = await forklab([
      'run',
      'compare',
      '--runtime',
      'local',
      '--runs-dir',
      runsDir,
      ...SHORT,
    ]).done;
    expect(r.code).toBe(0);
    const { record } = onlyRun(runsDir);
    expect(record.environment.runtime).toBe('local');
    expectCompareVerdicts(record);
    expect(await processesOf(record.runId)).toEqual([]);
  });

  test('SIGINT mid-load: every local server is stopped and the partial record kept', async () => {
    const runsDir = tempDir('forklab-runs-');
    const run = startRun(['run', 'compare', '--runtime', 'local', '--runs-dir', runsDir]);
    const id = await run.id;
    await bothLocalServersRunning(id);
    await new Promise((r) => setTimeout(r, 3000));
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(await processesOf(id)).toEqual([]);
    const { record } = onlyRun(runsDir);
    expect(record.status).toBe('interrupted');
  });
});

test('SIGINT half-way into a single-cell run keeps that cell: counters, samples, marked interrupted', async () => {
  const runsDir = tempDir('forklab-runs-');
  const run = startRun(['run', 'compare', '--runtime', 'local', '--runs-dir', runsDir], {}, 8);
  await run.id;
  // The first progress line comes 2.5 s into the measured load of 8 s: SIGINT 1.5 s later.
  await run.loading;
  await new Promise((r) => setTimeout(r, 1500));
  run.child.kill('SIGINT');
  const r = await run.done;
  expect(r.code).toBe(130);
  const { dir, record } = onlyRun(runsDir);
  expect(record.status).toBe('interrupted');
  expect(record.cells).toHaveLength(1);
  const cell = record.cells[0]!;
  expect(cell.interrupted).toBe(true);
  for (const t of cell.targets) {
    expect(t.counters.requests ?? 0).toBeGreaterThan(0);
    expect(t.client.responses).toBeGreaterThan(0);
  }
  // samples.csv: a header and at least one row per target.
  const samples = readFileSync(path.join(dir, 'samples.csv'), 'utf8').trim().split(/\r?\n/);
  expect(samples.length).toBeGreaterThan(1 + cell.targets.length);
  expect(r.stdout).toMatch(/cell-0 INTERRUPTED/);
  expect(readFileSync(path.join(dir, 'report.html'), 'utf8')).toMatch(/cell-0 interrupted/);
});

test('a lab killed outright (SIGKILL) leaves no local server behind', async () => {
  const runsDir = tempDir('forklab-runs-');
  const run = startRun(['run', 'compare', '--runtime', 'local', '--runs-dir', runsDir]);
  const id = await run.id;
  await bothLocalServersRunning(id);
  run.child.kill('SIGKILL');
  await run.done;
  // The servers notice their lifeline (stdin) closed and stop by themselves.
  await waitFor(
    'local servers gone after the lab died',
    async () => ((await processesOf(id)).length === 0 ? true : undefined),
    10_000,
    100,
  );
});

describe('bad input is rejected with every error, and nothing starts', () => {
  test('bad overrides', async () => {
    const runsDir = tempDir('forklab-runs-');
    const r = await forklab([
      'run',
      'compare',
      '--runs-dir',
      runsDir,
      '--duration',
      'x',
      '--workers',
      '0',
      '--mode',
      'sideways',
      '--memory-mib',
      '2',
    ]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--duration/);
    expect(r.stderr).toMatch(/--workers/);
    expect(r.stderr).toMatch(/--mode/);
    expect(r.stderr).toMatch(/--memory-mib/);
    expect(r.stderr).toMatch(/nothing was started/);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  test('a bad scenario file', async () => {
    const runsDir = tempDir('forklab-runs-');
    const file = path.join(tempDir('forklab-scn-'), 'broken.ts');
    const define = path.resolve(__dirname, '..', 'lab', 'scenario', 'scenario');
    writeFileSync(
      file,
      `import { defineScenario } from ${JSON.stringify(define)};
export default defineScenario({
  name: 'broken',
  description: 'Two mistakes in the targets and one in the load.',
  targets: [
    { name: 'a', server: { loopCreation: 'pre-fork', exclusive: true } },
    { name: 'a', server: { workers: 99 } },
  ],
  load: { mode: 'keep-alive', connections: 0, durationSec: 2 },
} as never);
`,
    );
    const r = await forklab(['run', file, '--runs-dir', runsDir]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exclusive/);
    expect(r.stderr).toMatch(/workers/);
    expect(r.stderr).toMatch(/connections/);
    expect(r.stderr).toMatch(/targets\[1\]/);
    expect(readdirSync(runsDir)).toEqual([]);
  });

  test('an unreachable Docker engine: one line, exit code 3, nothing started', async () => {
    const runsDir = tempDir('forklab-runs-');
    const socket = path.join(runsDir, 'no-such-docker.sock');
    const r = await forklab(['run', 'compare', '--runtime', 'docker', '--runs-dir', runsDir], {
      env: { DOCKER_HOST: `unix://${socket}` },
    }).done;
    expect(r.code).toBe(3);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^forklab run: --runtime docker was asked for, but no Docker engine/);
    expect(lines[0]).toContain(`unix://${socket}: no such socket`);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(readdirSync(runsDir)).toEqual([]);
  });

  test('an unknown scenario lists the ones there are', async () => {
    const r = await forklab(['run', 'no-such-scenario']).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/compare/);
    expect(r.stderr).toMatch(/herd/);
  });
});
