import { loadScenario } from '../lab/scenario/load-scenario';
import {
  OVERRIDE_OPTIONS,
  applyOverrides,
  overridesHelp,
  splitOverrideArgs,
} from '../lab/scenario/overrides';
import type { Scenario } from '../lab/scenario/scenario';

function shipped(name: string): Scenario {
  const r = loadScenario(name);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.scenario;
}

describe('applyOverrides', () => {
  test('every override applies, and is recorded as typed', () => {
    const s = shipped('compare');
    const argv = [
      '--duration',
      '10',
      '--warmup',
      '2',
      '--connections',
      '50',
      '--rate',
      '1000',
      '--timeout-ms',
      '3000',
      '--path',
      '/pid',
      '--mode',
      'churn',
      '--sample-interval-ms',
      '200',
      '--drain',
      '1',
      '--workers',
      '4',
      '--containers',
      '2',
      '--flavour',
      'asyncio',
      '--pace',
      'asyncio',
      '--trigger',
      'edge',
      '--accept-batch',
      '1',
      '--max-requests=500',
    ];
    const r = applyOverrides(s, argv);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.scenario.load).toEqual({
      mode: 'churn',
      connections: 50,
      durationSec: 10,
      warmupSec: 2,
      rate: 1000,
      timeoutMs: 3000,
      path: '/pid',
    });
    expect([r.scenario.sampleIntervalMs, r.scenario.drainSec]).toEqual([200, 1]);
    for (const t of r.scenario.targets) {
      expect(t.containers).toBe(2);
      expect(t.kind === 'command' ? null : t.server).toMatchObject({
        workers: 4,
        flavour: 'asyncio',
        pace: 'asyncio',
        trigger: 'edge',
        acceptBatch: 1,
        maxRequests: 500,
      });
    }
    expect(r.scenario.targets.map((t) => (t.kind ? null : t.server.loopCreation))).toEqual([
      'post-fork',
      'pre-fork',
    ]);
    expect(r.overrides).toEqual({
      '--duration': '10',
      '--warmup': '2',
      '--connections': '50',
      '--rate': '1000',
      '--timeout-ms': '3000',
      '--path': '/pid',
      '--mode': 'churn',
      '--sample-interval-ms': '200',
      '--drain': '1',
      '--workers': '4',
      '--containers': '2',
      '--flavour': 'asyncio',
      '--pace': 'asyncio',
      '--trigger': 'edge',
      '--accept-batch': '1',
      '--max-requests': '500',
    });
    // The scenario it came from is untouched.
    expect(s.load).toEqual({ mode: 'keep-alive', connections: 32, durationSec: 10, warmupSec: 2 });
  });

  test('a flavour override on a paced scenario must bring the matching pace, and says so', () => {
    // compare runs paced as tornado4: asyncio's skip has other costs than Tornado 4's KeyError.
    const r = applyOverrides(shipped('compare'), ['--flavour', 'asyncio']);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.length).toBe(shipped('compare').targets.length);
    for (const e of r.errors) expect(e).toMatch(/server\.pace: .*pace: "asyncio"/);
    const fixed = applyOverrides(shipped('compare'), ['--flavour', 'asyncio', '--pace', 'asyncio']);
    expect(fixed.ok).toBe(true);
  });

  test('no overrides: the same scenario, nothing recorded', () => {
    const s = shipped('herd');
    expect(applyOverrides(s, [])).toEqual({ ok: true, scenario: s, overrides: {} });
  });

  test('every bad override is reported at once, each naming its flag', () => {
    const r = applyOverrides(shipped('compare'), [
      '--duration',
      'x',
      '--warmup',
      '601',
      '--connections',
      '0',
      '--rate',
      '-5',
      '--timeout-ms',
      '99',
      '--path',
      'pid',
      '--mode',
      'burst',
      '--sample-interval-ms',
      '1.5',
      '--drain',
      '61',
      '--workers',
      '100',
      '--containers',
      '17',
      '--flavour',
      'gevent',
      '--trigger',
      'both',
      '--accept-batch',
      '0',
      '--max-requests',
      'lots',
      '--durration',
      '3',
      'stray',
      '--workers',
      '2',
      '--warmup',
    ]);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.errors).toEqual([
      expect.stringMatching(
        /^--durration: unknown override; did you mean --duration\? \(overrides: --duration, /,
      ),
      '"stray": unexpected argument; overrides are --flag value pairs',
      '--workers: given twice ("100" and "2"); give it once',
      '--warmup: needs a value, e.g. --warmup 1',
      '--duration: must be a duration such as 500ms, 30s or 2m (a bare number is seconds), got "x"',
      '--warmup: must be an integer from 0 to 600, got "601"',
      '--connections: must be an integer from 1 to 1000, got "0"',
      '--rate: must be a number greater than 0 (requests per second; leave it out for as fast as possible), got "-5"',
      '--timeout-ms: must be an integer from 100 to 60000, got "99"',
      '--path: must start with "/" and hold no spaces or control characters, e.g. "/" or "/delay?ms=100", got "pid"',
      '--mode: must be one of "keep-alive", "churn" (keep-alive reuses connections; churn opens one per request), got "burst"',
      '--sample-interval-ms: must be an integer from 100 to 10000, got "1.5"',
      '--drain: must be an integer from 0 to 60, got "61"',
      '--workers: must be an integer from 1 to 64, got "100"',
      '--containers: must be an integer from 1 to 16, got "17"',
      '--flavour: must be one of tornado4, asyncio, got "gevent"',
      '--trigger: must be one of level, edge, got "both"',
      '--accept-batch: must be an integer from 1 to 4096, got "0"',
      '--max-requests: must be an integer from 0 to 1000000000 (0 = never), got "lots"',
    ]);
  });

  test('a server setting given on the command line replaces the matrix over it', () => {
    const r = applyOverrides(shipped('herd'), ['--workers', '2']);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.scenario.matrix).toEqual({ exclusive: [false, true] });
    expect(r.scenario.targets.every((t) => t.kind !== 'command' && t.server.workers === 2)).toBe(
      true,
    );
    const single = { ...shipped('compare'), matrix: { workers: [1, 2] } };
    const r2 = applyOverrides(single, ['--workers', '4']);
    expect(r2.ok && r2.scenario.matrix).toBeUndefined();
  });

  test('--mode churn drops pipelining; keep-alive is accepted from churn', () => {
    const s = shipped('compare');
    const withPipe = { ...s, load: { ...s.load, mode: 'keep-alive' as const, pipelining: 4 } };
    const r = applyOverrides(withPipe, ['--mode', 'churn']);
    expect(r.ok && r.scenario.load).toEqual({
      mode: 'churn',
      connections: 32,
      durationSec: 10,
      warmupSec: 2,
    });
    const back = applyOverrides(shipped('edge-hang'), ['--mode', 'churn']);
    expect(back.ok && back.scenario.load.mode).toBe('churn');
  });

  test('--mode keep-alive on a scenario that expects herd figures is rejected, naming the fix', () => {
    const r = applyOverrides(shipped('herd'), ['--mode', 'keep-alive']);
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    // herd.ts expects acceptShareJain once and voluntaryCsPerAccept twice (expectations 1..3).
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(
      /^with the overrides \(--mode keep-alive\): expectations\[1\]\.metric: acceptShareJain needs connection churn/,
    );
    expect(errors[1]).toContain(
      'expectations[2].metric: voluntaryCsPerAccept needs connection churn',
    );
    for (const e of errors) {
      expect(e).toContain(
        "set load.mode to 'churn' (or run with --mode churn), or remove this expectation",
      );
    }
  });

  test('what the overridden scenario breaks is reported too', () => {
    const s = shipped('compare');
    const broken = {
      ...s,
      expectations: [
        { target: 'workers=4', metric: 'clientErrors' as const, op: '>' as const, value: 0 },
      ],
    };
    const r = applyOverrides(broken, ['--workers', '2']);
    expect(r.ok ? [] : r.errors).toEqual([
      'with the overrides (--workers 2): expectations[0].target: "workers=4" selects no target (post-fork: workers=2; pre-fork: workers=2); change the value or name a target',
    ]);
  });
});

