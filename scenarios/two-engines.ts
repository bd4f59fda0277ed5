import { defineScenario } from '../lab/scenario/scenario';

/** The second engine: `bash scripts/second-engine.sh start` serves this socket; FORKLAB_ENGINE2 moves it. */
const ENGINE2 = process.env.FORKLAB_ENGINE2 ?? 'unix:///run/forklab-engine2/docker.sock';

export default defineScenario({
  name: 'two-engines',
  description:
    'The servers on one Docker engine and the load generators on another, as serious labs keep ' +
    'client and server apart. Both targets of `compare` (the loop created after fork and before it) ' +
    'run as containers on the second engine (`engine2`: a unix://, tcp:// or ssh:// address, as ' +
    'DOCKER_HOST takes it; FORKLAB_ENGINE2 overrides it), and one load generator per target runs as ' +
    'a container on the default engine, streaming its progress and result back to the lab, which ' +
    'merges them into one record. The server image is built on the default engine and moved to the ' +
    'second (save, load) when it is not there; each engine’s clock is measured against the lab’s and ' +
    'recorded. On one machine, start the second engine with `bash scripts/second-engine.sh start`.',
  engines: { engine2: { address: ENGINE2 } },
  placement: {
    targets: { 'post-fork': 'engine2', 'pre-fork': 'engine2' },
    drivers: 'default',
  },
  targets: [
    {
      name: 'post-fork',
      server: { loopCreation: 'post-fork', workers: 2, flavour: 'tornado4', trigger: 'level' },
    },
    {
      name: 'pre-fork',
      server: { loopCreation: 'pre-fork', workers: 2, flavour: 'tornado4', trigger: 'level' },
    },
  ],
  load: { mode: 'keep-alive', connections: 16, durationSec: 5, warmupSec: 1, driver: 'native' },
  sampleIntervalMs: 500,
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
  ],
});
