import {
  SERVE_DEFAULTS,
  SERVE_OPTIONS,
  parseServeConfig,
  serveConfigToArgs,
  serveHelp,
  validateServeConfig,
  type ServeConfig,
} from '../lab/server/config';
import { Engine } from '../lab/native/engine';
import { engineConfigOf } from '../lab/server/supervisor';

function ok(argv: string[], env: NodeJS.ProcessEnv = {}): ServeConfig {
  const r = parseServeConfig(argv, env);
  if (!r.config) throw new Error(`expected a config, got ${JSON.stringify(r)}`);
  return r.config;
}

function errors(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const r = parseServeConfig(argv, env);
  if (!r.errors) throw new Error(`expected errors, got ${JSON.stringify(r)}`);
  return r.errors;
}

describe('parseServeConfig: defaults and values', () => {
  test('no flags and no env give the documented defaults', () => {
    expect(ok([])).toEqual({
      host: '127.0.0.1',
      port: 8080,
      metricsHost: '127.0.0.1',
      metricsPort: 9080,
      backlog: 128,
      workers: 2,
      loopCreation: 'post-fork',
      onEexist: 'fail',
      trigger: 'level',
      exclusive: false,
      reusePort: false,
      acceptBatch: 128,
      maxRequests: 0,
      flavour: 'tornado4',
      keyErrorLogPerSec: 5,
      stuckAfterMs: 1000,
      maxFds: 0,
      clientHeaderBufferBytes: 1024,
      largeHeaderBufferBytes: 8192,
      largeHeaderBuffers: 4,
      clientHeaderTimeoutMs: 60000,
      clientBodyTimeoutMs: 60000,
      keepaliveTimeoutMs: 75000,
      sendTimeoutMs: 60000,
      pace: 'native',
      paceColdUs: -1,
      paceColdRequestUs: -1,
      paceAcceptUs: -1,
      paceFirstRequestUs: -1,
      paceRegisterUs: -1,
      paceCloseUs: -1,
      paceRequestUs: -1,
      paceRequestAfterUs: -1,
      paceEventUs: -1,
      paceKeyErrorUs: -1,
      paceSkipUs: -1,
      paceGcEvery: -1,
      paceGcYoungUs: -1,
      paceGcMiddleUs: -1,
      paceGcFullUs: -1,
      paceScalePct: 100,
      paceBurn: 'preset',
      paceWorkPerMs: -1,
      paceCpuPct: 'even',
      maxRestarts: 10,
      name: 'post-fork-tornado4',
    });
  });

  test('every flag, in both --flag value and --flag=value forms', () => {
    const argv = [
      '--host',
      '0.0.0.0',
      '--port=8081',
      '--metrics-port',
      '9091',
      '--workers',
      '8',
      '--loop-creation',
      'pre-fork-late',
      '--on-eexist=ignore',
      '--trigger',
      'edge',
      '--accept-batch',
      '1',
      '--max-requests',
      '1000000000',
      '--flavour',
      'asyncio',
      '--keyerror-log-per-sec',
      '0',
      '--pace=asyncio',
      '--pace-cold-us=25000',
      '--pace-cold-request-us',
      '12000',
      '--pace-accept-us',
      '0',
      '--pace-first-request-us=55',
      '--pace-register-us=35',
      '--pace-close-us=70',
      '--pace-request-us=100000',
      '--pace-request-after-us=40',
      '--pace-event-us',
      '-1',
      '--pace-keyerror-us',
      '64',
      '--pace-skip-us',
      '4',
      '--pace-gc-every=13',
      '--pace-gc-young-us',
      '60',
      '--pace-gc-middle-us=600',
      '--pace-gc-full-us',
      '10000',
      '--pace-scale-pct=150',
      '--pace-burn=work',
      '--pace-work-per-ms',
      '40000',
      '--pace-cpu-pct=even',
      '--stuck-after-ms',
      '100',
      '--max-fds',
      '8',
      '--client-header-buffer-bytes',
      '256',
      '--large-header-buffer-bytes=65536',
      '--large-header-buffers',
      '64',
      '--client-header-timeout-ms',
      '100',
      '--client-body-timeout-ms',
      '3600000',
      '--keepalive-timeout-ms',
      '5000',
      '--send-timeout-ms',
      '200',
      '--backlog',
      '65535',
      '--max-restarts',
      '0',
      '--name',
      'herd.lab_1',
    ];
    expect(ok(argv)).toEqual({
      host: '0.0.0.0',
      port: 8081,
      metricsHost: '0.0.0.0',
      metricsPort: 9091,
      backlog: 65535,
      workers: 8,
      loopCreation: 'pre-fork-late',
      onEexist: 'ignore',
      trigger: 'edge',
      exclusive: false,
      reusePort: false,
      acceptBatch: 1,
      maxRequests: 1_000_000_000,
      flavour: 'asyncio',
      keyErrorLogPerSec: 0,
      stuckAfterMs: 100,
      maxFds: 8,
      clientHeaderBufferBytes: 256,
      largeHeaderBufferBytes: 65536,
      largeHeaderBuffers: 64,
      clientHeaderTimeoutMs: 100,
      clientBodyTimeoutMs: 3600000,
      keepaliveTimeoutMs: 5000,
      sendTimeoutMs: 200,
      pace: 'asyncio',
      paceColdUs: 25_000,
      paceColdRequestUs: 12_000,
      paceAcceptUs: 0,
      paceFirstRequestUs: 55,
      paceRegisterUs: 35,
      paceCloseUs: 70,
      paceRequestUs: 100_000,
      paceRequestAfterUs: 40,
      paceEventUs: -1,
      paceKeyErrorUs: 64,
      paceSkipUs: 4,
      paceGcEvery: 13,
      paceGcYoungUs: 60,
      paceGcMiddleUs: 600,
      paceGcFullUs: 10_000,
      paceScalePct: 150,
      paceBurn: 'work',
      paceWorkPerMs: 40000,
      paceCpuPct: 'even',
      maxRestarts: 0,
      name: 'herd.lab_1',
    });
  });

  test('the default name follows loop creation and flavour', () => {
    expect(ok(['--loop-creation', 'pre-fork', '--flavour', 'asyncio']).name).toBe(
      'pre-fork-asyncio',
    );
  });

  test('booleans: --exclusive, --no-exclusive, --reuseport; the last one wins', () => {
    expect(ok(['--exclusive']).exclusive).toBe(true);
    expect(ok(['--exclusive', '--no-exclusive']).exclusive).toBe(false);
    expect(ok(['--reuseport']).reusePort).toBe(true);
    expect(ok(['--reuseport', '--exclusive'])).toMatchObject({ reusePort: true, exclusive: true });
  });

  test('port 0 is allowed for both ports, and both may be 0', () => {
    expect(ok(['--port', '0', '--metrics-port', '0'])).toMatchObject({ port: 0, metricsPort: 0 });
  });

  test('limits and timeouts are range-checked, each error naming its flag', () => {
    expect(errors(['--large-header-buffers', '0', '--keepalive-timeout-ms', '99'])).toEqual([
      '--large-header-buffers: must be an integer from 1 to 64, got "0"',
      '--keepalive-timeout-ms: must be an integer from 100 to 3600000, got "99"',
    ]);
  });

  test('--max-fds takes 0 or 8..1048576', () => {
    expect(ok(['--max-fds', '0']).maxFds).toBe(0);
    expect(ok(['--max-fds', '1048576']).maxFds).toBe(1048576);
    expect(errors(['--max-fds', '7'])).toEqual([
      '--max-fds: must be 0 (keep the inherited limit) or an integer from 8 to 1048576, got "7"',
    ]);
  });

  test('--help asks for help, whatever else is on the line', () => {
    expect(parseServeConfig(['--help'], {})).toEqual({ help: true });
    expect(parseServeConfig(['--workers', 'x', '-h'], {})).toEqual({ help: true });
  });
});

