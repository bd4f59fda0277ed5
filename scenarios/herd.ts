import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'herd',
  description:
    'Measures the accept thundering herd and the two cures for it, with the loop created after fork ' +
    'and a new connection for every request. Each worker has its own epoll watching the shared ' +
    'listening socket, so one new connection wakes every sleeping worker; most of them find nothing ' +
    'to accept and go back to sleep inside the kernel, so the herd shows up as voluntary context ' +
    'switches per accepted connection (about one per worker) far more than as accept EAGAINs. The ' +
    'matrix runs 1, 2, 4 and 8 workers, each without and with EPOLLEXCLUSIVE, which wakes one waiter ' +
    'per connection but favours the first idle one, so a single worker takes most connections. The ' +
    'second target gives every worker its own SO_REUSEPORT listening socket, which the kernel fills ' +
    'by hash: no herd and an even share. Accepts are taken one per event. In the report compare, ' +
    'across cells, context switches per accept and accept EAGAIN per accept against the worker count ' +
    'with and without EPOLLEXCLUSIVE, and the accept share (Jain index, max/min) of each target.',
  targets: [
    {
      name: 'shared-socket',
      server: { loopCreation: 'post-fork', acceptBatch: 1 },
    },
    {
      name: 'reuseport',
      server: { loopCreation: 'post-fork', acceptBatch: 1, reusePort: true },
    },
  ],
  // Applies to both targets; EPOLLEXCLUSIVE and SO_REUSEPORT together are allowed.
  matrix: { workers: [1, 2, 4, 8], exclusive: [false, true] },
  load: { mode: 'churn', connections: 16, durationSec: 6, warmupSec: 1 },
  expectations: [
    {
      target: '*',
      metric: 'keyErrorsPer1000',
      op: '==',
      value: 0,
      why: 'one epoll per worker: no worker sees another worker’s fds',
    },
    {
      target: 'reusePort=true',
      metric: 'acceptShareJain',
      op: '>=',
      value: 0.95,
      why: 'SO_REUSEPORT spreads new connections evenly over the workers’ sockets by hash',
    },
    {
      target: 'exclusive=true',
      metric: 'voluntaryCsPerAccept',
      op: '<',
      value: 2.5,
      why: 'EPOLLEXCLUSIVE wakes one waiter per connection, whatever the number of workers',
    },
    {
      target: 'reusePort=true',
      metric: 'voluntaryCsPerAccept',
      op: '<',
      value: 2.5,
      why: 'with a listening socket per worker, a connection wakes only the worker that owns its socket',
    },
  ],
});
