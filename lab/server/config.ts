// The configuration of `forklab serve`: defaults, flags, environment variables and validation, in
// one place. Flags and env vars are parsed into a partial config that goes through the same
// `validateServeConfig` as a programmatic caller's (e.g. a scenario file), so the rules and the
// error messages are written once. Every error is reported at once, each naming the field (the flag
// or env var it came from) and the fix.
import { isIP } from 'node:net';
import { tokenizeArgv } from './argv';
import type { EngineConfig, Flavour, LoopCreation, OnEexist, Trigger } from '../native/engine';
import {
  BURNS,
  MAX_CPU_PCT,
  MAX_PACE_CPUS,
  MAX_PACE_US,
  MAX_WORK_PER_US,
  MIN_CPU_PCT,
  PACES,
  parseCpuPct,
  shippedPresets,
  type Burn,
  type PaceCost,
  type PaceName,
} from './pace';

export interface ServeConfig extends Omit<EngineConfig, 'pace'> {
  /** The pace model: native (no burn), or the calibrated costs of tornado4 or asyncio. */
  pace: PaceName;
  /** Explicit costs in µs of CPU, each beating the preset's; -1 takes the preset's. */
  paceColdUs: number;
  paceColdRequestUs: number;
  paceAcceptUs: number;
  paceFirstRequestUs: number;
  paceRegisterUs: number;
  paceCloseUs: number;
  paceRequestUs: number;
  paceRequestAfterUs: number;
  paceEventUs: number;
  paceKeyErrorUs: number;
  paceSkipUs: number;
  paceGcEvery: number;
  paceGcYoungUs: number;
  paceGcMiddleUs: number;
  paceGcFullUs: number;
  /** Every pace cost × this ÷ 100: the framework on a host that runs it slower or faster. */
  paceScalePct: number;
  /** How the costs are burned: for their time, as work, or as the presets say. */
  paceBurn: Burn | 'preset';
  /** The work burn's rate in units per millisecond of cost; -1 takes the presets' calibrated rate. */
  paceWorkPerMs: number;
  /** Per CPU, every burn there × its percentage ÷ 100 (`100,160`, CPU 0 first), or `even`. */
  paceCpuPct: string;
  /** Address of the metrics HTTP server; defaults to `host`. */
  metricsHost: string;
  /** Port of the metrics HTTP server (/metrics, /healthz, /snapshot.json); 0 picks a free port. */
  metricsPort: number;
  /** Crash restarts allowed per worker before it is marked failed (cycled exits do not count). */
  maxRestarts: number;
  /** Label of this server in metrics and logs; defaults to `<loopCreation>-<flavour>`. */
  name: string;
}

export const LOOP_CREATIONS = [
  'post-fork',
  'pre-fork',
  'pre-fork-late',
] as const satisfies readonly LoopCreation[];
export const FLAVOURS = ['tornado4', 'asyncio'] as const satisfies readonly Flavour[];
export const TRIGGERS = ['level', 'edge'] as const satisfies readonly Trigger[];
export const ON_EEXIST = ['fail', 'ignore'] as const satisfies readonly OnEexist[];

/** The explicit-cost fields of ServeConfig, by the cost they set. */
export const PACE_COST_FIELDS = {
  coldUs: 'paceColdUs',
  coldRequestUs: 'paceColdRequestUs',
  acceptUs: 'paceAcceptUs',
  firstRequestUs: 'paceFirstRequestUs',
  registerUs: 'paceRegisterUs',
  closeUs: 'paceCloseUs',
  requestUs: 'paceRequestUs',
  requestAfterUs: 'paceRequestAfterUs',
  eventUs: 'paceEventUs',
  keyErrorUs: 'paceKeyErrorUs',
  skipUs: 'paceSkipUs',
  gcEvery: 'paceGcEvery',
  gcYoungUs: 'paceGcYoungUs',
  gcMiddleUs: 'paceGcMiddleUs',
  gcFullUs: 'paceGcFullUs',
} as const satisfies Record<PaceCost, keyof ServeConfig>;

export function defaultName(loopCreation: LoopCreation, flavour: Flavour): string {
  return `${loopCreation}-${flavour}`;
}

