// What one load generator counts while it runs, and how that becomes a ClientResult. Every driver
// (autocannon, churn-client.ts, the native driver through native-load.ts) counts into the same
// LoadStats, so all report the same fields with the same meaning, and latency goes into the same
// HdrHistogram (hdr-histogram-js, a dependency of ours: µs, 3 significant digits).
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { ClientResult } from '../record/run-record';

/** Counters of a running load, as reported to onProgress. */
export interface LoadProgress {
  sent: number;
  responses: number;
  errors: number;
  timeouts: number;
  elapsedSec: number;
  status2xx: number;
  statusOther: number;
  /** Latency of the responses completed since the previous report, ms; null when none. */
  latencyMs: { p50: number; p90: number; p99: number } | null;
}

export class LoadStats {
  /** Requests written (or attempted: a request whose connection failed still counts). */
  sent = 0;
  responses = 0;
  status2xx = 0;
  statusOther = 0;
  /** Connection errors: refused, reset, closed before the response was complete. */
  errors = 0;
  /** Requests without a response by the client deadline. */
  timeouts = 0;
  bytesRead = 0;
  /** Latency of completed requests in microseconds (3 significant digits). */
  private readonly latencyUs: Histogram = buildHistogram();
  /** The same, for the responses since the previous progress report (live figures). */
  private readonly windowUs: Histogram = buildHistogram();

  recordResponse(status: number, bytes: number, latencyMs: number): void {
    this.responses++;
    if (status >= 200 && status < 300) this.status2xx++;
    else this.statusOther++;
    this.bytesRead += bytes;
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.latencyUs.recordValue(us);
    this.windowUs.recordValue(us);
  }

  /**
   * Latency samples counted by value, `[µs, count, …]` (the native driver's takeLatencyCounts),
   * each sample a response already counted elsewhere: one histogram update per distinct value
   * instead of one per sample.
   */
  recordLatencyCountsUs(pairs: Uint32Array): void {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const us = Math.max(1, pairs[i]!);
      const n = pairs[i + 1]!;
      this.latencyUs.recordValueWithCount(us, n);
      this.windowUs.recordValueWithCount(us, n);
    }
  }

  /** Latency samples in µs, each one a response already counted elsewhere. */
  recordLatenciesUs(samples: Uint32Array): void {
    for (let i = 0; i < samples.length; i++) {
      const us = Math.max(1, samples[i]!);
      this.latencyUs.recordValue(us);
      this.windowUs.recordValue(us);
    }
  }

  /**
   * Starts the measured window on a generator that keeps running (its connections carried over
   * from the warm-up): what ended before now is forgotten, and the requests in flight now count as
   * sent in the window, so that once they have drained every request of the window ended exactly
   * one way (response, error or timeout). Latency starts afresh.
   */
  beginWindow(): void {
    const ended = this.responses + this.errors + this.timeouts;
    this.sent -= ended;
    this.responses = 0;
    this.status2xx = 0;
    this.statusOther = 0;
    this.errors = 0;
    this.timeouts = 0;
    this.bytesRead = 0;
    this.resetLatency();
  }

  /** Empties both latency histograms. */
  resetLatency(): void {
    this.latencyUs.reset();
    this.windowUs.reset();
  }

  /** The running totals, and the latency since the previous call (which starts a new window). */
  progress(elapsedSec: number): LoadProgress {
    const { sent, responses, errors, timeouts, status2xx, statusOther } = this;
    const w = this.windowUs;
    const ms = (us: number): number => Math.round(us) / 1000;
    const latencyMs =
      w.totalCount === 0
        ? null
        : {
            p50: ms(w.getValueAtPercentile(50)),
            p90: ms(w.getValueAtPercentile(90)),
            p99: ms(w.getValueAtPercentile(99)),
          };
    w.reset();
    return { sent, responses, errors, timeouts, elapsedSec, status2xx, statusOther, latencyMs };
  }

  toClientResult(durationSec: number): ClientResult {
    const h = this.latencyUs;
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      durationSec,
      sent: this.sent,
      responses: this.responses,
      status2xx: this.status2xx,
      statusOther: this.statusOther,
      errors: this.errors,
      timeouts: this.timeouts,
      requestsPerSec: durationSec > 0 ? this.responses / durationSec : 0,
      bytesRead: this.bytesRead,
      latencyMs:
        h.totalCount === 0
          ? null
          : {
              p50: ms(h.getValueAtPercentile(50)),
              p90: ms(h.getValueAtPercentile(90)),
              p99: ms(h.getValueAtPercentile(99)),
              max: ms(h.maxValue),
              mean: ms(h.mean),
            },
    };
  }
}

function buildHistogram(): Histogram {
  return hdr.build({
    useWebAssembly: false,
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}
