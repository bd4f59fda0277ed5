// The HTML report of real runs: self-contained, escaped, charts with the measured data, and
// opened in headless Chromium (charts drawn with data, no console errors, a screenshot kept in
// the run folder as report.png).
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunRecord } from '../lab/record/run-record';
import { rateOf, type ChartSpec } from '../lab/report/chart-data';
import { checkPage, findChromium } from '../lab/report/headless-check';
import { renderReport, writeReport } from '../lab/report/html-report';
import { esc } from '../lab/report/format';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';

const single = defineScenario({
  name: 'report-html',
  description: 'Post-fork against pre-fork (both flavours), keep-alive.',
  targets: [
    { name: 'post-fork', server: { workers: 4 } },
    // Accept batch 1: connections spread over the workers, so the shared loop must misroute.
    { name: 'pre-fork', server: { workers: 4, loopCreation: 'pre-fork', acceptBatch: 1 } },
    {
      name: 'asyncio',
      server: { workers: 4, loopCreation: 'pre-fork', flavour: 'asyncio', acceptBatch: 1 },
    },
  ],
  load: { mode: 'keep-alive', connections: 16, durationSec: 2, warmupSec: 0.6 },
  sampleIntervalMs: 200,
  drainSec: 0.6,
  expectations: [{ target: 'pre-fork', metric: 'keyErrorsPer1000', op: '>', value: 0 }],
});

const sweep = defineScenario({
  name: 'report-html-sweep',
  description: 'KeyErrors against the worker count.',
  targets: [
    { name: 'post-fork', server: {} },
    { name: 'pre-fork', server: { loopCreation: 'pre-fork' } },
  ],
  matrix: { workers: [1, 2, 4] },
  load: { mode: 'keep-alive', connections: 8, durationSec: 1.5, warmupSec: 0.4 },
  sampleIntervalMs: 200,
  drainSec: 0.5,
});

let one: { record: RunRecord; dir: string };
let swept: { record: RunRecord; dir: string };

beforeAll(async () => {
  one = await realRun(single, { runsDir: await freshRunsDir('report-html') });
  swept = await realRun(sweep, { runsDir: await freshRunsDir('report-html-sweep') });
}, 180_000);

function embeddedCharts(html: string): ChartSpec[] {
  const m = /<script type="application\/json" id="forklab-charts">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no chart data in the page');
  return JSON.parse(m[1]!) as ChartSpec[];
}

const scriptTags = (html: string) => (html.match(/<script[\s>]/g) ?? []).length;

describe('the page', () => {
  test('is self-contained: uPlot inlined, nothing fetched, a policy that forbids fetching', () => {
    const html = renderReport(one.record);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('var uPlot=');
    expect(html).toContain('.uplot');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link\b/);
    expect(html).not.toMatch(/\ssrc=/);
    expect(html).toContain('<a href="results.json">results.json</a>');
    // error capture, chart data, uPlot, the chart script
    expect(scriptTags(html)).toBe(4);
  });

  test('every text from the record is escaped, in the HTML and in the chart data', () => {
    const evil = `<script>alert("x")</script></script><img src=x onerror=alert(1)>&'`;
    const r = structuredClone(one.record);
    r.scenario = evil;
    r.description = evil;
    r.error = evil;
    r.warnings = [evil];
    r.overrides = { [evil]: evil };
    r.environment.host = evil;
    r.cells[0]!.targets[0]!.name = evil;
    const html = renderReport(r);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain(esc(evil));
    expect(scriptTags(html)).toBe(4);
    const labels = embeddedCharts(html).flatMap((c) => c.lines.map((l) => l.label));
    expect(labels).toContain(evil);
  });

  test('shows every section, the verdicts and each target’s figures', () => {
    const html = renderReport(one.record);
    for (const id of ['verdicts', 'figures', 'series', 'balance', 'configuration']) {
      expect(html).toContain(`<h2 id="${id}">`);
    }
    expect(html).toContain('the workers share one epoll, so events for a sibling&#39;s fd');
    expect(html).toContain('<span class="badge ok">held</span>');
    for (const t of one.record.cells[0]!.targets) expect(html).toContain(`<th>${t.name}<div`);
    expect(html).toContain('accept share (of');
  });
});

test('a record with no cells (a run that failed at once) still makes a page', () => {
  const html = renderReport({ ...one.record, cells: [], status: 'failed', error: 'no engine' });
  expect(html).toContain('<span class="badge failed">failed</span>');
  expect(html).toContain('Error: no engine');
  expect(html).toContain('the run failed: no engine');
  expect(embeddedCharts(html)).toEqual([]);
});

test('links each target’s server logs, relative to the run folder', () => {
  const html = renderReport(one.record);
  for (const t of one.record.cells[0]!.targets) {
    for (const c of t.containers) {
      expect(html).toContain(`<a href="${c.logFile}">${path.basename(c.logFile)}</a>`);
      expect(existsSync(path.join(one.dir, c.logFile))).toBe(true);
    }
  }
});

test('rates: per second between samples; none at the start or where a counter went back', () => {
  expect(rateOf([0, 500, 1500, 2500], [0, 10, 40, 5])).toEqual([null, 20, 30, null]);
});

