// The pace model's presets: how much CPU a worker burns per accept, request, event, KeyError and
// skipped unknown fd, so that the engine runs at the speed of the framework it models.
//
// `native` burns nothing (the engine as it is: the mechanism, magnified). `tornado4` and `asyncio`
// take their costs from pace-presets.json, which `npm run calibrate` (scripts/calibrate.ts) writes
// by timing Debian's Python and the real `tornado` package on the machine, with how each cost was
// obtained. A cost given explicitly (`--pace-request-us 180`) beats the preset's.
import presetsJson from './pace-presets.json';

export const PACES = ['native', 'tornado4', 'asyncio'] as const;
export type PaceName = (typeof PACES)[number];

/**
 * The costs, in microseconds of CPU per occurrence, and how often the modelled cyclic garbage
 * collector runs (`gcEvery`: connections accepted per collection; native/pace.h CycleCollector).
 */
export const PACE_COSTS = [
  'coldUs',
  'coldRequestUs',
  'acceptUs',
  'firstRequestUs',
  'registerUs',
  'closeUs',
  'requestUs',
  'requestAfterUs',
  'eventUs',
  'keyErrorUs',
  'skipUs',
  'gcEvery',
  'gcYoungUs',
  'gcMiddleUs',
  'gcFullUs',
] as const;
export type PaceCost = (typeof PACE_COSTS)[number];

export type PaceCosts = Record<PaceCost, number>;

/** Where a calibration was made, and how each cost was obtained. */
export interface Calibration {
  /** ISO time of the calibration. */
  date: string;
  machine: string;
  cpu: string;
  kernel: string;
  python: string;
  tornado: string;
  command: string;
  /** Per cost: what was timed and the raw figures. */
  method: Record<PaceCost, string>;
}

export const BURNS = ['time', 'work'] as const;
export type Burn = (typeof BURNS)[number];

/** How the costs are burned (native/pace.h PaceCosts::work_per_us). */
export interface BurnCalibration {
  /** What the presets use: a spin for the cost's time, or work shaped like an interpreter's. */
  preset: Burn;
  /** The work burn's units per µs, timed in the calibration beside its Python timings. */
  workPerUs: number;
  /** How the rate was obtained and why the presets burn as they do. */
  method: string;
}

export interface PacePresets {
  calibration: Calibration;
  burn: BurnCalibration;
  presets: Record<Exclude<PaceName, 'native'>, PaceCosts>;
}

/** What a server runs with: the costs, whether Tornado's IOStream inline first read is modelled. */
export interface ResolvedPace extends PaceCosts {
  pace: PaceName;
  /** A paced preset reads a new connection before registering it with epoll, as IOStream does. */
  inlineRead: boolean;
  /** A paced preset answers a request read by an event handler on the next pass of the loop. */
  deferAnswer: boolean;
  /**
   * tornado4: Tornado 4.5's request loop takes a keep-alive connection's next request by an inline
   * read one or two passes after the answer (gen.moment), not from an epoll event.
   */
  nextReadInline: boolean;
  /** How the costs are burned: for their time, or as work that slows where Python slows. */
  burn: Burn;
  /** The work burn's units per µs of cost; 0 for a timed burn. */
  workPerUs: number;
  /** The costs set explicitly rather than taken from the preset. */
  overridden: PaceCost[];
  /** Every µs cost above is the preset's (or the explicit one) × this ÷ 100 (--pace-scale-pct). */
  scalePct: number;
  /**
   * Per CPU (CPU 0 first), each burn on that CPU × this ÷ 100 on top of the scale; empty = the
   * same on every CPU (--pace-cpu-pct).
   */
  cpuPct: number[];
  /** For a paced preset: when and where its costs were calibrated. */
  calibration?: { date: string; machine: string; python: string; tornado: string };
}

export const NATIVE_COSTS: Readonly<PaceCosts> = Object.freeze({
  coldUs: 0,
  coldRequestUs: 0,
  acceptUs: 0,
  firstRequestUs: 0,
  registerUs: 0,
  closeUs: 0,
  requestUs: 0,
  requestAfterUs: 0,
  eventUs: 0,
  keyErrorUs: 0,
  skipUs: 0,
  gcEvery: 0,
  gcYoungUs: 0,
  gcMiddleUs: 0,
  gcFullUs: 0,
});

/** The largest cost a setting may ask for (native/pace.h kMaxPaceUs). */
export const MAX_PACE_US = 100_000;

/** The largest work rate the engine takes (native/pace.h kMaxWorkPerUs). */
export const MAX_WORK_PER_US = 10_000;
/** native/pace.h kMaxPaceCpus, kMinCpuPct, kMaxCpuPct: the bounds of a per-CPU scale. */
export const MAX_PACE_CPUS = 256;
export const MIN_CPU_PCT = 10;
export const MAX_CPU_PCT = 1000;

/**
 * `--pace-cpu-pct`'s text as percentages per CPU: `even` is none (the same on every CPU), else
 * integers separated by commas, CPU 0 first. Undefined for text that is neither, or out of range.
 */
export function parseCpuPct(text: string): number[] | undefined {
  if (text === 'even') return [];
  if (!/^\d+(,\d+)*$/.test(text)) return undefined;
  const v = text.split(',').map(Number);
  if (v.length > MAX_PACE_CPUS || v.some((x) => x < MIN_CPU_PCT || x > MAX_CPU_PCT))
    return undefined;
  return v;
}

