// What a completed run of the two-engines scenario must show in its record, whichever way the
// second engine is reached (a unix socket or tcp:// with TLS): the servers on the second engine,
// the load generators on the default one, the counts agreeing, nothing left on either engine.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { parseRecordJson } from '../../lab/record/run-folder';
import type { RunRecord } from '../../lab/record/run-record';

const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'second-engine.sh');

/**
 * Starts a second engine (scripts/second-engine.sh) with its folders in `env`
 * (FORKLAB_ENGINE2_ROOT, FORKLAB_ENGINE2_DATA), tied to this process: if it is killed before
 * stopSecondEngine, a watcher stops the engine (--until-gone) and deletes its folders
 * (--remove-dirs).
 */
export function startSecondEngine(env: NodeJS.ProcessEnv): void {
  const up = spawnSync(
    'bash',
    [SCRIPT, 'start', '--until-gone', String(process.pid), '--remove-dirs'],
    { env, encoding: 'utf8', timeout: 60_000 },
  );
  if (up.status !== 0)
    throw new Error(
      `second engine did not start (exit ${up.status ?? up.signal}, 60 s at most): ${up.stdout}${up.stderr}`,
    );
}

/** Stops the second engine of `env` and removes `dir`, its temporary folder. */
export function stopSecondEngine(env: NodeJS.ProcessEnv, dir: string): void {
  const down = spawnSync('bash', [SCRIPT, 'stop'], { env, encoding: 'utf8', timeout: 60_000 });
  if (down.status !== 0)
    process.stderr.write(`second engine stop: ${down.stdout}${down.stderr}
`);
  rmSync(dir, { recursive: true, force: true });
}

/** The record of the one run in `runsDir`, which must have completed. */
export function readCompletedRecord(runsDir: string): RunRecord {
  const dirs = readdirSync(runsDir);
  expect(dirs).toHaveLength(1);
  const record = parseRecordJson(
    readFileSync(path.join(runsDir, dirs[0]!, 'results.json'), 'utf8'),
  ) as RunRecord;
  expect(record.status).toBe('completed');
  return record;
}

/**
 * Checks a completed two-engines `record` whose second engine is at `address`: `first` is the
 * default engine, `second` the one at `address`.
 */
export async function expectTwoEnginesRecord(
  record: RunRecord,
  address: string,
  first: Docker,
  second: Docker,
): Promise<void> {
  // Each engine named, with what ran on it and its clock offset.
  const engines = record.environment.engines!;
  expect(engines.map((e) => [e.name, e.address, e.roles])).toEqual([
    ['default', process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', ['drivers']],
    ['engine2', address, ['post-fork', 'pre-fork']],
  ]);
  for (const e of engines) {
    expect(e.clockSamples).toBe(16);
    expect(e.clockRttMs).toBeGreaterThan(0);
    // Both engines run on this machine's one kernel clock: the true offset is 0, and the
    // NTP bound says the measured one is within half the round trip (1 ms for the two
    // processes' reading of that clock through performance.timeOrigin).
    expect(Math.abs(e.clockOffsetMs!)).toBeLessThanOrEqual(e.clockRttMs! / 2 + 1);
  }
  // The server image went to the second engine (moved, or there from an earlier run) and is there.
  const image = engines[1]!.images[0]!;
  expect(image.tag).toMatch(/^forklab-server:/);
  await expect(second.getImage(image.tag).inspect()).resolves.toBeTruthy();

  for (const t of record.cells[0]!.targets) {
    expect(t.engine).toBe('engine2');
    // The generator ran as a container on the default engine and came back merged, exactly.
    expect(t.client.generator?.engine).toBe('default');
    expect(t.client.responses).toBeGreaterThan(0);
    expect(t.client.responses).toBe(t.counters.requests);
    // Its window, put on the lab's clock, lies within the lab's own load window (2 ms for
    // rounding to whole milliseconds).
    const w = t.client.generator!.window!;
    expect(Date.parse(w.startedAt)).toBeGreaterThanOrEqual(Date.parse(t.loadWindow!.startedAt) - 2);
    expect(Date.parse(w.endedAt)).toBeLessThanOrEqual(Date.parse(t.loadWindow!.endedAt) + 2);
    // Gone from both engines: the servers on the second, the generator on the first.
    for (const c of t.containers)
      await expect(second.getContainer(c.id).inspect()).rejects.toMatchObject({
        statusCode: 404,
      });
    await expect(first.getContainer(t.client.generator!.container).inspect()).rejects.toMatchObject(
      { statusCode: 404 },
    );
  }
}
