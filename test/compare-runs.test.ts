// Run-to-run comparison of real runs: two sides of two repeats each (post-fork against pre-fork,
// the runner's --repeat grouping), the noise rule, one run per side, the exports, the CLI, and the
// HTML page in headless Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { compareRuns, groupRuns, type Comparison } from '../lab/compare/compare';
import { compareCommand } from '../lab/compare/cli';
import { parseCompareArgs } from '../lab/cli/compare-command';
import { loadRuns, type LoadedRun } from '../lab/compare/load-runs';
import { comparisonLines } from '../lab/compare/render';
import { checkPage } from '../lab/report/headless-check';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';

const REPO = path.resolve(__dirname, '..');

const scenario = (loopCreation: 'post-fork' | 'pre-fork') =>
  defineScenario({
    name: 'compare-test',
    description: 'One server, four workers, keep-alive: the loop created after or before fork.',
    // Accept batch 1: connections spread over the workers, so a shared loop must misroute
    // events. (With Tornado's 128 one worker may take all of them in a short run, and a busy
    // owner can then consume its own events before a sleeping sibling runs: no KeyError at all.)
    targets: [{ name: 'server', server: { workers: 4, loopCreation, acceptBatch: 1 } }],
    load: { mode: 'keep-alive', connections: 16, durationSec: 1, warmupSec: 0.3 },
    sampleIntervalMs: 200,
    drainSec: 0.4,
  });

let runsDir: string;
const dirs: Record<'a1' | 'a2' | 'b1' | 'b2', string> = { a1: '', a2: '', b1: '', b2: '' };
let all: LoadedRun[];

beforeAll(async () => {
  runsDir = await freshRunsDir('compare');
  for (const [side, lc] of [
    ['a', 'post-fork'],
    ['b', 'pre-fork'],
  ] as const) {
    const group = `test-${side}-${Date.now().toString(36)}`;
    for (const index of [1, 2]) {
      const out = await realRun(scenario(lc), {
        runsDir,
        repeat: { group, index, count: 2 },
      });
      dirs[`${side}${index}` as keyof typeof dirs] = out.dir;
    }
  }
  all = await loadRuns([dirs.a1, dirs.a2, dirs.b1, dirs.b2]);
}, 180_000);

const row = (c: Comparison, figure: string) => c.rows.find((r) => r.figure === figure)!;

describe('grouping', () => {
  test('repeats of one --repeat group are one side; the sides are told apart by what differs', () => {
    const sides = groupRuns(all);
    expect(sides.map((s) => s.runs.map((r) => r.dir))).toEqual([
      [path.resolve(dirs.a1), path.resolve(dirs.a2)],
      [path.resolve(dirs.b1), path.resolve(dirs.b2)],
    ]);
    expect(sides[0]!.label).toContain('server.loopCreation=post-fork');
    expect(sides[1]!.label).toContain('server.loopCreation=pre-fork');
    // The same by configuration alone; one side per argument with `each`.
    expect(groupRuns(all, 'config').map((s) => s.runs.length)).toEqual([2, 2]);
    expect(groupRuns(all, 'each')).toHaveLength(4);
  });

  test('a group folder, a results.json and a name under the runs folder all load', async () => {
    expect((await loadRuns([runsDir])).length).toBe(4);
    expect((await loadRuns([path.join(dirs.a1, 'results.json')]))[0]!.dir).toBe(
      path.resolve(dirs.a1),
    );
    expect((await loadRuns([path.basename(dirs.b2)], runsDir))[0]!.dir).toBe(path.resolve(dirs.b2));
    await expect(loadRuns(['no-such-run'], runsDir)).rejects.toThrow(
      /no-such-run: not a run folder, a results.json, or a name under/,
    );
  });
});

describe('differences against run-to-run noise', () => {
  test('KeyErrors: zero on every post-fork run, present on every pre-fork run — real, worse', () => {
    const c = compareRuns(all);
    const ke = row(c, 'keyErrorsPer1000');
    const values = (ds: string[]) =>
      ds
        .map((d) => all.find((r) => r.dir === path.resolve(d))!.record.cells[0]!.targets[0]!)
        .map((t) => t.derived.keyErrorsPer1000);
    expect(ke.stats[0]!.values).toEqual(values([dirs.a1, dirs.a2]));
    expect(ke.stats[1]!.values).toEqual(values([dirs.b1, dirs.b2]));
    expect(ke.stats[0]!.median).toBe(0);
    expect(ke.stats[1]!.min).toBeGreaterThan(0);
    expect(ke.diffs[1]).toMatchObject({ verdict: 'real', direction: 'worse' });
  });

  test('every difference is called real exactly when the medians differ by more than the combined spread', () => {
    const c = compareRuns(all);
    let judged = 0;
    for (const r of c.rows) {
      // Worked out here, not by the code under test: two runs a side, so the median is their
      // mean and the spread half their range.
      const [a, b] = r.stats.map((s) => s.values.filter((v): v is number => v !== null));
      const d = r.diffs[1];
      if (!d || a!.length !== 2 || b!.length !== 2 || ![...a!, ...b!].every(Number.isFinite)) {
        continue;
      }
      const med = (xs: number[]) => (xs[0]! + xs[1]!) / 2;
      const spread = (xs: number[]) => Math.abs(xs[0]! - xs[1]!) / 2;
      const gap = Math.abs(med(b!) - med(a!));
      if (gap === 0) expect(d.verdict).toBe('same');
      else
        expect([r.figure, d.verdict]).toEqual([
          r.figure,
          gap > spread(a!) + spread(b!) ? 'real' : 'noise',
        ]);
      judged++;
    }
    expect(judged).toBeGreaterThan(10);
  });

  test('one run per side: differences shown, noise unknown', () => {
    const c = compareRuns(
      all.filter((r) => [dirs.a1, dirs.b1].map((d) => path.resolve(d)).includes(r.dir)),
    );
    expect(c.sides.map((s) => s.runs.length)).toEqual([1, 1]);
    for (const r of c.rows) {
      const d = r.diffs[1];
      if (d) expect(['unknown', 'same']).toContain(d.verdict);
    }
    expect(c.notes).toContain(
      'no repeat on side A, B: noise unknown, differences shown but not judged',
    );
    expect(c.notes.some((n) => n.includes('1 of the 2 runs of its --repeat group given'))).toBe(
      true,
    );
    const lines = comparisonLines(c);
    expect(lines.find((l) => l.includes('KeyErrors per 1000 requests'))).toMatch(
      /\? noise unknown$/,
    );
  });
});

