// Verdicts: what a run showed, in plain words that name the mechanism and the measured number.
// Pure: a RunRecord in, a list of findings out; `verdictLines` renders them as plain text for the
// terminal, and the HTML report shows the same list.
//
// Every threshold that changes the wording is a named constant below, with why it is where it is.
import type { CellRecord, RunRecord, TargetRecord } from '../record/run-record';
import {
  HERD_MAX_REQUESTS_PER_ACCEPT,
  MIN_ACCEPTS,
  figureDef,
  figureOf,
  type FigureKey,
} from '../record/figures';
import {
  fmtFigure,
  fmtNum,
  fmtPct,
  kindOf,
  matrixLabel,
  num,
  targetSetupLabel,
  type Figure,
} from './format';
import { latencyTimingText, oversubscriptionTexts, saturationText } from './load-trust';

export type Severity = 'info' | 'warn' | 'bad';

export type Finding =
  | 'run-status'
  | 'run-warning'
  | 'keyerrors'
  | 'unknown-fd'
  | 'own-epoll'
  | 'single-worker'
  | 'spurious-reads'
  | 'herd'
  | 'accept-balance'
  | 'stuck'
  | 'client-timeouts'
  | 'eexist'
  | 'failed-workers'
  | 'restarts'
  | 'client-aborts'
  | 'client-errors'
  | 'no-requests'
  | 'count-mismatch'
  | 'driver-saturated'
  | 'cpu-oversubscribed'
  | 'latency-timing'
  | 'model-vs-real'
  | 'expectation';

export interface Verdict {
  severity: Severity;
  finding: Finding;
  /** Cell id (`cell-0`, …); null for findings about the whole run. */
  cell: string | null;
  /** The cell's matrix values (`workers=4`); '' without a matrix or for the whole run. */
  cellLabel: string;
  /** Target name; null for findings about the whole run. */
  target: string | null;
  /** The finding in words, with the measured number. */
  text: string;
  /** The number the finding is about, for sorting and tests; null when there is none. */
  value: Figure;
}

// ---- Thresholds -------------------------------------------------------------------------------

/**
 * Spurious reads per request above which they are reported (warn). A post-fork worker reads
 * nothing now and then (a client that sent nothing yet); a shared epoll misroutes events to a
 * sibling that has the same fd number, which shows as a read per request or more.
 */
export const SPURIOUS_READS_PER_REQUEST_WARN = 0.01;

/** The herd is read only where its figures apply: see HERD in lab/record/figures.ts. */
export { HERD_MAX_REQUESTS_PER_ACCEPT };

/** Fewer accepted connections than this and the herd and balance figures do not apply. */
export const MIN_ACCEPTS_TO_JUDGE = MIN_ACCEPTS;

/**
 * Share of the *other* workers woken per accepted connection, from voluntary context switches:
 * (cs per accept − baseline) / (workers − 1), where the baseline is what serving one connection
 * costs without any herd (see servingBaseline). The herd adds about 0.9 per extra worker (notes:
 * 1.88, 3.78, 7.37 for 2, 4, 8 workers); EPOLLEXCLUSIVE adds next to nothing. Half the others
 * woken per connection is well clear of both.
 */
export const HERD_EXTRA_WAKE_SHARE = 0.5;

/**
 * Voluntary context switches to serve one new connection with no herd, when the run itself holds
 * no baseline: measured here with the herd scenario's churn load and one worker, 1.44–1.57 (the
 * accept wake-up, and often a second one for the request that follows the connection).
 */
export const SERVING_CS_PER_CONNECTION = 1.5;

/**
 * Jain's index of the accept shares below which the spread is called uneven (EPOLLEXCLUSIVE
 * measured ≈ 0.3–0.4 with one worker taking 84–86 %); at or above BALANCED it is called even
 * (SO_REUSEPORT with churn measured 13/12 % max/min over 8 workers: Jain ≈ 0.99).
 */
export const JAIN_UNEVEN = 0.8;
export const JAIN_BALANCED = 0.9;

/** A worker taking this multiple of the fair share (1/workers) or more is named as dominant. */
export const DOMINANT_SHARE_FACTOR = 1.5;

/**
 * |client − server| / server in % above which the counts are said to disagree (warn). Requests
 * in flight at the snapshots make a few requests' difference; more means lost or hung responses.
 */