describe('override flags on a command line', () => {
  test('splitOverrideArgs takes the overrides and their values, and leaves the rest', () => {
    expect(
      splitOverrideArgs(['herd', '--runtime', 'local', '--duration', '3', '--workers=2', '--open']),
    ).toEqual({
      overrides: ['--duration', '3', '--workers=2'],
      rest: ['herd', '--runtime', 'local', '--open'],
    });
  });

  test('the help names every flag and says which apply to every target', () => {
    const help = overridesHelp();
    for (const o of OVERRIDE_OPTIONS) expect(help).toContain(`${o.flag} ${o.value}`);
    expect(help).toContain(
      '--containers, --workers, --flavour, --pace, --trigger, --accept-batch, --max-requests apply to every target',
    );
    expect(help).toContain(
      '--duration TIME\n      measured load: 500ms, 30s, 2m (a bare number is seconds) (1..3600)',
    );
  });
});

test('--driver and --driver-threads choose the load generator, checked like the scenario field', () => {
  const base = shipped('herd');
  const ok = applyOverrides(base, ['--driver', 'native', '--driver-threads', '2']);
  expect(ok.ok && ok.scenario.load).toMatchObject({ driver: 'native', driverThreads: 2 });
  const bad = applyOverrides(base, ['--driver', 'wrk']);
  expect(bad.ok).toBe(false);
  expect(!bad.ok && bad.errors.join('\n')).toMatch(/^--driver: must be one of "node", "native"/);
  const tooMany = applyOverrides(base, ['--driver-threads', '64']);
  expect(!tooMany.ok && tooMany.errors.join('\n')).toMatch(
    /--driver-threads: must be an integer from 1 to 16/,
  );
});
