// derive-figures.ts on hand-made inputs with known answers.
import { counterDeltas, crossCheck, deriveFigures, ratio } from '../lab/record/derive-figures';
import { jain, stuckConnectionsMax } from '../lab/record/figures';
import { parseRecordJson, recordJson } from '../lab/record/run-folder';
import type { ClientResult, TargetSeries, WorkerRecord } from '../lab/record/run-record';
import { resolvePace } from '../lab/server/pace';
import type { ServerSnapshot } from '../lab/server/snapshot';

function snap(
  workers: Array<{ counters: Record<string, number>; restarts?: number; failed?: boolean }>,
): ServerSnapshot {
  return {
    name: 's',
    engineVersion: 'test',
    port: 1,
    metricsPort: 2,
    stopping: false,
    takenAtMs: 0,
    config: {} as ServerSnapshot['config'],
    pace: resolvePace('native', {}),
    workers: workers.map((w, index) => ({
      index,
      pid: 100 + index,
      up: true,
      failed: w.failed ?? false,
      restarts: w.restarts ?? 0,
      restartsByReason: { crash: w.restarts ?? 0, cycled: 0, clean: 0 },
      exits: {} as ServerSnapshot['workers'][number]['exits'],
      counters: w.counters,
    })),
  };
}

function client(o: Partial<ClientResult> = {}): ClientResult {
  return {
    durationSec: 10,
    sent: 1000,
    responses: 1000,
    status2xx: 1000,
    statusOther: 0,
    errors: 0,
    timeouts: 0,
    requestsPerSec: 100,
    bytesRead: 0,
    latencyMs: { p50: 1.5, p90: 2, p99: 4.25, max: 9, mean: 1.6 },
    // The load generator's usage: a node driver, its loop busy 60 % of the window.
    usage: {
      driver: 'node',
      generator: 'churn-client',
      threads: 1,
      cpuCores: 0.5,
      utilization: 0.6,
      cpuUsPerResponse: 25,
      loopDelayMs: { p50: 0.5, p99: 3, max: 7 },
      saturated: false,
      warning: null,
    },
    ...o,
  };
}

const emptySeries: TargetSeries = { t: [], phase: [], totals: {}, workers: {} };

function worker(counters: Record<string, number>, restarts = 0): WorkerRecord {
  return { key: '0/0', container: 0, worker: 0, counters, restarts, failed: false };
}

describe('ratio', () => {
  it('divides, with 0/0 = 0 and n/0 = Infinity, never NaN', () => {
    expect(ratio(6, 3)).toBe(2);
    expect(ratio(0, 0)).toBe(0);
    expect(ratio(5, 0)).toBe(Infinity);
    expect(ratio(-5, 0)).toBe(-Infinity);
  });

  it('survives results.json as "inf", read back as Infinity', () => {
    const text = recordJson({ v: ratio(1, 0), w: ratio(-1, 0), n: null, x: 3 });
    expect(text).toContain('"v": "inf"');
    expect(text).toContain('"w": "-inf"');
    expect(parseRecordJson(text)).toEqual({ v: Infinity, w: -Infinity, n: null, x: 3 });
  });
});

describe("Jain's index over workers", () => {
  it('is 1 for a perfectly even spread', () => {
    expect(jain([1, 1, 1, 1])).toBe(1);
  });

  it('is 1/n when one worker takes everything', () => {
    expect(jain([4, 0, 0, 0])).toBe(0.25);
    expect(jain([7, 0])).toBe(0.5);
  });

  it('matches the formula on an uneven spread', () => {
    // (1+2+3)² / (3·(1+4+9)) = 36/42
    expect(jain([1, 2, 3])).toBeCloseTo(36 / 42, 12);
  });

  it('is 0 ("no data") when every worker got 0, or there are no workers', () => {
    expect(jain([0, 0, 0])).toBe(0);
    expect(jain([])).toBe(0);
  });
});

