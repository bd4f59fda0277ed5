// The main forklab dashboard: every target of a run side by side (one series per target, with its
// loop creation in the legend), so the post-fork herd and the pre-fork misrouted events can be
// read off the same panels. Worker detail is on the drill-down dashboard (forklab-worker.ts).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BY_CLIENT,
  BY_TARGET,
  CLIENT_LEGEND,
  Grid,
  MAIN_UID,
  TARGET_LEGEND,
  UNIT,
  WORKER_UID,
  barGaugePanel,
  forklabDashboard,
  clientSel,
  ratio,
  serverSel,
  sumRate,
  tablePanel,
  timeseriesPanel,
  withContainer,
} from './common';

const S = serverSel();
const C = clientSel();
const rate = (metric: string, extra = '') => sumRate(metric, serverSel(extra), BY_TARGET);
const crate = (metric: string, extra = '') => sumRate(metric, clientSel(extra), BY_CLIENT);
const requests = rate('forklab_requests_total');
const acceptsOk = rate('forklab_accepts_total', 'result="ok"');

/** Data link from a target's series to its workers. */
const drillDown = [
  {
    title: 'Workers of ${__field.labels.target}',
    url: `/d/${WORKER_UID}/forklab-workers?\${datasource:queryparam}&\${scenario:queryparam}&var-run=\${__field.labels.run}&var-target=\${__field.labels.target}&var-cell=\${__field.labels.cell}&\${__url_time_range}`,
  },
];

