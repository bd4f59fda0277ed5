// Whether the load can be trusted, in the views: the load generator's usage as catalogue figures,
// the saturation warning, workers outnumbering their CPUs, and how latency was timed. Hand-made
// records; every expected number and phrase is worked out here from the record's raw values.
import type { DriverUsage } from '../lab/load/driver-usage';
import { deriveFigures } from '../lab/record/derive-figures';
import { figureOf } from '../lab/record/figures';
import {
  RUN_RECORD_SCHEMA,
  type ClientResult,
  type RunRecord,
  type TargetRecord,
} from '../lab/record/run-record';
import { figuresCsv } from '../lab/report/csv-export';
import { renderReport } from '../lab/report/html-report';
import { renderSummary } from '../lab/report/terminal-summary';
import { verdicts } from '../lab/report/verdicts';
import { SERVE_DEFAULTS } from '../lab/server/config';

const WINDOW_SEC = 2;

/** autocannon on one JavaScript thread, never idle: 1.9 s of CPU for 47,500 responses. */
const autocannonUsage: DriverUsage = {
  driver: 'node',
  generator: 'autocannon',
  threads: 1,
  cpuCores: 0.95,
  utilization: 0.97,
  cpuUsPerResponse: 1.9e6 / 47_500, // 40 µs
  loopDelayMs: { p50: 1, p99: 12.5, max: 30 },
  saturated: true,
  warning: 'recorded text, not what the views show',
};

/** The native driver, two threads, half idle: 0.6 s of CPU for 120,000 responses. */
const nativeUsage: DriverUsage = {
  driver: 'native',
  generator: 'native',
  threads: 2,
  cpuCores: 0.3,
  utilization: 0.5,
  cpuUsPerResponse: 0.6e6 / 120_000, // 5 µs
  loopDelayMs: null,
  saturated: false,
  warning: null,
};

function client(
  responses: number,
  usage: DriverUsage | undefined,
  corrected?: boolean,
): ClientResult {
  return {
    durationSec: WINDOW_SEC,
    sent: responses,
    responses,
    status2xx: responses,
    statusOther: 0,
    errors: 0,
    timeouts: 0,
    requestsPerSec: responses / WINDOW_SEC,
    bytesRead: 0,
    latencyMs: { p50: 0.8, p90: 1, p99: 2.5, max: 4, mean: 0.9 },
    ...(usage ? { usage } : {}),
    ...(corrected === undefined ? {} : { latencyCorrected: corrected }),
  };
}

function target(name: string, workers: number, servers: number, c: ClientResult): TargetRecord {
  const totals = { requests: c.responses };
  const series = { t: [], phase: [], totals: {}, workers: {} };
  return {
    name,
    server: { ...SERVE_DEFAULTS, metricsHost: '127.0.0.1', name, workers },
    containers: Array.from({ length: servers }, (_, i) => ({
      name: `${name}-${i}`,
      id: `${i}`,
      port: 1000 + i,
      metricsPort: 2000 + i,
      logFile: `${name}-${i}.log`,
    })),
    client: c,
    counters: totals,
    workers: [],
    ...deriveFigures({
      totals,
      workers: [],
      client: c,
      series,
      durationSec: WINDOW_SEC,
      loadMode: 'keep-alive',
    }),
    series,
  };
}

function record(targets: TargetRecord[], cpus: number, rate?: number): RunRecord {
  return {
    schema: RUN_RECORD_SCHEMA,
    runId: 'r1',
    scenario: 'trust',
    description: 'd',
    status: 'completed',
    error: null,
    startedAt: '2024-05-01T10:00:00.000Z',
    endedAt: '2024-05-01T10:00:05.000Z',
    environment: {
      gitCommit: null,
      gitDirty: false,
      host: 'h',
      kernel: '6.1.0',
      node: 'v20',
      cpus,
      runtime: 'local',
      docker: null,
      runtimeNote: null,
      engineVersion: '0',
    },
    resolved: {
      kind: 'scenario',
      name: 'trust',
      description: 'd',
      targets: [],
      load: {
        mode: 'keep-alive',
        connections: 8,
        durationSec: WINDOW_SEC,
        ...(rate ? { rate } : {}),
      },
    } as unknown as RunRecord['resolved'],
    overrides: {},
    cells: [
      {
        id: 'cell-0',
        matrix: {},
        startedAt: '2024-05-01T10:00:00.000Z',
        endedAt: '2024-05-01T10:00:05.000Z',
        targets,
      },
    ],
    expectations: [],
    warnings: [],
  };
}