type Key = keyof ServeConfig;

type Kind =
  | {
      type: 'int';
      min: number;
      max: number;
      /** Allowed outside [min, max], with its meaning. */ alt?: [number, string];
      note?: string;
    }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'bool' }
  | { type: 'host' }
  | { type: 'name' }
  /** `even`, or integers from min to max separated by commas, one per CPU (at most maxItems). */
  | { type: 'perCpu'; min: number; max: number; maxItems: number };

interface OptionSpec {
  key: Key;
  flag: string;
  env: string;
  kind: Kind;
  /** The default; absent only for the two derived from others (metricsHost, name). */
  default?: string | number | boolean;
  /** Placeholder in --help (not used for booleans). */
  value?: string;
  help: string;
}

/**
 * The single table of server settings: flag, env var, kind and range, default and help. Order =
 * order in --help and argv. The CLI (`forklab serve`), the scenario validator and the engine all
 * take their defaults and ranges from here; the C++ engine only asserts its invariants
 * (native/config.cc) and has no defaults or ranges of its own.
 *
 * To add a setting: add one entry here (key, flag, env, kind, default, help), add its field to
 * EngineConfig in lab/native/engine.ts (or to ServeConfig above if only the supervisor uses it),
 * and, for an engine setting, read it in native/addon.cc ConfigFromJs into a field of
 * native/config.h EngineConfig. Validation, --help, FORKLAB_* env vars, scenario settings and
 * overrides follow from the entry.
 */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'name',
    flag: '--name',
    env: 'FORKLAB_NAME',
    kind: { type: 'name' },
    value: 'NAME',
    help: 'label in metrics and logs (default: <loop-creation>-<flavour>)',
  },
  {
    key: 'host',
    flag: '--host',
    env: 'FORKLAB_HOST',
    kind: { type: 'host' },
    default: '127.0.0.1',
    value: 'ADDR',
    help: 'address to listen on',
  },
  {
    key: 'port',
    flag: '--port',
    env: 'FORKLAB_PORT',
    kind: { type: 'int', min: 0, max: 65535, note: '0 picks a free port' },
    default: 8080,
    value: 'N',
    help: 'HTTP port of the workers (0 picks a free port)',
  },
  {
    key: 'metricsHost',
    flag: '--metrics-host',
    env: 'FORKLAB_METRICS_HOST',
    kind: { type: 'host' },
    value: 'ADDR',
    help: 'address of the metrics server (default: same as --host)',
  },
  {
    key: 'metricsPort',
    flag: '--metrics-port',
    env: 'FORKLAB_METRICS_PORT',
    kind: { type: 'int', min: 0, max: 65535, note: '0 picks a free port' },
    default: 9080,
    value: 'N',
    help: 'port of /metrics, /healthz, /snapshot.json (0 picks a free port)',
  },
  {
    key: 'workers',
    flag: '--workers',
    env: 'FORKLAB_WORKERS',
    kind: { type: 'int', min: 1, max: 64 },
    default: 2,
    value: 'N',
    help: 'number of forked worker processes',
  },
  {
    key: 'loopCreation',
    flag: '--loop-creation',
    env: 'FORKLAB_LOOP_CREATION',
    kind: { type: 'enum', values: LOOP_CREATIONS },
    default: 'post-fork',
    value: LOOP_CREATIONS.join('|'),
    help: 'when the IOLoop (epoll) is created: after fork (one per worker) or before (shared); pre-fork-late registers the listening socket in each child',
  },
  {
    key: 'onEexist',
    flag: '--on-eexist',
    env: 'FORKLAB_ON_EEXIST',
    kind: { type: 'enum', values: ON_EEXIST },
    default: 'fail',
    value: ON_EEXIST.join('|'),
    help: 'pre-fork-late only: a worker whose registration gives EEXIST exits (fail, like Tornado 4) or carries on (ignore)',
  },
  {
    key: 'trigger',
    flag: '--trigger',
    env: 'FORKLAB_TRIGGER',
    kind: { type: 'enum', values: TRIGGERS },
    default: 'level',
    value: TRIGGERS.join('|'),
    help: 'how connection fds are registered (the listening socket is always level-triggered)',
  },
  {
    key: 'exclusive',
    flag: '--exclusive',
    env: 'FORKLAB_EXCLUSIVE',
    kind: { type: 'bool' },
    default: false,
    help: 'EPOLLEXCLUSIVE on the listening socket (post-fork only); --no-exclusive to turn off',
  },
  {
    key: 'reusePort',
    flag: '--reuseport',
    env: 'FORKLAB_REUSEPORT',
    kind: { type: 'bool' },
    default: false,
    help: 'one SO_REUSEPORT listening socket per worker (post-fork only); --no-reuseport to turn off',
  },
  {
    key: 'acceptBatch',
    flag: '--accept-batch',
    env: 'FORKLAB_ACCEPT_BATCH',
    kind: { type: 'int', min: 1, max: 4096 },
    default: 128,
    value: 'N',
    help: 'accepts per listening-socket event (Tornado 4: 128)',
  },
  {
    key: 'maxRequests',
    flag: '--max-requests',
    env: 'FORKLAB_MAX_REQUESTS',
    kind: { type: 'int', min: 0, max: 1_000_000_000, note: '0 = never' },
    default: 0,
    value: 'N',
    help: 'a worker exits and is replaced after this many requests (0 = never)',
  },
  {
    key: 'flavour',
    flag: '--flavour',
    env: 'FORKLAB_FLAVOUR',
    kind: { type: 'enum', values: FLAVOURS },
    default: 'tornado4',
    value: FLAVOURS.join('|'),
    help: "events for unknown fds: raise and log a KeyError (tornado4) or skip them silently (asyncio); tornado4 also answers a client's Connection: close without the header, as Tornado 4.5 does",
  },
  {
    key: 'keyErrorLogPerSec',
    flag: '--keyerror-log-per-sec',
    env: 'FORKLAB_KEYERROR_LOG_PER_SEC',
    kind: { type: 'int', min: 0, max: 10000 },
    default: 5,
    value: 'N',
    help: 'KeyError tracebacks logged per second per worker; the rest are counted',
  },
  {
    key: 'pace',
    flag: '--pace',
    env: 'FORKLAB_PACE',
    kind: { type: 'enum', values: PACES },
    value: PACES.join('|'),
    default: 'native',
    help: 'CPU the workers burn where the framework spends it: native (none), or the costs calibrated for tornado4 or asyncio (lab/server/pace-presets.json, npm run calibrate)',
  },
  {
    key: 'paceColdUs',
    flag: '--pace-cold-us',
    env: 'FORKLAB_PACE_COLD_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs a worker burns once, on its first connection: the connection path's share of the forked interpreter's cold start (beats the preset)",
  },
  {
    key: 'paceColdRequestUs',
    flag: '--pace-cold-request-us',
    env: 'FORKLAB_PACE_COLD_REQUEST_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs a worker burns once, on its first request answered: the request path's share of the cold start (beats the preset)",
  },
  {
    key: 'paceAcceptUs',
    flag: '--pace-accept-us',
    env: 'FORKLAB_PACE_ACCEPT_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per accepted connection, before its first read (beats the preset)',
  },
  {
    key: 'paceFirstRequestUs',
    flag: '--pace-first-request-us',
    env: 'FORKLAB_PACE_FIRST_REQUEST_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs per connection, with its first request, before that response is sent: the rest of the connection's set-up (beats the preset)",
  },
  {
    key: 'paceRegisterUs',
    flag: '--pace-register-us',
    env: 'FORKLAB_PACE_REGISTER_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per connection whose read after the accept would block, as it goes into epoll: the framework waiting for its request (beats the preset)',
  },
  {
    key: 'paceCloseUs',
    flag: '--pace-close-us',
    env: 'FORKLAB_PACE_CLOSE_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs per connection closed, after its close: the framework's teardown (beats the preset)",
  },
  {
    key: 'paceRequestUs',
    flag: '--pace-request-us',
    env: 'FORKLAB_PACE_REQUEST_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per request parsed and answered, before its response is sent (beats the preset)',
  },
  {
    key: 'paceRequestAfterUs',
    flag: '--pace-request-after-us',
    env: 'FORKLAB_PACE_REQUEST_AFTER_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs per request answered, after its response is sent: the framework's way to its next read (beats the preset)",
  },
  {
    key: 'paceEventUs',
    flag: '--pace-event-us',
    env: 'FORKLAB_PACE_EVENT_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per event dispatched to a handler (beats the preset)',
  },
  {
    key: 'paceKeyErrorUs',
    flag: '--pace-keyerror-us',
    env: 'FORKLAB_PACE_KEYERROR_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per KeyError, its traceback logged (beats the preset)',
  },
  {
    key: 'paceSkipUs',
    flag: '--pace-skip-us',
    env: 'FORKLAB_PACE_SKIP_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs per unknown-fd event asyncio skips (beats the preset)',
  },
  {
    key: 'paceGcEvery',
    flag: '--pace-gc-every',
    env: 'FORKLAB_PACE_GC_EVERY',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'N',
    help: "connections accepted per collection of the interpreter's cyclic garbage collector; 0: none (beats the preset)",
  },
  {
    key: 'paceGcYoungUs',
    flag: '--pace-gc-young-us',
    env: 'FORKLAB_PACE_GC_YOUNG_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: "CPU µs of a young collection of the interpreter's cyclic garbage collector (beats the preset)",
  },
  {
    key: 'paceGcMiddleUs',
    flag: '--pace-gc-middle-us',
    env: 'FORKLAB_PACE_GC_MIDDLE_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs of a middle-generation collection, run instead of a young one after every 11 young ones (beats the preset)',
  },
  {
    key: 'paceGcFullUs',
    flag: '--pace-gc-full-us',
    env: 'FORKLAB_PACE_GC_FULL_US',
    kind: { type: 'int', min: 0, max: MAX_PACE_US, alt: [-1, 'the --pace preset'] },
    default: -1,
    value: 'US',
    help: 'CPU µs of a full collection, run instead of a young one after every 11 middle ones: a stall of milliseconds (beats the preset)',
  },
  {
    key: 'paceScalePct',
    flag: '--pace-scale-pct',
    env: 'FORKLAB_PACE_SCALE_PCT',
    kind: { type: 'int', min: 10, max: 1000 },
    default: 100,
    value: 'PCT',
    help: 'every pace cost (preset or explicit) × PCT ÷ 100: the framework on a host that runs it slower (above 100) or faster than the calibration did',
  },
  {
    key: 'paceBurn',
    flag: '--pace-burn',
    env: 'FORKLAB_PACE_BURN',
    kind: { type: 'enum', values: ['preset', ...BURNS] },
    value: ['preset', ...BURNS].join('|'),
    default: 'preset',
    help: "how the costs are burned: time (a spin for each cost's time), work (interpreter-shaped work that slows where Python slows, at the calibrated rate), or the presets' choice (lab/server/pace-presets.json)",
  },
  {
    key: 'paceWorkPerMs',
    flag: '--pace-work-per-ms',
    env: 'FORKLAB_PACE_WORK_PER_MS',
    kind: {
      type: 'int',
      min: 1,
      max: MAX_WORK_PER_US * 1000,
      alt: [-1, "the presets' calibrated rate"],
    },
    default: -1,
    value: 'N',
    help: 'work units per millisecond of cost for --pace-burn work (beats the calibrated rate; npm run calibrate measures it)',
  },
  {
    key: 'paceCpuPct',
    flag: '--pace-cpu-pct',
    env: 'FORKLAB_PACE_CPU_PCT',
    kind: { type: 'perCpu', min: MIN_CPU_PCT, max: MAX_CPU_PCT, maxItems: MAX_PACE_CPUS },
    default: 'even',
    value: 'PCT,PCT,...|even',
    help: 'per CPU (CPU 0 first), every burn on that CPU × its PCT ÷ 100, on top of --pace-scale-pct: a machine whose CPUs run the interpreter at different speeds (bench:fidelity measures them); timed burns only',
  },
  {
    key: 'stuckAfterMs',
    flag: '--stuck-after-ms',
    env: 'FORKLAB_STUCK_AFTER_MS',
    kind: { type: 'int', min: 100, max: 600000 },
    default: 1000,
    value: 'MS',
    help: 'a connection with unread data and no progress this long counts as stuck',
  },
  {
    key: 'maxFds',
    flag: '--max-fds',
    env: 'FORKLAB_MAX_FDS',
    kind: { type: 'int', min: 8, max: 1048576, alt: [0, 'keep the inherited limit'] },
    default: 0,
    value: 'N',
    help: 'RLIMIT_NOFILE of each worker (0 keeps the inherited limit)',
  },
  // Hostile clients: nginx's limits and timeouts (names and defaults), README "Limits and timeouts".
  {
    key: 'clientHeaderBufferBytes',
    flag: '--client-header-buffer-bytes',
    env: 'FORKLAB_CLIENT_HEADER_BUFFER_BYTES',
    kind: { type: 'int', min: 256, max: 65_536 },
    default: 1024,
    value: 'BYTES',
    help: 'input buffer a connection keeps between requests (nginx client_header_buffer_size)',
  },
  {
    key: 'largeHeaderBufferBytes',
    flag: '--large-header-buffer-bytes',
    env: 'FORKLAB_LARGE_HEADER_BUFFER_BYTES',
    kind: { type: 'int', min: 256, max: 65_536 },
    default: 8192,
    value: 'BYTES',
    help: 'longest request line (else 414) or header field (else 431) (nginx large_client_header_buffers size)',
  },
  {
    key: 'largeHeaderBuffers',
    flag: '--large-header-buffers',
    env: 'FORKLAB_LARGE_HEADER_BUFFERS',
    kind: { type: 'int', min: 1, max: 64 },
    default: 4,
    value: 'N',
    help: 'request head limit = N × --large-header-buffer-bytes, else 431 (nginx large_client_header_buffers number)',
  },
  {
    key: 'clientHeaderTimeoutMs',
    flag: '--client-header-timeout-ms',
    env: 'FORKLAB_CLIENT_HEADER_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 3_600_000 },
    default: 60_000,
    value: 'MS',
    help: 'whole request head, from its first byte (from the accept for the first request); then 408 and close',
  },
  {
    key: 'clientBodyTimeoutMs',
    flag: '--client-body-timeout-ms',
    env: 'FORKLAB_CLIENT_BODY_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 3_600_000 },
    default: 60_000,
    value: 'MS',
    help: 'between two reads of a request body; then 408 and close',
  },
  {
    key: 'keepaliveTimeoutMs',
    flag: '--keepalive-timeout-ms',
    env: 'FORKLAB_KEEPALIVE_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 3_600_000 },
    default: 75_000,
    value: 'MS',
    help: 'an idle keep-alive connection is closed after this long without a new request',
  },
  {
    key: 'sendTimeoutMs',
    flag: '--send-timeout-ms',
    env: 'FORKLAB_SEND_TIMEOUT_MS',
    kind: { type: 'int', min: 100, max: 3_600_000 },
    default: 60_000,
    value: 'MS',
    help: 'a response the client does not read: closed after this long without a write',
  },
  {
    key: 'backlog',
    flag: '--backlog',
    env: 'FORKLAB_BACKLOG',
    kind: { type: 'int', min: 1, max: 65535 },
    default: 128,
    value: 'N',
    help: 'listen() backlog',
  },
  {
    key: 'maxRestarts',
    flag: '--max-restarts',
    env: 'FORKLAB_MAX_RESTARTS',
    kind: { type: 'int', min: 0, max: 10000 },
    default: 10,
    value: 'N',
    help: 'crash restarts per worker before it is marked failed',
  },
];

