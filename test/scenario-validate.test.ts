import { FIGURES } from '../lab/record/figures';
import { scenarioNames, loadScenario } from '../lab/scenario/load-scenario';
import { defineScenario, type Scenario } from '../lab/scenario/scenario';
import {
  EXPECTATION_METRICS,
  SERVER_SETTING_KEYS,
  validateScenario,
} from '../lab/scenario/validate-scenario';

function good(over: Partial<Scenario> = {}): Scenario {
  return defineScenario({
    name: 'ok',
    description: 'A small valid scenario.',
    targets: [
      { name: 'post', server: { loopCreation: 'post-fork', workers: 2 } },
      { name: 'pre', server: { loopCreation: 'pre-fork', workers: 2 } },
    ],
    load: { mode: 'keep-alive', connections: 4, durationSec: 2 },
    ...over,
  });
}

function errorsOf(x: unknown): string[] {
  const r = validateScenario(x);
  if (r.ok) throw new Error('expected errors, got a valid scenario');
  return r.errors;
}

describe('validateScenario: shipped scenarios', () => {
  test.each(scenarioNames())('scenarios/%s.ts validates', (name) => {
    const r = loadScenario(name);
    expect(r.ok ? [] : r.errors).toEqual([]);
  });

  test('a small valid scenario validates and comes back unchanged', () => {
    const s = good();
    expect(validateScenario(s)).toEqual({ ok: true, scenario: s });
  });

  test('the metric list names exactly the ExpectationMetric members, and settings exclude lab-owned keys', () => {
    expect(EXPECTATION_METRICS).toEqual(FIGURES.map((f) => f.key));
    expect(new Set(EXPECTATION_METRICS).size).toBe(EXPECTATION_METRICS.length);
    expect(EXPECTATION_METRICS).toContain('acceptShareJain');
    for (const k of ['host', 'port', 'metricsPort', 'metricsHost', 'name'])
      expect(SERVER_SETTING_KEYS).not.toContain(k);
    expect(SERVER_SETTING_KEYS).toEqual(
      expect.arrayContaining(['workers', 'loopCreation', 'exclusive', 'reusePort', 'maxRequests']),
    );
  });
});