describe('parseServeConfig: env vars', () => {
  const env = {
    FORKLAB_HOST: '127.0.0.2',
    FORKLAB_PORT: '7000',
    FORKLAB_METRICS_PORT: '7001',
    FORKLAB_WORKERS: '4',
    FORKLAB_LOOP_CREATION: 'pre-fork-late',
    FORKLAB_ON_EEXIST: 'ignore',
    FORKLAB_TRIGGER: 'edge',
    FORKLAB_ACCEPT_BATCH: '16',
    FORKLAB_MAX_REQUESTS: '100',
    FORKLAB_FLAVOUR: 'asyncio',
    FORKLAB_KEYERROR_LOG_PER_SEC: '7',
    FORKLAB_STUCK_AFTER_MS: '2000',
    FORKLAB_MAX_FDS: '64',
    FORKLAB_CLIENT_HEADER_BUFFER_BYTES: '2048',
    FORKLAB_LARGE_HEADER_BUFFER_BYTES: '4096',
    FORKLAB_LARGE_HEADER_BUFFERS: '2',
    FORKLAB_CLIENT_HEADER_TIMEOUT_MS: '1000',
    FORKLAB_CLIENT_BODY_TIMEOUT_MS: '2000',
    FORKLAB_KEEPALIVE_TIMEOUT_MS: '3000',
    FORKLAB_SEND_TIMEOUT_MS: '4000',
    FORKLAB_PACE: 'asyncio',
    FORKLAB_PACE_COLD_US: '9',
    FORKLAB_PACE_COLD_REQUEST_US: '8',
    FORKLAB_PACE_ACCEPT_US: '1',
    FORKLAB_PACE_FIRST_REQUEST_US: '11',
    FORKLAB_PACE_REGISTER_US: '12',
    FORKLAB_PACE_CLOSE_US: '6',
    FORKLAB_PACE_REQUEST_US: '2',
    FORKLAB_PACE_REQUEST_AFTER_US: '7',
    FORKLAB_PACE_EVENT_US: '3',
    FORKLAB_PACE_KEYERROR_US: '4',
    FORKLAB_PACE_SKIP_US: '5',
    FORKLAB_PACE_GC_EVERY: '9',
    FORKLAB_PACE_GC_YOUNG_US: '8',
    FORKLAB_PACE_GC_MIDDLE_US: '80',
    FORKLAB_PACE_GC_FULL_US: '800',
    FORKLAB_PACE_SCALE_PCT: '120',
    FORKLAB_PACE_BURN: 'time',
    FORKLAB_PACE_WORK_PER_MS: '33000',
    FORKLAB_PACE_CPU_PCT: '100,150',
    FORKLAB_BACKLOG: '10',
    FORKLAB_MAX_RESTARTS: '3',
    FORKLAB_NAME: 'from-env',
  };

  test('every env var is read', () => {
    expect(ok([], env)).toEqual({
      host: '127.0.0.2',
      port: 7000,
      metricsHost: '127.0.0.2',
      metricsPort: 7001,
      backlog: 10,
      workers: 4,
      loopCreation: 'pre-fork-late',
      onEexist: 'ignore',
      trigger: 'edge',
      exclusive: false,
      reusePort: false,
      acceptBatch: 16,
      maxRequests: 100,
      flavour: 'asyncio',
      keyErrorLogPerSec: 7,
      stuckAfterMs: 2000,
      maxFds: 64,
      clientHeaderBufferBytes: 2048,
      largeHeaderBufferBytes: 4096,
      largeHeaderBuffers: 2,
      clientHeaderTimeoutMs: 1000,
      clientBodyTimeoutMs: 2000,
      keepaliveTimeoutMs: 3000,
      sendTimeoutMs: 4000,
      pace: 'asyncio',
      paceColdUs: 9,
      paceColdRequestUs: 8,
      paceAcceptUs: 1,
      paceFirstRequestUs: 11,
      paceRegisterUs: 12,
      paceCloseUs: 6,
      paceRequestUs: 2,
      paceRequestAfterUs: 7,
      paceEventUs: 3,
      paceKeyErrorUs: 4,
      paceSkipUs: 5,
      paceGcEvery: 9,
      paceGcYoungUs: 8,
      paceGcMiddleUs: 80,
      paceGcFullUs: 800,
      paceScalePct: 120,
      paceBurn: 'time',
      paceWorkPerMs: 33000,
      paceCpuPct: '100,150',
      maxRestarts: 3,
      name: 'from-env',
    });
  });

  test('boolean env vars take 1, 0, true and false', () => {
    for (const [v, want] of [
      ['1', true],
      ['true', true],
      ['TRUE', true],
      ['0', false],
      ['false', false],
    ] as const) {
      expect(ok([], { FORKLAB_EXCLUSIVE: v }).exclusive).toBe(want);
      expect(ok([], { FORKLAB_REUSEPORT: v }).reusePort).toBe(want);
    }
    expect(errors([], { FORKLAB_EXCLUSIVE: 'yes' })).toEqual([
      'FORKLAB_EXCLUSIVE: must be 1, 0, true or false, got "yes"',
    ]);
  });

  test('a flag wins over its env var', () => {
    const c = ok(['--workers', '3', '--no-exclusive', '--name', 'flag'], {
      FORKLAB_WORKERS: '9',
      FORKLAB_EXCLUSIVE: '1',
      FORKLAB_NAME: 'env',
    });
    expect(c).toMatchObject({ workers: 3, exclusive: false, name: 'flag' });
  });

  test('a valid flag hides an invalid env var', () => {
    expect(ok(['--workers', '3'], { FORKLAB_WORKERS: 'many' }).workers).toBe(3);
  });

  test('errors in env vars name the env var', () => {
    expect(errors([], { FORKLAB_WORKERS: '0', FORKLAB_TRIGGER: 'both' })).toEqual([
      'FORKLAB_WORKERS: must be an integer from 1 to 64, got "0"',
      'FORKLAB_TRIGGER: must be one of level, edge, got "both"',
    ]);
  });

  test('an empty env var counts as unset', () => {
    expect(ok([], { FORKLAB_PORT: '' }).port).toBe(8080);
  });

  test('unrelated env vars are ignored', () => {
    expect(ok([], { FORKLAB_SOMETHING: 'x', PORT: '1' }).port).toBe(8080);
  });
});

