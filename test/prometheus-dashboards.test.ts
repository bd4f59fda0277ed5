// Proof that every panel of both dashboards shows real data: Debian's prometheus (a plain process,
// configured from prometheus/prometheus.yml) scrapes two real servers — 4 workers each, the loop
// created after fork and before it — and the lab's client exporter, all registered through
// file SD exactly as the lab does it; keep-alive load runs into both servers; then every query of
// every panel (and every template variable) is evaluated through Prometheus's HTTP API with
// Grafana's variables substituted, and must return data. The pre-fork KeyError panels must be
// non-zero where the post-fork ones are zero.
//
// Set-up: direct (servers from test/support/serve-process.ts, SD entries written here), not
// through the lab runner (lab/run/run-scenario.ts), which is not runnable yet.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { generatedDashboards } from '../dashboards/generate';
import { substitute, variableQueries } from '../dashboards/promql';
import {
  startClientExporter,
  type ClientExporter,
  type ClientFigures,
} from '../lab/prometheus/client-exporter';
import { writePrometheusConfig } from '../lab/prometheus/config';
import { removeTargets, writeTargets } from '../lab/prometheus/file-sd';
import { describeQuery, evaluatePanels, sumBy } from '../lab/prometheus/panel-check';
import {
  instantQuery,
  labelValues,
  startPrometheus,
  type PrometheusProcess,
} from '../lab/prometheus/prometheus-process';
import { keepAliveLoad, oneShot } from './support/http-client';
import { sleep, startServe, stopAll, waitFor, type RunningServe } from './support/serve-process';

const SCENARIO = 'dashboards-proof';
const RUN = `proof${Date.now().toString(36)}`;
const CELL = 'cell-0';
const TARGETS = ['post-fork', 'pre-fork'] as const;
type Target = (typeof TARGETS)[number];
/** Load after the first scrape of every target: several 1 s scrapes inside the 10 s rate window. */
const LOAD_AFTER_FIRST_SCRAPE_MS = 8000;
const RATE_INTERVAL = '10s';

const boards = Object.fromEntries(
  Object.entries(generatedDashboards()).map(([f, text]) => [f, JSON.parse(text) as unknown]),
);

let tmp: string;
let sdDir: string;
let prom: PrometheusProcess | undefined;
let exporter: ClientExporter | undefined;
const servers = new Map<Target, RunningServe>();
let stopLoad = false;
let drivers: Promise<void>[] = [];
let loadStartSec = 0;
let endSec = 0;

/** Cumulative client figures per target, plus latency probes (ms). */
const client = new Map<Target, { f: ClientFigures; probes: number[] }>();

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Keep-alive waves (new connections each wave, so accepts go on) plus timed probe requests. */
async function drive(target: Target, port: number): Promise<void> {
  const c = {
    f: {
      sent: 0,
      responses: 0,
      status2xx: 0,
      statusOther: 0,
      errors: 0,
      timeouts: 0,
      requestsPerSec: 0,
      latencyMs: null,
    } as ClientFigures,
    probes: [] as number[],
  };
  client.set(target, c);
  while (!stopLoad) {
    const t0 = performance.now();
    const connections = 6;
    const perConnection = 40;
    const r = await keepAliveLoad({ port, connections, perConnection, timeoutMs: 2000 });
    const sec = (performance.now() - t0) / 1000;
    for (let i = 0; i < 3; i++) {
      const p0 = performance.now();
      const probe = await oneShot(
        port,
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        2000,
      );
      if (probe.response) c.probes.push(performance.now() - p0);
    }
    c.probes = c.probes.slice(-200);
    const ok = r.statuses[200] ?? 0;
    c.f = {
      sent: c.f.sent + connections * perConnection,
      responses: c.f.responses + r.responses,
      status2xx: c.f.status2xx + ok,
      statusOther: c.f.statusOther + r.responses - ok,
      errors: c.f.errors + r.errors,
      timeouts: c.f.timeouts + r.timeouts,
      requestsPerSec: sec > 0 ? r.responses / sec : 0,
      latencyMs: null,
    };
    const sorted = [...c.probes].sort((a, b) => a - b);
    if (sorted.length) {
      c.f.latencyMs = {
        p50: quantile(sorted, 0.5),
        p90: quantile(sorted, 0.9),
        p99: quantile(sorted, 0.99),
      };
    }
    exporter!.update(target, CELL, c.f);
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'forklab-proof-'));
  sdDir = path.join(tmp, 'sd');
  const config = await writePrometheusConfig(path.join(tmp, 'prometheus.yml'), sdDir);
  prom = await startPrometheus({ configFile: config, storageDir: path.join(tmp, 'data') });
  exporter = await startClientExporter();
  const started = await Promise.all(
    TARGETS.map((t) =>
      startServe(['--workers', '4', '--loop-creation', t, '--name', `forklab-${RUN}-${t}-0`]),
    ),
  );
  TARGETS.forEach((t, i) => servers.set(t, started[i]!));
  await writeTargets(sdDir, RUN, [
    ...TARGETS.map((t) => ({
      address: `127.0.0.1:${servers.get(t)!.metricsPort}`,
      labels: {
        role: 'server' as const,
        scenario: SCENARIO,
        run: RUN,
        cell: CELL,
        target: t,
        server_kind: 'engine' as const,
        loop_creation: t,
        flavour: 'tornado4',
        server: `forklab-${RUN}-${t}-0`,
      },
    })),
    {
      address: exporter.address,
      labels: {
        role: 'client',
        scenario: SCENARIO,
        run: RUN,
        cell: CELL,
        server: `forklab-${RUN}-client`,
      },
    },
  ]);
  loadStartSec = Date.now() / 1000;
  drivers = TARGETS.map((t) => drive(t, servers.get(t)!.port));
  // File SD → first scrape takes ~5 s (the discovery manager's update interval).
  await waitFor(
    'Prometheus scraping all three targets',
    async () => {
      const up = await instantQuery(prom!.url, `up{run="${RUN}"} == 1`);
      return up.length === 3 ? true : undefined;
    },
    15_000,
    250,
  ).catch(async (err: Error) => {
    const targets = await (await fetch(`${prom!.url}/api/v1/targets`)).text();
    throw new Error(
      `${err.message}\ntargets: ${targets}\nprometheus:\n${prom!.output().slice(-3000)}`,
    );
  });
  await sleep(LOAD_AFTER_FIRST_SCRAPE_MS);
  endSec = Date.now() / 1000;
  // Keep the load on until a scrape after endSec has certainly been ingested.
  await sleep(1500);
  stopLoad = true;
  await Promise.all(drivers);
}, 50_000);