describe('validateScenario: every error at once, each naming its field', () => {
  test('a scenario with many mistakes returns all of them', () => {
    const bad = {
      kind: 'scenario',
      name: 'Bad Name',
      description: '',
      colour: 'red',
      targets: [
        {
          name: 'a',
          sever: {},
          server: { workers: 100, loopCreation: 'pre-fork', exclusive: true, port: 80 },
        },
        { name: 'a', containers: 0, server: { reuseport: true } },
      ],
      load: {
        mode: 'churn',
        connections: 0,
        durationSec: 'x',
        pipelining: 2,
        path: 'pid',
        rate: 0,
      },
      sampleIntervalMs: 50,
      drainSec: 61,
      expectations: [
        { target: 'b', metric: 'keyErrorsPer100', op: '=', value: NaN },
        { target: '*', metric: 'acceptShareJain', op: '>', value: 0.5, extra: 1 },
      ],
    };
    expect(errorsOf(bad)).toEqual([
      'colour: unknown key; known keys: kind, name, description, targets, load, matrix, sampleIntervalMs, drainSec, isolation, engines, placement, expectations',
      'name: must be 1 to 40 lowercase letters, digits or "-", starting with a letter or digit (the file name without .ts), got "Bad Name"',
      'description: must be a non-empty string: one paragraph on what the scenario shows and why, got ""',
      'targets[0].sever: unknown key; did you mean "server"?',
      'targets[0].server.port: the lab gives each server its own port; remove port',
      'targets[0].server.workers: must be an integer from 1 to 64, got 100',
      'targets[0].server.exclusive: EPOLLEXCLUSIVE needs one epoll per worker: use loopCreation: "post-fork" or remove exclusive (loop creation is pre-fork)',
      'targets[1].name: "a" is already the name of targets[0]; target names must be unique',
      'targets[1].containers: must be an integer from 1 to 16, got 0',
      'targets[1].server.reuseport: unknown key; did you mean "reusePort"?',
      'load.connections: must be an integer from 1 to 1000, got 0',
      'load.durationSec: must be an integer from 1 to 3600, got "x"',
      'load.rate: must be a number greater than 0 (requests per second; leave it out for as fast as possible), got 0',
      'load.path: must start with "/" and hold no spaces or control characters, e.g. "/" or "/delay?ms=100", got "pid"',
      'load.pipelining: only keep-alive load pipelines requests (churn sends one request per connection): remove pipelining or use mode: "keep-alive"',
      'sampleIntervalMs: must be an integer from 100 to 10000, got 50',
      'drainSec: must be an integer from 0 to 60, got 61',
      'expectations[0].target: "b" names no target; did you mean "a"? use a target name (a), "*" or a selector such as "loopCreation=pre-fork"',
      expect.stringMatching(
        /^expectations\[0\]\.metric: did you mean "keyErrorsPer1000"\? must be one of requestsPerSec, .*, got "keyErrorsPer100"$/,
      ),
      'expectations[0].op: must be one of > >= < <= == !=, got "="',
      'expectations[0].value: must be a finite number, got NaN',
      'expectations[1].extra: unknown key; known keys: target, metric, op, value, why',
    ]);
  });

  test('not an object, or the wrong kind', () => {
    expect(errorsOf(42)).toEqual([
      'scenario: must be an object (export default defineScenario({ ... })), got number',
    ]);
    const { kind: _kind, ...noKind } = good();
    expect(errorsOf(noKind)).toEqual([
      'kind: must be "scenario" (write the file as export default defineScenario({ ... })), missing',
    ]);
  });

  test('missing targets, load and required load fields', () => {
    expect(errorsOf({ kind: 'scenario', name: 'x', description: 'd.' })).toEqual([
      expect.stringMatching(/^targets: must be a non-empty array of targets, .*, missing$/),
      expect.stringMatching(/^load: must be an object, .*, missing$/),
    ]);
    expect(errorsOf(good({ targets: [], load: {} as never }))).toEqual([
      expect.stringMatching(/^targets: must be a non-empty array of targets, .*, got \[\]$/),
      'load.mode: missing; must be one of "keep-alive", "churn"',
      'load.connections: missing; must be an integer from 1 to 1000',
      'load.durationSec: missing; must be an integer from 1 to 3600',
    ]);
  });

  test('every container of a target needs a connection', () => {
    const s = good({
      targets: [{ name: 'a', containers: 3, server: {} }],
      load: { mode: 'churn', connections: 2, durationSec: 1 },
    });
    expect(errorsOf(s)).toEqual([
      'load.connections: 2 connections cannot reach the 3 containers of targets[0]; raise connections or lower containers',
    ]);
  });

  test('an unknown load mode lists the allowed ones', () => {
    expect(
      errorsOf(good({ load: { mode: 'burst', connections: 1, durationSec: 1 } as never })),
    ).toEqual([
      'load.mode: must be one of "keep-alive", "churn" (keep-alive reuses connections; churn opens one per request), got "burst"',
    ]);
  });

  test('range edges of the load fields', () => {
    const at = (load: object) => validateScenario(good({ load: load as never })).ok;
    const base = { mode: 'keep-alive', connections: 1, durationSec: 1 };
    expect(at({ ...base, connections: 1000, durationSec: 3600, warmupSec: 0 })).toBe(true);
    expect(at({ ...base, warmupSec: 600, timeoutMs: 100, pipelining: 64, rate: 1 })).toBe(true);
    // A keep-alive rate under one request per second per connection is refused (below).
    expect(at({ ...base, rate: 0.5 })).toBe(false);
    expect(at({ ...base, timeoutMs: 60000, path: '/delay?ms=2000' })).toBe(true);
    expect(at({ ...base, connections: 1001 })).toBe(false);
    expect(at({ ...base, durationSec: 1.5 })).toBe(false);
    expect(at({ ...base, warmupSec: 601 })).toBe(false);
    expect(at({ ...base, timeoutMs: 99 })).toBe(false);
    expect(at({ ...base, pipelining: 65 })).toBe(false);
    expect(at({ ...base, rate: Infinity })).toBe(false);
    expect(at({ ...base, path: '/a b' })).toBe(false);
  });
});