/** Every default, from the table, except the two derived ones (`metricsHost` = host, `name`). */
export const SERVE_DEFAULTS: Readonly<Omit<ServeConfig, 'metricsHost' | 'name'>> = Object.freeze(
  Object.fromEntries(
    SERVE_OPTIONS.filter((o) => o.default !== undefined).map((o) => [o.key, o.default]),
  ) as unknown as Omit<ServeConfig, 'metricsHost' | 'name'>,
);

const BY_KEY = new Map(SERVE_OPTIONS.map((o) => [o.key, o]));
const BY_FLAG = new Map(SERVE_OPTIONS.map((o) => [o.flag, o]));

/** Where a value came from, for error messages: the flag or env var and its text. */
export interface ValueSource {
  label: string;
  raw: string;
}

export interface ValidateOptions {
  /** Set by the flag/env parser: names each error after the flag or env var and quotes its text. */
  sources?: Partial<Record<Key, ValueSource>>;
}

export type ValidateResult =
  | { config: ServeConfig; errors?: undefined; help?: undefined }
  | { errors: string[]; config?: undefined; help?: undefined };
export type ParseResult = ValidateResult | { help: true; config?: undefined; errors?: undefined };

/**
 * Validates a partial config (missing fields get their defaults) and returns the full config, or
 * every error. Used by the flag/env parser and by programmatic callers alike.
 */
