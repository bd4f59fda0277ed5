// Prometheus metrics of a forklab server, read from the engine's shared counters at scrape time.
//
// FIELD_METRICS maps every field of native/counters.h to the series it becomes (one entry per field,
// with the field's meaning copied from the header; a test fails when the engine's layout has a field
// without an entry or the meanings drift). Per-worker series carry `worker="0"`…; a few fields are
// grouped into one labelled family (accepts by result, responses by status, context switches by
// kind, CPU seconds by mode). Internal fields are never exported.
import { Counter, Gauge, Registry } from 'prom-client';
import type { CounterLayout, FieldKind } from '../native/engine';
import { EXIT_REASONS, RESTART_REASONS, type WorkerStatus } from './restart-policy';

export interface FieldMetric {
  kind: FieldKind;
  /** The meaning in native/counters.h, word for word. */
  meaning: string;
  /** Metric name; absent for internal fields. */
  metric?: string;
  /** The label that tells this field apart within a grouped family. */
  labels?: Record<string, string>;
  /** Multiply the raw u64 by this (µs → s, ms → s). */
  scale?: number;
}

const c = (metric: string, meaning: string, extra: Partial<FieldMetric> = {}): FieldMetric => ({
  kind: 'counter',
  metric,
  meaning,
  ...extra,
});
const g = (metric: string, meaning: string, extra: Partial<FieldMetric> = {}): FieldMetric => ({
  kind: 'gauge',
  metric,
  meaning,
  ...extra,
});
const internal = (meaning: string): FieldMetric => ({ kind: 'internal', meaning });
const accepts = (result: string, meaning: string): FieldMetric =>
  c('forklab_accepts_total', meaning, { labels: { result } });
const responses = (status: string): FieldMetric =>
  c('forklab_responses_total', `responses fully written with status ${status}`, {
    labels: { status },
  });

const timeouts = (phase: string, meaning: string): FieldMetric =>
  c('forklab_timeouts_total', meaning, { labels: { phase } });

