// SeriesOutput on synthetic samples, and the field kinds against the metrics table.
import type { Phase } from '../lab/record/run-record';
import {
  GAUGE_FIELDS,
  INTERNAL_FIELDS,
  isCounterField,
  WORKER_SERIES_FIELDS,
} from '../lab/sample/fields';
import type { Sample } from '../lab/sample/sample';
import { SeriesOutput } from '../lab/sample/series-output';
import { FIELD_METRICS } from '../lab/server/metrics';
import type { ServerSnapshot } from '../lab/server/snapshot';

describe('field kinds', () => {
  it('match lab/server/metrics.ts FIELD_METRICS (itself checked against the engine layout)', () => {
    const kinds = Object.entries(FIELD_METRICS);
    expect(kinds.filter(([, m]) => m.kind === 'gauge').map(([f]) => f)).toEqual([...GAUGE_FIELDS]);
    expect(kinds.filter(([, m]) => m.kind === 'internal').map(([f]) => f)).toEqual([
      ...INTERNAL_FIELDS,
    ]);
    for (const [f, m] of kinds) expect([f, isCounterField(f)]).toEqual([f, m.kind === 'counter']);
    for (const f of WORKER_SERIES_FIELDS) expect(FIELD_METRICS).toHaveProperty(f);
  });
});

function snap(workers: Record<string, number>[]): ServerSnapshot {
  return {
    workers: workers.map((counters, index) => ({ index, counters })),
  } as unknown as ServerSnapshot;
}

function sample(
  tick: number,
  server: number,
  snapshot: ServerSnapshot | null,
  o: { target?: string; servers?: number; phase?: Phase } = {},
): Sample {
  return {
    tick,
    tMs: tick * 100,
    phase: o.phase ?? 'load',
    kind: 'interval',
    target: o.target ?? 'a',
    targetServers: o.servers ?? 2,
    server,
    serverName: `s${server}`,
    snapshot,
    ...(snapshot ? {} : { error: 'refused' }),
  };
}

describe('SeriesOutput', () => {
  it('sums counters and summable gauges over servers and workers, one point per batch', () => {
    const out = new SeriesOutput(['a', 'idle']);
    out.onSample(
      sample(
        0,
        0,
        snap([
          { requests: 1, accepts_ok: 1, open_connections: 2, pid: 7, pub_nvcsw: 5 },
          { requests: 2, open_connections: 1, pid: 8 },
        ]),
        { phase: 'warmup' },
      ),
    );
    expect(out.seriesOf('a').t).toEqual([]); // waits for the second server of the batch
    out.onSample(sample(0, 1, snap([{ requests: 10, stuck_connections: 1 }]), { phase: 'warmup' }));
    out.onSample(sample(1, 0, snap([{ requests: 5, accepts_ok: 2 }, { requests: 6 }])));
    out.onSample(sample(1, 1, snap([{ requests: 20, stuck_connections: 0 }])));
    const s = out.seriesOf('a');
    expect(s.t).toEqual([0, 100]);
    expect(s.phase).toEqual(['warmup', 'load']);
    expect(s.totals.requests).toEqual([13, 31]);
    expect(s.totals.accepts_ok).toEqual([1, 2]);
    expect(s.totals.open_connections).toEqual([3, 3]); // absent from every snapshot: carried on
    expect(s.totals.stuck_connections).toEqual([1, 0]);
    expect(s.totals).not.toHaveProperty('pid');
    expect(s.totals).not.toHaveProperty('pub_nvcsw');
    expect(Object.keys(s.workers).sort()).toEqual(['0/0', '0/1', '1/0']);
    expect(s.workers['0/1']!.requests).toEqual([2, 6]);
    expect(s.workers['1/0']!.stuck_connections).toEqual([1, 0]);
    expect(Object.keys(s.workers['0/0']!).sort()).toEqual([...WORKER_SERIES_FIELDS].sort());
    expect(out.seriesOf('idle')).toEqual({ t: [], phase: [], totals: {}, workers: {} });
  });

  it('carries a silent server over, drops a batch where none answered, back-fills late ones', () => {
    const out = new SeriesOutput();
    out.onSample(sample(0, 0, snap([{ requests: 1 }])));
    out.onSample(sample(0, 1, null)); // server 1 never answered yet
    out.onSample(sample(1, 0, null));
    out.onSample(sample(1, 1, null)); // nobody: no point
    out.onSample(sample(2, 0, null)); // server 0 silent: carried over
    out.onSample(sample(2, 1, snap([{ requests: 50, keyerrors: 3 }])));
    const s = out.seriesOf('a');
    expect(s.t).toEqual([0, 200]);
    expect(s.totals.requests).toEqual([1, 51]);
    expect(s.totals.keyerrors).toEqual([0, 3]);
    expect(s.workers['1/0']!.requests).toEqual([0, 50]);
    expect(out.gapsOf('a')).toEqual({ carried: 2, dropped: 1 });
    // every array has one value per point
    for (const arr of Object.values(s.totals)) expect(arr).toHaveLength(2);
    for (const w of Object.values(s.workers)) {
      for (const arr of Object.values(w)) expect(arr).toHaveLength(2);
    }
  });
});
