// Which fields of a worker's counter slot (native/counters.h) may be summed and differenced.
//
// A snapshot carries every field by name but not its kind, so the non-counter fields are named
// here (test/sample-fields.test.ts checks these lists against lab/server/metrics.ts FIELD_METRICS,
// which is itself checked against the engine's layout). Any field not named here is a counter:
// cumulative, never reset (it survives worker restarts), so a delta is a plain difference.
import type { CounterTotals } from '../record/run-record';

/** Gauges: a value per sample, never differenced. */
export const GAUGE_FIELDS: readonly string[] = [
  'open_connections',
  'stuck_connections',
  'pid',
  'started_at_ms',
];

/** Gauges whose sum over workers means something (connections now); pid and time do not. */
export const SUMMABLE_GAUGE_FIELDS: readonly string[] = ['open_connections', 'stuck_connections'];

/** Bookkeeping of the engine, never reported. */
export const INTERNAL_FIELDS: readonly string[] = [
  'pub_nvcsw',
  'pub_nivcsw',
  'pub_utime_us',
  'pub_stime_us',
];

/** The per-worker series kept in TargetSeries.workers (the per-worker charts). */
export const WORKER_SERIES_FIELDS: readonly string[] = [
  'requests',
  'accepts_ok',
  'keyerrors',
  'unknown_fd_events',
  'nvcsw',
  'utime_us',
  'stime_us',
  'open_connections',
  'stuck_connections',
];

const notCounters = new Set([...GAUGE_FIELDS, ...INTERNAL_FIELDS]);

export function isCounterField(field: string): boolean {
  return !notCounters.has(field);
}

/** Fields kept in a series' totals: every counter plus the summable gauges. */
export function isSeriesTotalField(field: string): boolean {
  return isCounterField(field) || SUMMABLE_GAUGE_FIELDS.includes(field);
}

/** The counter fields of one worker's `counters` (gauges and internal fields left out). */
export function counterFieldsOf(counters: Readonly<Record<string, number>>): CounterTotals {
  const out: CounterTotals = {};
  for (const [k, v] of Object.entries(counters)) if (isCounterField(k)) out[k] = v;
  return out;
}
