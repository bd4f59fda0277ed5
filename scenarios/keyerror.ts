import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'keyerror',
  description:
    'Shows the two ways an event loop can treat an event for an fd it does not know, when the loop ' +
    'is created before fork and the workers share one epoll. Tornado 4 looks the fd up with ' +
    '`self._handlers[fd]`, gets a KeyError, and logs it; Tornado 5 and 6 (asyncio selectors) skip the ' +
    'fd silently, so no KeyError is ever seen, but the workers spin on their siblings’ events just ' +
    'the same. A third target creates the loop after fork and sees neither. Compare KeyErrors and ' +
    'unknown-fd events per 1000 requests, requests per second and CPU per request. Each target runs ' +
    'at the pace of its framework (`pace`: tornado4 or asyncio), burning the CPU the interpreter ' +
    'spends per accept, request, event, logged KeyError or skipped fd, calibrated on this kind of ' +
    'machine; `pace: native` shows the same mechanism magnified.',
  targets: [
    {
      name: 'pre-fork-tornado4',
      server: { loopCreation: 'pre-fork', flavour: 'tornado4', workers: 4, pace: 'tornado4' },
    },
    {
      name: 'pre-fork-asyncio',
      server: { loopCreation: 'pre-fork', flavour: 'asyncio', workers: 4, pace: 'asyncio' },
    },
    {
      name: 'post-fork-tornado4',
      server: { loopCreation: 'post-fork', flavour: 'tornado4', workers: 4, pace: 'tornado4' },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 10, warmupSec: 2 },
  expectations: [
    {
      target: 'pre-fork-tornado4',
      metric: 'keyErrorsPer1000',
      op: '>',
      value: 0,
      why: 'Tornado 4 raises a KeyError for every event on a sibling’s fd',
    },
    {
      target: 'pre-fork-asyncio',
      metric: 'unknownFdPer1000',
      op: '>',
      value: 0,
      why: 'asyncio receives the same foreign events and skips them',
    },
    {
      target: 'pre-fork-asyncio',
      metric: 'keyErrorsPer1000',
      op: '==',
      value: 0,
      why: 'asyncio never raises for an unknown fd: the spin is silent',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'keyErrorsPer1000',
      op: '==',
      value: 0,
      why: 'one epoll per worker: every event is for the worker’s own fds',
    },
    {
      target: 'loopCreation=post-fork',
      metric: 'unknownFdPer1000',
      op: '==',
      value: 0,
      why: 'one epoll per worker: every event is for the worker’s own fds',
    },
  ],
});