const unwrap = (s: string): string => s.replace(/\n +/g, ' ');

describe('load generator usage as catalogue figures', () => {
  const node = target('node-driven', 1, 1, client(47_500, autocannonUsage));
  const native = target('native-driven', 1, 1, client(120_000, nativeUsage));
  const old = target('old-record', 1, 1, client(1000, undefined));

  it('takes busy share, CPU per response and loop delay from the recorded usage', () => {
    expect(figureOf(node, 'driverBusyPct').value).toBe(0.97);
    expect(figureOf(node, 'driverCpuUsPerResponse').value).toBeCloseTo(40, 9);
    expect(figureOf(node, 'driverLoopDelayP99Ms').value).toBe(12.5);
    expect(figureOf(native, 'driverCpuUsPerResponse').value).toBeCloseTo(5, 9);
  });

  it('says why the loop delay does not apply to the native driver, and usage to an old record', () => {
    expect(figureOf(native, 'driverLoopDelayP99Ms')).toEqual({
      value: null,
      na: expect.stringContaining('native driver runs no event loop'),
    });
    expect(figureOf(old, 'driverBusyPct').na).toContain('holds no load generator usage');
  });

  it('shows them in the summary table, figures.csv and the report', () => {
    const r = record([node, native], 4);
    const out = renderSummary(r, { color: false });
    expect(out).toMatch(/driver busy +97 % +50 %\n/);
    expect(out).toMatch(/driver CPU +µs\/resp +40 +5\n/);
    expect(out).toMatch(/driver loop delay p99 +ms +12\.5 +n\/a\n/);
    const csv = figuresCsv(r).split(/\r?\n/);
    const head = csv[0]!.split(',');
    const row = csv[1]!.split(',');
    expect(row[head.indexOf('driverBusyPct')]).toBe('0.97');
    expect(row[head.indexOf('driverLoopDelayP99Ms')]).toBe('12.5');
    const html = renderReport(r);
    expect(html).toContain('load generator busy (share of the window its loop had work)');
    expect(html).toContain('load generator event-loop delay p99');
  });
});

describe('the saturation warning', () => {
  it('says the client set the rate and names the driver that would not have been saturated', () => {
    const r = record([target('a', 1, 1, client(47_500, autocannonUsage))], 4);
    const v = verdicts(r).filter((x) => x.finding === 'driver-saturated');
    expect(v).toHaveLength(1);
    expect(v[0]!.severity).toBe('warn');
    expect(v[0]!.target).toBe('a');
    const text = v[0]!.text;
    expect(text).toContain('the client, not the server, set this rate');
    expect(text).toContain('97 % of the time'); // 0.97 of the window
    expect(text).toContain('0.95 of a CPU');
    expect(text).toContain(
      'the native driver (load.driver "native", --driver native) would not have been saturated',
    );
    // 12.5 ms is below the 50 ms at which loop delay alone saturates: not given as a reason.
    expect(text).not.toContain('ms late');
    const summary = unwrap(renderSummary(r, { color: false }));
    expect(summary).toContain('the client, not the server, set this rate');
    expect(renderReport(r)).toContain('the client, not the server, set this rate');
  });

  it('tells a saturated native driver to use more threads, and says nothing when not saturated', () => {
    const busyNative: DriverUsage = { ...nativeUsage, utilization: 0.95, saturated: true };
    const r = record(
      [target('n', 1, 1, client(1, busyNative)), target('ok', 1, 1, client(1, nativeUsage))],
      4,
    );
    const v = verdicts(r).filter((x) => x.finding === 'driver-saturated');
    expect(v.map((x) => x.target)).toEqual(['n']);
    expect(v[0]!.text).toContain('its 2 loops had work 95 % of the time');
    expect(v[0]!.text).toContain('it ran 2');
    expect(v[0]!.text).toContain('--driver-threads');
  });

  it('names the loop delay when it alone made the generator saturated', () => {
    const late: DriverUsage = {
      ...autocannonUsage,
      utilization: 0.6,
      loopDelayMs: { p50: 20, p99: 80, max: 120 },
    };
    const v = verdicts(record([target('a', 1, 1, client(10, late))], 4)).find(
      (x) => x.finding === 'driver-saturated',
    );
    expect(v?.text).toContain('its event loop ran 80 ms late (p99)');
    expect(v?.text).not.toContain('of the time');
  });
});

