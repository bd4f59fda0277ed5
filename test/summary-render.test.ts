// The terminal summary, the CSV views and the run folder, on a hand-made run record.
import { FIELD_METRICS } from '../lab/server/metrics';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  csvField,
  figuresCsv,
  samplesCsv,
  toCsv,
  workerSamplesCsv,
} from '../lab/report/csv-export';
import { deriveFigures } from '../lab/record/derive-figures';
import {
  RUN_RECORD_SCHEMA,
  type CellRecord,
  type ClientResult,
  type ExpectationResult,
  type RunRecord,
  type TargetRecord,
} from '../lab/record/run-record';
import { formatFigure } from '../lab/record/figures';
import { renderSummary, shouldUseColor } from '../lab/report/terminal-summary';
import { renderReport } from '../lab/report/html-report';
import {
  createRunDir,
  parseRecordJson,
  recordJson,
  runStamp,
  writeRecord,
} from '../lab/record/run-folder';
import { runViews } from '../lab/report/run-views';
import { SERVE_DEFAULTS } from '../lab/server/config';

function client(responses: number): ClientResult {
  return {
    durationSec: 2,
    sent: responses,
    responses,
    status2xx: responses,
    statusOther: 0,
    errors: 0,
    timeouts: 0,
    requestsPerSec: responses / 2,
    bytesRead: 0,
    latencyMs: responses ? { p50: 0.8, p90: 1, p99: 2.5, max: 4, mean: 0.9 } : null,
  };
}

/** The engine reports every counter, 0 when nothing happened (figures n/a only for other reasons). */
const ENGINE_ZEROS = Object.fromEntries(
  Object.entries(FIELD_METRICS)
    .filter(([, m]) => m.kind === 'counter')
    .map(([field]) => [field, 0]),
);

function target(
  name: string,
  given: Record<string, number>,
  perWorker: Record<string, number>[],
  responses: number,
  loadMode: 'churn' | 'keep-alive' = 'churn',
): TargetRecord {
  const totals = { ...ENGINE_ZEROS, ...given };
  const workers = perWorker.map((counters, i) => ({
    key: `0/${i}`,
    container: 0,
    worker: i,
    counters: { ...ENGINE_ZEROS, ...counters },
    restarts: 0,
    failed: false,
  }));
  const series = {
    t: [0, 1000, 2000],
    phase: ['warmup', 'load', 'drain'] as const,
    totals: { requests: [0, 10, 20], stuck_connections: [0, 0, 1] },
    workers: { '0/0': { requests: [0, 5, 10] } },
  };
  const s = { ...series, phase: [...series.phase] };
  return {
    name,
    server: { ...SERVE_DEFAULTS, metricsHost: '127.0.0.1', name },
    containers: [],
    client: client(responses),
    counters: totals,
    workers,
    ...deriveFigures({
      totals,
      workers,
      client: client(responses),
      series: s,
      durationSec: 2,
      loadMode,
    }),
    series: s,
  };
}

const postFork = target(
  'post-fork',
  { requests: 2000, accepts_ok: 1000, nvcsw: 1900, accept_eagain: 12, keyerrors: 0 },
  [
    { accepts_ok: 500, requests: 1000 },
    { accepts_ok: 500, requests: 1000 },
  ],
  2000,
);
const preFork = target(
  'pre-fork-edge',
  { requests: 0, accepts_ok: 8, nvcsw: 400, keyerrors: 3700 },
  [{ accepts_ok: 8 }, { accepts_ok: 0 }],
  0,
);

function cell(id: string, matrix: Record<string, unknown>, targets: TargetRecord[]): CellRecord {
  return {
    id,
    matrix,
    startedAt: '2024-05-01T10:00:00.000Z',
    endedAt: '2024-05-01T10:00:05.000Z',
    targets,
  };
}

