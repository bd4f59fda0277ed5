// How evenly this machine's CPUs run Python at the moment: the same short pure-Python loop pinned
// to each CPU in turn (taskset), its CPU time (time.process_time, so time spent preempted does not
// count). On the lab's 2-vCPU VM, Python ran up to 1.3–1.7× slower on one vCPU than on the other at
// some moments and the same on both at others (2026-11-27; no steal time shown): real Tornado's CPU per
// request follows it, the engine's timed burns do not (README, "This machine's two CPUs").
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { MAX_CPU_PCT, MIN_CPU_PCT, parseCpuPct } from '../../lab/server/pace';

/**
 * Slowest over fastest CPU above which a run counts as taken on uneven CPUs. Chosen on that VM
 * (2026-11-27): this check (best of two per CPU) gave 1.03–1.12 in 20 checks of an even moment,
 * and 1.23–1.69 in the 20 of 73 checks of a bench:fidelity run that found a CPU slower; a twice
 * longer loop pinned the same way gave 1.27–1.63 in uneven moments.
 */
export const UNEVEN_SPREAD = 1.2;

const LOOP =
  'import time\nt = time.process_time()\ns = 0\nfor i in range(1_000_000): s += i * i % 7\n' +
  'print((time.process_time() - t) * 1000)';
const CHECK_TIMEOUT_MS = 10_000;

export interface CpuSpread {
  /** The loop's CPU milliseconds on each CPU, best of `tries`. */
  ms: number[];
  /** Slowest over fastest. */
  spread: number;
}

/** Slowest over fastest; 1 for fewer than two figures. */
export function spreadOf(ms: readonly number[]): number {
  if (ms.length < 2) return 1;
  return Math.max(...ms) / Math.min(...ms);
}

/** Times the loop pinned to each CPU (best of `tries`); throws naming what failed. */
export function measureCpuSpread(python: string, tries = 2): CpuSpread {
  const ms: number[] = [];
  for (let cpu = 0; cpu < os.cpus().length; cpu++) {
    let best = Infinity;
    for (let t = 0; t < tries; t++) {
      let out: string;
      try {
        out = execFileSync('taskset', ['-c', String(cpu), python, '-c', LOOP], {
          encoding: 'utf8',
          timeout: CHECK_TIMEOUT_MS,
        });
      } catch (e) {
        // The last line of its stderr says why (execFileSync's message repeats the whole loop).
        const why = String((e as { stderr?: unknown }).stderr ?? '')
          .trim()
          .split('\n')
          .pop();
        throw new Error(
          `CPU check: taskset -c ${cpu} ${python} failed (${why || (e as Error).message}); it needs taskset (util-linux) and python3`,
        );
      }
      const v = Number(out.trim());
      if (!(v > 0)) throw new Error(`CPU check: CPU ${cpu} printed "${out.trim()}", not a time`);
      best = Math.min(best, v);
    }
    ms.push(best);
  }
  return { ms, spread: spreadOf(ms) };
}

/** The runs' spreads as one note: how many were taken on uneven CPUs, or '' when none was. */
export function unevenNote(spreads: readonly number[], limit = UNEVEN_SPREAD): string {
  const uneven = spreads.filter((s) => s > limit);
  if (uneven.length === 0) return '';
  return (
    `CPUs uneven (Python ${uneven.map((s) => `${s.toFixed(2)}×`).join(', ')} slower on one, ` +
    `over ${limit}×) in ${uneven.length} of ${spreads.length} runs: their figures are the machine's moment`
  );
}

/**
 * The engine's `--pace-cpu-pct` for a check: each CPU's loop time in percent of the fastest's
 * (CPU 0 first), within the engine's bounds. The fastest CPU runs the costs as calibrated; a CPU
 * that ran Python 1.5× slower burns them 1.5× longer, as the interpreter would spend there.
 */
export function cpuPctOf(ms: readonly number[]): string {
  const fastest = Math.min(...ms);
  return ms
    .map((m) => Math.min(MAX_CPU_PCT, Math.max(MIN_CPU_PCT, Math.round((100 * m) / fastest))))
    .join(',');
}

/**
 * How much dearer a cost is on average over the CPUs with a per-CPU scale (`--pace-cpu-pct`)
 * than without: the mean of its factors, 1 without one. Taken as the workers spending the same
 * time on every CPU, which N ≥ 2 workers on this 2-CPU machine about do. A speed that stands for
 * a mean CPU per request (the reference's, or the real run's with `match`) is divided by it, so
 * that the engine spends that mean whatever the CPUs' spread.
 */
export function meanCpuFactor(cpuPct: string | undefined): number {
  const pct = cpuPct === undefined ? [] : (parseCpuPct(cpuPct) ?? []);
  if (pct.length === 0) return 1;
  return pct.reduce((a, p) => a + p / 100, 0) / pct.length;
}