/** One entry per field of native/counters.h, in its order. */
export const FIELD_METRICS: Readonly<Record<string, FieldMetric>> = {
  loop_passes: c(
    'forklab_loop_passes_total',
    'epoll_wait calls that returned (one pass of the loop each)',
  ),
  epoll_events: c(
    'forklab_epoll_events_total',
    'events epoll_wait returned, before merging into the pending map',
  ),
  events_dispatched: c(
    'forklab_events_dispatched_total',
    'pending events popped whose fd had a handler that was called',
  ),
  listen_events: c(
    'forklab_listen_events_total',
    'events dispatched to the accept handler (listening socket)',
  ),
  accepts_ok: accepts('ok', 'accept4 calls that returned a connection to serve'),
  accept_eagain: accepts('eagain', 'accept4 calls that failed with EAGAIN (nothing to accept)'),
  accept_econnaborted: accepts(
    'econnaborted',
    'accept4 calls that failed with ECONNABORTED (skipped)',
  ),
  accept_emfile: accepts('emfile', 'accept4 calls that failed with EMFILE or ENFILE'),
  accept_errors: accepts('error', 'accept4 calls that failed with any other error'),
  accepts_shed: c(
    'forklab_accepts_shed_total',
    'connections accepted on the reserve fd and closed at once (EMFILE)',
  ),
  keyerrors: c(
    'forklab_keyerrors_total',
    'tornado4: popped events whose fd had no handler (KeyError raised)',
  ),
  keyerror_log_lines: c(
    'forklab_keyerror_log_lines_total',
    'KeyError tracebacks written to stderr',
  ),
  keyerror_log_suppressed: c(
    'forklab_keyerror_log_suppressed_total',
    'KeyError tracebacks not written (rate limit)',
  ),
  unknown_fd_events: c(
    'forklab_unknown_fd_events_total',
    'asyncio: popped events whose fd had no handler (skipped)',
  ),
  spurious_reads: c(
    'forklab_spurious_reads_total',
    'connection reads that found nothing (EAGAIN) after an event',
  ),
  requests: c('forklab_requests_total', 'complete requests parsed (head and body)'),
  responses_200: responses('200'),
  responses_400: responses('400'),
  responses_404: responses('404'),
  responses_405: responses('405'),
  responses_408: responses('408'),
  responses_414: responses('414'),
  responses_431: responses('431'),
  responses_501: responses('501'),
  bytes_in: c('forklab_bytes_received_total', 'bytes returned by read() on connections'),
  bytes_out: c('forklab_bytes_sent_total', 'bytes accepted by write() on connections'),
  client_aborts: c(
    'forklab_client_aborts_total',
    'connections the client reset before its response was written',
  ),
  half_closes: c(
    'forklab_half_closes_total',
    'connections whose client shut its side (FIN) while a response was due',
  ),
  read_pauses: c(
    'forklab_read_pauses_total',
    'times a connection stopped reading (EPOLLIN off) for a pending response',
  ),
  body_bytes_discarded: c(
    'forklab_body_bytes_discarded_total',
    'request body bytes read and dropped as they arrived',
  ),
  timeouts_header: timeouts(
    'header',
    'connections closed: no complete request head within clientHeaderTimeoutMs',
  ),
  timeouts_body: timeouts(
    'body',
    'connections closed: no request body bytes for clientBodyTimeoutMs',
  ),
  timeouts_idle: timeouts(
    'idle',
    'keep-alive connections closed: no new request for keepaliveTimeoutMs',
  ),
  timeouts_send: timeouts(
    'send',
    'connections closed: no response bytes could be written for sendTimeoutMs',
  ),
  epoll_ctl_eexist: c('forklab_epoll_ctl_eexist_total', 'epoll_ctl calls that failed with EEXIST'),
  epoll_ctl_errors: c(
    'forklab_epoll_ctl_errors_total',
    'epoll_ctl calls that failed with any other error',
  ),
  connections_opened: c('forklab_connections_opened_total', 'connections given a handler'),
  connections_registered: c(
    'forklab_connections_registered_total',
    'connections added to epoll (add_handler); paced tornado4: only when a read found no request',
  ),
  connections_closed: c('forklab_connections_closed_total', 'connections closed by the worker'),
  stuck_detected: c(
    'forklab_stuck_detected_total',
    'times a connection became stuck (unread data, no progress)',
  ),
  nvcsw: c(
    'forklab_context_switches_total',
    'voluntary context switches (getrusage in the worker)',
    { labels: { kind: 'voluntary' } },
  ),
  nivcsw: c(
    'forklab_context_switches_total',
    'involuntary context switches (getrusage in the worker)',
    { labels: { kind: 'involuntary' } },
  ),
  utime_us: c(
    'forklab_cpu_seconds_total',
    'user CPU time in microseconds (getrusage in the worker)',
    { labels: { mode: 'user' }, scale: 1e-6 },
  ),
  stime_us: c(
    'forklab_cpu_seconds_total',
    'system CPU time in microseconds (getrusage in the worker)',
    { labels: { mode: 'system' }, scale: 1e-6 },
  ),
  pace_us: c(
    'forklab_pace_cpu_seconds_total',
    'CPU microseconds burned by the pace model (the steps the burn ran)',
    { scale: 1e-6 },
  ),
  pace_burns: c(
    'forklab_pace_burns_total',
    'burns of the pace model (one per paced occurrence of a cost)',
  ),
  pace_cost_us: c(
    'forklab_pace_cost_seconds_total',
    "CPU microseconds the pace model's burns stood for (their costs as set: --pace-scale-pct and the CPU's --pace-cpu-pct applied)",
    { scale: 1e-6 },
  ),
  pace_gc_collections: c(
    'forklab_pace_gc_collections_total',
    "collections of the pace model's cyclic collector (young, middle and full)",
  ),
  pace_gc_full: c(
    'forklab_pace_gc_full_collections_total',
    "full collections of the pace model's cyclic collector",
  ),
  open_connections: g('forklab_open_connections', 'connections open now'),
  stuck_connections: g(
    'forklab_stuck_connections',
    'connections with unread data and no progress for stuckAfterMs',
  ),
  pid: g('forklab_worker_pid', 'pid of the running incarnation once it is set up, 0 otherwise'),
  started_at_ms: g(
    'forklab_worker_started_seconds',
    'unix time in ms when the running incarnation started',
    { scale: 1e-3 },
  ),
  pub_nvcsw: internal('nvcsw this incarnation has already added (for the fold at reap)'),
  pub_nivcsw: internal('nivcsw this incarnation has already added'),
  pub_utime_us: internal('utime_us this incarnation has already added'),
  pub_stime_us: internal('stime_us this incarnation has already added'),
};