export function validateServeConfig(
  partial: Partial<ServeConfig> | Record<string, unknown>,
  options: ValidateOptions = {},
): ValidateResult {
  const input = partial as Record<string, unknown>;
  const sources = options.sources;
  const cli = sources !== undefined;
  const errors: string[] = [];
  const bad = new Set<Key>();
  const label = (key: Key): string => sources?.[key]?.label ?? (cli ? BY_KEY.get(key)!.flag : key);
  const got = (key: Key, value: unknown): string =>
    JSON.stringify(sources?.[key]?.raw ?? value) ?? String(value);
  /** How to tell the user to set a field: `--loop-creation post-fork` or `loopCreation: "post-fork"`. */
  const set = (key: Key, value: string | boolean): string => {
    const o = BY_KEY.get(key)!;
    if (!cli) return `${key}: ${JSON.stringify(value)}`;
    if (o.kind.type === 'bool') return value ? o.flag : `--no-${o.flag.slice(2)}`;
    return `${o.flag} ${value}`;
  };
  const drop = (key: Key): string => (cli ? `drop ${label(key)}` : `remove ${key}`);

  for (const k of Object.keys(input)) {
    if (!BY_KEY.has(k as Key))
      errors.push(`${k}: unknown field; known fields: ${[...BY_KEY.keys()].join(', ')}`);
  }

  const out: Record<string, unknown> = {};
  for (const o of SERVE_OPTIONS) {
    const value = input[o.key];
    if (value === undefined) continue;
    const fail = (msg: string): void => {
      errors.push(`${label(o.key)}: ${msg}, got ${got(o.key, value)}`);
      bad.add(o.key);
    };
    const k = o.kind;
    switch (k.type) {
      case 'int': {
        const ok =
          typeof value === 'number' &&
          Number.isInteger(value) &&
          ((value >= k.min && value <= k.max) || value === k.alt?.[0]);
        if (ok) out[o.key] = value;
        else if (k.alt)
          fail(`must be ${k.alt[0]} (${k.alt[1]}) or an integer from ${k.min} to ${k.max}`);
        else fail(`must be an integer from ${k.min} to ${k.max}${k.note ? ` (${k.note})` : ''}`);
        break;
      }
      case 'enum':
        if (typeof value === 'string' && k.values.includes(value)) out[o.key] = value;
        else fail(`must be one of ${k.values.join(', ')}`);
        break;
      case 'bool':
        if (typeof value === 'boolean') out[o.key] = value;
        else fail(cli ? 'must be 1, 0, true or false' : 'must be true or false');
        break;
      case 'host':
        if (typeof value === 'string' && isIP(value) !== 0) out[o.key] = value;
        else fail('must be an IP address such as 127.0.0.1, 0.0.0.0 or ::1');
        break;
      case 'perCpu':
        if (typeof value === 'string' && parseCpuPct(value) !== undefined) out[o.key] = value;
        else
          fail(
            `must be even or a percentage from ${k.min} to ${k.max} per CPU, CPU 0 first, separated by commas (at most ${k.maxItems}), e.g. 100,160`,
          );
        break;
      case 'name':
        if (typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(value))
          out[o.key] = value;
        else
          fail('must be 1 to 63 letters, digits, ".", "_" or "-", starting with a letter or digit');
        break;
    }
  }

  const config = {
    ...SERVE_DEFAULTS,
    ...out,
  } as Omit<ServeConfig, 'metricsHost' | 'name'> &
    Partial<Pick<ServeConfig, 'metricsHost' | 'name'>>;
  const full: ServeConfig = {
    ...config,
    metricsHost: config.metricsHost ?? config.host,
    name: config.name ?? defaultName(config.loopCreation, config.flavour),
  };

  // Combination rules; skipped when a field involved is itself invalid (already reported).
  const ok = (...keys: Key[]): boolean => keys.every((k) => !bad.has(k));
  const loop = `(loop creation is ${full.loopCreation})`;
  if (ok('exclusive', 'loopCreation') && full.exclusive && full.loopCreation !== 'post-fork') {
    errors.push(
      `${label('exclusive')}: EPOLLEXCLUSIVE needs one epoll per worker: use ${set('loopCreation', 'post-fork')} or ${drop('exclusive')} ${loop}`,
    );
  }
  if (ok('reusePort', 'loopCreation') && full.reusePort && full.loopCreation !== 'post-fork') {
    errors.push(
      `${label('reusePort')}: SO_REUSEPORT gives each worker its own listening socket, which needs one epoll per worker: use ${set('loopCreation', 'post-fork')} or ${drop('reusePort')} ${loop}`,
    );
  }
  // On the command line any explicit --on-eexist counts; a programmatic caller may pass the default
  // (so that a validated config validates again).
  const explicitOnEexist = cli
    ? sources.onEexist !== undefined
    : input.onEexist !== undefined && input.onEexist !== SERVE_DEFAULTS.onEexist;
  if (ok('onEexist', 'loopCreation') && explicitOnEexist && full.loopCreation !== 'pre-fork-late') {
    errors.push(
      `${label('onEexist')}: only pre-fork-late registers the listening socket in each worker (where EEXIST happens): use ${set('loopCreation', 'pre-fork-late')} or ${drop('onEexist')} ${loop}`,
    );
  }
  if (ok('pace', 'flavour') && full.pace !== 'native' && full.pace !== full.flavour) {
    errors.push(
      `${label('pace')}: the ${full.pace} pace burns the costs of the ${full.pace} loop, whose treatment of unknown fds the flavour sets: use ${set('flavour', full.pace)} or ${set('pace', full.flavour)} (flavour is ${full.flavour})`,
    );
  }
  const workBurn =
    full.paceBurn === 'work' ||
    (full.paceBurn === 'preset' &&
      full.pace !== 'native' &&
      shippedPresets().burn.preset === 'work');
  if (ok('paceCpuPct', 'paceBurn', 'pace') && full.paceCpuPct !== 'even' && workBurn) {
    errors.push(
      `${label('paceCpuPct')}: the work burn slows on a slow CPU by itself; a per-CPU scale is for timed burns: use ${set('paceBurn', 'time')} or ${set('paceCpuPct', 'even')} (the burn is work)`,
    );
  }
  if (ok('port', 'metricsPort') && full.port !== 0 && full.port === full.metricsPort) {
    errors.push(
      `${label('metricsPort')}: the metrics server cannot share port ${full.port} with the workers: choose another ${cli ? '--metrics-port' : 'metricsPort'} (0 picks a free port)`,
    );
  }

  return errors.length > 0 ? { errors } : { config: full };
}

