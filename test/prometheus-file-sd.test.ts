import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  defaultSdDir,
  removeTargets,
  sweepStaleTargets,
  targetsFile,
  writeTargets,
  type SdEntry,
} from '../lab/prometheus/file-sd';
import { REPO_ROOT } from '../lab/runtime/repo-paths';

const server = (port: number, target: string): SdEntry => ({
  address: `127.0.0.1:${port}`,
  labels: {
    role: 'server',
    scenario: 'compare',
    run: 'r1',
    cell: 'cell-0',
    target,
    server_kind: 'engine',
    loop_creation: target,
    flavour: 'tornado4',
    server: `forklab-r1-${target}-0`,
  },
});

describe('file SD', () => {
  let dir: string;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'forklab-sd-')), 'sd');
  });
  afterEach(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  test('writes the run file in file_sd format, one group per address, folder created', async () => {
    const file = await writeTargets(dir, 'r1', [
      server(9081, 'post-fork'),
      server(9082, 'pre-fork'),
      {
        address: '127.0.0.1:9100',
        labels: {
          role: 'client',
          scenario: 'compare',
          run: 'r1',
          cell: 'cell-0',
          server: 'forklab-r1-client',
        },
      },
    ]);
    expect(file).toBe(targetsFile(dir, 'r1'));
    expect(path.basename(file)).toBe(`forklab-r1.pid${process.pid}.json`);
    const groups = JSON.parse(await readFile(file, 'utf8'));
    expect(groups).toEqual([
      {
        targets: ['127.0.0.1:9081'],
        labels: {
          role: 'server',
          scenario: 'compare',
          run: 'r1',
          cell: 'cell-0',
          target: 'post-fork',
          server_kind: 'engine',
          loop_creation: 'post-fork',
          flavour: 'tornado4',
          server: 'forklab-r1-post-fork-0',
        },
      },
      expect.objectContaining({ targets: ['127.0.0.1:9082'] }),
      {
        targets: ['127.0.0.1:9100'],
        labels: {
          role: 'client',
          scenario: 'compare',
          run: 'r1',
          cell: 'cell-0',
          server: 'forklab-r1-client',
        },
      },
    ]);
    // No temporary file left behind.
    expect(await readdir(dir)).toEqual([path.basename(targetsFile(dir, 'r1'))]);
  });

  test('a second write replaces the file; remove deletes it and tolerates a missing one', async () => {
    await writeTargets(dir, 'r1', [server(9081, 'post-fork'), server(9082, 'pre-fork')]);
    await writeTargets(dir, 'r1', [server(9083, 'post-fork')]);
    const groups = JSON.parse(await readFile(targetsFile(dir, 'r1'), 'utf8'));
    expect(groups.map((g: { targets: string[] }) => g.targets[0])).toEqual(['127.0.0.1:9083']);
    await writeTargets(dir, 'r2', [server(9084, 'pre-fork')]);
    await removeTargets(dir, 'r1');
    await removeTargets(dir, 'r1');
    expect(await readdir(dir)).toEqual([path.basename(targetsFile(dir, 'r2'))]);
  });

  test('rejects bad run ids, addresses and label names, listing every error', async () => {
    await expect(writeTargets(dir, '../x', [])).rejects.toThrow(/run id/);
    const bad = {
      address: 'localhost',
      labels: { ...server(1, 'x').labels, 'bad-name': 'v' } as unknown as SdEntry['labels'],
    };
    await expect(writeTargets(dir, 'r1', [bad])).rejects.toThrow(
      /address "localhost" is not host:port[\s\S]*"bad-name" is not a usable label name/,
    );
  });

  test('default folder: .stack/sd in the repository, or $FORKLAB_SD_DIR', () => {
    expect(defaultSdDir({})).toBe(path.join(REPO_ROOT, '.stack', 'sd'));
    expect(defaultSdDir({ FORKLAB_SD_DIR: '/tmp/elsewhere' })).toBe('/tmp/elsewhere');
  });
});

test('files of lab processes that are gone are swept; a live owner keeps its file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'forklab-sd-sweep-'));
  // A pid that certainly belonged to a process that has exited.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  }).stdout;
  await writeFile(targetsFile(dir, 'dead', Number(gone)), '[]');
  await writeFile(targetsFile(dir, 'live'), '[]');
  await writeFile(path.join(dir, 'unrelated.json'), '[]');
  expect(await sweepStaleTargets(dir)).toEqual([
    path.basename(targetsFile(dir, 'dead', Number(gone))),
  ]);
  expect((await readdir(dir)).sort()).toEqual(
    [path.basename(targetsFile(dir, 'live')), 'unrelated.json'].sort(),
  );
  await rm(dir, { recursive: true, force: true });
});
