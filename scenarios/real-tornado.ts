// Real Tornado 6.2 (Debian's python3-tornado) beside the engine's model of it, under one load.
import { defineRealScenario } from '../lab/scenario/target-kinds';

export default defineRealScenario({
  name: 'real-tornado',
  description:
    'Puts real Tornado 6.2 beside the engine’s asyncio model of it, post-fork and pre-fork, under ' +
    'the same keep-alive load. Post-fork, each Tornado worker creates its own loop and serves its ' +
    'own connections. Pre-fork, the parent created the IOLoop before forking, so every worker waits ' +
    'on one epoll instance and receives events for its siblings’ connections; asyncio’s selector ' +
    'skips an fd it has no key for, silently, so a worker with few connections of its own spins on ' +
    'the others’ events: its CPU time matches the busy workers while it serves almost nothing. ' +
    'Tornado’s counts come from a module loaded with the app (Tornado unchanged): requests per ' +
    'worker, and the selector events whose fd had no key, counted where select() skips them. In the ' +
    'report compare model and real side by side: unknown-fd events per 1000 requests, the request ' +
    'share of each worker, CPU per request.',
  targets: [
    {
      name: 'tornado-post-fork',
      kind: 'tornado',
      server: { workers: 4, loopCreation: 'post-fork' },
    },
    { name: 'tornado-pre-fork', kind: 'tornado', server: { workers: 4, loopCreation: 'pre-fork' } },
    {
      name: 'model-post-fork',
      server: { workers: 4, loopCreation: 'post-fork', flavour: 'asyncio' },
    },
    {
      name: 'model-pre-fork',
      server: { workers: 4, loopCreation: 'pre-fork', flavour: 'asyncio' },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 20, warmupSec: 2 },
  expectations: [
    {
      target: 'loopCreation=post-fork',
      metric: 'unknownFdPer1000',
      op: '==',
      value: 0,
      why: 'one epoll per worker: a worker only hears of its own fds, real or model',
    },
    {
      target: 'tornado-pre-fork',
      metric: 'unknownFdPer1000',
      op: '>',
      value: 0,
      why: 'real Tornado 6.2 pre-fork: the shared epoll hands workers their siblings’ events, which asyncio skips',
    },
    {
      target: 'model-pre-fork',
      metric: 'unknownFdPer1000',
      op: '>',
      value: 0,
      why: 'the model does what Tornado does: events for fds the worker does not have',
    },
    {
      target: '*',
      metric: 'clientErrors',
      op: '==',
      value: 0,
      why: 'level-triggered: nothing is lost, every request is answered',
    },
  ],
});
