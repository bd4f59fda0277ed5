// The modelled cyclic garbage collector's settings (native/pace.h CycleCollector), from what
// CPython's collector did in a busy Tornado 4.5.3 worker under churn (bench/tornado45/server.py
// TORNADO45_PHASES: gc.callbacks timed with time.thread_time).

/** Per generation ('0' young, '1' middle, '2' full): collections, and their mean CPU in µs. */
export type GcRuns = Record<'0' | '1' | '2', [number, number]>;

export interface CollectorSettings {
  /** Connections accepted per collection of any generation. */
  gcEvery: number;
  gcYoungUs: number;
  gcMiddleUs: number;
  gcFullUs: number;
  /** All collections' CPU over the run ÷ the connections: their share of a connection's cost. */
  perConnectionUs: number;
}

/** Fewer connections than this give too few full collections (one per ~1,500) to average. */
export const MIN_GC_CONNECTIONS = 3000;

/**
 * The settings from one run: `connections` accepted, `gc` what the collector did meanwhile.
 * Throws naming what is missing when the run was too short to see every generation collected.
 */
export function collectorSettings(gc: GcRuns, connections: number): CollectorSettings {
  const [young, middle, full] = [gc['0'], gc['1'], gc['2']];
  if (connections < MIN_GC_CONNECTIONS || young[0] === 0 || middle[0] === 0 || full[0] === 0)
    throw new Error(
      `tornado45 collector: ${connections} connections gave ${young[0]} young, ${middle[0]} middle and ` +
        `${full[0]} full collections (want ≥ ${MIN_GC_CONNECTIONS} connections and every generation ` +
        'collected: a longer --duration)',
    );
  const collections = young[0] + middle[0] + full[0];
  const totalUs = young[0] * young[1] + middle[0] * middle[1] + full[0] * full[1];
  return {
    gcEvery: Math.max(1, Math.round(connections / collections)),
    gcYoungUs: Math.round(young[1]),
    gcMiddleUs: Math.round(middle[1]),
    gcFullUs: Math.round(full[1]),
    perConnectionUs: totalUs / connections,
  };
}