describe('counterDeltas', () => {
  const before = [
    snap([
      { counters: { requests: 10, accepts_ok: 2, open_connections: 5, pid: 100, pub_nvcsw: 9 } },
      { counters: { requests: 20, accepts_ok: 3, open_connections: 1, pid: 101, pub_nvcsw: 9 } },
    ]),
    snap([{ counters: { requests: 100, accepts_ok: 10, epoll_ctl_eexist: 1 }, restarts: 1 }]),
  ];
  const after = [
    snap([
      { counters: { requests: 15, accepts_ok: 2, open_connections: 7, pid: 100, pub_nvcsw: 99 } },
      { counters: { requests: 50, accepts_ok: 4, open_connections: 0, pid: 555, pub_nvcsw: 1 } },
    ]),
    snap([
      {
        counters: { requests: 160, accepts_ok: 12, epoll_ctl_eexist: 1 },
        restarts: 3,
        failed: true,
      },
    ]),
  ];

  it('sums counter differences over servers and workers, leaving gauges and internals out', () => {
    const d = counterDeltas(before, after);
    expect(d.totals).toEqual({ requests: 5 + 30 + 60, accepts_ok: 0 + 1 + 2, epoll_ctl_eexist: 0 });
    expect(d.workers.map((w) => w.key)).toEqual(['0/0', '0/1', '1/0']);
    expect(d.workers[1]).toMatchObject({ container: 0, worker: 1, counters: { requests: 30 } });
    expect(d.workers[2]).toMatchObject({ container: 1, worker: 0, restarts: 2, failed: true });
    expect(d.workers[0]!.counters).not.toHaveProperty('open_connections');
    expect(d.workers[0]!.counters).not.toHaveProperty('pub_nvcsw');
  });

  it('counts from zero without a before snapshot (absolute counts since start)', () => {
    const d = counterDeltas([], after);
    expect(d.totals.requests).toBe(15 + 50 + 160);
    expect(d.totals.epoll_ctl_eexist).toBe(1);
    expect(d.workers[2]!.restarts).toBe(3);
  });

  it('treats a counter that went down as reset, and skips a server whose snapshot is missing', () => {
    const d = counterDeltas(
      [snap([{ counters: { requests: 500 } }])],
      [snap([{ counters: { requests: 40 } }]), null],
    );
    expect(d.totals.requests).toBe(40);
    expect(d.workers).toHaveLength(1);
  });
});

