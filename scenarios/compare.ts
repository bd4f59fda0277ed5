import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'compare',
  description:
    'Creates the event loop after fork and before it, side by side, under the same keep-alive load. ' +
    'Both targets fork four Tornado 4 workers with level-triggered epoll. With the loop created after ' +
    'fork (post-fork) every worker has its own epoll and hears only about its own connections. With ' +
    'the loop created before fork (pre-fork) all workers share one epoll instance and have identical ' +
    'fd tables, so the connections they accept get the same fd numbers; an event for one worker’s ' +
    'fd 7 is often delivered to another worker, which has no handler for it and raises the KeyError ' +
    'at `fd_obj, handler_func = self._handlers[fd]`. Level-triggered epoll delivers the event again ' +
    'until its owner reads it, so the workers spin on KeyErrors. Compare KeyErrors per 1000 requests, ' +
    'requests per second and CPU per request. Both targets run at the pace of Tornado 4 (`pace: ' +
    'tornado4`): the workers burn the CPU the interpreter spends per accept, request, event and ' +
    'logged KeyError, calibrated on this kind of machine, so the figures are of the size Tornado ' +
    'users see; set `pace: native` to see the mechanism magnified by a C++ loop 30–50× faster.',
  targets: [
    {
      name: 'post-fork',
      containers: 1,
      server: {
        loopCreation: 'post-fork',
        workers: 4,
        flavour: 'tornado4',
        trigger: 'level',
        pace: 'tornado4',
      },
    },
    {
      name: 'pre-fork',
      containers: 1,
      server: {
        loopCreation: 'pre-fork',
        workers: 4,
        flavour: 'tornado4',
        trigger: 'level',
        pace: 'tornado4',
      },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 10, warmupSec: 2 },
  expectations: [
    {
      target: 'loopCreation=pre-fork',
      metric: 'keyErrorsPer1000',
      op: '>',
      value: 0,
      why: 'a shared epoll delivers events for one worker’s fds to the others, which have no handler for them',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'keyErrorsPer1000',
      op: '==',
      value: 0,
      why: 'with one epoll per worker, every event is for one of the worker’s own fds',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'unknownFdPer1000',
      op: '==',
      value: 0,
      why: 'with one epoll per worker, no event names an fd the worker does not know',
    },
  ],
});
