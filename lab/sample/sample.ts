// What the sampler emits, and the interface its outputs implement (the k6 way: samples flow
// through small outputs; the series builder is one, a Prometheus export can be another).
import type { Phase } from '../record/run-record';
import type { ServerSnapshot } from '../server/snapshot';

/** One server's snapshot at one sample time. */
export interface Sample {
  /**
   * Batch number, from 0: every server's sample taken at one tick (or one `snapshotNow()`) shares
   * it, and batches reach the outputs in this order.
   */
  tick: number;
  /** ms since the run's start (`startedAtMs`), when the batch's requests were sent. */
  tMs: number;
  phase: Phase;
  /** Why it was taken: the periodic interval, or `snapshotNow()` at a phase boundary. */
  kind: 'interval' | 'now';
  target: string;
  /** How many servers the target has (each batch holds one sample of each). */
  targetServers: number;
  /** Index of the server within its target: the `<server index>` of a worker key. */
  server: number;
  serverName: string;
  /** null is a gap: the fetch failed or timed out (see `error`). */
  snapshot: ServerSnapshot | null;
  error?: string;
}

export interface SampleOutput {
  /** Called once per server per batch, batches in order; must not throw (errors are counted). */
  onSample(s: Sample): void;
  /** Called once by `Sampler.stop()` after the last sample. */
  close(): void | Promise<void>;
}