describe('parseServeConfig: errors', () => {
  test('every error at once, each naming the field and the fix', () => {
    const errs = errors([
      'stray',
      '--wrokers',
      '2',
      '--workers',
      'x',
      '--port',
      '65536',
      '--metrics-port',
      '-1',
      '--loop-creation',
      'prefork',
      '--trigger',
      'both',
      '--flavour',
      'tornado6',
      '--accept-batch',
      '0',
      '--max-requests',
      '1.5',
      '--keyerror-log-per-sec',
      '10001',
      '--stuck-after-ms',
      '99',
      '--backlog',
      '0',
      '--max-restarts',
      '10001',
      '--host',
      'localhost',
      '--name',
      '-bad name',
      '--exclusive=yes',
      '--on-eexist',
      'maybe',
      '--backlog',
    ]);
    expect(errs).toEqual([
      '"stray": unexpected argument; serve takes only --flags (see forklab serve --help)',
      '--wrokers: unknown flag; did you mean --workers? (see forklab serve --help)',
      '--exclusive: takes no value; use --exclusive or --no-exclusive',
      '--backlog: needs a value, e.g. --backlog 128',
      '--name: must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit, got "-bad name"',
      '--host: must be an IP address such as 127.0.0.1, 0.0.0.0 or ::1, got "localhost"',
      '--port: must be an integer from 0 to 65535 (0 picks a free port), got "65536"',
      '--metrics-port: must be an integer from 0 to 65535 (0 picks a free port), got "-1"',
      '--workers: must be an integer from 1 to 64, got "x"',
      '--loop-creation: must be one of post-fork, pre-fork, pre-fork-late, got "prefork"',
      '--on-eexist: must be one of fail, ignore, got "maybe"',
      '--trigger: must be one of level, edge, got "both"',
      '--accept-batch: must be an integer from 1 to 4096, got "0"',
      '--max-requests: must be an integer from 0 to 1000000000 (0 = never), got "1.5"',
      '--flavour: must be one of tornado4, asyncio, got "tornado6"',
      '--keyerror-log-per-sec: must be an integer from 0 to 10000, got "10001"',
      '--stuck-after-ms: must be an integer from 100 to 600000, got "99"',
      '--backlog: must be an integer from 1 to 65535, got "0"',
      '--max-restarts: must be an integer from 0 to 10000, got "10001"',
    ]);
  });

  test('combination rules, all at once, each with its fix', () => {
    const errs = errors([
      '--loop-creation',
      'pre-fork',
      '--exclusive',
      '--reuseport',
      '--on-eexist',
      'fail',
      '--port',
      '9000',
      '--metrics-port',
      '9000',
    ]);
    expect(errs).toEqual([
      '--exclusive: EPOLLEXCLUSIVE needs one epoll per worker: use --loop-creation post-fork or drop --exclusive (loop creation is pre-fork)',
      '--reuseport: SO_REUSEPORT gives each worker its own listening socket, which needs one epoll per worker: use --loop-creation post-fork or drop --reuseport (loop creation is pre-fork)',
      '--on-eexist: only pre-fork-late registers the listening socket in each worker (where EEXIST happens): use --loop-creation pre-fork-late or drop --on-eexist (loop creation is pre-fork)',
      '--metrics-port: the metrics server cannot share port 9000 with the workers: choose another --metrics-port (0 picks a free port)',
    ]);
  });

  test('the default metrics port clashes with --port 9080', () => {
    expect(errors(['--port', '9080'])).toHaveLength(1);
  });

  test('--on-eexist is rejected with post-fork even at its default value, accepted with pre-fork-late', () => {
    expect(errors(['--on-eexist', 'fail'])).toHaveLength(1);
    expect(errors([], { FORKLAB_ON_EEXIST: 'ignore' })[0]).toMatch(
      /^FORKLAB_ON_EEXIST: only pre-fork-late/,
    );
    expect(ok(['--on-eexist', 'ignore', '--loop-creation', 'pre-fork-late']).onEexist).toBe(
      'ignore',
    );
  });

  test('exclusive and reuseport are fine with post-fork, and --no-exclusive with any loop', () => {
    expect(ok(['--exclusive', '--reuseport', '--loop-creation', 'post-fork'])).toMatchObject({
      exclusive: true,
      reusePort: true,
    });
    expect(
      ok(['--no-exclusive', '--no-reuseport', '--loop-creation', 'pre-fork']).loopCreation,
    ).toBe('pre-fork');
  });

  test('a combination rule is skipped when one of its fields is itself invalid', () => {
    expect(errors(['--exclusive', '--loop-creation', 'sometimes'])).toEqual([
      '--loop-creation: must be one of post-fork, pre-fork, pre-fork-late, got "sometimes"',
    ]);
  });

  test('a value starting with -- is not taken as a value', () => {
    expect(errors(['--name', '--workers', '2'])).toEqual([
      '--name: needs a value, e.g. --name my-server',
    ]);
  });

  test('boolean flags take no value; --no- exists only for booleans', () => {
    expect(errors(['--no-workers'])).toEqual([
      '--no-workers: unknown flag (see forklab serve --help)',
    ]);
  });
});

