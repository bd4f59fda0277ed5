// Two Docker engines on one machine, end to end: a second dockerd started here (its own socket,
// data root, exec root and pid file under a temporary folder, no bridge, no iptables; stopped and
// removed at the end) beside the default one. `forklab run two-engines` puts the servers on the
// second engine and the load generators on the default one; the record must merge them as if run
// here, name each engine with its clock offset, and leave no container of the lab on either
// engine. An engine that does not answer stops the run before anything starts, and a lab killed
// outright is cleaned up on both engines by its reaper. The second engine is started with
// --until-gone (this process) and --remove-dirs: a test run killed before afterAll leaves no
// dockerd and no folder behind (test/second-engine-until-gone.test.ts proves the watcher).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { parseRecordJson } from '../lab/record/run-folder';
import type { RunRecord } from '../lab/record/run-record';
import { waitFor } from './support/serve-process';
import {
  expectTwoEnginesRecord,
  readCompletedRecord,
  startSecondEngine,
  stopSecondEngine,
} from './support/two-engines-record';
import { tempDir } from './support/temp-dir';

const REPO = path.resolve(__dirname, '..');
const BIN = path.join(REPO, 'bin', 'forklab.js');
const engine = probeDockerSync(3000);
const dockerd = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).status === 0;
const inCI = process.env.CI === 'true';
const root = process.getuid?.() === 0;
// A second engine needs root and dockerd; under CI=true their absence fails instead of skipping.
const describeEngines = (engine.ok && dockerd && root) || inCI ? describe : describe.skip;
if (!(engine.ok && dockerd && root) && !inCI) {
  console.log(
    `run-two-engines tests skipped: ${!engine.ok ? `no Docker engine answered (${engine.reason})` : !dockerd ? 'no dockerd' : 'not root'}`,
  );
}

jest.setTimeout(300_000);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function forklab(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const seenStderr = (): string => stderr;
  const done = new Promise<CliRun>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stderr: seenStderr };
}

const stderrOf = (run: { stderr: () => string }): string => run.stderr();