/** HELP of the grouped families (the single-field ones use the field's meaning). */
const FAMILY_HELP: Record<string, string> = {
  forklab_accepts_total:
    'accept4 calls by result: ok returned a connection; eagain failed with EAGAIN (nothing to accept); econnaborted failed with ECONNABORTED (skipped); emfile failed with EMFILE or ENFILE; error failed with any other error',
  forklab_responses_total: 'responses fully written, by HTTP status',
  forklab_timeouts_total:
    'connections closed by a timeout, by phase: header (no complete request head within clientHeaderTimeoutMs, 408 when part of it came), body (no body bytes for clientBodyTimeoutMs, 408), idle (keep-alive, no new request for keepaliveTimeoutMs), send (no response bytes written for sendTimeoutMs)',
  forklab_context_switches_total:
    'context switches of the worker (getrusage in the worker), voluntary (it slept) or involuntary (preempted)',
  forklab_cpu_seconds_total:
    'CPU time of the worker in seconds (getrusage in the worker), user or system',
  forklab_worker_started_seconds: 'unix time in seconds when the running incarnation started',
};

/** The labels of forklab_server_info. */
export interface ServerInfo {
  name: string;
  loop_creation: string;
  flavour: string;
  trigger: string;
  exclusive: string;
  reuseport: string;
  workers: string;
  accept_batch: string;
  max_requests: string;
  /** The pace model: native, tornado4 or asyncio (the costs are in /snapshot.json). */
  pace: string;
  port: string;
  engine_version: string;
}

/** What the metrics read at scrape time. */
export interface MetricsSource {
  layout: CounterLayout;
  /** The live shared counters (`stride` u64 per worker). */
  counters(): BigUint64Array;
  /** Number of worker slots to export (worker="0" … worker="workers-1"). */
  workers: number;
  /** The supervisor's view of each worker, by index. */
  status(): readonly WorkerStatus[];
  info: ServerInfo;
}

export interface ForklabMetrics {
  registry: Registry;
  contentType: string;
  /** The exposition text, every family read from one snapshot of the counters. */
  render(): Promise<string>;
}

interface Series {
  field: string;
  offset: number;
  map: FieldMetric;
}

/** Where an engine field goes; fields missing from the table still get exported under their name. */
export function fieldMetric(field: string, kind: FieldKind): FieldMetric {
  const known = FIELD_METRICS[field];
  if (known) return known;
  const status = /^responses_(\d{3})$/.exec(field);
  if (status && kind === 'counter') return responses(status[1]!);
  const meaning = `engine field ${field} (no description in lab/server/metrics.ts)`;
  if (kind === 'counter') return c(`forklab_${field}_total`, meaning);
  if (kind === 'gauge') return g(`forklab_${field}`, meaning);
  return internal(meaning);
}