afterAll(async () => {
  stopLoad = true;
  await Promise.allSettled(drivers);
  await prom?.stop();
  await stopAll();
  await exporter?.close();
  if (sdDir) await removeTargets(sdDir, RUN);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const check = (board: string, vars: Record<string, string>) =>
  evaluatePanels({
    prometheusUrl: prom!.url,
    board: boards[board],
    vars: { datasource: 'unused', ...vars },
    timeSec: endSec,
    rateInterval: RATE_INTERVAL,
    range: `${Math.max(10, Math.floor(endSec - loadStartSec))}s`,
  });

test('the load reached both servers and the client saw it', () => {
  for (const t of TARGETS) {
    const c = client.get(t)!;
    expect(c.f.status2xx).toBeGreaterThan(100);
    expect(c.f.latencyMs).not.toBeNull();
  }
});

test('main dashboard: every query of every panel returns data for both targets', async () => {
  const outcomes = await check('forklab-main.json', {
    scenario: SCENARIO,
    run: RUN,
    cell: CELL,
    target: '.*',
  });
  expect(outcomes.length).toBeGreaterThan(15);
  const problems: string[] = [];
  for (const o of outcomes) {
    if (process.env.FORKLAB_PROOF_DUMP) {
      const values = o.samples.map(
        (s) =>
          `${s.metric.target}${s.metric.worker ? `/w${s.metric.worker}` : ''}=${Number(s.value[1]).toPrecision(4)}`,
      );
      process.stdout.write(`${describeQuery(o.query)}: ${values.join(' ')}\n`);
    }
    const targets = new Set(o.samples.map((s) => s.metric.target));
    if (o.error) problems.push(`${describeQuery(o.query)}: ${o.error}`);
    else if (o.samples.length === 0) problems.push(`${describeQuery(o.query)}: no data`);
    else if (!TARGETS.every((t) => targets.has(t))) {
      problems.push(`${describeQuery(o.query)}: data for ${[...targets].join(', ')} only`);
    }
  }
  expect(problems).toEqual([]);
});

test('worker dashboard: every query returns data for each target, one series set per worker', async () => {
  const problems: string[] = [];
  for (const target of TARGETS) {
    const outcomes = await check('forklab-worker.json', {
      scenario: SCENARIO,
      run: RUN,
      cell: CELL,
      target,
    });
    expect(outcomes.length).toBeGreaterThan(10);
    for (const o of outcomes) {
      const where = `${target}: ${describeQuery(o.query)}`;
      const workers = new Set(o.samples.map((s) => s.metric.worker));
      if (o.error) problems.push(`${where}: ${o.error}`);
      else if (o.samples.length === 0) problems.push(`${where}: no data`);
      else if (workers.size !== 4) problems.push(`${where}: ${workers.size} workers, not 4`);
      else if (o.samples.some((s) => s.metric.target !== target || s.metric.container !== '0')) {
        problems.push(`${where}: wrong target or container label`);
      }
    }
  }
  expect(problems).toEqual([]);
});

test('template variables list the run’s scenario, run, cell and targets', async () => {
  const expected: Record<string, string[]> = {
    scenario: [SCENARIO],
    run: [RUN],
    cell: [CELL],
    target: [...TARGETS],
  };
  const vars = { scenario: SCENARIO, run: RUN, cell: CELL, target: '.*' };
  for (const board of Object.values(boards)) {
    for (const v of variableQueries(board)) {
      const values = await labelValues(prom!.url, v.label, substitute(v.selector, { vars }), {
        startSec: loadStartSec - 60,
        endSec: endSec + 5,
      });
      expect({
        variable: v.name,
        values: expected[v.name]!.filter((x) => values.includes(x)),
      }).toEqual({
        variable: v.name,
        values: expected[v.name],
      });
    }
  }
});

test('KeyErrors: non-zero for pre-fork, zero for post-fork (main and worker panels)', async () => {
  const all = { scenario: SCENARIO, run: RUN, cell: CELL, target: '.*' };
  const main = await check('forklab-main.json', all);
  for (const title of ['KeyErrors/s', 'KeyErrors per 1000 requests']) {
    const v = sumBy(main.find((o) => o.query.panel === title)!.samples, 'target');
    expect({ title, preForkPositive: v['pre-fork']! > 0, postFork: v['post-fork'] }).toEqual({
      title,
      preForkPositive: true,
      postFork: 0,
    });
  }
  const keyErrorsOf = async (target: Target) => {
    const outcomes = await check('forklab-worker.json', { ...all, target });
    const o = outcomes.find(
      (x) => x.query.panel.startsWith('KeyErrors/s') && x.query.refId === 'A',
    )!;
    return sumBy(o.samples, 'target')[target];
  };
  expect(await keyErrorsOf('pre-fork')).toBeGreaterThan(0);
  expect(await keyErrorsOf('post-fork')).toBe(0);
});
