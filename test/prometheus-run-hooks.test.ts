import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startClientExporter, type ClientExporter } from '../lab/prometheus/client-exporter';
import { prometheusRunHooks } from '../lab/prometheus/run-hooks';
import { targetsFile } from '../lab/prometheus/file-sd';

describe('Prometheus run hooks', () => {
  let dir: string;
  let exporter: ClientExporter;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'forklab-hooks-'));
    exporter = await startClientExporter();
  });
  afterEach(async () => {
    await exporter.close();
    await rm(dir, { recursive: true, force: true });
  });

  const cell = {
    id: 'cell-0',
    targets: [
      { name: 'post-fork', server: { loopCreation: 'post-fork', flavour: 'tornado4' } },
      { name: 'pre-fork', server: { loopCreation: 'pre-fork', flavour: 'asyncio' } },
      { name: 'nginx', kind: 'nginx' as const, server: { workers: 2, acceptMutex: false } },
    ],
  };
  const servers = new Map([
    ['post-fork', [{ name: 'forklab-r1-post-fork-0', metricsPort: 9101 }]],
    [
      'pre-fork',
      [
        { name: 'forklab-r1-pre-fork-0', metricsPort: 9102 },
        { name: 'forklab-r1-pre-fork-1', metricsPort: 9103 },
      ],
    ],
    ['nginx', [{ name: 'forklab-r1-nginx-0', metricsPort: 9104 }]],
  ]);
  const sdFile = () => readFile(targetsFile(dir, 'r1'), 'utf8').then(JSON.parse);

  test('registers every server of the cell and the client exporter, then unregisters', async () => {
    const hooks = prometheusRunHooks({ sdDir: dir, exporter, finalScrapeMs: 0 });
    await hooks.serversStarted({ runId: 'r1', scenario: 'compare', cell, servers });
    const groups = (await sdFile()) as Array<{ targets: string[]; labels: Record<string, string> }>;
    expect(groups.map((g) => g.targets[0])).toEqual([
      '127.0.0.1:9101',
      '127.0.0.1:9102',
      '127.0.0.1:9103',
      '127.0.0.1:9104',
      exporter.address,
    ]);
    expect(groups[2]!.labels).toEqual({
      role: 'server',
      scenario: 'compare',
      run: 'r1',
      cell: 'cell-0',
      target: 'pre-fork',
      server_kind: 'engine',
      loop_creation: 'pre-fork',
      flavour: 'asyncio',
      server: 'forklab-r1-pre-fork-1',
    });
    // A real server: its kind, and no loop creation or flavour of the engine's.
    expect(groups[3]!.labels).toEqual({
      role: 'server',
      scenario: 'compare',
      run: 'r1',
      cell: 'cell-0',
      target: 'nginx',
      server_kind: 'nginx',
      loop_creation: 'n/a',
      flavour: 'nginx',
      server: 'forklab-r1-nginx-0',
    });
    expect(groups[4]!.labels).toEqual({
      role: 'client',
      scenario: 'compare',
      run: 'r1',
      cell: 'cell-0',
      server: 'forklab-r1-client',
    });
    await hooks.serversStopping({ runId: 'r1', cell });
    expect(((await sdFile()) as Array<{ targets: string[] }>).map((g) => g.targets[0])).toEqual([
      exporter.address,
    ]);
    await hooks.runEnded({ runId: 'r1' });
    expect(await readdir(dir)).toEqual([]);
  });

  test('client counters go on across phases (warm-up, load); the rate is per tick', async () => {
    const hooks = prometheusRunHooks({ sdDir: dir, exporter });
    const p = (sent: number, responses: number, elapsedSec: number) => ({
      sent,
      responses,
      errors: 1,
      timeouts: 0,
      elapsedSec,
    });
    const read = async () => {
      const text = await (await fetch(exporter.url)).text();
      const v = (name: string) =>
        Number(
          new RegExp(`^${name}\\{target="pre-fork",cell="cell-0"[^}]*\\} (\\S+)$`, 'm').exec(
            text,
          )?.[1],
        );
      return {
        sent: v('forklab_client_requests_total'),
        errors: v('forklab_client_errors_total'),
        rps: v('forklab_client_requests_per_second'),
      };
    };
    hooks.clientProgress('pre-fork', 'cell-0', p(100, 90, 1));
    hooks.clientProgress('pre-fork', 'cell-0', p(300, 290, 2));
    expect(await read()).toEqual({ sent: 300, errors: 1, rps: 200 });
    // The load phase starts from zero again.
    hooks.clientProgress('pre-fork', 'cell-0', p(50, 40, 0.5));
    expect(await read()).toEqual({ sent: 350, errors: 2, rps: 80 });
    hooks.clientProgress('pre-fork', 'cell-0', p(150, 140, 1.5));
    expect(await read()).toEqual({ sent: 450, errors: 2, rps: 100 });
  });
});
