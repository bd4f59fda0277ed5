// The dashboards against a real lab run: a short `compare` run (post-fork and pre-fork, 4 workers
// each, keep-alive load) through the lab's own runner (runScenario, local runtime), registered in
// file SD by the lab's Prometheus hooks (lab/prometheus/run-hooks.ts) with its client exporter,
// scraped by Debian's prometheus as a plain process. Every query of every panel of both
// dashboards must return data for the run, and the pre-fork KeyErrors must be non-zero where the
// post-fork ones are zero.
//
// The runner's load progress carries each window's latency, so the client latency panel is
// required like every other.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generatedDashboards } from '../dashboards/generate';
import { startClientExporter, type ClientExporter } from '../lab/prometheus/client-exporter';
import { writePrometheusConfig } from '../lab/prometheus/config';
import {
  describeQuery,
  evaluatePanels,
  sumBy,
  type QueryOutcome,
} from '../lab/prometheus/panel-check';
import { startPrometheus, type PrometheusProcess } from '../lab/prometheus/prometheus-process';
import { prometheusRunHooks, type ProgressLike } from '../lab/prometheus/run-hooks';
import { runScenario, type RunOutcome } from '../lab/run/run-scenario';
import compare from '../scenarios/compare';

const TARGETS = ['post-fork', 'pre-fork'];
const LOAD_SEC = 8;

const boards = Object.fromEntries(
  Object.entries(generatedDashboards()).map(([f, text]) => [f, JSON.parse(text) as unknown]),
);

let tmp: string;
let sdDir: string;
let prom: PrometheusProcess | undefined;
let exporter: ClientExporter | undefined;
let outcome: RunOutcome;
let firstProgressSec = 0;
let lastProgressSec = 0;
let progressHasLatency = false;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'forklab-proof-run-'));
  sdDir = path.join(tmp, 'sd');
  const config = await writePrometheusConfig(path.join(tmp, 'prometheus.yml'), sdDir);
  prom = await startPrometheus({ configFile: config, storageDir: path.join(tmp, 'data') });
  exporter = await startClientExporter();
  const hooks = prometheusRunHooks({
    sdDir,
    exporter,
    prometheusUrl: prom.url,
    log: () => {},
  });
  outcome = await runScenario({
    scenario: { ...compare, load: { ...compare.load, durationSec: LOAD_SEC, warmupSec: 1 } },
    runtime: 'local',
    runsDir: path.join(tmp, 'runs'),
    log: () => {},
    progressStream: null,
    hooks: {
      ...hooks,
      clientProgress(target: string, cell: string, p: ProgressLike) {
        const now = Date.now() / 1000;
        firstProgressSec ||= now;
        lastProgressSec = now;
        if (p.latencyMs) progressHasLatency = true;
        hooks.clientProgress(target, cell, p);
      },
    },
  });
}, 55_000);

afterAll(async () => {
  await prom?.stop();
  await exporter?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const check = (board: string, target: string): Promise<QueryOutcome[]> =>
  evaluatePanels({
    prometheusUrl: prom!.url,
    board: boards[board],
    vars: { scenario: 'compare', run: outcome.record.runId, cell: 'cell-0', target },
    // The end of the measured load (the drain after it has no requests to divide by).
    timeSec: lastProgressSec,
    rateInterval: '10s',
    range: `${Math.max(10, Math.floor(lastProgressSec - firstProgressSec))}s`,
  });

test('the compare run completed, and the lab unregistered it from file SD', async () => {
  expect(outcome.record.status).toBe('completed');
  expect(progressHasLatency).toBe(true);
  expect(outcome.record.cells[0]!.targets.map((t) => t.name)).toEqual(TARGETS);
  expect(await readdir(sdDir)).toEqual([]);
});

test('main dashboard: every query of every panel returns data for both targets of the run', async () => {
  const problems: string[] = [];
  for (const o of await check('forklab-main.json', '.*')) {
    const targets = new Set(o.samples.map((s) => s.metric.target));
    if (o.error) problems.push(`${describeQuery(o.query)}: ${o.error}`);
    else if (o.samples.length === 0) problems.push(`${describeQuery(o.query)}: no data`);
    else if (!TARGETS.every((t) => targets.has(t))) {
      problems.push(`${describeQuery(o.query)}: data for ${[...targets].join(', ')} only`);
    }
  }
  expect(problems).toEqual([]);
});

test('worker dashboard: every query returns data for each target, 4 workers each', async () => {
  const problems: string[] = [];
  for (const target of TARGETS) {
    for (const o of await check('forklab-worker.json', target)) {
      const where = `${target}: ${describeQuery(o.query)}`;
      const workers = new Set(o.samples.map((s) => s.metric.worker));
      if (o.error) problems.push(`${where}: ${o.error}`);
      else if (o.samples.length === 0) problems.push(`${where}: no data`);
      else if (workers.size !== 4) problems.push(`${where}: ${workers.size} workers, not 4`);
    }
  }
  expect(problems).toEqual([]);
});

test('KeyErrors: non-zero for pre-fork, zero for post-fork, as the run record says', async () => {
  const main = await check('forklab-main.json', '.*');
  for (const title of ['KeyErrors/s', 'KeyErrors per 1000 requests']) {
    const v = sumBy(main.find((o) => o.query.panel === title)!.samples, 'target');
    expect({ title, preForkPositive: v['pre-fork']! > 0, postFork: v['post-fork'] }).toEqual({
      title,
      preForkPositive: true,
      postFork: 0,
    });
  }
  const derived = Object.fromEntries(
    outcome.record.cells[0]!.targets.map((t) => [t.name, t.derived.keyErrorsPer1000]),
  );
  expect(derived['pre-fork']).toBeGreaterThan(0);
  expect(derived['post-fork']).toBe(0);
});