describe('validateServeConfig (programmatic callers)', () => {
  test('an empty partial gives the defaults', () => {
    expect(validateServeConfig({})).toEqual({ config: ok([]) });
  });

  test('errors name the field and use field syntax in the fix', () => {
    const r = validateServeConfig({
      workers: 0,
      port: '80' as unknown as number,
      exclusive: true,
      loopCreation: 'pre-fork',
      bogus: 1,
    } as Record<string, unknown>);
    expect(r.errors).toEqual([
      'bogus: unknown field; known fields: ' + SERVE_OPTIONS.map((o) => o.key).join(', '),
      'port: must be an integer from 0 to 65535 (0 picks a free port), got "80"',
      'workers: must be an integer from 1 to 64, got 0',
      'exclusive: EPOLLEXCLUSIVE needs one epoll per worker: use loopCreation: "post-fork" or remove exclusive (loop creation is pre-fork)',
    ]);
  });

  test('a validated config validates again to itself, for every loop creation', () => {
    for (const loopCreation of ['post-fork', 'pre-fork', 'pre-fork-late'] as const) {
      const first = validateServeConfig({ loopCreation, port: 0, metricsPort: 0 });
      expect(first.config).toBeDefined();
      expect(validateServeConfig(first.config!)).toEqual(first);
    }
  });

  test('onEexist "ignore" outside pre-fork-late is rejected', () => {
    expect(validateServeConfig({ onEexist: 'ignore' }).errors).toHaveLength(1);
  });

  test('a metricsHost of its own is kept', () => {
    expect(validateServeConfig({ host: '0.0.0.0', metricsHost: '127.0.0.1' }).config).toMatchObject(
      {
        host: '0.0.0.0',
        metricsHost: '127.0.0.1',
      },
    );
  });
});