/** Checks a presets document; returns every problem, each naming the field. */
export function presetsProblems(doc: unknown): string[] {
  const errs: string[] = [];
  const fix = 'run `npm run calibrate` to write it again';
  if (typeof doc !== 'object' || doc === null) return [`pace presets: not an object (${fix})`];
  const d = doc as Record<string, unknown>;
  const cal = d.calibration as Record<string, unknown> | undefined;
  if (typeof cal !== 'object' || cal === null) errs.push(`calibration: missing (${fix})`);
  else {
    for (const k of ['date', 'machine', 'python', 'tornado'] as const) {
      if (typeof cal[k] !== 'string' || cal[k] === '')
        errs.push(`calibration.${k}: must be a non-empty string (${fix})`);
    }
  }
  const burn = d.burn as Record<string, unknown> | undefined;
  if (typeof burn !== 'object' || burn === null) errs.push(`burn: missing (${fix})`);
  else {
    if (!BURNS.includes(burn.preset as Burn))
      errs.push(
        `burn.preset: must be one of ${BURNS.join(', ')}, got ${JSON.stringify(burn.preset)} (${fix})`,
      );
    const r = burn.workPerUs;
    if (typeof r !== 'number' || !(r > 0) || r > MAX_WORK_PER_US)
      errs.push(
        `burn.workPerUs: must be a number above 0 and at most ${MAX_WORK_PER_US}, got ${JSON.stringify(r)} (${fix})`,
      );
  }
  const presets = d.presets as Record<string, unknown> | undefined;
  for (const name of ['tornado4', 'asyncio'] as const) {
    const p = presets?.[name] as Record<string, unknown> | undefined;
    if (typeof p !== 'object' || p === null) {
      errs.push(`presets.${name}: missing (${fix})`);
      continue;
    }
    for (const c of PACE_COSTS) {
      const v = p[c];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_PACE_US)
        errs.push(
          `presets.${name}.${c}: must be an integer from 0 to ${MAX_PACE_US}, got ${JSON.stringify(v)} (${fix})`,
        );
    }
  }
  return errs;
}

let shipped: PacePresets | undefined;

/** The presets the repository ships (lab/server/pace-presets.json), checked once. */
export function shippedPresets(): PacePresets {
  if (shipped) return shipped;
  const errs = presetsProblems(presetsJson);
  if (errs.length > 0) throw new Error(`lab/server/pace-presets.json: ${errs.join('; ')}`);
  shipped = presetsJson as unknown as PacePresets;
  return shipped;
}

/** The costs a server runs with: the preset's, each replaced by its explicit value when set. */
export function resolvePace(
  pace: PaceName,
  explicit: Partial<Record<PaceCost, number>>,
  presets: PacePresets = shippedPresets(),
  how: { burn?: Burn | 'preset'; workPerMs?: number; scalePct?: number; cpuPct?: number[] } = {},
): ResolvedPace {
  const burnSetting = how.burn ?? 'preset';
  const base = pace === 'native' ? NATIVE_COSTS : presets.presets[pace];
  const costs = { ...base };
  const overridden: PaceCost[] = [];
  for (const c of PACE_COSTS) {
    const v = explicit[c];
    if (v !== undefined && v >= 0) {
      costs[c] = v;
      overridden.push(c);
    }
  }
  // A framework on a host that runs it F times slower spends F times each cost; how often its
  // collector runs (a count of connections) does not change.
  const scalePct = how.scalePct ?? 100;
  for (const c of PACE_COSTS) {
    if (c !== 'gcEvery') costs[c] = Math.min(MAX_PACE_US, Math.round((costs[c] * scalePct) / 100));
  }
  const { date, machine, python, tornado } = presets.calibration;
  // Unpaced, nothing is burned; an explicit cost on the native pace burns for its time unless
  // work is asked for.
  const burn: Burn =
    burnSetting !== 'preset' ? burnSetting : pace === 'native' ? 'time' : presets.burn.preset;
  return {
    pace,
    ...costs,
    burn,
    workPerUs:
      burn !== 'work'
        ? 0
        : how.workPerMs !== undefined && how.workPerMs > 0
          ? how.workPerMs / 1000
          : presets.burn.workPerUs,
    inlineRead: pace !== 'native',
    deferAnswer: pace !== 'native',
    nextReadInline: pace === 'tornado4',
    overridden,
    scalePct,
    cpuPct: how.cpuPct ?? [],
    ...(pace === 'native' ? {} : { calibration: { date, machine, python, tornado } }),
  };
}

/** One line for logs and verdicts: `tornado4 (accept 250, request 200, … µs; calibrated …)`. */
export function describePace(p: ResolvedPace): string {
  if (p.pace === 'native' && p.overridden.length === 0) return 'native (unpaced)';
  const costs = PACE_COSTS.map(
    (c) => `${c.replace(/Us$/, '')} ${p[c]}${p.overridden.includes(c) ? '*' : ''}`,
  ).join(', ');
  const scale = p.scalePct !== 100 ? `; every cost × ${(p.scalePct / 100).toFixed(2)}` : '';
  const cal = p.calibration ? `; calibrated ${p.calibration.date.slice(0, 10)}` : '';
  const burn = p.burn === 'work' ? `; burned as work, ${p.workPerUs.toFixed(1)} units/µs` : '';
  const cpus =
    p.cpuPct.length > 0
      ? `; per CPU × ${p.cpuPct.map((v) => (v / 100).toFixed(2)).join(', ')}`
      : '';
  return `${p.pace} (${costs} µs CPU, gcEvery in connections${p.overridden.length ? ', * explicit' : ''}${scale}${cpus}${burn}${cal})`;
}