describe('validateScenario: matrix', () => {
  test('an impossible combination in a cell names the cells and the target', () => {
    const errors = errorsOf(good({ matrix: { workers: [2, 4], exclusive: [false, true] } }));
    expect(errors).toEqual([
      'matrix cells cell-1 (workers=2, exclusive=true), cell-3 (workers=4, exclusive=true) on targets[1] ("pre"): server.exclusive: EPOLLEXCLUSIVE needs one epoll per worker: use loopCreation: "post-fork" or remove exclusive (loop creation is pre-fork); a matrix value applies to every target: drop the value from the matrix or change this target\'s server settings',
    ]);
  });

  test('one impossible cell is named alone', () => {
    const s = good({
      targets: [{ name: 'late', server: { loopCreation: 'pre-fork-late' } }],
      matrix: { onEexist: ['fail', 'ignore'], loopCreation: ['pre-fork-late', 'post-fork'] },
    });
    expect(errorsOf(s)).toEqual([
      expect.stringMatching(
        /^matrix cell cell-3 \(onEexist=ignore, loopCreation=post-fork\) on targets\[0\] \("late"\): server\.onEexist: only pre-fork-late /,
      ),
    ]);
  });

  test('exclusive and reusePort together are allowed', () => {
    const s = good({
      targets: [{ name: 'rp', server: { reusePort: true } }],
      matrix: { exclusive: [false, true] },
    });
    expect(validateScenario(s).ok).toBe(true);
  });

  test('keys must be server settings with non-empty arrays of valid, distinct values', () => {
    const matrix = {
      workers: [1, 1, 100],
      exclusiv: [true],
      port: [1],
      flavour: [],
      trigger: 'edge',
    };
    expect(errorsOf(good({ matrix: matrix as never }))).toEqual([
      'matrix.workers[1]: 1 repeats matrix.workers[0]; remove it (each value makes its own cells)',
      'matrix.workers[2]: must be an integer from 1 to 64, got 100',
      'matrix.exclusiv: not a server setting; did you mean "exclusive"?',
      'matrix.port: the lab gives each server its own port; remove port',
      'matrix.flavour: must be a non-empty array of values, e.g. flavour: ["tornado4", "asyncio"], got []',
      'matrix.trigger: must be a non-empty array of values, e.g. trigger: ["level", "edge"], got "edge"',
    ]);
  });

  test('at most 64 cells', () => {
    const matrix = {
      workers: [1, 2, 3, 4, 5, 6, 7, 8],
      acceptBatch: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    };
    expect(errorsOf(good({ matrix }))).toEqual([
      'matrix: 8 × 9 = 72 cells; at most 64: sweep fewer values or split the scenario',
    ]);
    expect(
      validateScenario(good({ matrix: { ...matrix, acceptBatch: [1, 2, 4, 8, 16, 32, 64, 128] } }))
        .ok,
    ).toBe(true);
  });

  test('an empty matrix', () => {
    expect(errorsOf(good({ matrix: {} }))).toEqual([
      'matrix: is empty; remove it, or give a setting to sweep, e.g. { workers: [1, 2, 4] }',
    ]);
  });
});