describe('serveConfigToArgs', () => {
  const configs: Partial<ServeConfig>[] = [
    {},
    { loopCreation: 'pre-fork', trigger: 'edge', flavour: 'asyncio', workers: 8 },
    { loopCreation: 'pre-fork-late', onEexist: 'ignore', name: 'late' },
    { loopCreation: 'pre-fork-late', onEexist: 'fail' },
    { exclusive: true, reusePort: true, acceptBatch: 1, maxRequests: 500, port: 0, metricsPort: 0 },
    {
      host: '0.0.0.0',
      metricsHost: '127.0.0.1',
      maxFds: 64,
      stuckAfterMs: 250,
      backlog: 1,
      maxRestarts: 0,
    },
    { host: '::1', keyErrorLogPerSec: 10000 },
  ];

  test.each(configs.map((c) => [JSON.stringify(c), c]))('round trip %s', (_, partial) => {
    const config = validateServeConfig(partial).config!;
    expect(config).toBeDefined();
    const args = serveConfigToArgs(config);
    expect(parseServeConfig(args, {})).toEqual({ config });
  });

  test('the argv does not depend on the environment (except FORKLAB_ON_EEXIST outside pre-fork-late)', () => {
    const config = validateServeConfig({ workers: 3 }).config!;
    const env = Object.fromEntries(
      SERVE_OPTIONS.filter((o) => o.key !== 'onEexist').map((o) => [o.env, 'garbage']),
    );
    expect(parseServeConfig(serveConfigToArgs(config), env)).toEqual({ config });
  });

  test('writes every flag explicitly', () => {
    expect(serveConfigToArgs(validateServeConfig({}).config!)).toEqual([
      '--name',
      'post-fork-tornado4',
      '--host',
      '127.0.0.1',
      '--port',
      '8080',
      '--metrics-host',
      '127.0.0.1',
      '--metrics-port',
      '9080',
      '--workers',
      '2',
      '--loop-creation',
      'post-fork',
      '--trigger',
      'level',
      '--no-exclusive',
      '--no-reuseport',
      '--accept-batch',
      '128',
      '--max-requests',
      '0',
      '--flavour',
      'tornado4',
      '--keyerror-log-per-sec',
      '5',
      '--pace',
      'native',
      '--pace-cold-us',
      '-1',
      '--pace-cold-request-us',
      '-1',
      '--pace-accept-us',
      '-1',
      '--pace-first-request-us',
      '-1',
      '--pace-register-us',
      '-1',
      '--pace-close-us',
      '-1',
      '--pace-request-us',
      '-1',
      '--pace-request-after-us',
      '-1',
      '--pace-event-us',
      '-1',
      '--pace-keyerror-us',
      '-1',
      '--pace-skip-us',
      '-1',
      '--pace-gc-every',
      '-1',
      '--pace-gc-young-us',
      '-1',
      '--pace-gc-middle-us',
      '-1',
      '--pace-gc-full-us',
      '-1',
      '--pace-scale-pct',
      '100',
      '--pace-burn',
      'preset',
      '--pace-work-per-ms',
      '-1',
      '--pace-cpu-pct',
      'even',
      '--stuck-after-ms',
      '1000',
      '--max-fds',
      '0',
      '--client-header-buffer-bytes',
      '1024',
      '--large-header-buffer-bytes',
      '8192',
      '--large-header-buffers',
      '4',
      '--client-header-timeout-ms',
      '60000',
      '--client-body-timeout-ms',
      '60000',
      '--keepalive-timeout-ms',
      '75000',
      '--send-timeout-ms',
      '60000',
      '--backlog',
      '128',
      '--max-restarts',
      '10',
    ]);
  });
});

