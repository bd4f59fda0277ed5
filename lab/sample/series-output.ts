// A SampleOutput that builds the run record's TargetSeries: one point per batch per target.
//
// totals: every counter field summed over the target's servers and workers (cumulative, so a
// rate is a difference of two points), plus the summable gauges (open_connections,
// stuck_connections) summed at that instant. pid, started_at_ms and internal fields are left out.
// workers: WORKER_SERIES_FIELDS per worker, keyed `<server index>/<worker index>`.
//
// Gaps: a point is made when at least one of the target's servers answered in that batch; a
// server that did not answer contributes its last snapshot (carried over, so cumulative series
// stay monotonic), or nothing if it never answered. A batch where none answered makes no point.
// A field or worker first seen after some points is back-filled with 0 for the earlier ones.
import type { Phase, TargetSeries } from '../record/run-record';
import type { ServerSnapshot } from '../server/snapshot';
import { isSeriesTotalField, WORKER_SERIES_FIELDS } from './fields';
import type { Sample, SampleOutput } from './sample';

interface Pending {
  tMs: number;
  /** Sum of the answering servers' snapshot times (their mean becomes tMs). */
  tSum: number;
  phase: Phase;
  got: number;
  answered: number;
}

interface TargetState {
  last: (ServerSnapshot | null)[];
  pending: Map<number, Pending>;
  series: TargetSeries;
  /** Points made while at least one server's sample was a gap (carried over). */
  carried: number;
  /** Batches that made no point (no server answered). */
  dropped: number;
}

export function emptySeries(): TargetSeries {
  return { t: [], phase: [], totals: {}, workers: {} };
}

export class SeriesOutput implements SampleOutput {
  private readonly state = new Map<string, TargetState>();

  /** Targets named here have a (possibly empty) series even if no sample arrives. */
  constructor(targets: readonly string[] = []) {
    for (const t of targets) this.target(t);
  }

  private target(name: string): TargetState {
    let st = this.state.get(name);
    if (!st) {
      st = { last: [], pending: new Map(), series: emptySeries(), carried: 0, dropped: 0 };
      this.state.set(name, st);
    }
    return st;
  }

  onSample(s: Sample): void {
    const st = this.target(s.target);
    let p = st.pending.get(s.tick);
    if (!p) {
      p = { tMs: s.tMs, tSum: 0, phase: s.phase, got: 0, answered: 0 };
      st.pending.set(s.tick, p);
    }
    p.got++;
    if (s.snapshot) {
      p.answered++;
      p.tSum += s.tMs;
      p.tMs = p.tSum / p.answered; // the mean time the answering servers took their snapshots
      st.last[s.server] = s.snapshot;
    }
    if (p.got >= s.targetServers) {
      st.pending.delete(s.tick);
      this.commit(st, p, s.targetServers);
    }
  }

  close(): void {
    // Nothing buffered survives a complete batch; incomplete ones (should not happen) are dropped.
    for (const st of this.state.values()) {
      st.dropped += st.pending.size;
      st.pending.clear();
    }
  }

  /** The series of one target (the live object: it grows until the sampler stops). */
  seriesOf(target: string): TargetSeries {
    return this.target(target).series;
  }

  /** Points made over a gap (values carried over) and batches that made no point, per target. */
  gapsOf(target: string): { carried: number; dropped: number } {
    const st = this.target(target);
    return { carried: st.carried, dropped: st.dropped };
  }

  private commit(st: TargetState, p: Pending, servers: number): void {
    if (p.answered === 0) {
      st.dropped++;
      return;
    }
    if (p.answered < servers) st.carried++;
    const totals: Record<string, number> = {};
    const workers: Record<string, Record<string, number>> = {};
    st.last.forEach((snap, si) => {
      if (!snap) return;
      for (const w of snap.workers) {
        for (const [field, v] of Object.entries(w.counters)) {
          if (isSeriesTotalField(field)) totals[field] = (totals[field] ?? 0) + v;
        }
        const row: Record<string, number> = {};
        for (const f of WORKER_SERIES_FIELDS) row[f] = w.counters[f] ?? 0;
        workers[`${si}/${w.index}`] = row;
      }
    });
    const s = st.series;
    const n = s.t.length;
    s.t.push(p.tMs);
    s.phase.push(p.phase);
    appendRow(s.totals, totals, n);
    for (const [key, row] of Object.entries(workers)) {
      s.workers[key] ??= {};
      appendRow(s.workers[key], row, n);
    }
    // Workers missing from this point (their server never answered yet, or they vanished).
    for (const [key, fields] of Object.entries(s.workers)) {
      if (!workers[key]) {
        for (const arr of Object.values(fields)) arr.push(arr[arr.length - 1] ?? 0);
      }
    }
  }
}

/** Appends one value per field at index n; new fields are back-filled, absent ones carry on. */
function appendRow(into: Record<string, number[]>, row: Record<string, number>, n: number): void {
  for (const [field, v] of Object.entries(row)) {
    const arr = (into[field] ??= new Array<number>(n).fill(0));
    arr.push(v);
  }
  for (const arr of Object.values(into)) {
    if (arr.length === n) arr.push(arr[n - 1] ?? 0);
  }
}
