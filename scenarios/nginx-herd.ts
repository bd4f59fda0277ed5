// nginx's answers to the accept herd beside the engine's herd cells, under connection churn.
import { defineRealScenario } from '../lab/scenario/target-kinds';

export default defineRealScenario({
  name: 'nginx-herd',
  description:
    'Runs nginx (Debian’s nginx-light) the three ways it can share a port between workers, beside ' +
    'the engine’s herd cells, with a new connection for every request and 1, 2 and 4 workers. With ' +
    'accept_mutex off nginx adds its listening socket with EPOLLEXCLUSIVE: one worker wakes per ' +
    'connection and the first idle one takes most of them. With accept_mutex on the workers take ' +
    'turns holding the socket. With reuseport every worker has its own listening socket, filled by ' +
    'hash. nginx’s requests per worker come from its access log ($pid), accepted connections from ' +
    'stub_status, CPU time and context switches per worker from /proc. In the report compare the ' +
    'request share of each worker and the context switches per request across targets and cells.',
  targets: [
    { name: 'nginx-exclusive', kind: 'nginx', server: { acceptMutex: false } },
    { name: 'nginx-mutex', kind: 'nginx', server: { acceptMutex: true } },
    { name: 'nginx-reuseport', kind: 'nginx', server: { reuseport: true } },
    { name: 'model-shared', server: { loopCreation: 'post-fork', acceptBatch: 1 } },
    {
      name: 'model-exclusive',
      server: { loopCreation: 'post-fork', acceptBatch: 1, exclusive: true },
    },
    {
      name: 'model-reuseport',
      server: { loopCreation: 'post-fork', acceptBatch: 1, reusePort: true },
    },
  ],
  matrix: { workers: [1, 2, 4] },
  load: { mode: 'churn', connections: 16, durationSec: 6, warmupSec: 1 },
  expectations: [
    {
      target: 'nginx-reuseport',
      metric: 'requestShareJain',
      op: '>=',
      value: 0.9,
      why: 'SO_REUSEPORT spreads new connections over the workers’ sockets by hash',
    },
    {
      target: 'model-reuseport',
      metric: 'acceptShareJain',
      op: '>=',
      value: 0.9,
      why: 'the model’s SO_REUSEPORT cell balances like nginx’s',
    },
    {
      target: '*',
      metric: 'clientErrors',
      op: '==',
      value: 0,
      why: 'no set-up loses a connection under this churn',
    },
  ],
});
