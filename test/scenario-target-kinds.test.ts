// Target kinds: validation names each field and its fix; real targets become the runtime's kind and
// the flags their programs take (servers/tornado/app.py, servers/nginx/main.ts).
import { validateScenario } from '../lab/scenario/validate-scenario';
import { parseNginxArgs } from '../servers/nginx/main';
import {
  realTargetLaunch,
  targetKind,
  validateTargetKind,
  type AnyTarget,
} from '../lab/scenario/target-kinds';

const bad = (t: unknown): AnyTarget => t as AnyTarget;

test('kind defaults to engine; engine targets are left to validate-scenario', () => {
  expect(targetKind({ name: 'a', server: {} })).toBe('engine');
  expect(validateTargetKind({ name: 'a', server: { workers: 4 } }, 0)).toEqual([]);
});

test('an unknown kind names the kinds there are', () => {
  expect(validateTargetKind(bad({ name: 'a', kind: 'apache', server: {} }), 2)).toEqual([
    'targets[2].kind: must be one of engine, tornado, nginx, command, got "apache"',
  ]);
});

test('tornado and nginx: every error at once, settings of another kind named', () => {
  expect(
    validateTargetKind(
      bad({
        name: 't',
        kind: 'tornado',
        server: { workers: 0, loopCreation: 'later', exclusive: true },
      }),
      0,
    ),
  ).toEqual([
    'targets[0].server.exclusive: not a tornado setting (tornado has workers, loopCreation, backlog)',
    'targets[0].server.workers: must be an integer from 1 to 64, got 0',
    'targets[0].server.loopCreation: must be one of post-fork, pre-fork, pre-fork-late, got "later"',
  ]);
  expect(
    validateTargetKind(bad({ name: 'n', kind: 'nginx', server: { acceptMutex: 1 } }), 1),
  ).toEqual(['targets[1].server.acceptMutex: must be true or false, got 1']);
  expect(validateTargetKind(bad({ name: 'n', kind: 'nginx' }), 1)).toEqual([
    'targets[1].server: must be an object of nginx settings (workers, acceptMutex, reuseport, multiAccept, backlog)',
  ]);
});

test('command: argv with {port}, a worker count', () => {
  expect(
    validateTargetKind(
      { name: 'c', kind: 'command', command: { argv: ['srv', '--port={port}'], workers: 4 } },
      0,
    ),
  ).toEqual([]);
  expect(
    validateTargetKind(bad({ name: 'c', kind: 'command', command: { argv: ['srv'] } }), 3),
  ).toEqual([
    'targets[3].command.argv: must pass the port the lab picked: put {port} in an argument',
    "targets[3].command.workers: must be an integer ≥ 1 (the server's worker count)",
  ]);
});

test('real targets launch with the flags their programs parse', () => {
  expect(
    realTargetLaunch({ name: 't', kind: 'tornado', server: { loopCreation: 'pre-fork' } }),
  ).toEqual({
    kind: 'tornado',
    args: ['--workers', '2', '--loop-creation', 'pre-fork', '--backlog', '128'],
    workers: 2,
  });
  const n = realTargetLaunch({
    name: 'n',
    kind: 'nginx',
    server: { workers: 4, acceptMutex: true, reuseport: true },
  });
  expect(n.kind).toBe('nginx');
  expect(n.workers).toBe(4);
  // servers/nginx parses them back into the same settings.
  expect(parseNginxArgs([...n.args, '--port', '8080']).settings).toEqual({
    workers: 4,
    acceptMutex: true,
    reuseport: true,
    backlog: 128,
  });
  expect(
    realTargetLaunch({
      name: 'c',
      kind: 'command',
      command: { argv: ['x', '{port}'], workers: 3 },
    }),
  ).toEqual({
    kind: 'command',
    args: ['--workers', '3'],
    env: { FORKLAB_COMMAND: '["x","{port}"]' },
    workers: 3,
  });
});

test.each(['real-tornado', 'nginx-herd'])(
  'scenarios/%s: a valid scenario, every target valid for its kind, real ones launchable',
  async (name) => {
    const s = (
      (await import(`../scenarios/${name}`)) as {
        default: import('../lab/scenario/target-kinds').RealScenario;
      }
    ).default;
    expect(s.name).toBe(name);
    expect(validateScenario(s)).toEqual({ ok: true, scenario: s });
    s.targets.forEach((t, i) => expect(validateTargetKind(t, i)).toEqual([]));
    const kinds = s.targets.map(targetKind);
    expect(kinds).toContain('engine');
    for (const t of s.targets)
      if (t.kind === 'tornado' || t.kind === 'nginx')
        expect(realTargetLaunch(t).args.length).toBeGreaterThan(0);
  },
);
