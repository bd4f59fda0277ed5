// Every run inspects each server once it is ready: the evidence is in results.json, the summary
// and the report; a server whose evidence contradicts its declared set-up stops the run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { contradictionError, inspectStartedServer } from '../lab/inspect/inspect-started-server';
import { renderSummary } from '../lab/report/terminal-summary';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';
import { startServe, stopAll } from './support/serve-process';

afterEach(stopAll);

const scenario = defineScenario({
  name: 'inspect-run',
  description: 'Post-fork and pre-fork, inspected once ready.',
  targets: [
    { name: 'post-fork', server: { workers: 2 } },
    { name: 'pre-fork', server: { workers: 2, loopCreation: 'pre-fork' } },
    { name: 'exclusive', server: { workers: 2, exclusive: true } },
  ],
  load: { mode: 'keep-alive', connections: 4, durationSec: 1, warmupSec: 0.3 },
  sampleIntervalMs: 250,
  drainSec: 0.3,
});

describe('a run keeps the kernel evidence of each server', () => {
  it('records, summarises and reports it; pre-fork shares one instance, post-fork does not', async () => {
    const out = await realRun(scenario, { runsDir: await freshRunsDir('inspect-run') });
    const onDisk = JSON.parse(
      await readFile(path.join(out.dir, 'results.json'), 'utf8'),
    ) as typeof out.record;
    const target = (name: string) => onDisk.cells[0]!.targets.find((t) => t.name === name)!;
    for (const name of ['post-fork', 'pre-fork', 'exclusive']) {
      const [i, ...more] = target(name).inspection!;
      expect(more).toEqual([]);
      expect(i!.evidence).not.toBeNull();
      expect(i!.contradictions).toEqual([]);
      const shared = i!.evidence!.instances.filter((x) => x.pids.length > 1);
      // Supervisor and 2 workers in one instance for pre-fork; none shared otherwise.
      expect(shared.map((x) => x.pids.length)).toEqual(name === 'pre-fork' ? [3] : []);
      const port = target(name).containers[0]!.port;
      const watchers = i!
        .evidence!.listeners.filter((l) => l.port === port)
        .flatMap((l) => l.watchedBy);
      expect(watchers.map((w) => w.exclusive)).toEqual(
        name === 'pre-fork' ? [false] : name === 'exclusive' ? [true, true] : [false, false],
      );
    }
    const summary = renderSummary(onDisk, { color: false }).replace(/\s+/g, ' ');
    expect(summary).toMatch(/Kernel evidence/);
    expect(summary).toMatch(
      /pre-fork \(forklab-[^,]*-pre-fork-0, pid \d+\): risk: epoll instance E\d+ is shared by 3 processes/,
    );
    const report = await readFile(path.join(out.dir, 'report.html'), 'utf8');
    expect(report).toMatch(/<h2 id="kernel">Kernel evidence<\/h2>/);
  }, 120_000);

  it('a contradiction with the declared set-up is an error naming target, server and evidence', async () => {
    const s = await startServe(['--workers', '2', '--loop-creation', 'pre-fork']);
    const server = { kind: 'local' as const, id: `pid:${s.proc.pid}`, name: 'srv-0', port: s.port };
    const honest = await inspectStartedServer(server, {
      loopCreation: 'pre-fork',
      workers: 2,
      exclusive: false,
      reusePort: false,
    });
    expect(honest.contradictions).toEqual([]);
    expect(contradictionError('t', [honest])).toBeNull();
    const claimed = await inspectStartedServer(server, {
      loopCreation: 'post-fork',
      workers: 2,
      exclusive: true,
      reusePort: true,
    });
    expect(claimed.contradictions).toHaveLength(3);
    expect(contradictionError('t', [claimed])).toMatch(
      new RegExp(
        `target t, srv-0 \\(pid ${s.proc.pid}\\): declared post-fork, but epoll instance E\\d+ is shared by pids`,
      ),
    );
  });
});