describe('validateScenario: expectations', () => {
  test('selectors on server settings must select a target (defaults and matrix values count)', () => {
    const s = good({
      matrix: { workers: [1, 2] },
      expectations: [
        { target: 'loopCreation=post-fork', metric: 'keyErrorsPer1000', op: '==', value: 0 },
        { target: 'flavour=tornado4', metric: 'keyErrorsPer1000', op: '>=', value: 0 },
        { target: 'workers=2', metric: 'requestShareJain', op: '>', value: 0 },
        { target: 'pre', metric: 'clientErrors', op: '==', value: 0, why: 'no errors' },
      ],
    });
    expect(validateScenario(s).ok).toBe(true);
    const bad = good({
      expectations: [
        { target: 'loopCreation=pre-fork-late', metric: 'eexistErrors', op: '==', value: 1 },
        { target: 'workers=x', metric: 'eexistErrors', op: '==', value: 1 },
        { target: 'loopcreaton=pre-fork', metric: 'eexistErrors', op: '==', value: 1 },
        { target: 'name=pre', metric: 'eexistErrors', op: '==', value: 1 },
        { target: '', metric: 'eexistErrors', op: '==', value: 1, why: '' },
      ],
    });
    expect(errorsOf(bad)).toEqual([
      'expectations[0].target: "loopCreation=pre-fork-late" selects no target (post: loopCreation=post-fork; pre: loopCreation=pre-fork); change the value or name a target',
      'expectations[1].target: "workers=x": workers: must be an integer from 1 to 64, got "x"',
      'expectations[2].target: "loopcreaton=pre-fork": a selector names a server setting before "="; "loopcreaton" is not one; did you mean "loopCreation"?',
      'expectations[3].target: "name=pre": a selector names a server setting before "="; "name" is not one; known keys: ' +
        SERVER_SETTING_KEYS.join(', '),
      'expectations[4].target: must be a target name (post, pre), "*", or a selector such as "loopCreation=pre-fork", got ""',
      'expectations[4].why: must be a non-empty string (shown when the expectation fails), got ""',
    ]);
  });

  test('every metric of the list is accepted under churn', () => {
    const s = good({
      load: { mode: 'churn', connections: 4, durationSec: 2 },
      expectations: EXPECTATION_METRICS.map((metric) => ({
        target: '*',
        metric,
        op: '>=' as const,
        value: 0,
      })),
    });
    expect(validateScenario(s).ok).toBe(true);
  });

  test('under keep-alive, an expectation on a figure that needs churn is rejected, naming the fix', () => {
    const s = good({
      expectations: [
        { target: '*', metric: 'voluntaryCsPerRequest', op: '<', value: 3 },
        { target: '*', metric: 'voluntaryCsPerAccept', op: '<', value: 3 },
        { target: '*', metric: 'acceptEagainPerAccept', op: '<', value: 1 },
        { target: '*', metric: 'listenEventsPerAccept', op: '<', value: 1 },
        { target: '*', metric: 'acceptMaxShare', op: '<', value: 1 },
        { target: '*', metric: 'acceptShareMaxMin', op: '<', value: 2 },
        { target: '*', metric: 'acceptShareJain', op: '>', value: 0.9 },
      ],
    });
    const errors = errorsOf(s);
    expect(errors.map((e) => e.slice(0, e.indexOf(':')))).toEqual([
      'expectations[1].metric',
      'expectations[2].metric',
      'expectations[3].metric',
      'expectations[4].metric',
      'expectations[5].metric',
      'expectations[6].metric',
    ]);
    expect(errors[0]).toBe(
      "expectations[1].metric: voluntaryCsPerAccept needs connection churn (a new connection per request): under keep-alive the connections are made once and its figure says nothing; this scenario's load.mode is 'keep-alive': set load.mode to 'churn' (or run with --mode churn), or remove this expectation",
    );
  });
});

test('keep-alive rate: a whole number of requests per second, at least one per connection', () => {
  const load = good().load;
  expect(errorsOf(good({ load: { ...load, mode: 'keep-alive', rate: 0.5 } }))).toEqual([
    expect.stringMatching(/^load\.rate: .*at least load\.connections/),
  ]);
  const ok = (l: Scenario['load']) => validateScenario(good({ load: l })).ok;
  expect(ok({ ...load, mode: 'keep-alive', rate: load.connections })).toBe(true);
  // Churn paces its requests itself: any positive rate.
  expect(ok({ ...load, mode: 'churn', rate: 0.5 })).toBe(true);
});

describe('load.driver', () => {
  const scenario = (load: Record<string, unknown>): unknown => ({
    kind: 'scenario',
    name: 'd',
    description: 'the load driver field',
    targets: [{ name: 'a', server: {} }],
    load: { mode: 'keep-alive', connections: 4, durationSec: 1, ...load },
  });
  test('node and native are accepted; anything else is named with the choices', () => {
    expect(validateScenario(scenario({ driver: 'native' })).ok).toBe(true);
    expect(validateScenario(scenario({ driver: 'node' })).ok).toBe(true);
    const r = validateScenario(scenario({ driver: 'wrk' }));
    expect(!r.ok && r.errors).toEqual([
      expect.stringMatching(/^load\.driver: must be one of "node", "native" .*got "wrk"/),
    ]);
  });
  test('driverThreads must not exceed the connections', () => {
    const r = validateScenario(scenario({ driver: 'native', driverThreads: 8 }));
    expect(!r.ok && r.errors.join('\n')).toMatch(
      /load\.driverThreads: 8 threads for 4 connections/,
    );
  });
  test('the whole-number rate rule is autocannon’s: the native driver takes any positive rate', () => {
    expect(validateScenario(scenario({ rate: 2.5 })).ok).toBe(false);
    expect(validateScenario(scenario({ rate: 2.5, driver: 'native' })).ok).toBe(true);
  });
});
