import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'client-abort',
  description:
    'Shows clients that leave before their response is ready. Every request asks for a response ' +
    'delayed by 2000 ms (a timer on the worker’s event loop), and the client gives up after 500 ms ' +
    'and closes the connection. The server notices the close while the timer is pending and counts ' +
    'a client abort; no request is answered. Compare client timeouts with the server’s client ' +
    'aborts: they should agree.',
  targets: [
    {
      name: 'delayed',
      server: { loopCreation: 'post-fork', workers: 2 },
    },
  ],
  load: {
    mode: 'keep-alive',
    connections: 16,
    durationSec: 6,
    warmupSec: 1,
    path: '/delay?ms=2000',
    timeoutMs: 500,
  },
  expectations: [
    {
      target: 'delayed',
      metric: 'clientAborts',
      op: '>',
      value: 0,
      why: 'the server sees each client close its connection before the delayed response',
    },
    {
      target: 'delayed',
      metric: 'clientTimeouts',
      op: '>',
      value: 0,
      why: 'no response arrives within the client’s 500 ms deadline',
    },
  ],
});