function expectation(o: Partial<ExpectationResult>): ExpectationResult {
  return {
    target: 'pre-fork-edge',
    metric: 'keyErrorsPer1000',
    op: '==',
    value: 0,
    cell: 'cell-0',
    checkedTarget: 'pre-fork-edge',
    actual: Infinity,
    passed: false,
    why: 'misrouted events in a shared epoll',
    ...o,
  };
}

function record(o: Partial<RunRecord> = {}): RunRecord {
  return {
    schema: RUN_RECORD_SCHEMA,
    runId: 'abc123',
    scenario: 'herd',
    description: 'd',
    status: 'completed',
    error: null,
    startedAt: '2024-05-01T10:00:00.000Z',
    endedAt: '2024-05-01T10:00:12.500Z',
    environment: {
      gitCommit: '0123456789abcdef',
      gitDirty: true,
      host: 'h',
      kernel: '6.1.0',
      node: 'v20.11.0',
      cpus: 2,
      runtime: 'local',
      docker: null,
      runtimeNote: null,
      engineVersion: '0.1.0',
    },
    resolved: {} as RunRecord['resolved'],
    overrides: {},
    cells: [cell('cell-0', {}, [postFork, preFork])],
    expectations: [
      expectation({}),
      expectation({
        target: 'post-fork',
        checkedTarget: 'post-fork',
        metric: 'voluntaryCsPerAccept',
        op: '<',
        value: 3,
        actual: 1.9,
        passed: true,
      }),
    ],
    warnings: [
      'target pre-fork-edge: the client counted 0 responses but the server parsed 0 requests, ' +
        'which is a long line that must be wrapped to fit the width of the terminal window nicely',
    ],
    ...o,
  };
}

const widest = (s: string) => Math.max(...s.split('\n').map((l) => l.length));