describeEngines('two Docker engines', () => {
  let tmp: string;
  let env2: NodeJS.ProcessEnv;
  let address: string;
  let second: Docker;
  const first = connectDocker();

  /** Every container a lab process started (servers, load generators, clock probes) on an engine. */
  const ofLab = (docker: Docker, pid: number) =>
    docker.listContainers({ all: true, filters: { label: [`forklab.owner-pid=${pid}`] } });

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'forklab-e2-'));
    env2 = {
      ...process.env,
      FORKLAB_ENGINE2_ROOT: tmp,
      FORKLAB_ENGINE2_DATA: path.join(tmp, 'data'),
      FORKLAB_ENGINE2_TCP: '',
    };
    startSecondEngine(env2);
    address = `unix://${path.join(tmp, 'docker.sock')}`;
    second = new Docker({ socketPath: path.join(tmp, 'docker.sock') });
  });

  afterAll(() => {
    if (tmp) stopSecondEngine(env2, tmp);
  });

  test('two-engines: servers on the second engine, drivers on the default one, counts agree, nothing left', async () => {
    const runsDir = tempDir('forklab-runs-');
    const run = forklab(['run', 'two-engines', '--runs-dir', runsDir, '--duration', '3'], {
      FORKLAB_ENGINE2: address,
    });
    const pid = run.child.pid!;
    // While it runs: the lab's containers appear on both engines (what the cleanup check below
    // must then find gone).
    const seen = { first: 0, second: 0 };
    let running = true;
    const watch = (async () => {
      while (running) {
        seen.first = Math.max(seen.first, (await ofLab(first, pid)).length);
        seen.second = Math.max(seen.second, (await ofLab(second, pid)).length);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const r = await run.done;
    running = false;
    await watch;
    expect(r.stderr).not.toMatch(/forklab run: .*error/i);
    expect(r.code).toBe(0);

    const record = readCompletedRecord(runsDir);
    process.stderr.write(
      `two-engines: ${JSON.stringify(record.environment.engines?.map((e) => ({ name: e.name, offsetMs: e.clockOffsetMs, rttMs: e.clockRttMs, images: e.images })))}\n`,
    );

    await expectTwoEnginesRecord(record, address, first, second);
    expect(seen.first).toBeGreaterThanOrEqual(2);
    expect(seen.second).toBeGreaterThanOrEqual(2);
    expect(await ofLab(first, pid)).toEqual([]);
    expect(await ofLab(second, pid)).toEqual([]);
    // What `docker ps -a` shows on each engine, by the run's label.
    for (const host of [[], ['-H', address]]) {
      const ps = spawnSync(
        'docker',
        [...host, 'ps', '-aq', '--filter', `label=forklab.run=${record.runId}`],
        { encoding: 'utf8' },
      );
      expect(ps.status).toBe(0);
      expect(ps.stdout.trim()).toBe('');
    }
  });

  test('an engine that does not answer stops the run before anything starts, naming it and its address', async () => {
    const runsDir = tempDir('forklab-runs-');
    const gone = `unix://${path.join(tmp, 'no-such', 'docker.sock')}`;
    const file = path.join(tmp, 'unreachable.ts');
    writeFileSync(
      file,
      `import { defineScenario } from ${JSON.stringify(path.join(REPO, 'lab', 'scenario', 'scenario'))};
export default defineScenario({
  name: 'unreachable',
  description: 'Targets on an engine that is there and on two that are not.',
  engines: {
    there: { address: ${JSON.stringify(address)} },
    gone: { address: ${JSON.stringify(gone)} },
    refused: { address: 'tcp://127.0.0.1:1' },
  },
  placement: { targets: { a: 'there', b: 'gone' }, drivers: 'refused' },
  targets: [{ name: 'a', server: {} }, { name: 'b', server: {} }],
  load: { mode: 'keep-alive', connections: 2, durationSec: 1 },
});
`,
    );
    const run = forklab(['run', file, '--runs-dir', runsDir]);
    const r = await run.done;
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`engine "gone" (${gone}) did not answer: no such socket`);
    expect(r.stderr).toContain(
      'engine "refused" (tcp://127.0.0.1:1) did not answer: connection refused',
    );
    expect(r.stderr).not.toContain('engine "there"');
    // Nothing started: no run folder, no container on the engines that answered.
    expect(readdirSync(runsDir)).toEqual([]);
    expect(await ofLab(first, run.child.pid!)).toEqual([]);
    expect(await ofLab(second, run.child.pid!)).toEqual([]);
  });

  test('Ctrl-C during the load stops it, keeps the partial record and removes everything on both engines', async () => {
    const runsDir = tempDir('forklab-runs-');
    const run = forklab(['run', 'two-engines', '--runs-dir', runsDir, '--duration', '20'], {
      FORKLAB_ENGINE2: address,
    });
    const pid = run.child.pid!;
    await waitFor(
      'the measured load',
      async () => (/\[load /.test(stderrOf(run)) ? true : undefined),
      180_000,
      200,
    );
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    const dirs = readdirSync(runsDir);
    const record = parseRecordJson(
      readFileSync(path.join(runsDir, dirs[0]!, 'results.json'), 'utf8'),
    ) as RunRecord;
    expect(record.status).toBe('interrupted');
    // The generators' partial results came back from their containers.
    for (const t of record.cells[0]!.targets) {
      expect(t.client.generator?.engine).toBe('default');
      expect(t.client.responses).toBeGreaterThan(0);
    }
    expect(await ofLab(first, pid)).toEqual([]);
    expect(await ofLab(second, pid)).toEqual([]);
  });

  test('a lab killed outright (SIGKILL) leaves no container on either engine', async () => {
    const runsDir = tempDir('forklab-runs-');
    const run = forklab(['run', 'two-engines', '--runs-dir', runsDir, '--duration', '20'], {
      FORKLAB_ENGINE2: address,
    });
    const pid = run.child.pid!;
    // Killed while the load runs: servers on the second engine, generators on the first.
    await waitFor(
      'servers and load generators running',
      async () =>
        (await ofLab(second, pid)).filter((c) => c.State === 'running').length >= 2 &&
        (await ofLab(first, pid)).some(
          (c) => c.Labels['forklab.role'] === 'load-generator' && c.State === 'running',
        )
          ? true
          : undefined,
      180_000,
      200,
    );
    run.child.kill('SIGKILL');
    await run.done;
    const t0 = Date.now();
    await waitFor(
      'the reaper to clean both engines',
      async () =>
        (await ofLab(first, pid)).length === 0 && (await ofLab(second, pid)).length === 0
          ? true
          : undefined,
      15_000,
      100,
    );
    process.stderr.write(`two engines reaped ${Date.now() - t0} ms after SIGKILL\n`);
  });
});