describe('workers outnumbering the CPUs', () => {
  const u = nativeUsage;
  it('sums the workers of targets that ran at once, servers included', () => {
    // 3 workers × 2 servers + 2 workers × 1 server = 8 workers on 4 CPUs.
    const r = record([target('a', 3, 2, client(10, u)), target('b', 2, 1, client(10, u))], 4);
    const v = verdicts(r).filter((x) => x.finding === 'cpu-oversubscribed');
    expect(v).toHaveLength(1);
    expect(v[0]!.target).toBeNull();
    expect(v[0]!.text).toContain('8 server workers of targets a (6), b (2), running at once');
    expect(v[0]!.text).toContain("the machine's 4 CPUs");
    expect(v[0]!.text).toContain('isolation "sequential"');
    expect(unwrap(renderSummary(r, { color: false }))).toContain('8 server workers of targets');
  });

  it('is silent when the workers fit: 2 + 2 on 4 CPUs', () => {
    const r = record([target('a', 2, 1, client(10, u)), target('b', 2, 1, client(10, u))], 4);
    expect(verdicts(r).some((x) => x.finding === 'cpu-oversubscribed')).toBe(false);
  });

  it('warns for one target alone with more workers than CPUs, without blaming other targets', () => {
    const r = record([target('solo', 4, 1, client(10, u))], 2);
    const v = verdicts(r).find((x) => x.finding === 'cpu-oversubscribed');
    expect(v?.text).toContain("4 server workers of target solo outnumbered the machine's 2 CPUs");
    expect(v?.text).not.toContain('sequential');
  });
});

describe('latency timing', () => {
  it('says latency was corrected for coordinated omission when the native driver held a rate', () => {
    const r = record([target('a', 1, 1, client(10, nativeUsage, true))], 4, 5000);
    const v = verdicts(r).find((x) => x.finding === 'latency-timing');
    expect(v?.text).toContain('latency corrected for coordinated omission');
    expect(v?.text).toContain('the rate of 5,000 requests/s');
    const html = renderReport(r);
    expect(html).toContain('corrected for coordinated omission: from when the rate’s schedule');
    expect(unwrap(renderSummary(r, { color: false }))).toContain(
      'latency corrected for coordinated omission',
    );
  });

  it('says it was not corrected when a node driver held the rate', () => {
    const r = record([target('a', 1, 1, client(10, autocannonUsage, false))], 4, 5000);
    const v = verdicts(r).find((x) => x.finding === 'latency-timing');
    expect(v?.text).toContain('latency not corrected for coordinated omission');
    expect(renderReport(r)).toContain('not corrected for coordinated omission');
  });

  it('says nothing of it without a rate', () => {
    const r = record([target('a', 1, 1, client(10, nativeUsage, false))], 4);
    expect(verdicts(r).some((x) => x.finding === 'latency-timing')).toBe(false);
    expect(renderReport(r)).toContain('no rate: no schedule to correct against');
  });
});