export const COUNT_MISMATCH_PCT = 1;
/** …and at least this many requests apart, so that tiny runs do not trip it. */
export const COUNT_MISMATCH_MIN_ABS = 10;

/** Client aborts per 1000 requests above which they are a warning rather than a note. */
export const CLIENT_ABORTS_WARN_PER_1000 = 10;

/**
 * A pre-fork target's throughput is compared with a post-fork target of the same cell; a drop
 * smaller than this (in %) is within what these machines vary run to run and is not mentioned.
 */
export const THROUGHPUT_DROP_MENTION_PCT = 10;

// ---- Helpers ----------------------------------------------------------------------------------

const SEVERITY_ORDER: Record<Severity, number> = { bad: 0, warn: 1, info: 2 };

/** A figure of a target; null when it does not apply (lab/record/figures.ts). */
function fig(t: TargetRecord, key: FigureKey): Figure {
  return figureOf(t, key).value;
}

function c(t: TargetRecord, field: string): number {
  return num(t.counters?.[field]) ?? 0;
}

function workersOf(t: TargetRecord): number {
  return t.server?.workers ?? t.workers?.length ?? 0;
}

/** A post-fork target of the same cell to compare a shared-epoll target's throughput with. */
function baselineOf(cell: CellRecord, t: TargetRecord): TargetRecord | undefined {
  const postFork = cell.targets.filter(
    (x) =>
      x !== t &&
      kindOf(x) === kindOf(t) &&
      x.server?.loopCreation === 'post-fork' &&
      workersOf(x) === workersOf(t),
  );
  return postFork.find((x) => !x.server.exclusive && !x.server.reusePort) ?? postFork[0];
}

function throughputClause(cell: CellRecord, t: TargetRecord): string {
  const base = baselineOf(cell, t);
  const mine = fig(t, 'requestsPerSec');
  const theirs = base ? fig(base, 'requestsPerSec') : null;
  if (!base || mine === null || theirs === null || theirs <= 0) return '';
  const drop = ((theirs - mine) / theirs) * 100;
  if (drop < THROUGHPUT_DROP_MENTION_PCT) return '';
  return `; throughput ${fmtNum(mine)} requests/s, ${fmtNum(drop)} % below ${base.name} (${fmtNum(theirs)})`;
}

function cpuClause(cell: CellRecord, t: TargetRecord): string {
  const mine = fig(t, 'cpuUsPerRequest');
  if (mine === null || !Number.isFinite(mine)) return '';
  const base = baselineOf(cell, t);
  const theirs = base ? fig(base, 'cpuUsPerRequest') : null;
  const times = theirs && theirs > 0 ? ` (${fmtNum(mine / theirs)}× ${base!.name})` : '';
  return `; ${fmtNum(mine)} µs CPU per request${times}`;
}

/** `43 KeyErrors per 1000 requests`, or `120 KeyErrors and no request` when none completed. */
function per1000Text(per1000: number, count: number, what: string): string {
  if (!Number.isFinite(per1000)) return `${fmtNum(count)} ${what} and no request served`;
  const perRequest = per1000 >= 1000 ? ` (${fmtNum(per1000 / 1000)} per request)` : '';
  return `${fmtNum(per1000)} ${what} per 1000 requests${perRequest}`;
}

// ---- Model beside real ------------------------------------------------------------------------

/**
 * The engine's model of a real Tornado target in the same cell: an engine target with the same
 * loop creation and worker count, asyncio flavour (Tornado 5/6 skip unknown fds as asyncio does).
 */
function modelOf(cell: CellRecord, t: TargetRecord): TargetRecord | undefined {
  if (kindOf(t) !== 'tornado') return undefined;
  return cell.targets.find(
    (x) =>
      kindOf(x) === 'engine' &&
      x.server?.flavour === 'asyncio' &&
      x.server?.loopCreation === t.server?.loopCreation &&
      workersOf(x) === workersOf(t),
  );
}

