// The verdict of a cost measured as the difference between two groups of noisy runs.

const fmt = (n: number, digits: number): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * The sampler's cost with a verdict only where the measurements allow one. The run-to-run noise is
 * the larger relative range (max − min over the median) of the two groups; the cost is the
 * difference of the medians. `met` only when even cost + noise stays below the target, `NOT met`
 * only when cost − noise exceeds it; otherwise the rounds cannot tell, and say so.
 */
export function samplingVerdict(without: number[], withSampler: number[], targetPct = 1): string {
  const a = median(without);
  const pct = ((a - median(withSampler)) / a) * 100;
  if (without.length < 2 || withSampler.length < 2) {
    return 'no verdict: one run each cannot measure the noise; use --rounds 2 or more';
  }
  const range = (xs: number[]): number => ((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100;
  const noisePct = Math.max(range(without), range(withSampler));
  const within = `cost ${fmt(pct, 2)} % ± ${fmt(noisePct, 1)} % run-to-run noise`;
  if (pct + noisePct < targetPct) return `${within}: target < ${targetPct} % met`;
  if (pct - noisePct > targetPct) {
    return `${within}: target < ${targetPct} % NOT met`;
  }
  return (
    `${within}: no verdict, the noise is wider than the ${targetPct} % to be told ` +
    'apart; raise --rounds or --duration, or run on a quiet machine'
  );
}

/** A driver's rate against wrk's, with a verdict against the target where the rounds allow one. */
export interface RatioVerdict {
  /** Median of the per-round ratios. */
  ratio: number;
  /** Lowest and highest per-round ratio kept (with 4 or more rounds, the extreme round at each end is left out). */
  low: number;
  high: number;
  text: string;
}

/**
 * A driver's requests/s against wrk's, measured in the same rounds (`driver[i]` and `wrk[i]` ran in
 * round i, minutes apart at most, so a change in the machine's load hits both alike). Each round
 * gives one ratio; the ratio is their median, and their range is the noise. With 4 or more rounds
 * the lowest and the highest round are left out (one burst of other work on a shared machine
 * should not decide). `met` when every round kept reached the target, `NOT met` when none did;
 * otherwise the rounds straddle the target and no verdict is given.
 */
export function ratioVerdict(driver: number[], wrk: number[], target: number): RatioVerdict {
  if (driver.length !== wrk.length || driver.length === 0) {
    throw new Error('ratioVerdict: one driver rate and one wrk rate per round are needed');
  }
  const perRound = driver.map((d, i) => (wrk[i]! > 0 ? d / wrk[i]! : 0)).sort((a, b) => a - b);
  const ratio = median(perRound);
  const kept = perRound.length >= 4 ? perRound.slice(1, -1) : perRound;
  const low = kept[0]!;
  const high = kept[kept.length - 1]!;
  const dropped = kept.length < perRound.length ? ' without the lowest and highest' : '';
  const head = `ratio ${fmt(ratio, 2)} (rounds ${fmt(low, 2)}–${fmt(high, 2)}${dropped})`;
  if (perRound.length < 2) {
    return { ratio, low, high, text: `${head}: no verdict, one round cannot measure the noise` };
  }
  if (low >= target) return { ratio, low, high, text: `${head}: target ≥ ${target} met` };
  if (high < target) return { ratio, low, high, text: `${head}: target ≥ ${target} NOT met` };
  return {
    ratio,
    low,
    high,
    text:
      `${head}: no verdict, the rounds straddle the ${target} target; ` +
      'raise --rounds or --duration, or run on a quiet machine',
  };
}

/**
 * A throughput ratio (pre-fork ÷ post-fork) against a reference, judged against a control ratio
 * that is 1 but for noise (the same two set-ups with one worker, where they differ only in who
 * created the epoll instance). The noise is the control's largest distance from 1; the verdict is
 * `met` only when the median's distance from the reference plus the noise stays within the
 * tolerance, `NOT met` only when that distance minus the noise exceeds it, and no verdict otherwise.
 */
export function controlRatioVerdict(
  ratios: number[],
  control: number[],
  reference: number,
  tolerance: number,
): string {
  if (ratios.length === 0) return 'no verdict: no runs';
  const m = median(ratios);
  const off = Math.abs(m - reference);
  const head = `median ${fmt(m, 2)} vs ${fmt(reference, 2)} ± ${fmt(tolerance, 2)}`;
  if (control.length === 0) {
    return `${head}: no verdict, no one-worker control runs to measure the noise (add 1 to --workers)`;
  }
  const noise = Math.max(...control.map((c) => Math.abs(c - 1)));
  const within = `${head}, noise ± ${fmt(noise, 2)} (one-worker control ${control.map((c) => fmt(c, 2)).join(', ')})`;
  if (off + noise <= tolerance) return `${within}: met`;
  if (off - noise > tolerance) return `${within}: NOT met`;
  return `${within}: no verdict, the noise is too wide to tell`;
}

/**
 * KeyErrors per 1000 requests of the engine against a real framework's, measured in the same
 * bench. With one worker there is no shared epoll instance, so both must show none in every run.
 * With more, `met` when the engine's median lies inside the real runs' [min–max] and within
 * `factor`× of the real median (a real median of 0 asks for an engine median of 0).
 */
export function keyErrorVerdict(
  engine: number[],
  real: number[],
  workers: number,
  factor = 3,
): string {
  if (engine.length === 0 || real.length === 0) return 'no verdict: no runs';
  if (workers === 1) {
    const e = engine.filter((x) => x > 0).length;
    const r = real.filter((x) => x > 0).length;
    return e === 0 && r === 0
      ? 'none in any run of either, as with one worker there must be none: met'
      : `one worker must show none: NOT met (runs with KeyErrors: engine ${e}, real ${r})`;
  }
  const m = median(engine);
  const rm = median(real);
  const lo = Math.min(...real);
  const hi = Math.max(...real);
  const inRange = m >= lo && m <= hi;
  const within = rm > 0 ? m >= rm / factor && m <= rm * factor : m === 0;
  return (
    `engine median ${fmt(m, 2)}, real ${fmt(rm, 2)} [${fmt(lo, 2)}–${fmt(hi, 2)}]: ` +
    `inside the real range ${inRange ? 'yes' : 'NO'}, within ${factor}× of ${fmt(rm, 2)} ` +
    `${within ? 'yes' : 'NO'}: ${inRange && within ? 'met' : 'NOT met'}`
  );
}

/**
 * A worker holding at most this many keep-alive connections has that many fd numbers of its own,
 * so nearly every event of a sibling's connection that reaches it is for an fd it does not know.
 */
export const FEW_CONNECTIONS = 2;

/** The class of a keep-alive split: how many workers held at most FEW_CONNECTIONS at 1 s. */
export function fewHeld(at1s: readonly number[]): number {
  return at1s.filter((c) => c <= FEW_CONNECTIONS).length;
}

export interface SplitRun {
  /** Connections each worker held (or had accepted) 1 s into the run. */
  at1s: readonly number[];
  keyErrorsPer1000: number;
}

/**
 * keyErrorVerdict within each class of split both sides reached (fewHeld), one line a class, then
 * a line naming the classes only one side reached. Under keep-alive the split of the first
 * connections decides the KeyErrors: runs of different splits compare splits, not models.
 */
export function keyErrorsBySplit(
  engine: readonly SplitRun[],
  real: readonly SplitRun[],
  workers: number,
  factor = 3,
): string[] {
  const classes = [...new Set([...engine, ...real].map((r) => fewHeld(r.at1s)))].sort(
    (a, b) => b - a,
  );
  const lines: string[] = [];
  const onlyOne: string[] = [];
  for (const k of classes) {
    const e = engine.filter((r) => fewHeld(r.at1s) === k).map((r) => r.keyErrorsPer1000);
    const t = real.filter((r) => fewHeld(r.at1s) === k).map((r) => r.keyErrorsPer1000);
    const what = `${k} of ${workers} workers with at most ${FEW_CONNECTIONS} connections`;
    if (e.length > 0 && t.length > 0)
      lines.push(
        `${what} (${e.length} engine, ${t.length} real): ${keyErrorVerdict(e, t, workers, factor)}`,
      );
    else onlyOne.push(`${k} (${e.length > 0 ? `engine ${e.length}` : `real ${t.length}`})`);
  }
  if (onlyOne.length > 0)
    lines.push(
      `splits reached by one side only, workers with at most ${FEW_CONNECTIONS} connections: ${onlyOne.join(', ')}`,
    );
  return lines;
}
