// A command target the chosen runtime cannot run is a usage error of `forklab run`: exit code 2,
// the field and the fix named, nothing started and no run folder written.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeDockerSync } from '../lab/runtime/docker-engine';

const BIN = path.resolve(__dirname, '..', 'bin', 'forklab.js');
const SCENARIO_MODULE = path.resolve(__dirname, '..', 'lab', 'scenario', 'scenario');

jest.setTimeout(60_000);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-runtime-targets-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scenarioFile(name: string, command: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.ts`);
  writeFileSync(
    file,
    `import { defineScenario } from ${JSON.stringify(SCENARIO_MODULE)};
export default defineScenario({
  name: ${JSON.stringify(name)},
  description: 'a command target',
  targets: [{ name: 'mine', kind: 'command', command: ${JSON.stringify(command)} }],
  load: { mode: 'keep-alive', connections: 1, durationSec: 1 },
});
`,
  );
  return file;
}

test('an image-only command target with --runtime local: exit 2, command.argv named', () => {
  const runs = path.join(dir, 'runs-local');
  const r = spawnSync(
    process.execPath,
    [
      BIN,
      'run',
      scenarioFile('byo-image', { image: 'mine:1', workers: 2 }),
      '--runtime',
      'local',
      '--runs-dir',
      runs,
    ],
    { encoding: 'utf8', timeout: 50_000 },
  );
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(
    "forklab run: targets[0].command.argv: the local runtime runs a command target's command line: set command.argv (with {port} in an argument), or run with --runtime docker (it runs command.image mine:1)",
  );
  expect(r.stderr).toContain('nothing was started');
  expect(readdirSync(dir)).not.toContain('runs-local');
});

const engine = probeDockerSync(3000);
(engine.ok || process.env.CI === 'true' ? test : test.skip)(
  'a command-line-only command target with --runtime docker: exit 2, command.image named',
  () => {
    const runs = path.join(dir, 'runs-docker');
    const file = scenarioFile('byo-argv', { argv: ['srv', '{port}'], workers: 1 });
    const r = spawnSync(
      process.execPath,
      [BIN, 'run', file, '--runtime', 'docker', '--runs-dir', runs],
      { encoding: 'utf8', timeout: 50_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'forklab run: targets[0].command.image: the Docker runtime runs a command target from an image: set command.image (an image on this Docker engine), or run with --runtime local',
    );
    expect(readdirSync(dir)).not.toContain('runs-docker');
  },
);