export function createMetrics(source: MetricsSource): ForklabMetrics {
  const registry = new Registry();
  const { layout } = source;
  const workerIds = Array.from({ length: source.workers }, (_, i) => i);

  // One scrape reads one copy of the counters, so that families agree with each other.
  let frozen: BigUint64Array | undefined;
  const view = (): BigUint64Array => frozen ?? source.counters();

  // Group the layout's exported fields by metric name, keeping the layout's order.
  const families = new Map<
    string,
    { kind: 'counter' | 'gauge'; help: string; labelNames: string[]; series: Series[] }
  >();
  layout.fields.forEach((field, offset) => {
    const kind = layout.kinds[offset]!;
    const map = fieldMetric(field, kind);
    if (map.kind === 'internal' || !map.metric) return;
    let fam = families.get(map.metric);
    if (!fam) {
      fam = {
        kind: map.kind,
        help: FAMILY_HELP[map.metric] ?? map.meaning,
        labelNames: ['worker', ...Object.keys(map.labels ?? {})],
        series: [],
      };
      families.set(map.metric, fam);
    }
    fam.series.push({ field, offset, map });
  });

  for (const [name, fam] of families) {
    const fill = (set: (labels: Record<string, string>, value: number) => void): void => {
      const v = view();
      for (const w of workerIds) {
        for (const s of fam.series) {
          const raw = v[w * layout.stride + s.offset] ?? 0n;
          set({ worker: String(w), ...s.map.labels }, Number(raw) * (s.map.scale ?? 1));
        }
      }
    };
    if (fam.kind === 'counter') {
      new Counter({
        name,
        help: fam.help,
        labelNames: fam.labelNames,
        registers: [registry],
        collect() {
          this.reset();
          fill((labels, value) => this.inc(labels, value));
        },
      });
    } else {
      new Gauge({
        name,
        help: fam.help,
        labelNames: fam.labelNames,
        registers: [registry],
        collect() {
          this.reset();
          fill((labels, value) => this.set(labels, value));
        },
      });
    }
  }

  const statusOf = (w: number): WorkerStatus | undefined => source.status()[w];

  new Gauge({
    name: 'forklab_worker_up',
    help: 'worker process running (1) or not (0), as the supervisor sees it',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of workerIds)
        this.set({ worker: String(w) }, (statusOf(w)?.pid ?? 0) > 0 ? 1 : 0);
    },
  });
  new Gauge({
    name: 'forklab_worker_failed',
    help: 'the supervisor gave up on this worker (not restarted any more): 1, otherwise 0',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of workerIds) this.set({ worker: String(w) }, statusOf(w)?.failed ? 1 : 0);
    },
  });
  new Counter({
    name: 'forklab_worker_restarts_total',
    help: 'workers restarted by the supervisor, by reason: crash (crashed or killed by a signal; counts against --max-restarts), cycled (served --max-requests), clean (exited 0 while the server was not stopping)',
    labelNames: ['worker', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of workerIds) {
        for (const reason of RESTART_REASONS)
          this.inc({ worker: String(w), reason }, statusOf(w)?.restarts[reason] ?? 0);
      }
    },
  });
  new Counter({
    name: 'forklab_worker_exits_total',
    help: 'worker exits seen by the supervisor, by reason: clean (code 0), cycled (code 3, --max-requests), eexist (code 4), startup_failed (code 5), crash (any other code), signal (killed by a signal), oom (SIGKILL by the kernel OOM killer: the OOM-kill count of the cgroup, or of the machine, went up)',
    labelNames: ['worker', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of workerIds) {
        for (const reason of EXIT_REASONS)
          this.inc({ worker: String(w), reason }, statusOf(w)?.exits[reason] ?? 0);
      }
    },
  });
  const info = new Gauge({
    name: 'forklab_server_info',
    help: 'the configuration of this forklab server, in labels (value always 1)',
    labelNames: Object.keys(source.info),
    registers: [registry],
  });
  info.set({ ...source.info }, 1);

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      frozen = source.counters().slice();
      try {
        return await registry.metrics();
      } finally {
        frozen = undefined;
      }
    },
  };
}