/** Where real Tornado and the engine's model of it agree, and where they differ. */
function modelVsReal(cell: CellRecord, t: TargetRecord, emit: Emit): void {
  const m = modelOf(cell, t);
  if (!m) return;
  const real = fig(t, 'unknownFdPer1000');
  const model = fig(m, 'unknownFdPer1000');
  if (real === null || model === null) return;
  const agree = real > 0 === model > 0;
  const what = (v: number) => (v > 0 ? `${fmtNum(v)} unknown-fd events per 1000 requests` : 'none');
  const parts = [
    `${agree ? 'model and real agree' : 'model and real DIFFER'} on the shared-epoll symptom: real ${what(real)}, model ${what(model)}`,
  ];
  const cpuReal = fig(t, 'cpuUsPerRequest');
  const cpuModel = fig(m, 'cpuUsPerRequest');
  if (cpuReal !== null && cpuModel !== null && cpuModel > 0)
    parts.push(
      `CPU per request real ${fmtNum(cpuReal)} µs, model ${fmtNum(cpuModel)} µs (${fmtNum(cpuReal / cpuModel)}×)`,
    );
  const jainReal = fig(t, 'requestShareJain');
  const jainModel = fig(m, 'requestShareJain');
  if (jainReal !== null && jainModel !== null)
    parts.push(`request share Jain real ${fmtNum(jainReal)}, model ${fmtNum(jainModel)}`);
  emit(
    agree ? 'info' : 'warn',
    'model-vs-real',
    `${targetSetupLabel(t, cell.targets)} beside ${m.name} (${targetSetupLabel(m, cell.targets)}): ${parts.join('; ')}`,
    real,
  );
}

// ---- Findings per target ----------------------------------------------------------------------

type Emit = (severity: Severity, finding: Finding, text: string, value: Figure) => void;