describe('renderSummary', () => {
  it('puts targets side by side with figures, units, PASS/FAIL and warnings, in 100 columns', () => {
    const out = renderSummary(record(), { color: false });
    expect(out).not.toContain('\x1b[');
    expect(widest(out)).toBeLessThanOrEqual(100);
    expect(out).toContain('forklab run abc123');
    expect(out).toContain('COMPLETED');
    expect(out).toMatch(/post-fork +pre-fork-edge/);
    expect(out).toMatch(/requests +\/s +1,000 +0\n/);
    // 1900 / 1000 accepts; the other target accepted 8 connections: too few for the figure.
    expect(out).toMatch(/vol\. ctx switches +\/accept +1\.9 +n\/a\n/);
    expect(out).toMatch(/key errors +\/1000 req +0 +inf!\n/); // failed an expectation
    expect(out).toMatch(/latency p50 +ms +0\.8 +n\/a\n/);
    expect(out).toMatch(/accept share Jain +1 +n\/a\n/);
    const unwrapped = out.replace(/\n +/g, ' ');
    expect(unwrapped).toContain(
      'n/a: vol. ctx switches /accept, accept EAGAIN /accept, listen events /accept, accept share largest, accept share max/min, accept share Jain (pre-fork-edge) — 8 connections accepted in the measured window, fewer than the 100 it needs',
    );
    expect(unwrapped).toContain(
      'n/a: latency p50 ms, latency p99 ms (pre-fork-edge) — no request completed',
    );
    expect(out).toContain('Expectations: 1 passed, 1 failed');
    expect(out).toMatch(/FAIL {2}pre-fork-edge: keyErrorsPer1000 == 0, actual inf \(misrouted/);
    expect(out).toMatch(/PASS {2}post-fork: voluntaryCsPerAccept < 3, actual 1\.9/);
    expect(out).not.toContain('∞');
  });

  it('shows the herd figures as n/a with the reason under keep-alive load', () => {
    const ka = target(
      'keep-alive',
      { requests: 20_000, accepts_ok: 0, nvcsw: 5000, accept_eagain: 64 },
      [{ requests: 10_000 }, { requests: 10_000 }],
      20_000,
      'keep-alive',
    );
    const out = renderSummary(record({ cells: [cell('cell-0', {}, [ka])], expectations: [] }), {
      color: false,
    });
    expect(out).toMatch(/vol\. ctx switches +\/accept +n\/a\n/);
    expect(out).toMatch(/accept EAGAIN +\/accept +n\/a\n/);
    expect(out).toMatch(/accept share max\/min +n\/a\n/);
    expect(out).toMatch(/vol\. ctx switches +\/req +0\.25\n/); // 5000 / 20,000 still applies
    expect(out).toMatch(/n\/a: vol\. ctx switches \/accept, .*— needs connection churn/s);
    expect(out).toContain('Warnings (1)');
    expect(out).toContain('  ! target pre-fork-edge');
  });

  it('colours only when asked, with the same text underneath', () => {
    const coloured = renderSummary(record(), { color: true });
    expect(coloured).toContain('\x1b[31mFAIL\x1b[0m');
    expect(coloured).toContain('\x1b[32mPASS\x1b[0m');
    // eslint-disable-next-line no-control-regex
    expect(coloured.replace(/\x1b\[\d+m/g, '')).toBe(renderSummary(record(), { color: false }));
  });

  it('splits more than four targets into tables of four, each fitting 100 columns', () => {
    const many = ['a-long-target-name-1', 'b', 'c', 'd', 'e', 'f'].map((n) =>
      target(n, { requests: 123_456_789 }, [{ requests: 1 }], 1),
    );
    const out = renderSummary(record({ cells: [cell('cell-0', {}, many)], expectations: [] }), {
      color: false,
    });
    expect(widest(out)).toBeLessThanOrEqual(100);
    expect(out).toMatch(/a-long-target-\S*… +b +c +d\n/);
    expect(out).toMatch(/ +e +f\n/);
  });

  it('renders a sweep as rows of cells × targets with the matrix values', () => {
    const cells = [1, 2, 4, 8].map((w, i) =>
      cell(`cell-${i}`, { workers: w, loopCreation: 'pre-fork' }, [postFork, preFork]),
    );
    const out = renderSummary(
      record({
        cells,
        expectations: [expectation({ cell: 'cell-2' })],
      }),
      { color: false },
    );
    expect(widest(out)).toBeLessThanOrEqual(100);
    expect(out).toMatch(/cell +workers loopCreation target +req\/s +vCS\/acc +KeyE\/1k +acc Jain/);
    expect(out).toMatch(/cell-3 +8 +pre-fork +post-fork +1,000 +1\.9 +0 +1 /);
    expect(out).toMatch(/cell-2 +4 +pre-fork +pre-fork-edge +0 +n\/a +inf! +n\/a /);
    expect(out).toMatch(/FAIL {2}cell-2 pre-fork-edge: keyErrorsPer1000/);
    expect(out).toContain('req/s = requests /s');
  });

  it('says so when a run was interrupted before any cell completed', () => {
    const out = renderSummary(
      record({
        status: 'interrupted',
        error: 'interrupted by a signal',
        cells: [],
        expectations: [],
      }),
      { color: false },
    );
    expect(out).toContain('INTERRUPTED');
    expect(out).toContain('error: interrupted by a signal');
    expect(out).toContain('no cell completed');
  });

  it('reads figures back from results.json alike (inf stays infinite)', () => {
    const back = parseRecordJson(recordJson(record())) as RunRecord;
    expect(back.cells[0]!.targets[1]!.derived.keyErrorsPer1000).toBe(Infinity);
    expect(renderSummary(back, { color: false })).toBe(renderSummary(record(), { color: false }));
  });

  it('formats figures by unit', () => {
    expect(formatFigure('ratio', 1234567.8)).toBe('1,234,568');
    expect(formatFigure('ratio', 0.0123)).toBe('0.012');
    expect(formatFigure('ratio', 2.5)).toBe('2.5');
    expect(formatFigure('count', 1234.4)).toBe('1,234');
    expect(formatFigure('pct', -0.5)).toBe('-0.5');
    expect(formatFigure('pct', 2.5)).toBe('+2.5');
    expect(formatFigure('fraction', 0.845)).toBe('84.5 %');
    expect(formatFigure('ratio', Infinity)).toBe('inf');
    expect(formatFigure('ratio', NaN)).toBe('n/a');
    expect(formatFigure('ms', null)).toBe('n/a');
  });

  it('uses colour on a TTY only, honouring NO_COLOR and FORCE_COLOR', () => {
    expect(shouldUseColor({ isTTY: true }, {})).toBe(true);
    expect(shouldUseColor({ isTTY: false }, {})).toBe(false);
    expect(shouldUseColor({}, {})).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldUseColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(shouldUseColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
  });
});

describe('what hostile or slow clients did (figures shown where nonzero)', () => {
  // Counts worked out by hand: the server's own counters over the window, summed.
  const slow = target(
    'slow',
    {
      requests: 200,
      accepts_ok: 150,
      timeouts_header: 7,
      timeouts_body: 2,
      timeouts_idle: 0,
      timeouts_send: 1,
      responses_408: 9,
      read_pauses: 41,
      half_closes: 3,
      body_bytes_discarded: 3 * 1024 * 1024,
    },
    [{ requests: 200 }],
    200,
  );
  const plain = target('plain', { requests: 200, accepts_ok: 150 }, [{ requests: 200 }], 200);

  test('the summary shows each nonzero one with its count, and a row zero for all only in the CSV', () => {
    const out = renderSummary(record({ cells: [cell('cell-0', {}, [slow, plain])] }), {
      color: false,
    });
    expect(out).toMatch(/timeouts: header +7 +0\n/);
    expect(out).toMatch(/timeouts: body +2 +0\n/);
    expect(out).toMatch(/timeouts: send +1 +0\n/);
    expect(out).toMatch(/408 responses +9 +0\n/);
    expect(out).toMatch(/read pauses +41 +0\n/);
    expect(out).toMatch(/half-closes +3 +0\n/);
    expect(out).toMatch(/body bytes discarded +3,145,728 +0\n/);
    expect(out).not.toContain('timeouts: keep-alive'); // zero for both targets
    const csv = figuresCsv(record({ cells: [cell('cell-0', {}, [slow, plain])] }));
    expect(csv).toContain('timeoutsIdle');
    expect(csv).toContain('timeoutsHeader');
  });

  test('a run where no client misbehaved shows none of them', () => {
    const out = renderSummary(record({ cells: [cell('cell-0', {}, [plain])] }), { color: false });
    for (const name of ['timeouts:', '408 responses', 'read pauses', 'half-closes', 'body bytes']) {
      expect(out).not.toContain(name);
    }
  });

  test('the HTML report shows them through the same catalogue', () => {
    const html = renderReport(record({ cells: [cell('cell-0', {}, [slow, plain])] }));
    expect(html).toContain('connections closed: request head not complete in time');
    expect(html).toContain('408 Request Timeout responses sent');
    expect(html).not.toContain('keep-alive connections closed idle');
  });

  test('an interrupted cell says so in the summary and the report', () => {
    const r = record({
      status: 'interrupted',
      cells: [{ ...cell('cell-0', {}, [plain]), interrupted: true }],
    });
    expect(renderSummary(r, { color: false })).toContain('cell-0 INTERRUPTED');
    expect(renderReport(r)).toContain('cell-0 interrupted');
  });
});

describe('CSV', () => {
  it('quotes fields with commas, quotes, line breaks or edge spaces, and doubles quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField(1.5)).toBe('1.5');
    expect(csvField(Infinity)).toBe('inf');
    expect(csvField(NaN)).toBe('');
    expect(csvField(null)).toBe('');
    expect(toCsv(['a', 'b'], [['x,y', 2]])).toBe('a,b\r\n"x,y",2\r\n');
  });

  it('writes one figures row per cell × target, with matrix columns and unit-bearing headers', () => {
    const cells = [
      cell('cell-0', { workers: 2, note: 'a "b", c' }, [postFork, preFork]),
      cell('cell-1', { workers: 4 }, [postFork]),
    ];
    const lines = figuresCsv(record({ cells })).trimEnd().split('\r\n');
    expect(lines).toHaveLength(1 + 3);
    const head = lines[0]!.split(',');
    expect(head.slice(0, 6)).toEqual([
      'runId',
      'scenario',
      'cell',
      'matrix.workers',
      'matrix.note',
      'target',
    ]);
    expect(head).toContain('keyErrorsPer1000');
    expect(head).toContain('acceptShareJain');
    expect(head).toContain('latencyP99Ms');
    expect(lines[1]).toMatch(/^abc123,herd,cell-0,2,"a ""b"", c",post-fork,1000,2000,/);
    const row2 = lines[2]!.split(',');
    expect(row2[head.indexOf('keyErrorsPer1000') + 1]).toBe('inf'); // +1: the quoted comma
    // Figures that do not apply (8 accepts; no request completed) are empty cells.
    expect(row2[head.indexOf('voluntaryCsPerAccept') + 1]).toBe('');
    expect(row2[head.indexOf('acceptShareJain') + 1]).toBe('');
    expect(row2[head.indexOf('latencyP99Ms') + 1]).toBe('');
    expect(row2[head.indexOf('voluntaryCsPerRequest') + 1]).toBe('inf'); // 400 / 0 requests
    expect(lines[3]).toMatch(/^abc123,herd,cell-1,4,,post-fork,/);
  });

  it('writes the series per sample, totals and per worker', () => {
    const s = samplesCsv(record()).trimEnd().split('\r\n');
    expect(s[0]).toBe('cell,target,tMs,phase,requests,stuck_connections');
    expect(s).toContain('cell-0,post-fork,1000,load,10,0');
    expect(s).toHaveLength(1 + 2 * 3);
    const w = workerSamplesCsv(record()).trimEnd().split('\r\n');
    expect(w[0]).toBe('cell,target,worker,tMs,phase,requests');
    expect(w).toContain('cell-0,pre-fork-edge,0/0,2000,drain,10');
  });
});

describe('run folder', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'forklab-runs-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('names folders <YYYYMMDD-HHMMSS>-<scenario>, unique within one second', async () => {
    const at = new Date(2024, 4, 1, 9, 8, 7);
    expect(runStamp(at)).toBe('20240501-090807');
    const dirs = await Promise.all(
      Array.from({ length: 5 }, () => createRunDir(path.join(root, 'runs'), 'herd', at)),
    );
    expect(new Set(dirs).size).toBe(5);
    expect(dirs.map((d) => path.basename(d)).sort()).toEqual([
      '20240501-090807-herd',
      '20240501-090807-herd-2',
      '20240501-090807-herd-3',
      '20240501-090807-herd-4',
      '20240501-090807-herd-5',
    ]);
    expect(path.basename(await createRunDir(root, '../evil name', at))).toBe(
      '20240501-090807-evil-name',
    );
  });

  it('writes results.json and the views atomically, again for a newer record', async () => {
    const dir = await createRunDir(root, 'herd', new Date());
    const partial = record({ status: 'interrupted', cells: [] });
    await writeRecord(dir, partial, runViews(partial));
    await writeRecord(dir, record(), runViews(record()));
    expect((await readdir(dir)).sort()).toEqual([
      'figures.csv',
      'results.json',
      'samples.csv',
      'summary.txt',
      'worker-samples.csv',
    ]);
    const back = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as RunRecord;
    expect(back.status).toBe('completed');
    expect(back.cells[0]!.targets).toHaveLength(2);
    expect(await readFile(path.join(dir, 'summary.txt'), 'utf8')).toContain('post-fork');
    expect((await readFile(path.join(dir, 'figures.csv'), 'utf8')).split('\r\n')).toHaveLength(4);
  });
});