describe('the command', () => {
  test('parses its arguments and names every problem', () => {
    expect(parseCompareArgs(['a', 'b', '--csv', 'x.csv', '--json', '--out=o.html'])).toMatchObject({
      runs: ['a', 'b'],
      csv: 'x.csv',
      json: true,
      out: 'o.html',
      groupBy: 'auto',
    });
    expect(parseCompareArgs(['--csv', 'a', 'b']).runs).toEqual(['a', 'b']);
    expect(() => parseCompareArgs(['--bogus', '--group-by', 'x'])).toThrow(
      '--bogus: unknown flag; --group-by: auto, config or each, got "x"; name at least one run (two to compare)',
    );
    // A typo gets a suggestion, and its value is not taken for a run.
    expect(() => parseCompareArgs(['--group-bu', 'each', 'a', 'b'])).toThrow(
      /^--group-bu: unknown flag; did you mean --group-by\?$/,
    );
  });

  test('writes the HTML, CSV and JSON, and prints the table', async () => {
    const out = path.join(runsDir, 'compare.html');
    const r = await compareCommand(
      parseCompareArgs([dirs.a1, dirs.a2, dirs.b1, dirs.b2, '--out', out, '--csv', '--json']),
    );
    expect(r.written).toEqual([out, out.replace(/html$/, 'csv'), out.replace(/html$/, 'json')]);
    const c = compareRuns(all);
    const csv = readFileSync(out.replace(/html$/, 'csv'), 'utf8').trimEnd().split('\r\n');
    expect(csv[0]).toBe(
      'cell,target,figure,unit,side,sideLabel,runs,n,median,min,max,spread,values,deltaVsA,deltaPctVsA,combinedSpread,difference,direction',
    );
    expect(csv).toHaveLength(1 + c.rows.length * 2);
    expect(csv.find((l) => l.startsWith(',server,keyErrorsPer1000,ratio,B,'))).toMatch(
      /,real,worse$/,
    );
    const json = JSON.parse(readFileSync(out.replace(/html$/, 'json'), 'utf8'));
    expect(json.schema).toBe('forklab.compare/1');
    expect(json.sides).toHaveLength(2);
    expect(json.rows).toHaveLength(c.rows.length);
    expect(r.lines[0]).toBe('forklab compare: 2 sides, 4 runs');
    expect(r.lines.find((l) => l.includes('KeyErrors per 1000 requests'))).toMatch(
      /\* real, worse$/,
    );
  });

  test('npm run compare works from the package scripts', () => {
    const p = spawnSync(
      'npm',
      ['run', '--silent', 'compare', '--', dirs.a1, dirs.b1, '--no-html'],
      {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('forklab compare: 2 sides, 2 runs');
    expect(p.stdout).toContain('? noise unknown');
    const bad = spawnSync('npm', ['run', '--silent', 'compare', '--', '--nope'], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('forklab compare: --nope: unknown flag');
  }, 90_000);

  test('the HTML comparison renders in headless Chromium with data, no errors, screenshot kept', async () => {
    const out = path.join(runsDir, 'compare.html');
    if (!existsSync(out)) {
      await compareCommand(parseCompareArgs([dirs.a1, dirs.a2, dirs.b1, dirs.b2, '--out', out]));
    }
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain(`href="${path.basename(dirs.a1)}/report.html"`);
    const png = path.join(runsDir, 'compare.png');
    const page = await checkPage(out, { screenshot: png });
    expect(page.render).toBe('done');
    expect(page.errors).toBe(0);
    expect(page.console).toEqual([]);
    expect(page.chartsExpected).toBeGreaterThan(0);
    expect(page.chartsInked).toBe(page.chartsExpected);
    for (const c of page.charts)
      expect([c.id, c.points > 0, c.ink > 0]).toEqual([c.id, true, true]);
    expect(statSync(png).size).toBeGreaterThan(20_000);
  }, 90_000);
});