function targetVerdicts(record: RunRecord, cell: CellRecord, t: TargetRecord, emit: Emit): void {
  const s = t.server;
  const setup = targetSetupLabel(t, cell.targets);
  const workers = workersOf(t);
  const shared = s.loopCreation === 'pre-fork' || s.loopCreation === 'pre-fork-late';
  const requests = c(t, 'requests');
  const accepts = c(t, 'accepts_ok');
  const keyErrors = fig(t, 'keyErrorsPer1000') ?? 0;
  const unknownFd = fig(t, 'unknownFdPer1000') ?? 0;
  const stuckMax = fig(t, 'stuckConnectionsMax') ?? 0;
  const stuckDetected = fig(t, 'stuckDetected') ?? 0;
  const timeouts = fig(t, 'clientTimeouts') ?? 0;

  if ((fig(t, 'serverRequests') ?? requests) === 0 && (fig(t, 'clientRequests') ?? 0) === 0) {
    emit(
      'bad',
      'no-requests',
      `${setup}: no requests served during the measured load (the client received none and the server counted none)`,
      0,
    );
  }

  // The shared epoll: KeyErrors (Tornado 4) or silently skipped events (asyncio).
  if (keyErrors > 0) {
    const why = shared
      ? "the workers share one epoll, so events for a sibling's fd reach a worker with no handler for it"
      : 'events reached a worker for an fd it has no handler for, although each worker has its own epoll (not expected post-fork)';
    emit(
      'bad',
      'keyerrors',
      `${setup}: ${per1000Text(keyErrors, c(t, 'keyerrors'), 'KeyErrors')} — ${why} (Tornado 4 raises at fd_obj, handler_func = self._handlers[fd] and logs "Exception in callback None")${throughputClause(cell, t)}`,
      keyErrors,
    );
  }
  if (unknownFd > 0) {
    emit(
      'bad',
      'unknown-fd',
      `${setup}: ${per1000Text(unknownFd, c(t, 'unknown_fd_events'), 'unknown-fd events')}, skipped silently — no KeyError and nothing in the log, but the workers share one epoll and spin on their siblings' events${cpuClause(cell, t)}${throughputClause(cell, t)}`,
      unknownFd,
    );
  }
  // Only what the server counts is said to be 0 (a real server may not count KeyErrors or stuck
  // connections: those figures are n/a).
  const zeros = [
    fig(t, 'keyErrorsPer1000') !== null ? '0 KeyErrors' : null,
    fig(t, 'unknownFdPer1000') !== null ? '0 unknown-fd events' : null,
    fig(t, 'stuckConnectionsMax') !== null ? 'nothing stuck' : null,
  ].filter((z): z is string => z !== null);
  if (
    workers >= 2 &&
    !shared &&
    keyErrors === 0 &&
    unknownFd === 0 &&
    stuckMax === 0 &&
    (fig(t, 'keyErrorsPer1000') !== null || fig(t, 'unknownFdPer1000') !== null)
  ) {
    emit(
      'info',
      'own-epoll',
      `${setup}: ${zeros.join(', ')} — each worker created its own epoll after fork and sees only its own fds`,
      0,
    );
  }
  if (workers === 1 && shared && keyErrors === 0 && unknownFd === 0) {
    emit(
      'info',
      'single-worker',
      `${setup}: 0 KeyErrors — with one worker nobody shares the epoll: the control for the bug, which needs two or more`,
      0,
    );
  }

  // Spurious reads: a sibling's event for an fd number this worker also has.
  const spurious = fig(t, 'spuriousReadsPerRequest') ?? 0;
  if (spurious > SPURIOUS_READS_PER_REQUEST_WARN) {
    const why = shared
      ? "a sibling's event for an fd number this worker also has: forked workers have identical fd tables, so it reads its own connection and finds nothing (EAGAIN)"
      : 'reads after an event that found nothing (EAGAIN)';
    const amount = Number.isFinite(spurious)
      ? `${fmtNum(spurious)} spurious reads per request`
      : `${fmtNum(c(t, 'spurious_reads'))} spurious reads and no request served`;
    emit('warn', 'spurious-reads', `${setup}: ${amount} — ${why}`, spurious);
  }

  // The accept herd, from voluntary context switches (accept EAGAIN alone understates it).
  const csPerAccept = fig(t, 'voluntaryCsPerAccept');
  // Only under connection churn does each request bring a new connection to wake workers for;
  // a keep-alive load whose connections happen to be short (client deadlines) is not judged.
  const churn =
    // (optional chaining: records written by hand or by older versions may lack the load)
    (record.resolved as Partial<RunRecord['resolved']> | undefined)?.load?.mode === 'churn' &&
    accepts > 0 &&
    requests / accepts <= HERD_MAX_REQUESTS_PER_ACCEPT;
  if (
    !shared &&
    workers >= 2 &&
    accepts >= MIN_ACCEPTS_TO_JUDGE &&
    churn &&
    csPerAccept !== null &&
    Number.isFinite(csPerAccept)
  ) {
    const base = servingBaseline(record, cell, t);
    const extra = (csPerAccept - base.value) / (workers - 1);
    const eagain = fig(t, 'acceptEagainPerAccept');
    const numbers = `${fmtNum(csPerAccept)} voluntary context switches per accepted connection with ${workers} workers (serving one costs about ${fmtNum(base.value)}: ${base.from})`;
    // SO_REUSEPORT: each listening socket is in one worker's epoll only, so nothing can wake the
    // others; what is above the baseline is not a herd.
    if (extra >= HERD_EXTRA_WAKE_SHARE && !s.reusePort) {
      const why = s.exclusive
        ? 'more than one worker woke per connection despite EPOLLEXCLUSIVE'
        : 'the accept thundering herd: every worker’s epoll watches the one listening socket, so each new connection wakes them all';
      const eagainText =
        eagain === null
          ? ''
          : eagain < 0.5
            ? `; accept EAGAIN per accepted connection only ${fmtPct(eagain)}: most woken workers go back to sleep inside the kernel without returning from epoll_wait`
            : `; accept EAGAIN per accepted connection ${fmtPct(eagain)}`;
      emit('warn', 'herd', `${setup}: ${numbers} — ${why}${eagainText}`, csPerAccept);
    } else {
      const why = s.exclusive
        ? 'EPOLLEXCLUSIVE wakes one waiter per connection: no herd'
        : s.reusePort
          ? 'each worker waits on its own SO_REUSEPORT listening socket: no herd'
          : 'no herd visible';
      emit('info', 'herd', `${setup}: ${numbers} — ${why}`, csPerAccept);
    }
  }

  // How the accepted connections were spread over the workers.
  const jain = fig(t, 'acceptShareJain');
  const maxShare = fig(t, 'acceptMaxShare');
  if (!shared && workers >= 2 && accepts >= MIN_ACCEPTS_TO_JUDGE && jain !== null) {
    const fair = 1 / workers;
    const reqJain = fig(t, 'requestShareJain');
    const figures = `largest accept share ${fmtPct(maxShare)} (fair share ${fmtPct(fair)}), max/min ${fmtNum(fig(t, 'acceptShareMaxMin'))}, Jain ${fmtNum(jain)}${reqJain === null ? '' : `; requests Jain ${fmtNum(reqJain)}`}`;
    const dominant = maxShare !== null && maxShare >= fair * DOMINANT_SHARE_FACTOR;
    if (s.exclusive) {
      if (jain < JAIN_UNEVEN || dominant) {
        emit(
          'warn',
          'accept-balance',
          `${setup}: EPOLLEXCLUSIVE imbalance — one worker took ${fmtPct(maxShare)} of the connections: the kernel wakes the first idle waiter in registration order; ${figures}`,
          maxShare,
        );
      } else {
        emit('info', 'accept-balance', `${setup}: accepts spread evenly; ${figures}`, maxShare);
      }
    } else if (s.reusePort) {
      if (jain >= JAIN_BALANCED) {
        emit(
          'info',
          'accept-balance',
          `${setup}: SO_REUSEPORT balanced — each worker has its own listening socket and the kernel spreads connections over them by hash; ${figures}`,
          maxShare,
        );
      } else {
        emit(
          'warn',
          'accept-balance',
          `${setup}: SO_REUSEPORT uneven — the kernel spreads connections by hash of the address and port, and ${fmtNum(accepts)} connections hashed unevenly; ${figures}`,
          maxShare,
        );
      }
    } else if (jain < JAIN_UNEVEN) {
      emit(
        'info',
        'accept-balance',
        `${setup}: accepts uneven — all workers share one listening socket and whichever woken worker reaches accept() first ${(s.acceptBatch ?? 128) === 1 ? 'takes the connection' : `takes up to ${s.acceptBatch ?? 128} pending connections at once`}; ${figures}`,
        maxShare,
      );
    }
  }

  // Hung connections.
  if (stuckMax > 0 || stuckDetected > 0) {
    const why =
      shared && s.trigger === 'edge'
        ? 'edge-triggered shared epoll: a misrouted event uses up the only notification, the owner never hears of the data and the connection hangs silently'
        : 'connections with unread data and no progress';
    emit(
      'bad',
      'stuck',
      `${setup}: ${fmtNum(stuckDetected)} connections became stuck (up to ${fmtNum(stuckMax)} at once) and ${fmtNum(timeouts)} client requests timed out — ${why} (stuck = unread data and no progress for ${s.stuckAfterMs ?? 1000} ms)`,
      stuckDetected || stuckMax,
    );
  } else if (timeouts > 0) {
    emit(
      'warn',
      'client-timeouts',
      `${setup}: ${fmtNum(timeouts)} client requests timed out (no response within ${record.resolved?.load?.timeoutMs ?? 2000} ms) with no stuck connection seen by the server`,
      timeouts,
    );
  }

  // Start-up: EEXIST and workers that did not come up.
  const failed = (t.workers ?? []).filter((w) => w.failed).length;
  const eexist = fig(t, 'eexistErrors') ?? 0;
  if (s.loopCreation === 'pre-fork-late' && (eexist > 0 || failed > 0)) {
    const n = Math.max(eexist, s.onEexist === 'ignore' ? 0 : failed);
    if (s.onEexist === 'ignore') {
      emit(
        'warn',
        'eexist',
        `${setup}: ${fmtNum(n)} workers got EEXIST from epoll_ctl registering the inherited listening socket in the shared epoll, and carried on without registering it (--on-eexist ignore)`,
        n,
      );
    } else {
      emit(
        'bad',
        'eexist',
        `${setup}: ${fmtNum(n)} workers got EEXIST from epoll_ctl registering the inherited listening socket in the shared epoll and exited at start-up, as Tornado 4 raises there; ${fmtNum(workers - failed)} of ${workers} workers serve`,
        n,
      );
    }
  } else if (eexist > 0) {
    emit(
      'warn',
      'eexist',
      `${setup}: ${fmtNum(eexist)} EEXIST errors from epoll_ctl — an fd was registered twice in one epoll`,
      eexist,
    );
  }
  if (failed > 0 && s.loopCreation !== 'pre-fork-late') {
    emit(
      'bad',
      'failed-workers',
      `${setup}: ${failed} of ${workers} workers marked failed — they kept crashing and were not restarted any more`,
      failed,
    );
  }

  const restarts = fig(t, 'workerRestarts') ?? 0;
  if (restarts > 0) {
    if ((s.maxRequests ?? 0) > 0) {
      emit(
        'info',
        'restarts',
        `${setup}: ${fmtNum(restarts)} worker restarts — worker cycling: each worker exits after ${s.maxRequests} requests (--max-requests) and is replaced`,
        restarts,
      );
    } else {
      emit(
        'warn',
        'restarts',
        `${setup}: ${fmtNum(restarts)} worker restarts — workers exited during the load and were restarted by the supervisor`,
        restarts,
      );
    }
  }

  // The client's side.
  const aborts = fig(t, 'clientAborts') ?? 0;
  if (aborts > 0) {
    const per1000 = requests > 0 ? (aborts / requests) * 1000 : Infinity;
    emit(
      per1000 > CLIENT_ABORTS_WARN_PER_1000 ? 'warn' : 'info',
      'client-aborts',
      `${setup}: ${fmtNum(aborts)} connections closed or reset by the client before their response (${fmtNum(per1000)} per 1000 requests)${timeouts > 0 ? ' — the client gave up on requests that timed out' : ''}`,
      aborts,
    );
  }
  const errors = fig(t, 'clientErrors') ?? 0;
  if (errors > 0) {
    emit(
      'warn',
      'client-errors',
      `${setup}: ${fmtNum(errors)} client connection errors (refused, reset, or closed mid-response)${restarts > 0 ? ' — workers that exit close their open connections' : ''}`,
      errors,
    );
  }

  const client = fig(t, 'clientRequests');
  const server = fig(t, 'serverRequests');
  const diffPct = fig(t, 'clientServerDiffPct');
  if (client !== null && server !== null && diffPct !== null) {
    const apart = Math.abs(client - server);
    if (Math.abs(diffPct) > COUNT_MISMATCH_PCT && apart >= COUNT_MISMATCH_MIN_ABS) {
      const why =
        client < server
          ? 'the server parsed requests whose responses the client never received (hung, or answered after the client gave up)'
          : 'the client received responses the server did not count (a worker’s counters lost, or another client on the port)';
      emit(
        'warn',
        'count-mismatch',
        `${setup}: the client received ${fmtNum(client)} responses, the server counted ${fmtNum(server)} requests (${diffPct > 0 ? '+' : ''}${fmtNum(diffPct)} %) — ${why}`,
        diffPct,
      );
    }
  }
}

