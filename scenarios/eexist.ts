import { defineScenario } from '../lab/scenario/scenario';

export default defineScenario({
  name: 'eexist',
  description:
    'Shows the EEXIST error a worker gets when the loop is created before fork and each worker then ' +
    'registers the inherited listening socket itself (pre-fork-late). The workers share one epoll, ' +
    'so the first registration succeeds and every later one fails with EEXIST from epoll_ctl. With ' +
    'on-eexist fail, as in Tornado 4, those workers exit at start-up and are not restarted, so one ' +
    'worker serves alone and behaves normally. With on-eexist ignore they carry on without ' +
    'registering: all four serve, but they share the epoll and run into the KeyErrors of a loop ' +
    'created before fork. Compare EEXIST errors, workers left serving, KeyErrors and requests per ' +
    'second.',
  targets: [
    {
      name: 'late-fail',
      server: { loopCreation: 'pre-fork-late', onEexist: 'fail', workers: 4 },
    },
    {
      name: 'late-ignore',
      server: { loopCreation: 'pre-fork-late', onEexist: 'ignore', workers: 4 },
    },
  ],
  load: { mode: 'keep-alive', connections: 32, durationSec: 8, warmupSec: 1 },
  expectations: [
    {
      target: '*',
      metric: 'eexistErrors',
      op: '==',
      value: 3,
      why: 'every worker but the first registers an fd the shared epoll already holds (workers − 1)',
    },
    {
      target: 'late-fail',
      metric: 'keyErrorsPer1000',
      op: '==',
      value: 0,
      why: 'only one worker is left, and one worker alone sees only its own fds',
    },
    {
      target: 'late-ignore',
      metric: 'keyErrorsPer1000',
      op: '>',
      value: 0,
      why: 'four workers on one shared epoll receive each other’s events',
    },
  ],
});