export function mainDashboard(): dashboard.Dashboard {
  const board = forklabDashboard({
    title: 'forklab: loop creation, side by side',
    uid: MAIN_UID,
    description:
      'Every target of a forklab run side by side: throughput, misrouted events (pre-fork), the accept herd (post-fork), balance, cost, health, and what the client saw.',
    link: {
      title: 'Worker drill-down',
      uid: WORKER_UID,
      slug: 'forklab-workers',
      tooltip: 'Per-worker view of one target',
    },
    target: { description: 'Targets of the run, e.g. post-fork and pre-fork.', multi: true },
  });

  const grid = new Grid(board);
  const ts = (p: Parameters<typeof timeseriesPanel>[0]) =>
    timeseriesPanel({ links: drillDown, ...p });

  grid.row('Throughput');
  grid.add(
    ts({
      title: 'Requests/s',
      description:
        'Complete requests parsed per second, server side, with the client’s own rate beside it: pre-fork loses throughput to workers spinning on each other’s events.',
      unit: UNIT.requestsPerSec,
      queries: [
        { expr: requests, legend: TARGET_LEGEND },
        {
          expr: `sum by (${BY_CLIENT}) (forklab_client_requests_per_second${C})`,
          legend: `client: ${CLIENT_LEGEND}`,
        },
      ],
    }),
    16,
  );
  grid.add(
    tablePanel(
      {
        title: 'Targets',
        description:
          'The server configuration of each target (forklab_server_info): loop creation, flavour, trigger, EPOLLEXCLUSIVE, SO_REUSEPORT, workers.',
        unit: UNIT.ratio,
        queries: [
          {
            expr: `max by (run, cell, target, server, loop_creation, flavour, trigger, exclusive, reuseport, workers, accept_batch, max_requests) (forklab_server_info${S})`,
            legend: '{{target}}',
            instant: true,
            table: true,
          },
        ],
      },
      ['Time', 'Value', 'run'],
    ),
    8,
  );

  grid.row('Pre-fork: one shared epoll, misrouted events');
  grid.add(
    ts({
      title: 'KeyErrors/s',
      description:
        'tornado4 KeyErrors per second: events the shared epoll (loop created before fork) delivered to a worker with no handler for that fd; level-triggered, they repeat until the owner reads.',
      unit: UNIT.eventsPerSec,
      queries: [{ expr: rate('forklab_keyerrors_total'), legend: TARGET_LEGEND }],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'KeyErrors per 1000 requests',
      description:
        'KeyErrors per 1000 requests served: the misrouting cost of a shared epoll independent of throughput; 0 with the loop created after fork.',
      unit: UNIT.ratio,
      decimals: 1,
      queries: [
        { expr: ratio(rate('forklab_keyerrors_total'), requests, 1000), legend: TARGET_LEGEND },
      ],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Unknown-fd events/s',
      description:
        'asyncio flavour: events for fds the worker has no handler for, skipped silently (Tornado 5/6): the same misrouting as KeyErrors, without the exception.',
      unit: UNIT.eventsPerSec,
      queries: [{ expr: rate('forklab_unknown_fd_events_total'), legend: TARGET_LEGEND }],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Spurious reads per request',
      description:
        'Connection reads that found nothing (EAGAIN) per request: a worker read its own fd with the same number as a sibling’s ready connection (identical fd tables after fork).',
      unit: UNIT.ratio,
      decimals: 2,
      queries: [
        { expr: ratio(rate('forklab_spurious_reads_total'), requests), legend: TARGET_LEGEND },
      ],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Stuck connections',
      description:
        'Connections with unread data and no progress (now), and how many became stuck so far: edge-triggered pre-fork loses the only notification to the wrong worker.',
      unit: UNIT.count,
      queries: [
        {
          expr: `sum by (${BY_TARGET}) (forklab_stuck_connections${S})`,
          legend: `stuck now: ${TARGET_LEGEND}`,
        },
        {
          expr: `sum by (${BY_TARGET}) (forklab_stuck_detected_total${S})`,
          legend: `became stuck (total): ${TARGET_LEGEND}`,
        },
      ],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Listening-socket events per accept',
      description:
        'Events dispatched to the accept handler per accepted connection: above 1 means workers woke for connections a sibling took (herd, or a shared epoll re-delivering the listening socket).',
      unit: UNIT.ratio,
      decimals: 2,
      queries: [
        { expr: ratio(rate('forklab_listen_events_total'), acceptsOk), legend: TARGET_LEGEND },
      ],
    }),
    8,
  );

  grid.row('Post-fork: one epoll per worker, the accept herd');
  grid.add(
    ts({
      title: 'Voluntary context switches per accepted connection',
      description:
        'Voluntary context switches (getrusage) per accepted connection: about one per worker per connection when every worker’s epoll wakes for each connection (the herd); ~1 with EPOLLEXCLUSIVE or SO_REUSEPORT.',
      unit: UNIT.ratio,
      decimals: 2,
      queries: [
        {
          expr: ratio(rate('forklab_context_switches_total', 'kind="voluntary"'), acceptsOk),
          legend: TARGET_LEGEND,
        },
      ],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Accept EAGAIN/s',
      description:
        'accept4 calls per second that found nothing (EAGAIN): a woken worker lost the race for the connection; understates the herd, since most losers go back to sleep inside the kernel.',
      unit: UNIT.callsPerSec,
      queries: [{ expr: rate('forklab_accepts_total', 'result="eagain"'), legend: TARGET_LEGEND }],
    }),
    8,
  );
  grid.add(
    ts({
      title: 'Accept EAGAIN per accept',
      description:
        'accept4 EAGAIN per accepted connection: a batch accept loop (Tornado’s 128) ends each wake-up with one EAGAIN, so above 1 means wake-ups that found nothing; it understates the herd.',
      unit: UNIT.percent,
      queries: [
        {
          expr: ratio(rate('forklab_accepts_total', 'result="eagain"'), acceptsOk),
          legend: TARGET_LEGEND,
        },
      ],
    }),
    8,
  );

  grid.row('Balance and cost');
  grid.add(
    barGaugePanel({
      title: 'Share of accepts per worker (time range)',
      description:
        'Each worker’s share of its target’s accepted connections over the time range: EPOLLEXCLUSIVE favours the first idle waiter (one worker takes most), SO_REUSEPORT spreads by hash.',
      unit: UNIT.percent,
      decimals: 1,
      max: 1,
      queries: [
        {
          expr: withContainer(
            `sum by (run, cell, target, loop_creation, server, worker) (increase(forklab_accepts_total${serverSel('result="ok"')}[$__range])) / on (run, cell, target, loop_creation) group_left () (sum by (run, cell, target, loop_creation) (increase(forklab_accepts_total${serverSel('result="ok"')}[$__range])) > 0)`,
          ),
          legend: '{{target}} {{container}}/w{{worker}}',
          instant: true,
        },
      ],
    }),
    12,
    10,
  );
  grid.add(
    ts({
      title: 'CPU per request',
      description:
        'User + system CPU time of all workers (getrusage) per request: spinning on misrouted events (pre-fork) or waking for nothing (herd) shows up here.',
      unit: UNIT.seconds,
      queries: [
        { expr: ratio(rate('forklab_cpu_seconds_total'), requests), legend: TARGET_LEGEND },
      ],
    }),
    12,
    10,
  );

  grid.row('Health');
  grid.add(
    ts({
      title: 'Worker restarts',
      description:
        'Workers restarted by the supervisor so far (crash, cycled by --max-requests, clean exit) and workers down now: pre-fork-late with --on-eexist fail dies at start-up on EEXIST.',
      unit: UNIT.count,
      queries: [
        {
          expr: `sum by (${BY_TARGET}) (forklab_worker_restarts_total${S})`,
          legend: `restarts: ${TARGET_LEGEND}`,
        },
        {
          expr: `sum by (${BY_TARGET}) (1 - forklab_worker_up${S})`,
          legend: `down: ${TARGET_LEGEND}`,
        },
      ],
    }),
    12,
  );
  grid.add(
    ts({
      title: 'Open connections',
      description:
        'Connections open in all workers of the target: with keep-alive load, the client’s connection count; more means connections that are not being served.',
      unit: UNIT.count,
      queries: [
        { expr: `sum by (${BY_TARGET}) (forklab_open_connections${S})`, legend: TARGET_LEGEND },
      ],
    }),
    12,
  );

  grid.row('Client (the lab’s load generator)');
  grid.add(
    ts({
      title: 'Client latency p50 / p99',
      description:
        'Latency of completed requests as the lab client measured it (median and 99th percentile): misrouted events and spinning workers delay the owner’s reads.',
      unit: UNIT.ms,
      queries: [
        {
          expr: `max by (${BY_CLIENT}) (forklab_client_latency_ms${clientSel('quantile="0.5"')})`,
          legend: `p50: ${CLIENT_LEGEND}`,
        },
        {
          expr: `max by (${BY_CLIENT}) (forklab_client_latency_ms${clientSel('quantile="0.99"')})`,
          legend: `p99: ${CLIENT_LEGEND}`,
        },
      ],
    }),
    12,
  );
  grid.add(
    ts({
      title: 'Client errors and timeouts',
      description:
        'Requests per second the client lost to connection errors, to its deadline (hung connections: edge-triggered pre-fork), or answered with a non-2xx status.',
      unit: UNIT.requestsPerSec,
      queries: [
        { expr: crate('forklab_client_errors_total'), legend: `errors: ${CLIENT_LEGEND}` },
        { expr: crate('forklab_client_timeouts_total'), legend: `timeouts: ${CLIENT_LEGEND}` },
        {
          expr: crate('forklab_client_responses_total', 'status_class!="2xx"'),
          legend: `non-2xx: ${CLIENT_LEGEND}`,
        },
      ],
    }),
    12,
  );

  return board.build();
}
