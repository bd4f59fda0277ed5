// scripts/second-engine.sh start --until-gone PID: the second dockerd, started in its own session,
// is stopped by a watcher (its own session too) once PID is gone, however PID died (SIGKILL
// included), as testcontainers' reaper does; with --remove-dirs its root and data go as well. The
// watcher ends by itself when the engine is stopped otherwise, and `stop` ends it: nothing is left
// behind either way. `start` without the option starts no watcher.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { procState, waitFor } from './support/serve-process';

const REPO = path.resolve(__dirname, '..');
const SCRIPT = path.join(REPO, 'scripts', 'second-engine.sh');
const dockerd = spawnSync('sh', ['-c', 'command -v dockerd'], { encoding: 'utf8' }).status === 0;
const root = process.getuid?.() === 0;
// A second engine needs root and dockerd; under CI=true their absence fails instead of skipping.
const describeEngine = (dockerd && root) || process.env.CI === 'true' ? describe : describe.skip;
if (!(dockerd && root) && process.env.CI !== 'true')
  console.log(`second-engine-until-gone tests skipped: ${!dockerd ? 'no dockerd' : 'not root'}`);

jest.setTimeout(120_000);

/** Gone: no such process, or a zombie nobody has reaped yet. */
const gone = async (pid: number): Promise<boolean> => {
  const s = await procState(pid);
  return s === null || s === 'Z';
};

/** Live processes whose command line names `dir` (dockerd, its containerd, the watcher). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const state = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(dir) && state !== 'Z') found.push(`${p} ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describeEngine('second engine --until-gone', () => {
  const dirs: string[] = [];
  const engineEnv = (dir: string): NodeJS.ProcessEnv => ({
    ...process.env,
    FORKLAB_ENGINE2_ROOT: dir,
    FORKLAB_ENGINE2_DATA: path.join(dir, 'data'),
    FORKLAB_ENGINE2_TCP: '',
    FORKLAB_ENGINE2_UNTIL_GONE: '',
  });
  const script = (dir: string, args: string[]) => {
    const r = spawnSync('bash', [SCRIPT, ...args], {
      env: engineEnv(dir),
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0)
      throw new Error(
        `second-engine.sh ${args.join(' ')}: exit ${r.status ?? r.signal} within 60 s: ${r.stdout}${r.stderr}`,
      );
    return r.stdout;
  };
  const pidIn = (file: string): number => Number(readFileSync(file, 'utf8').trim());
  const answers = (dir: string): boolean =>
    spawnSync(
      'docker',
      ['-H', `unix://${dir}/docker.sock`, 'version', '--format', '{{.Server.Version}}'],
      {
        timeout: 10_000,
      },
    ).status === 0;

  afterAll(() => {
    // Whatever a failed test left: stopped and removed.
    for (const dir of dirs) {
      if (existsSync(dir))
        spawnSync('bash', [SCRIPT, 'stop'], { env: engineEnv(dir), timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the owner killed outright: the watcher stops the engine and removes its folders, then exits', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-ug-'));
    dirs.push(dir);
    const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
    const ownerExit = new Promise((r) => owner.once('exit', r));
    const out = script(dir, ['start', '--until-gone', String(owner.pid), '--remove-dirs']);
    expect(out).toContain(`watcher: stops it once pid ${owner.pid} is gone`);
    const dockerdPid = pidIn(path.join(dir, 'docker.pid'));
    const watcherPid = pidIn(path.join(dir, 'watcher.pid'));
    // While the owner lives, the engine stays (two polls of the watcher).
    await new Promise((r) => setTimeout(r, 2500));
    expect(await gone(dockerdPid)).toBe(false);
    expect(await gone(watcherPid)).toBe(false);
    expect(answers(dir)).toBe(true);

    owner.kill('SIGKILL');
    await ownerExit;
    const t0 = Date.now();
    await waitFor(
      `dockerd (pid ${dockerdPid}) to be stopped by the watcher after its owner was killed`,
      async () => ((await gone(dockerdPid)) ? true : undefined),
      40_000,
      100,
    );
    const stoppedMs = Date.now() - t0;
    await waitFor(
      `the watcher (pid ${watcherPid}) to exit once it stopped the engine`,
      async () => ((await gone(watcherPid)) ? true : undefined),
      40_000,
      100,
    );
    process.stderr.write(
      `second engine stopped ${stoppedMs} ms after its owner was killed; watcher gone after ${Date.now() - t0} ms\n`,
    );
    // Nothing of it is left: no process naming its folder (containerd included), no folder.
    expect(processesUnder(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  test('stop ends the watcher too; start without --until-gone starts none', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-ug-'));
    dirs.push(dir);
    script(dir, ['start', '--until-gone', String(process.pid)]);
    const dockerdPid = pidIn(path.join(dir, 'docker.pid'));
    const watcherPid = pidIn(path.join(dir, 'watcher.pid'));
    expect(await gone(watcherPid)).toBe(false);
    expect(script(dir, ['stop'])).toContain('second engine stopped');
    expect(await gone(dockerdPid)).toBe(true);
    // stop waits for the watcher (5 s at most); its whole process group goes.
    expect(await gone(watcherPid)).toBe(true);
    expect(existsSync(path.join(dir, 'watcher.pid'))).toBe(false);
    expect(processesUnder(dir)).toEqual([]);
    // Without --remove-dirs the folders stay (the images with them).
    expect(existsSync(path.join(dir, 'data'))).toBe(true);

    // As before: start, answer, stop; no watcher.
    expect(script(dir, ['start'])).not.toContain('watcher');
    expect(existsSync(path.join(dir, 'watcher.pid'))).toBe(false);
    expect(answers(dir)).toBe(true);
    expect(script(dir, ['stop'])).toContain('second engine stopped');
    expect(processesUnder(dir)).toEqual([]);
  });

  test('the engine stopped otherwise: the watcher notices and exits by itself', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-ug-'));
    dirs.push(dir);
    script(dir, ['start', '--until-gone', String(process.pid)]);
    const dockerdPid = pidIn(path.join(dir, 'docker.pid'));
    const watcherPid = pidIn(path.join(dir, 'watcher.pid'));
    process.kill(dockerdPid, 'SIGTERM');
    await waitFor(
      `dockerd (pid ${dockerdPid}) to exit on SIGTERM`,
      async () => ((await gone(dockerdPid)) ? true : undefined),
      40_000,
      100,
    );
    await waitFor(
      `the watcher (pid ${watcherPid}) to exit once its engine was gone (it polls every second)`,
      async () => ((await gone(watcherPid)) ? true : undefined),
      10_000,
      100,
    );
    expect(readFileSync(path.join(dir, 'watcher.log'), 'utf8')).toContain(
      'the engine stopped; nothing to do',
    );
    expect(processesUnder(dir)).toEqual([]);
  });

  test('--until-gone refuses what is not a live process id', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-ug-'));
    dirs.push(dir);
    for (const [arg, msg] of [
      ['abc', '--until-gone needs a process id, got "abc"'],
      ['999999999', '--until-gone 999999999: no such process'],
    ] as const) {
      const r = spawnSync('bash', [SCRIPT, 'start', '--until-gone', arg], {
        env: engineEnv(dir),
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(msg);
    }
    expect(existsSync(path.join(dir, 'docker.pid'))).toBe(false);
  });
});
