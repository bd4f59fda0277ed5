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
