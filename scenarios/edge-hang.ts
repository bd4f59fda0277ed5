import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'edge-hang',
  description:
    'Shows connections that hang when the loop is created before fork and connection fds are ' +
    'registered edge-triggered. Edge-triggered epoll reports new data once; in a shared epoll that ' +
    'one notification often goes to a worker that does not own the fd, so the owner never hears of ' +
    'the request, the data stays unread and the client waits until its deadline. The same set-up with ' +
    'the loop created after fork serves every request. The server counts a connection as stuck when ' +
    'it has unread data and no progress for 500 ms; the client gives up after 1000 ms. Compare stuck ' +
    'connections, client timeouts and requests per second.',
  targets: [
    {
      name: 'pre-fork-edge',
      server: { loopCreation: 'pre-fork', trigger: 'edge', workers: 4, stuckAfterMs: 500 },
    },
    {
      name: 'post-fork-edge',
      server: { loopCreation: 'post-fork', trigger: 'edge', workers: 4, stuckAfterMs: 500 },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 10, warmupSec: 1, timeoutMs: 1000 },
  // Stuck connections are a gauge: sample it often enough to see it.
  sampleIntervalMs: 250,
  expectations: [
    {
      target: 'loopCreation=pre-fork',
      metric: 'stuckConnectionsMax',
      op: '>',
      value: 0,
      why: 'a misrouted edge-triggered event is the only notification: the owner never reads the request',
    },
    {
      target: 'loopCreation=pre-fork',
      metric: 'clientTimeouts',
      op: '>',
      value: 0,
      why: 'a request nobody reads is never answered',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'stuckConnectionsMax',
      op: '==',
      value: 0,
      why: 'with one epoll per worker every edge-triggered event reaches the fd’s owner',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'clientTimeouts',
      op: '==',
      value: 0,
      why: 'with one epoll per worker every request is read and answered',
    },
  ],
});