describe('deriveFigures', () => {
  const totals = {
    requests: 2000,
    accepts_ok: 1000,
    accept_eagain: 10,
    nvcsw: 1800,
    nivcsw: 200,
    keyerrors: 50,
    unknown_fd_events: 4,
    spurious_reads: 100,
    listen_events: 1000,
    utime_us: 30_000,
    stime_us: 10_000,
    stuck_detected: 2,
    client_aborts: 3,
    epoll_ctl_eexist: 0,
  };
  const workers = [
    worker({ accepts_ok: 800, requests: 1000 }, 1),
    worker({ accepts_ok: 200, requests: 1000 }, 0),
  ];
  const series: TargetSeries = {
    t: [0, 100, 200, 300],
    phase: ['warmup', 'load', 'load', 'drain'],
    totals: { stuck_connections: [9, 1, 4, 2] },
    workers: {},
  };

  it('computes every figure from known counts (churn: every figure applies)', () => {
    const { derived: d, notApplicable } = deriveFigures({
      totals,
      workers,
      client: client({ responses: 1990, timeouts: 7, errors: 1 }),
      series,
      durationSec: 4,
      loadMode: 'churn',
    });
    expect(notApplicable).toEqual({});
    expect(d).toMatchObject({
      requestsPerSec: 500,
      keyErrorsPer1000: 25,
      unknownFdPer1000: 2,
      spuriousReadsPerRequest: 0.05,
      acceptEagainPerAccept: 0.01,
      voluntaryCsPerAccept: 1.8,
      voluntaryCsPerRequest: 0.9,
      involuntaryCsPerRequest: 0.1,
      listenEventsPerAccept: 1,
      acceptMaxShare: 0.8,
      acceptShareMaxMin: 4,
      requestMaxShare: 0.5,
      requestShareMaxMin: 1,
      requestShareJain: 1,
      cpuUsPerRequest: 20,
      stuckConnectionsMax: 4, // the warm-up's 9 does not count
      stuckDetected: 2,
      workerRestarts: 1, // the workers' restarts by default
      eexistErrors: 0,
      clientAborts: 3,
      clientRequests: 1990,
      serverRequests: 2000,
      clientTimeouts: 7,
      clientErrors: 1,
      latencyP50Ms: 1.5,
      latencyP99Ms: 4.25,
      driverBusyPct: 0.6,
      driverCpuUsPerResponse: 25,
      driverLoopDelayP99Ms: 3,
    });
    expect(d.clientServerDiffPct).toBeCloseTo(-0.5, 12);
    // (800 + 200)² / (2 · (800² + 200²))
    expect(d.acceptShareJain).toBeCloseTo(1_000_000 / 1_360_000, 12);
  });

  it('gives no herd or accept-share figure under keep-alive, and says why', () => {
    const { derived, notApplicable } = deriveFigures({
      totals,
      workers,
      client: client(),
      series,
      durationSec: 4,
      loadMode: 'keep-alive',
    });
    const herd = [
      'voluntaryCsPerAccept',
      'acceptEagainPerAccept',
      'listenEventsPerAccept',
      'acceptMaxShare',
      'acceptShareMaxMin',
      'acceptShareJain',
    ] as const;
    expect(Object.keys(notApplicable).sort()).toEqual([...herd].sort());
    for (const k of herd) {
      expect(derived[k]).toBeNull();
      expect(notApplicable[k]).toContain('churn');
    }
    expect(derived.voluntaryCsPerRequest).toBe(0.9); // per request still applies
  });

  it('gives no herd figure under churn with too few accepts or too many requests per accept', () => {
    const few = deriveFigures({
      totals: { ...totals, accepts_ok: 99 },
      workers,
      client: client(),
      series,
      durationSec: 4,
      loadMode: 'churn',
    });
    expect(few.derived.voluntaryCsPerAccept).toBeNull();
    expect(few.notApplicable.voluntaryCsPerAccept).toContain('99 connections accepted');
    expect(few.notApplicable.acceptShareJain).toContain('99 connections accepted');
    const reused = deriveFigures({
      totals: { ...totals, accepts_ok: 400 }, // 2000 requests on 400 connections: 5 each
      workers,
      client: client(),
      series,
      durationSec: 4,
      loadMode: 'churn',
    });
    expect(reused.derived.voluntaryCsPerAccept).toBeNull();
    expect(reused.notApplicable.voluntaryCsPerAccept).toContain('5 requests per accepted');
    expect(reused.derived.acceptShareJain).not.toBeNull(); // balance needs no new connection each
  });

  it('takes restarts and EEXIST from the caller when given', () => {
    const { derived: d } = deriveFigures({
      totals,
      workers,
      client: client(),
      series,
      durationSec: 4,
      restarts: 9,
      eexist: 3,
      loadMode: 'churn',
    });
    expect(d.workerRestarts).toBe(9);
    expect(d.eexistErrors).toBe(3);
  });

  it('defines division by zero: 0 when nothing happened, Infinity when only the numerator did', () => {
    const { derived: d, notApplicable } = deriveFigures({
      // The engine reports every field, 0 when nothing happened.
      totals: { keyerrors: 70, nvcsw: 12, requests: 0, unknown_fd_events: 0, accepts_ok: 0 },
      workers: [worker({ requests: 0 }), worker({ requests: 0 })],
      client: client({ responses: 0, latencyMs: null }),
      series: emptySeries,
      durationSec: 0,
      loadMode: 'churn',
    });
    expect(d.requestsPerSec).toBe(0);
    expect(d.keyErrorsPer1000).toBe(Infinity);
    expect(d.voluntaryCsPerRequest).toBe(Infinity);
    expect(d.unknownFdPer1000).toBe(0);
    // Nothing accepted, no request, nothing completed: those figures do not apply.
    expect(d.acceptEagainPerAccept).toBeNull();
    expect(d.acceptShareJain).toBeNull();
    expect(d.latencyP50Ms).toBeNull();
    expect(notApplicable.latencyP50Ms).toBe('no request completed');
    expect(d.clientServerDiffPct).toBeNull();
    expect(notApplicable.clientServerDiffPct).toBe(
      'the server counted no request in the measured window',
    );
    expect(d.stuckConnectionsMax).toBe(0);
    for (const v of Object.values(d)) {
      if (typeof v === 'number') expect(Number.isNaN(v)).toBe(false);
    }
  });

  it('gives n/a, naming the kind and the field, for counters a real server does not keep', () => {
    // Tornado's instrumentation counts requests, accepts and unknown-fd events but has no
    // KeyError, no listen-event, no spurious-read counter: those figures are n/a, never 0.
    const tornado = {
      requests: 400,
      accepts_ok: 40,
      unknown_fd_events: 12,
      nvcsw: 90,
      nivcsw: 5,
      utime_us: 8000,
      stime_us: 2000,
    };
    const { derived: d, notApplicable: na } = deriveFigures({
      totals: tornado,
      workers: [
        worker({ requests: 300, accepts_ok: 30 }),
        worker({ requests: 100, accepts_ok: 10 }),
      ],
      client: client({ responses: 400 }),
      series: { t: [0], phase: ['load'], totals: { requests: [400] }, workers: {} },
      durationSec: 2,
      loadMode: 'keep-alive',
      kind: 'tornado',
    });
    expect(d.unknownFdPer1000).toBe((12 * 1000) / 400);
    expect(d.cpuUsPerRequest).toBe(10_000 / 400);
    expect(d.requestMaxShare).toBe(300 / 400);
    expect([d.keyErrorsPer1000, d.spuriousReadsPerRequest, d.stuckConnectionsMax]).toEqual([
      null,
      null,
      null,
    ]);
    expect(na.keyErrorsPer1000).toBe('the tornado server does not count keyerrors');
    expect(na.spuriousReadsPerRequest).toBe('the tornado server does not count spurious_reads');
    expect(na.stuckConnectionsMax).toBe('the tornado server does not report stuck_connections');
    expect(na.clientAborts).toBe('the tornado server does not count client_aborts');
  });

  it('takes nginx accepts from stub_status for the whole server, not per worker', () => {
    // nginx workers report requests (from the access log) and /proc figures; stub_status counts
    // the server's accepted connections: 700 − 100 = 600 in the window.
    const nginxSnap = (accepts: number, requests: [number, number]) => ({
      ...snap(requests.map((r) => ({ counters: { requests: r, nvcsw: r * 2, nivcsw: 0 } }))),
      nginx: { accepts, handled: accepts, requests: requests[0] + requests[1] },
    });
    const d = counterDeltas([nginxSnap(100, [50, 50])], [nginxSnap(700, [350, 350])]);
    expect(d.totals.accepts_ok).toBe(600);
    expect(d.workers.every((w) => !('accepts_ok' in w.counters))).toBe(true);
    const { derived, notApplicable: na } = deriveFigures({
      totals: d.totals,
      workers: d.workers,
      client: client({ responses: 600 }),
      series: emptySeries,
      durationSec: 2,
      loadMode: 'churn',
      kind: 'nginx',
    });
    // Context switches per accept: (300 + 300) × 2 per request … over the 600 accepts.
    expect(derived.voluntaryCsPerAccept).toBe(1200 / 600);
    expect(derived.acceptShareJain).toBeNull();
    expect(na.acceptShareJain).toBe('the nginx server does not count accepts_ok per worker');
    expect(na.acceptEagainPerAccept).toBe('the nginx server does not count accept_eagain');
    expect(derived.requestShareJain).toBe(1);
  });

  it('stuckConnectionsMax ignores a series without the gauge', () => {
    expect(stuckConnectionsMax({ ...series, totals: {} })).toBe(0);
  });
});

describe('crossCheck', () => {
  it('is silent within 1 %', () => {
    expect(crossCheck('a', client({ responses: 1000 }), 1000)).toBeNull();
    expect(crossCheck('a', client({ responses: 990 }), 1000)).toBeNull();
    expect(crossCheck('a', client({ responses: 0 }), 0)).toBeNull();
  });

  it('names the target, both counts and the likely cause when the client counted fewer', () => {
    const w = crossCheck('pre-fork', client({ responses: 900, timeouts: 80 }), 1000);
    expect(w).toContain('pre-fork');
    expect(w).toContain('900');
    expect(w).toContain('1000');
    expect(w).toContain('-10.0 %');
    expect(w).toContain('80 timeouts');
    const dropped = crossCheck('b', client({ responses: 0 }), 1000);
    expect(dropped).toContain('dropped responses');
  });

  it('warns when the client counted more than the server parsed', () => {
    const w = crossCheck('c', client({ responses: 1100 }), 1000);
    expect(w).toContain('+10.0 %');
    expect(w).toContain('server');
    expect(crossCheck('d', client({ responses: 5 }), 0)).toContain('5 responses');
  });
});
