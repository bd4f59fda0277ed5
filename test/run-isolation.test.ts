// Isolation in real runs (local runtime): pinned servers and load generators run on the CPU sets
// the scenario gave them, as the kernel reports them (/proc/<pid>/status Cpus_allowed_list), and
// sequential targets are measured one after another (their load windows do not overlap).
import { readFileSync } from 'node:fs';
import { LoadDriver } from '../lab/load/load-driver';
import { renderSummary } from '../lab/report/terminal-summary';
import { runScenario } from '../lab/run/run-scenario';
import type { StartedServer } from '../lab/runtime/runtime';
import { allowedCpus } from '../lab/scenario/isolation';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { containerPid } from '../lab/inspect/container-pid';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { DockerRuntime } from '../lab/runtime/docker-runtime';
import { newRunId } from '../lab/runtime/session';

/** What the kernel says a process (or thread) may run on. */
function cpusAllowed(pid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no Cpus_allowed_list for pid ${pid}`);
  return m[1]!;
}

const cpus = allowedCpus()!;
// Two different CPUs where the machine has them (one CPU: both on it).
const first = String(cpus[0]);
const last = String(cpus[cpus.length - 1]);

describe('isolation: pinned', () => {
  it('starts each target’s supervisor and workers on its CPU set', async () => {
    const seen = new Map<string, { pid: number; cpus: string }[]>();
    const scenario = defineScenario({
      name: 'isolation-pinned',
      description: 'Two targets, each on a CPU of its own; the load generators on the last CPU.',
      targets: [
        { name: 'a', server: { workers: 2 } },
        { name: 'b', server: { workers: 2 } },
      ],
      load: { mode: 'keep-alive', connections: 4, durationSec: 1, warmupSec: 0 },
      sampleIntervalMs: 200,
      drainSec: 0,
      isolation: { mode: 'pinned', targets: { a: first, b: last }, drivers: last },
    });
    const out = await runScenario({
      scenario,
      runtime: 'local',
      runsDir: await freshRunsDir('isolation-pinned'),
      log: () => undefined,
      progressStream: null,
      hooks: {
        serversStarted: ({ servers }) => {
          for (const [name, list] of servers) {
            seen.set(
              name,
              list.flatMap((s: StartedServer) => {
                const supervisor = Number(s.id.replace('pid:', ''));
                return [supervisor, ...(s.ready?.pids ?? [])].map((pid) => ({
                  pid,
                  cpus: cpusAllowed(pid),
                }));
              }),
            );
          }
        },
      },
    });
    expect(out.record.status).toBe('completed');
    // Supervisor and two workers each.
    expect(seen.get('a')).toHaveLength(3);
    expect(seen.get('b')).toHaveLength(3);
    for (const p of seen.get('a')!) expect(p.cpus).toBe(first);
    for (const p of seen.get('b')!) expect(p.cpus).toBe(last);
    const [ta, tb] = out.record.cells[0]!.targets;
    expect([ta!.cpus, tb!.cpus]).toEqual([first, last]);
    expect(ta!.client.responses).toBeGreaterThan(0);
    expect(renderSummary(out.record, { color: false })).toContain(
      `isolation pinned: a on CPUs ${first}, b on CPUs ${last}; load generators on CPUs ${last}`,
    );
  }, 60_000);

  it('runs a pinned load generator as a process on its CPU set', async () => {
    const d = LoadDriver.open('thread', last);
    try {
      expect(d.pid).toBeGreaterThan(0);
      // taskset sets the affinity, then execs node: wait (bounded) until node runs in that pid.
      // Mid-exec the cmdline reads as taskset's, or empty for a moment.
      const argv0 = () => readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0')[0]!;
      for (let i = 0; i < 100 && argv0() !== process.execPath; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(argv0()).toBe(process.execPath);
      expect(cpusAllowed(d.pid!)).toBe(last);
    } finally {
      await d.close();
    }
  });
});

describe('isolation: sequential', () => {
  it('measures one target after the other: their load windows do not overlap', async () => {
    const scenario = defineScenario({
      name: 'isolation-sequential',
      description: 'Two targets, one at a time under the same load.',
      targets: [
        { name: 'a', server: { workers: 1 } },
        { name: 'b', server: { workers: 1 } },
      ],
      load: { mode: 'keep-alive', connections: 2, durationSec: 1, warmupSec: 0 },
      sampleIntervalMs: 200,
      drainSec: 0,
      isolation: { mode: 'sequential' },
    });
    const { record } = await realRun(scenario, {
      runsDir: await freshRunsDir('isolation-sequential'),
    });
    expect(record.cells).toHaveLength(1);
    const [a, b] = record.cells[0]!.targets;
    expect([a!.name, b!.name]).toEqual(['a', 'b']);
    const win = (t: typeof a) => ({
      from: Date.parse(t!.loadWindow!.startedAt),
      to: Date.parse(t!.loadWindow!.endedAt),
    });
    // Each window is the measured second (at least), and b's starts after a's has ended.
    expect(win(a).to - win(a).from).toBeGreaterThanOrEqual(1000);
    expect(win(b).from).toBeGreaterThanOrEqual(win(a).to);
    // The samples agree: every load-phase sample of a comes before every one of b.
    const loadTimes = (t: typeof a) => t!.series.t.filter((_, i) => t!.series.phase[i] === 'load');
    expect(loadTimes(a).length).toBeGreaterThan(0);
    expect(Math.max(...loadTimes(a))).toBeLessThan(Math.min(...loadTimes(b)));
    expect(a!.client.responses).toBeGreaterThan(0);
    expect(b!.client.responses).toBeGreaterThan(0);
    expect(record.resolved.isolation).toEqual({ mode: 'sequential' });
  }, 60_000);
});

const engine = probeDockerSync(3000);
const describeDocker = engine.ok || process.env.CI === 'true' ? describe : describe.skip;

describeDocker('isolation: pinned containers', () => {
  it('gives the container its CPU set (CpusetCpus), which its processes inherit', async () => {
    const runtime = new DockerRuntime({ stopTimeoutS: 2 });
    const runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-pinned-'));
    try {
      const [server] = await runtime.start({
        runId: newRunId(),
        scenario: 'isolation-pinned',
        target: 'pinned',
        args: ['--workers', '2'],
        runDir,
        cpus: last,
      });
      const info = await connectDocker().getContainer(server!.id).inspect();
      expect(info.HostConfig.CpusetCpus).toBe(last);
      // The container's first process (docker-init) and every process under it.
      const root = await containerPid(server!.id);
      const tree = [root];
      for (let i = 0; i < tree.length; i++) {
        const kids = readFileSync(`/proc/${tree[i]}/task/${tree[i]}/children`, 'utf8');
        tree.push(...kids.split(' ').filter(Boolean).map(Number));
      }
      expect(tree.length).toBeGreaterThanOrEqual(3); // init, supervisor, 2 workers
      for (const pid of tree) expect([pid, cpusAllowed(pid)]).toEqual([pid, last]);
    } finally {
      await runtime.stopAll();
      rmSync(runDir, { recursive: true, force: true });
    }
  }, 120_000);
});
