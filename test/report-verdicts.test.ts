// Verdicts from real runs: each finding names its mechanism and carries the measured number.
// Three short real runs (the lab's runner, local servers): the shared epoll under keep-alive, the
// accept path under churn, and the hang / start-up failures.
import type { RunRecord, TargetRecord } from '../lab/record/run-record';
import { fmtNum, fmtPct } from '../lab/report/format';
import {
  COUNT_MISMATCH_MIN_ABS,
  COUNT_MISMATCH_PCT,
  HERD_EXTRA_WAKE_SHARE,
  verdictLine,
  verdictLines,
  verdicts,
  type Finding,
  type Verdict,
} from '../lab/report/verdicts';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';

const SHORT = { durationSec: 2, warmupSec: 0.5 } as const;

const sharedEpoll = defineScenario({
  name: 'report-shared-epoll',
  description: 'The loop created after fork, and before it with both flavours.',
  targets: [
    { name: 'post-fork', server: { workers: 4 } },
    // Accept batch 1: connections spread over the workers, so the shared loop must misroute.
    { name: 'pre-fork', server: { workers: 4, loopCreation: 'pre-fork', acceptBatch: 1 } },
    {
      name: 'asyncio',
      server: { workers: 4, loopCreation: 'pre-fork', flavour: 'asyncio', acceptBatch: 1 },
    },
  ],
  load: { mode: 'keep-alive', connections: 16, timeoutMs: 2000, ...SHORT },
  sampleIntervalMs: 200,
  drainSec: 0.6,
  expectations: [
    { target: 'pre-fork', metric: 'keyErrorsPer1000', op: '>', value: 0, why: 'shared epoll' },
    {
      target: 'post-fork',
      metric: 'keyErrorsPer1000',
      op: '>',
      value: 0,
      why: 'deliberately false, to see a failed expectation reported',
    },
  ],
});

const acceptPath = defineScenario({
  name: 'report-accept',
  description: 'Connection churn into the three accept set-ups.',
  targets: [
    { name: 'herd', server: { workers: 4, acceptBatch: 1 } },
    { name: 'exclusive', server: { workers: 4, acceptBatch: 1, exclusive: true } },
    { name: 'reuseport', server: { workers: 4, acceptBatch: 1, reusePort: true } },
  ],
  load: { mode: 'churn', connections: 2, timeoutMs: 2000, ...SHORT },
  sampleIntervalMs: 200,
  drainSec: 0.6,
});

const hangs = defineScenario({
  name: 'report-hangs',
  description: 'Edge-triggered shared loop, EEXIST at start-up, and worker cycling.',
  targets: [
    {
      name: 'edge',
      server: { workers: 4, loopCreation: 'pre-fork', trigger: 'edge', stuckAfterMs: 500 },
    },
    { name: 'late', server: { workers: 4, loopCreation: 'pre-fork-late', onEexist: 'fail' } },
    { name: 'cycling', server: { workers: 2, maxRequests: 500 } },
  ],
  load: { mode: 'keep-alive', connections: 8, timeoutMs: 800, ...SHORT },
  sampleIntervalMs: 200,
  drainSec: 0.8,
});

let shared: RunRecord;
let accept: RunRecord;
let hang: RunRecord;

beforeAll(async () => {
  shared = (await realRun(sharedEpoll, { runsDir: await freshRunsDir('verdicts-shared') })).record;
  accept = (await realRun(acceptPath, { runsDir: await freshRunsDir('verdicts-accept') })).record;
  hang = (await realRun(hangs, { runsDir: await freshRunsDir('verdicts-hangs') })).record;
}, 180_000);

function target(r: RunRecord, name: string): TargetRecord {
  const t = r.cells[0]!.targets.find((x) => x.name === name);
  if (!t) throw new Error(`no target ${name}`);
  return t;
}

function find(vs: Verdict[], targetName: string | null, finding: Finding): Verdict[] {
  return vs.filter((v) => v.target === targetName && v.finding === finding);
}

function one(vs: Verdict[], targetName: string | null, finding: Finding): Verdict {
  const found = find(vs, targetName, finding);
  if (found.length !== 1) {
    throw new Error(
      `expected one ${finding} verdict for ${targetName}, got ${found.length}:\n${verdictLines(vs).join('\n')}`,
    );
  }
  return found[0]!;
}