// ---- The whole record -------------------------------------------------------------------------

/** Every finding of a run: run-wide ones first, then per cell and target, worst first in each. */
/**
 * What serving one new connection costs in voluntary context switches without a herd, from the
 * run itself where it can: a SO_REUSEPORT target of the same cell (no herd by construction), or
 * a one-worker cell of the same target; otherwise SERVING_CS_PER_CONNECTION.
 */
function servingBaseline(
  record: RunRecord,
  cell: CellRecord,
  t: TargetRecord,
): { value: number; from: string } {
  const usable = (x: TargetRecord): number | null => {
    const v = fig(x, 'voluntaryCsPerAccept');
    return v !== null && Number.isFinite(v) && c(x, 'accepts_ok') >= MIN_ACCEPTS_TO_JUDGE
      ? v
      : null;
  };
  for (const x of cell.targets) {
    const v = x !== t && x.server.reusePort ? usable(x) : null;
    if (v !== null) return { value: v, from: `${x.name} in the same cell, on SO_REUSEPORT` };
  }
  for (const other of record.cells) {
    const x = other.targets.find((y) => y.name === t.name && y.server.workers === 1);
    const v = x ? usable(x) : null;
    if (v !== null) return { value: v, from: `${t.name} with 1 worker in ${other.id}` };
  }
  return { value: SERVING_CS_PER_CONNECTION, from: 'as measured on this lab with 1 worker' };
}

