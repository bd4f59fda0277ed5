// What each kind of target declares to the kernel check: real servers are held to what their own
// settings decide, never to the engine's flags.
import { checkDeclared } from '../lab/inspect/check-declared';
import { declaredSetup } from '../lab/inspect/declared-setup';
import type { Evidence, ListeningSocket } from '../lab/inspect/evidence';
import { expandCells } from '../lab/scenario/resolve-scenario';
import { defineScenario } from '../lab/scenario/scenario';
import type { AnyTarget } from '../lab/scenario/target-kinds';

function resolved(t: AnyTarget) {
  const s = defineScenario({
    name: 'x',
    description: 'x.',
    targets: [t],
    load: { mode: 'churn', connections: 4, durationSec: 1 },
  });
  return expandCells(s)[0]!.targets[0]!;
}

/** Evidence of `workers` processes, each with its own epoll watching the one listening socket. */
function ownEpolls(workers: number, exclusive: boolean[], port = 8080): Evidence {
  const listener: ListeningSocket = {
    inode: 1,
    endpoint: `127.0.0.1:${port}`,
    port,
    backlog: 128,
    acceptQueue: 0,
    heldBy: [1, 2, 3],
    watchedBy: exclusive.map((x, i) => ({ instance: `E${i}`, exclusive: x, trigger: 'level' })),
  };
  return {
    rootPid: 1,
    inspectedAt: '',
    processes: [],
    kcmp: { available: true },
    sharingKnown: true,
    instances: Array.from({ length: workers }, (_, i) => ({
      id: `E${i}`,
      holders: [],
      pids: [10 + i],
      waiters: [],
      watches: [],
    })),
    listeners: [listener],
    reuseportGroups: [],
    unseen: [],
  };
}

test('the engine declares its own settings', () => {
  const d = declaredSetup(resolved({ name: 'e', server: { workers: 2, exclusive: true } }));
  expect(d).toMatchObject({
    loopCreation: 'post-fork',
    workers: 2,
    exclusive: true,
    reusePort: false,
  });
});

test('Tornado declares its loop creation, never EPOLLEXCLUSIVE or SO_REUSEPORT', () => {
  const d = declaredSetup(
    resolved({ name: 't', kind: 'tornado', server: { workers: 3, loopCreation: 'pre-fork' } }),
  );
  expect(d).toEqual({ loopCreation: 'pre-fork', workers: 3, exclusive: false, reusePort: false });
});

test('nginx declares EPOLLEXCLUSIVE only where its choice is fixed', () => {
  const nginx = (server: Record<string, unknown>) =>
    declaredSetup(resolved({ name: 'n', kind: 'nginx', server } as AnyTarget));
  expect(nginx({ workers: 2, acceptMutex: false })!.exclusive).toBe(true);
  expect(nginx({ workers: 1, acceptMutex: false })!.exclusive).toBe(false);
  expect(nginx({ workers: 2, acceptMutex: true })!.exclusive).toBeUndefined();
  expect(nginx({ workers: 2, reuseport: true })).toEqual({
    loopCreation: 'post-fork',
    workers: 2,
    exclusive: undefined,
    reusePort: true,
  });
  // accept_mutex on: whether a worker holds the socket right now, with or without the flag, is
  // nginx's business; a plain watch is not flagged, a shared epoll would be.
  const mutex = { ...nginx({ workers: 2, acceptMutex: true })!, port: 8080 };
  expect(checkDeclared(ownEpolls(2, [false]), mutex)).toEqual([]);
  expect(checkDeclared(ownEpolls(2, [true, true]), mutex)).toEqual([]);
  // accept_mutex off with 2 workers: a watch without the flag contradicts it.
  const off = { ...nginx({ workers: 2, acceptMutex: false })!, port: 8080 };
  expect(checkDeclared(ownEpolls(2, [true, false]), off).join()).toMatch(
    /declared exclusive, but 127\.0\.0\.1:8080 is watched by E1 without EPOLLEXCLUSIVE/,
  );
});

test('a command target declares nothing: no check', () => {
  expect(
    declaredSetup(
      resolved({ name: 'c', kind: 'command', command: { argv: ['srv', '{port}'], workers: 2 } }),
    ),
  ).toBeNull();
});
