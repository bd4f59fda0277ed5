import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'cycling',
  description:
    'Shows worker cycling under keep-alive load: with a request limit each worker exits after 2000 ' +
    'requests and the supervisor forks a replacement. A leaving worker answers the request that ' +
    'reached the limit with Connection: close, but its other open connections are closed with it, ' +
    'and a request already sent on one of them gets no answer: the client sees a connection error. ' +
    'The second target runs without a limit. Compare worker restarts, client errors and requests ' +
    'per second, and the gaps in the per-worker request series.',
  targets: [
    {
      name: 'cycling',
      server: { loopCreation: 'post-fork', workers: 4, maxRequests: 2000 },
    },
    {
      name: 'steady',
      server: { loopCreation: 'post-fork', workers: 4 },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 10, warmupSec: 1 },
  expectations: [
    {
      target: 'cycling',
      metric: 'workerRestarts',
      op: '>',
      value: 0,
      why: 'each worker exits after maxRequests and is replaced',
    },
    {
      target: 'cycling',
      metric: 'clientErrors',
      op: '>',
      value: 0,
      why: 'a leaving worker closes its other keep-alive connections, losing the requests in flight on them',
    },
    {
      target: 'steady',
      metric: 'workerRestarts',
      op: '==',
      value: 0,
      why: 'without a request limit no worker leaves',
    },
    {
      target: 'steady',
      metric: 'clientErrors',
      op: '==',
      value: 0,
      why: 'without a request limit no connection is closed under the client',
    },
  ],
});