test('rates: none across a phase boundary closer than half the sampling interval', () => {
  // Samples every 1000 ms; the boundary snapshot comes 5 ms after the last warm-up sample.
  const t = [0, 1000, 1005, 2005, 2010];
  const c = [0, 100, 101, 301, 302];
  const phase = ['warmup', 'warmup', 'load', 'load', 'drain'] as const;
  expect(rateOf(t, c, { phase, intervalMs: 1000 })).toEqual([null, 100, null, 200, null]);
  // 600 ms apart is at least half the interval: a rate.
  expect(
    rateOf([0, 1000, 1600], [0, 100, 160], {
      phase: ['warmup', 'warmup', 'load'],
      intervalMs: 1000,
    }),
  ).toEqual([null, 100, 100]);
});

describe('charts have the measured data', () => {
  test('each target’s rates are differences of its cumulative series', () => {
    const charts = embeddedCharts(renderReport(one.record));
    one.record.cells[0]!.targets.forEach((t, i) => {
      const req = charts.find((c) => c.id === `c0-t${i}-requests`)!;
      expect(req.x).toEqual(t.series.t.map((ms) => ms / 1000));
      // Worked out here, not by the code under test: Δrequests / Δt between samples.
      const c = t.series.totals.requests!;
      const ts = t.series.t;
      const ph = t.series.phase;
      const interval = one.record.resolved.sampleIntervalMs ?? 1000;
      req.lines[0]!.values.forEach((v, k) => {
        if (k === 0 || ts[k]! === ts[k - 1]!) return expect(v).toBeNull();
        // A phase boundary closer than half an interval to the previous sample: no rate.
        if (ph[k] !== ph[k - 1] && ts[k]! - ts[k - 1]! < interval / 2) return expect(v).toBeNull();
        expect(v).toBeCloseTo(((c[k]! - c[k - 1]!) * 1000) / (ts[k]! - ts[k - 1]!), 6);
      });
      expect(Math.max(...req.lines[0]!.values.map((v) => v ?? 0))).toBeGreaterThan(0);
      expect(new Set(req.phases!.map((p) => p.phase))).toEqual(
        new Set(['warmup', 'load', 'drain']),
      );
    });
    const keyErrors = charts.find((c) => c.id === 'c0-t1-keyerrors')!;
    expect(Math.max(...keyErrors.lines[0]!.values.map((v) => v ?? 0))).toBeGreaterThan(0);
    expect(charts.find((c) => c.id === 'c0-t2-unknown-fd')).toBeDefined();
    // post-fork has no KeyErrors: no empty chart, a note instead.
    expect(charts.find((c) => c.id === 'c0-t0-keyerrors')).toBeUndefined();
    expect(renderReport(one.record)).toContain('zero throughout: KeyErrors/s');
  });

  test('a sweep plots each key figure against the swept parameter, one line per target', () => {
    const html = renderReport(swept.record);
    const charts = embeddedCharts(html);
    const ke = charts.find((c) => c.id === 'sweep-keyErrorsPer1000')!;
    expect(ke.x).toEqual([1, 2, 4]);
    expect(ke.lines.map((l) => l.label)).toEqual(['post-fork', 'pre-fork']);
    const measured = swept.record.cells.map(
      (c) => c.targets.find((t) => t.name === 'pre-fork')!.derived.keyErrorsPer1000,
    );
    expect(ke.lines[1]!.values).toEqual(measured);
    expect(charts.find((c) => c.id === 'sweep-requestsPerSec')).toBeDefined();
    expect(html).toContain('<h2 id="sweep">Sweep: figures against workers</h2>');
    expect(html).toContain('cell-2: workers=4</th>');
  });
});

describe('in headless Chromium', () => {
  beforeAll(() => {
    if (!findChromium()) throw new Error('Chromium is needed (scripts/setup.sh installs it)');
  });

  test.each([
    ['one cell', () => one],
    ['a sweep', () => swept],
  ])(
    '%s: the charts render with data, no console errors, screenshot kept',
    async (_n, run) => {
      const { dir } = run();
      const file = await writeReport(dir);
      expect(file).toBe(path.join(dir, 'report.html'));
      const page = await checkPage(file, { screenshot: path.join(dir, 'report.png') });
      expect(page.status).toMatch(/^\d+ charts? drawn\.$/);
      expect(page.render).toBe('done');
      expect(page.errors).toBe(0);
      expect(page.console).toEqual([]);
      expect(page.chartsExpected).toBeGreaterThan(0);
      expect(page.chartsDrawn).toBe(page.chartsExpected);
      expect(page.chartsInked).toBe(page.chartsExpected);
      expect(page.charts).toHaveLength(page.chartsExpected);
      for (const c of page.charts) {
        expect([c.id, c.points > 0, c.ink > 0, c.length > 0]).toEqual([c.id, true, true, true]);
      }
      expect(existsSync(path.join(dir, 'report.png'))).toBe(true);
      expect(statSync(path.join(dir, 'report.png')).size).toBeGreaterThan(20_000);
    },
    90_000,
  );

  test('a hostile record renders as text: no script of its own runs', async () => {
    const evil = `</script><script>document.title="pwned"</script><img src=x onerror="document.title='pwned'">`;
    const r = structuredClone(one.record);
    r.description = evil;
    r.cells[0]!.targets[1]!.name = evil;
    const dir = await freshRunsDir('report-html-hostile');
    const file = path.join(dir, 'report.html');
    await mkdir(dir, { recursive: true });
    await writeFile(file, renderReport(r));
    const page = await checkPage(file);
    expect(page.title).toBe(`forklab: report-html (${r.runId})`);
    expect(page.render).toBe('done');
    expect(page.errors).toBe(0);
    expect(page.console).toEqual([]);
  }, 90_000);
});
