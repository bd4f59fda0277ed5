// The worker drill-down dashboard: one target of a run, one series per worker (`<container>/w<n>`,
// like the run record's worker keys), to see who accepts, who spins, who sleeps and who dies.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import {
  BY_WORKER,
  Grid,
  MAIN_UID,
  UNIT,
  WORKER_LEGEND,
  WORKER_UID,
  barGaugePanel,
  forklabDashboard,
  serverSel,
  timeseriesPanel,
  withContainer,
} from './common';

/** One target (single-valued variable). */
const TARGET = 'target="$target"';
const sel = (extra = '') => serverSel(extra, TARGET);
const perWorkerRate = (metric: string, extra = '', by = BY_WORKER) =>
  withContainer(`sum by (${by}) (rate(${metric}${sel(extra)}[$__rate_interval]))`);
const perWorker = (metric: string, extra = '', by = BY_WORKER) =>
  withContainer(`sum by (${by}) (${metric}${sel(extra)})`);

export function workerDashboard(): dashboard.Dashboard {
  const board = forklabDashboard({
    title: 'forklab: workers of one target',
    uid: WORKER_UID,
    description:
      'Per-worker view of one forklab target: requests, accepts and their balance, misrouted events, context switches, CPU, connections and restarts.',
    link: {
      title: 'All targets',
      uid: MAIN_UID,
      slug: 'forklab-main',
      tooltip: 'Every target of the run side by side',
    },
    target: { description: 'The one target whose workers are shown.', multi: false },
  });

  const grid = new Grid(board);

  grid.row('Work');
  grid.add(
    timeseriesPanel({
      title: 'Requests/s per worker',
      description:
        'Complete requests per second by worker: who serves the load; with a shared epoll (pre-fork) the connections’ owners are delayed by siblings’ spinning.',
      unit: UNIT.requestsPerSec,
      queries: [{ expr: perWorkerRate('forklab_requests_total'), legend: WORKER_LEGEND }],
    }),
  );
  grid.add(
    timeseriesPanel({
      title: 'Accepts/s per worker',
      description:
        'accept4 calls per second by worker that returned a connection, and that found nothing (EAGAIN: lost the race after a herd wake-up).',
      unit: UNIT.callsPerSec,
      queries: [
        {
          expr: perWorkerRate('forklab_accepts_total', 'result="ok"'),
          legend: `ok ${WORKER_LEGEND}`,
        },
        {
          expr: perWorkerRate('forklab_accepts_total', 'result="eagain"'),
          legend: `EAGAIN ${WORKER_LEGEND}`,
        },
      ],
    }),
  );
  grid.add(
    barGaugePanel({
      title: 'Share of accepts (time range)',
      description:
        'Each worker’s share of the target’s accepted connections over the time range: even with SO_REUSEPORT, skewed to the first idle waiter with EPOLLEXCLUSIVE.',
      unit: UNIT.percent,
      decimals: 1,
      max: 1,
      queries: [
        {
          expr: withContainer(
            `sum by (${BY_WORKER}) (increase(forklab_accepts_total${sel('result="ok"')}[$__range])) / on (run, cell, target) group_left () (sum by (run, cell, target) (increase(forklab_accepts_total${sel('result="ok"')}[$__range])) > 0)`,
          ),
          legend: WORKER_LEGEND,
          instant: true,
        },
      ],
    }),
  );
  grid.add(
    timeseriesPanel({
      title: 'Listening-socket events/s per worker',
      description:
        'Events dispatched to the accept handler per second by worker: with one epoll per worker every worker wakes for every connection (the herd).',
      unit: UNIT.eventsPerSec,
      queries: [{ expr: perWorkerRate('forklab_listen_events_total'), legend: WORKER_LEGEND }],
    }),
  );

  grid.row('Misrouted events');
  grid.add(
    timeseriesPanel({
      title: 'KeyErrors/s and unknown-fd events/s per worker',
      description:
        'Events for fds the worker has no handler for (a sibling’s connection in the shared epoll): raised as KeyError (tornado4) or skipped (asyncio).',
      unit: UNIT.eventsPerSec,
      queries: [
        { expr: perWorkerRate('forklab_keyerrors_total'), legend: `KeyError ${WORKER_LEGEND}` },
        {
          expr: perWorkerRate('forklab_unknown_fd_events_total'),
          legend: `unknown fd ${WORKER_LEGEND}`,
        },
      ],
    }),
  );
  grid.add(
    timeseriesPanel({
      title: 'Spurious reads/s per worker',
      description:
        'Connection reads that found nothing (EAGAIN) per second by worker: the event was for a sibling’s connection with the same fd number.',
      unit: UNIT.eventsPerSec,
      queries: [{ expr: perWorkerRate('forklab_spurious_reads_total'), legend: WORKER_LEGEND }],
    }),
  );

  grid.row('Cost');
  grid.add(
    timeseriesPanel({
      title: 'Context switches/s per worker',
      description:
        'Voluntary (slept: woken by epoll, often for nothing in a herd) and involuntary (preempted: spinning) context switches per second by worker, from getrusage.',
      unit: UNIT.switchesPerSec,
      queries: [
        {
          expr: perWorkerRate('forklab_context_switches_total', 'kind="voluntary"'),
          legend: `voluntary ${WORKER_LEGEND}`,
        },
        {
          expr: perWorkerRate('forklab_context_switches_total', 'kind="involuntary"'),
          legend: `involuntary ${WORKER_LEGEND}`,
        },
      ],
    }),
  );
  grid.add(
    timeseriesPanel({
      title: 'CPU per worker',
      description:
        'User and system CPU per worker (1 = one core, getrusage): a worker spinning on misrouted level-triggered events burns a core while serving little.',
      unit: UNIT.cores,
      stack: true,
      queries: [
        {
          expr: perWorkerRate('forklab_cpu_seconds_total', '', `${BY_WORKER}, mode`),
          legend: `${WORKER_LEGEND} {{mode}}`,
        },
      ],
    }),
  );

  grid.row('Connections and health');
  grid.add(
    timeseriesPanel({
      title: 'Open and stuck connections per worker',
      description:
        'Connections open now by worker, and those with unread data and no progress (stuck): edge-triggered pre-fork loses the only notification to a sibling.',
      unit: UNIT.count,
      queries: [
        { expr: perWorker('forklab_open_connections'), legend: `open ${WORKER_LEGEND}` },
        { expr: perWorker('forklab_stuck_connections'), legend: `stuck ${WORKER_LEGEND}` },
      ],
    }),
  );
  grid.add(
    timeseriesPanel({
      title: 'Restarts and state per worker',
      description:
        'Restarts by the supervisor so far by reason (crash, cycled, clean), whether the worker runs, and whether it was given up: EEXIST deaths (pre-fork-late), --max-requests cycling.',
      unit: UNIT.count,
      queries: [
        {
          expr: perWorker('forklab_worker_restarts_total', '', `${BY_WORKER}, reason`),
          legend: `restarts {{reason}} ${WORKER_LEGEND}`,
        },
        { expr: perWorker('forklab_worker_up'), legend: `up ${WORKER_LEGEND}` },
        { expr: perWorker('forklab_worker_failed'), legend: `given up ${WORKER_LEGEND}` },
      ],
    }),
  );

  return board.build();
}