describe('shared epoll (keep-alive)', () => {
  test('pre-fork: KeyErrors per 1000 requests, with the mechanism', () => {
    const vs = verdicts(shared);
    const t = target(shared, 'pre-fork');
    const v = one(vs, 'pre-fork', 'keyerrors');
    expect(v.severity).toBe('bad');
    expect(v.cell).toBe('cell-0');
    expect(v.value).toBe(t.derived.keyErrorsPer1000);
    expect(v.text).toContain(
      `pre-fork, 4 workers: ${fmtNum(t.derived.keyErrorsPer1000)} KeyErrors per 1000 requests`,
    );
    expect(v.text).toContain(
      "the workers share one epoll, so events for a sibling's fd reach a worker with no handler for it",
    );
    expect(v.text).toContain('fd_obj, handler_func = self._handlers[fd]');
  });

  test('asyncio: unknown-fd events skipped silently, and the spin named', () => {
    const vs = verdicts(shared);
    const t = target(shared, 'asyncio');
    const v = one(vs, 'asyncio', 'unknown-fd');
    expect(v.severity).toBe('bad');
    expect(v.text).toContain(
      `${fmtNum(t.derived.unknownFdPer1000)} unknown-fd events per 1000 requests`,
    );
    expect(v.text).toContain('skipped silently — no KeyError and nothing in the log');
    expect(v.text).toContain('spin on their siblings');
    expect(v.text).toContain(`${fmtNum(t.derived.cpuUsPerRequest)} µs CPU per request`);
    expect(find(vs, 'asyncio', 'keyerrors')).toHaveLength(0);
  });

  test('spurious reads are reported exactly where they pass the threshold, with the fd-number mechanism', () => {
    const vs = verdicts(shared);
    for (const name of ['pre-fork', 'asyncio']) {
      const t = target(shared, name);
      const found = find(vs, name, 'spurious-reads');
      if ((t.derived.spuriousReadsPerRequest ?? 0) > 0.01) {
        expect(found).toHaveLength(1);
        expect(found[0]!.text).toContain(
          `${fmtNum(t.derived.spuriousReadsPerRequest)} spurious reads per request`,
        );
        expect(found[0]!.text).toContain('an fd number this worker also has');
      } else {
        expect(found).toHaveLength(0);
      }
    }
  });

  test('post-fork: the control, and the failed expectation with its reason', () => {
    const vs = verdicts(shared);
    expect(one(vs, 'post-fork', 'own-epoll').text).toContain('0 KeyErrors, 0 unknown-fd events');
    const failed = one(vs, 'post-fork', 'expectation');
    expect(failed.severity).toBe('bad');
    expect(failed.text).toBe(
      'expectation failed: keyErrorsPer1000 > 0, measured 0 — deliberately false, to see a failed expectation reported',
    );
    const summary = one(vs, null, 'expectation');
    expect(summary.text).toBe('1 of 2 expectations failed');
  });

  test('plain-text lines name the target and start with the severity', () => {
    const lines = verdictLines(verdicts(shared));
    expect(lines.some((l) => /^BAD {3}pre-fork: pre-fork, 4 workers: \S+ KeyErrors/.test(l))).toBe(
      true,
    );
    expect(lines.every((l) => /^(BAD |WARN|info) {2}\S/.test(l))).toBe(true);
  });
});

describe('accept path (churn)', () => {
  test('the herd: voluntary context switches per accepted connection against the worker count', () => {
    const vs = verdicts(accept);
    const t = target(accept, 'herd');
    const v = one(vs, 'herd', 'herd');
    const cs = t.derived.voluntaryCsPerAccept!;
    // The baseline is what serving a connection costs without a herd: the SO_REUSEPORT target of
    // the same cell, measured in the same run.
    const base = target(accept, 'reuseport').derived.voluntaryCsPerAccept!;
    expect(v.value).toBe(cs);
    expect(v.text).toContain(
      `${fmtNum(cs)} voluntary context switches per accepted connection with 4 workers (serving one costs about ${fmtNum(base)}: reuseport in the same cell, on SO_REUSEPORT)`,
    );
    // Measured here: about 0.9 × workers more; a herd past the named threshold.
    expect((cs - base) / 3).toBeGreaterThanOrEqual(HERD_EXTRA_WAKE_SHARE);
    expect(v.severity).toBe('warn');
    expect(v.text).toContain('the accept thundering herd');
    expect(v.text).toContain(`only ${fmtPct(t.derived.acceptEagainPerAccept)}`);
  });

  test('EPOLLEXCLUSIVE: one worker takes most connections, named with share and Jain', () => {
    const vs = verdicts(accept);
    const t = target(accept, 'exclusive');
    const v = one(vs, 'exclusive', 'accept-balance');
    const share = t.derived.acceptMaxShare;
    expect(v.severity).toBe('warn');
    expect(v.text).toContain(
      `EPOLLEXCLUSIVE imbalance — one worker took ${fmtPct(share)} of the connections`,
    );
    expect(v.text).toContain('first idle waiter in registration order');
    expect(v.text).toContain(`Jain ${fmtNum(t.derived.acceptShareJain)}`);
    // Its herd verdict matches its own number, whichever way it fell.
    const herd = one(vs, 'exclusive', 'herd');
    const base = target(accept, 'reuseport').derived.voluntaryCsPerAccept!;
    const extra = (t.derived.voluntaryCsPerAccept! - base) / 3;
    expect(herd.text).toContain(
      extra >= HERD_EXTRA_WAKE_SHARE
        ? 'more than one worker woke per connection despite EPOLLEXCLUSIVE'
        : 'no herd',
    );
  });

  test('SO_REUSEPORT: balanced, with max/min and Jain', () => {
    const vs = verdicts(accept);
    const t = target(accept, 'reuseport');
    const v = one(vs, 'reuseport', 'accept-balance');
    expect(v.severity).toBe('info');
    expect(v.text).toContain('SO_REUSEPORT balanced');
    expect(v.text).toContain(`Jain ${fmtNum(t.derived.acceptShareJain)}`);
  });
});