export function verdicts(record: RunRecord): Verdict[] {
  const out: Verdict[] = [];
  const cells = record.cells ?? [];
  const multiCell = cells.length > 1;
  const runWide: Emit = (severity, finding, text, value) =>
    out.push({ severity, finding, cell: null, cellLabel: '', target: null, text, value });

  if (record.status !== 'completed') {
    runWide(
      'bad',
      'run-status',
      `the run ${record.status === 'interrupted' ? 'was interrupted' : 'failed'}${record.error ? `: ${record.error}` : ''} — the figures cover only the cells that completed`,
      null,
    );
  }
  for (const w of record.warnings ?? []) runWide('warn', 'run-warning', w, null);

  for (const cell of cells) {
    const label = multiCell ? matrixLabel(cell.matrix) : '';
    for (const text of oversubscriptionTexts(record, cell)) {
      runWide(
        'warn',
        'cpu-oversubscribed',
        multiCell ? `${cell.id} ${label}: ${text}` : text,
        null,
      );
    }
    for (const t of cell.targets) {
      const mine: Verdict[] = [];
      const emit: Emit = (severity, finding, text, value) =>
        mine.push({
          severity,
          finding,
          cell: cell.id,
          cellLabel: label,
          target: t.name,
          text,
          value,
        });
      targetVerdicts(record, cell, t, emit);
      modelVsReal(cell, t, emit);
      const usage = t.client?.usage;
      const saturated = usage ? saturationText(usage) : null;
      if (saturated) emit('warn', 'driver-saturated', saturated, num(usage!.utilization));
      const timing = latencyTimingText(record, t);
      if (timing) emit('info', 'latency-timing', timing, null);
      // Failed expectations of this target in this cell.
      for (const e of record.expectations ?? []) {
        if (e.passed || e.cell !== cell.id || e.checkedTarget !== t.name) continue;
        mine.push({
          severity: 'bad',
          finding: 'expectation',
          cell: cell.id,
          cellLabel: label,
          target: t.name,
          text: `expectation failed: ${e.metric} ${e.op} ${fmtNum(e.value)}, measured ${e.notApplicable ? `n/a (${e.notApplicable})` : fmtFigure(figureDef(e.metric) ?? { unit: 'ratio' }, e.actual)}${e.why ? ` — ${e.why}` : ''}`,
          value: num(e.actual),
        });
      }
      mine.sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
      out.push(...mine);
    }
  }

  // Expectations on targets or cells the record does not hold (a selector that matched nothing
  // cannot produce a result, so only results whose target is missing land here).
  const known = new Set(cells.flatMap((cl) => cl.targets.map((t) => `${cl.id}\u0000${t.name}`)));
  for (const e of record.expectations ?? []) {
    if (e.passed || known.has(`${e.cell}\u0000${e.checkedTarget}`)) continue;
    out.push({
      severity: 'bad',
      finding: 'expectation',
      cell: e.cell,
      cellLabel: '',
      target: e.checkedTarget,
      text: `expectation failed: ${e.metric} ${e.op} ${fmtNum(e.value)}, measured ${e.notApplicable ? `n/a (${e.notApplicable})` : fmtFigure(figureDef(e.metric) ?? { unit: 'ratio' }, e.actual)}${e.why ? ` — ${e.why}` : ''}`,
      value: num(e.actual),
    });
  }
  const total = (record.expectations ?? []).length;
  const passed = (record.expectations ?? []).filter((e) => e.passed).length;
  if (total > 0 && passed === total) {
    runWide('info', 'expectation', `all ${total} expectations held`, total);
  } else if (total > 0) {
    runWide(
      'bad',
      'expectation',
      `${total - passed} of ${total} expectations failed`,
      total - passed,
    );
  }
  // Run-wide findings first.
  return [...out.filter((v) => v.target === null), ...out.filter((v) => v.target !== null)];
}

const SEVERITY_TAG: Record<Severity, string> = { bad: 'BAD ', warn: 'WARN', info: 'info' };

/** One verdict as one line of plain text: `BAD  target [cell-1 workers=4]: text`. */
export function verdictLine(v: Verdict): string {
  const where =
    v.target === null
      ? 'run'
      : `${v.target}${v.cell && v.cellLabel ? ` [${v.cell} ${v.cellLabel}]` : ''}`;
  return `${SEVERITY_TAG[v.severity]}  ${where}: ${v.text}`;
}

/** The verdicts as plain-text lines, for the terminal summary. */
export function verdictLines(vs: readonly Verdict[]): string[] {
  return vs.map(verdictLine);
}

/** Counts per severity, e.g. for a summary line. */
export function severityCounts(vs: readonly Verdict[]): Record<Severity, number> {
  const n: Record<Severity, number> = { bad: 0, warn: 0, info: 0 };
  for (const v of vs) n[v.severity]++;
  return n;
}