/** Parses `forklab serve` flags and FORKLAB_* env vars; a flag wins over its env var. */
export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ParseResult {
  const errors: string[] = [];
  const sources: Partial<Record<Key, ValueSource>> = {};
  let help = false;

  for (const o of SERVE_OPTIONS) {
    const raw = env[o.env];
    if (raw !== undefined && raw !== '') sources[o.key] = { label: o.env, raw };
  }

  const optionOf = (name: string): OptionSpec | undefined => {
    const o = BY_FLAG.get(`--${name}`);
    if (o) return o;
    const negated = name.startsWith('no-') ? BY_FLAG.get(`--${name.slice(3)}`) : undefined;
    return negated?.kind.type === 'bool' ? negated : undefined;
  };
  const items = tokenizeArgv(
    argv,
    { h: 'help' },
    (name, known) => !known || (name !== 'help' && optionOf(name)!.kind.type !== 'bool'),
    (name) => name === 'help' || optionOf(name) !== undefined,
  );
  for (const item of items) {
    if (item.kind === 'positional') {
      errors.push(
        `${JSON.stringify(item.value)}: unexpected argument; serve takes only --flags (see forklab serve --help)`,
      );
      continue;
    }
    const flag = item.raw;
    if (item.name === 'help') {
      help = true;
      continue;
    }
    const o = optionOf(item.name);
    if (!o) {
      const hint = suggest(flag);
      errors.push(
        `${flag}: unknown flag${hint ? `; did you mean ${hint}?` : ''} (see forklab serve --help)`,
      );
      continue;
    }
    if (o.kind.type === 'bool') {
      if (item.inline) {
        errors.push(`${flag}: takes no value; use ${o.flag} or --no-${o.flag.slice(2)}`);
        continue;
      }
      sources[o.key] = { label: flag, raw: flag === o.flag ? 'true' : 'false' };
      continue;
    }
    if (item.value === undefined) {
      errors.push(`${flag}: needs a value, e.g. ${flag} ${example(o)}`);
      continue;
    }
    sources[o.key] = { label: flag, raw: item.value };
  }

  if (help) return { help: true };

  const partial: Record<string, unknown> = {};
  for (const [key, src] of Object.entries(sources) as [Key, ValueSource][]) {
    partial[key] = convert(BY_KEY.get(key)!.kind, src.raw);
  }
  const result = validateServeConfig(partial, { sources });
  if (errors.length > 0) return { errors: [...errors, ...(result.errors ?? [])] };
  return result;
}