describe('hangs and start-up failures', () => {
  test('edge-triggered shared loop: stuck connections and client timeouts, the silent hang', () => {
    const vs = verdicts(hang);
    const t = target(hang, 'edge');
    const v = one(vs, 'edge', 'stuck');
    expect(v.severity).toBe('bad');
    expect(t.derived.stuckDetected).toBeGreaterThan(0);
    expect(v.text).toContain(
      `${fmtNum(t.derived.stuckDetected)} connections became stuck (up to ${fmtNum(t.derived.stuckConnectionsMax)} at once) and ${fmtNum(t.derived.clientTimeouts)} client requests timed out`,
    );
    expect(v.text).toContain('a misrouted event uses up the only notification');
  });

  test('pre-fork-late: EEXIST workers exit at start-up, and how many still serve', () => {
    const vs = verdicts(hang);
    const t = target(hang, 'late');
    const failed = t.workers.filter((w) => w.failed).length;
    expect(failed).toBe(3);
    const v = one(vs, 'late', 'eexist');
    expect(v.severity).toBe('bad');
    expect(v.text).toContain('3 workers got EEXIST from epoll_ctl');
    expect(v.text).toContain('1 of 4 workers serve');
  });

  test('worker cycling: restarts explained by --max-requests', () => {
    const vs = verdicts(hang);
    const t = target(hang, 'cycling');
    expect(t.derived.workerRestarts).toBeGreaterThan(0);
    const v = one(vs, 'cycling', 'restarts');
    expect(v.severity).toBe('info');
    expect(v.text).toBe(
      `post-fork, 2 workers: ${fmtNum(t.derived.workerRestarts)} worker restarts — worker cycling: each worker exits after 500 requests (--max-requests) and is replaced`,
    );
  });

  test('client/server mismatch, client aborts and errors appear exactly when the record shows them', () => {
    for (const r of [shared, accept, hang]) {
      const vs = verdicts(r);
      for (const t of r.cells[0]!.targets) {
        const d = t.derived;
        const diff = d.clientServerDiffPct ?? 0;
        const apart = Math.abs(d.clientRequests! - d.serverRequests!);
        const mismatch = Math.abs(diff) > COUNT_MISMATCH_PCT && apart >= COUNT_MISMATCH_MIN_ABS;
        expect([t.name, find(vs, t.name, 'count-mismatch').length]).toEqual([
          t.name,
          mismatch ? 1 : 0,
        ]);
        expect([t.name, find(vs, t.name, 'client-aborts').length]).toEqual([
          t.name,
          d.clientAborts! > 0 ? 1 : 0,
        ]);
        expect([t.name, find(vs, t.name, 'client-errors').length]).toEqual([
          t.name,
          d.clientErrors! > 0 ? 1 : 0,
        ]);
      }
      // The record's own warnings are passed on, word for word.
      expect(find(vs, null, 'run-warning').map((v) => v.text)).toEqual(r.warnings);
    }
  });

  test('a run that did not complete says so first', () => {
    const vs = verdicts({ ...hang, status: 'interrupted', error: 'interrupted by a signal' });
    expect(verdictLine(vs[0]!)).toBe(
      'BAD   run: the run was interrupted: interrupted by a signal — the figures cover only the cells that completed',
    );
  });
});