test('--help lists every flag, its env var and its default', () => {
  const help = serveHelp();
  for (const o of SERVE_OPTIONS) {
    expect(help).toContain(o.flag);
    expect(help).toContain(o.env);
    const d = (SERVE_DEFAULTS as Record<string, unknown>)[o.key];
    if (d !== undefined) expect(help).toContain(`default ${String(d)}`);
  }
});

describe('one table of settings', () => {
  test('every setting but the two derived ones has its default in the table', () => {
    for (const o of SERVE_OPTIONS) {
      const derived = o.key === 'name' || o.key === 'metricsHost';
      expect([o.key, o.default === undefined]).toEqual([o.key, derived]);
    }
  });

  test('the engine has no ranges of its own, only invariants: all broken ones named at once', () => {
    const base = engineConfigOf(validateServeConfig({ port: 0, workers: 1 }).config!);
    // 100 workers is outside the table's range (1..64) but the engine can run it: no error of its
    // own is wanted there, so this only checks what it must refuse.
    let message = '';
    try {
      new Engine({
        ...base,
        workers: 0,
        acceptBatch: 0,
        loopCreation: 'pre-fork',
        exclusive: true,
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      '  - workers: must be at least 1, got 0',
      '  - acceptBatch: must be at least 1, got 0',
      '  - exclusive: EPOLLEXCLUSIVE needs one epoll per worker; use loopCreation post-fork or turn exclusive off',
    ]);
    const big = new Engine({ ...base, workers: 100 });
    big.close();
  });

  test('the engine refuses a per-CPU scale out of its bounds, or beside the work burn, naming the CPU', () => {
    const base = engineConfigOf(validateServeConfig({ port: 0, workers: 1 }).config!);
    const refusal = (pace: Partial<typeof base.pace>): string[] => {
      try {
        new Engine({ ...base, pace: { ...base.pace, ...pace } }).close();
        return [];
      } catch (e) {
        return (e as Error).message.split('\n').slice(1);
      }
    };
    expect(refusal({ cpuPct: [100, 5, 1001] })).toEqual([
      '  - pace.cpuPct[1]: must be from 10 to 1000 (percent), got 5',
      '  - pace.cpuPct[2]: must be from 10 to 1000 (percent), got 1001',
    ]);
    expect(refusal({ cpuPct: [100, 160], workPerUs: 50 })).toEqual([
      '  - pace.cpuPct: only for a timed burn (the work burn slows on a slow CPU by itself); leave cpuPct empty or workPerUs 0',
    ]);
    expect(refusal({ cpuPct: new Array<number>(257).fill(100) })).toEqual([
      '  - pace.cpuPct: at most 256 CPUs, got 257',
    ]);
    expect(refusal({ cpuPct: [100, 160] })).toEqual([]);
  });
});