/** Strings to typed values; text that does not convert is passed on for validation to report. */
function convert(kind: Kind, raw: string): unknown {
  switch (kind.type) {
    case 'int':
      return /^[+-]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
    case 'bool': {
      const v = raw.trim().toLowerCase();
      return v === '1' || v === 'true' ? true : v === '0' || v === 'false' ? false : raw;
    }
    default:
      return raw;
  }
}

function example(o: OptionSpec): string {
  if (o.kind.type === 'enum') return o.kind.values[0]!;
  if (o.key === 'name') return 'my-server';
  const d = (SERVE_DEFAULTS as Record<string, unknown>)[o.key];
  return d === undefined ? '127.0.0.1' : String(d);
}

/** The closest known flag within two edits, for "did you mean". */
function suggest(flag: string): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const f of BY_FLAG.keys()) {
    const d = distance(flag, f);
    if (d < bestD) {
      best = f;
      bestD = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The argv that reproduces `config` with `forklab serve` (every field explicit, no env needed). */
export function serveConfigToArgs(config: ServeConfig): string[] {
  const args: string[] = [];
  for (const o of SERVE_OPTIONS) {
    const value = config[o.key];
    if (o.key === 'onEexist' && config.loopCreation !== 'pre-fork-late') continue;
    if (o.kind.type === 'bool') args.push(value ? o.flag : `--no-${o.flag.slice(2)}`);
    else args.push(o.flag, String(value));
  }
  return args;
}

/** `forklab serve --help`, generated from the option table. */
export function serveHelp(): string {
  const lines = [
    'Usage: forklab serve [flags]',
    '',
    'Starts a pre-forking epoll server (the C++ engine) and its metrics server. Prints one line',
    '`FORKLAB_READY {"port":P,"metricsPort":M,"pids":[...]}` to stdout when listening.',
    '',
    'Flags (each also read from its env var; a flag wins):',
  ];
  for (const o of SERVE_OPTIONS) {
    const flag =
      o.kind.type === 'bool'
        ? `${o.flag}, --no-${o.flag.slice(2)}`
        : `${o.flag} ${o.value ?? 'VALUE'}`;
    const d = (SERVE_DEFAULTS as Record<string, unknown>)[o.key];
    const range =
      o.kind.type === 'int'
        ? o.kind.alt
          ? ` (${o.kind.alt[0]} or ${o.kind.min}..${o.kind.max})`
          : ` (${o.kind.min}..${o.kind.max})`
        : '';
    lines.push(
      `  ${flag}`,
      `      ${o.help}${range}${d === undefined ? '' : `; default ${String(d)}`}  [${o.env}]`,
    );
  }
  lines.push('  --help', '      this text');
  return lines.join('\n') + '\n';
}
