// Target kinds: validation names each field and its fix; real targets become the runtime's kind and
// the flags their programs take (servers/tornado/app.py, servers/nginx/main.ts).
import { validateScenario } from '../lab/scenario/validate-scenario';
import { expandCells, selectTargets } from '../lab/scenario/resolve-scenario';
import { parseNginxArgs } from '../servers/nginx/main';
import {
  realTargetLaunch,
  runtimeTargetErrors,
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

test('command: an image instead of argv (Docker), and neither is an error naming both', () => {
  expect(
    validateTargetKind({ name: 'c', kind: 'command', command: { image: 'mine:1', workers: 2 } }, 0),
  ).toEqual([]);
  // imageArgs replace the image's command; argv stays the local runtime's (with {port}).
  expect(
    validateTargetKind(
      {
        name: 'c',
        kind: 'command',
        command: { image: 'mine:1', imageArgs: ['--port', '{port}'], workers: 2 },
      },
      0,
    ),
  ).toEqual([]);
  expect(
    validateTargetKind(
      bad({
        name: 'c',
        kind: 'command',
        command: { argv: ['srv'], imageArgs: ['x'], workers: 2, cmd: 'x' },
      }),
      0,
    ),
  ).toEqual([
    'targets[0].command.argv: must pass the port the lab picked: put {port} in an argument',
    "targets[0].command.imageArgs: only with command.image (the Docker runtime's)",
    'targets[0].command.cmd: not a command setting (argv, image, imageArgs, workers)',
  ]);
  expect(
    validateTargetKind(bad({ name: 'c', kind: 'command', command: { workers: 2 } }), 1),
  ).toEqual([
    'targets[1].command: needs argv (a command line with {port}, for the local runtime) or image (for the Docker runtime), or both',
  ]);
  expect(
    validateTargetKind(bad({ name: 'c', kind: 'command', command: { image: '', workers: 2 } }), 1),
  ).toEqual(['targets[1].command.image: must be an image name or left out']);
});

test('each runtime needs its part of a command target: the field and the fix', () => {
  const targets: AnyTarget[] = [
    { name: 'e', server: {} },
    { name: 'img', kind: 'command', command: { image: 'mine:1', workers: 2 } },
    { name: 'cmd', kind: 'command', command: { argv: ['srv', '{port}'], workers: 1 } },
    { name: 'both', kind: 'command', command: { argv: ['srv', '{port}'], image: 'x', workers: 1 } },
  ];
  expect(runtimeTargetErrors(targets, 'local')).toEqual([
    "targets[1].command.argv: the local runtime runs a command target's command line: set command.argv (with {port} in an argument), or run with --runtime docker (it runs command.image mine:1)",
  ]);
  expect(runtimeTargetErrors(targets, 'docker')).toEqual([
    'targets[2].command.image: the Docker runtime runs a command target from an image: set command.image (an image on this Docker engine), or run with --runtime local',
  ]);
  expect(runtimeTargetErrors([targets[0]!, targets[3]!], 'docker')).toEqual([]);
  expect(runtimeTargetErrors([targets[0]!, targets[3]!], 'local')).toEqual([]);
  // What the Docker runtime gets: the image, and argv (when given) as the container's command.
  expect(realTargetLaunch(targets[1] as never)).toEqual({
    kind: 'command',
    args: ['--workers', '2'],
    image: 'mine:1',
    workers: 2,
  });
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

describe('scenarios with real targets: validation, matrix, selectors, resolution', () => {
  const base = {
    kind: 'scenario',
    name: 'mixed',
    description: 'Real servers beside the model.',
    load: { mode: 'churn', connections: 8, durationSec: 2 },
  };

  test('every error of every target at once, each with its field path', () => {
    const r = validateScenario({
      ...base,
      targets: [
        { name: 't', kind: 'tornado', server: { workers: 0, exclusive: true } },
        { name: 'n', kind: 'nginx', server: { acceptMutex: 'yes' } },
        { name: 'c', kind: 'command', command: { argv: ['srv'], workers: 2 } },
        { name: 'e', server: {}, command: { argv: ['x'], workers: 1 } },
      ],
    });
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^targets\[0\]\.server\.exclusive: not a tornado setting/),
        expect.stringMatching(/^targets\[0\]\.server\.workers: must be an integer from 1 to 64/),
        expect.stringMatching(/^targets\[1\]\.server\.acceptMutex: /),
        expect.stringMatching(/^targets\[2\]\.command\.argv: must pass the port .*\{port\}/),
        expect.stringMatching(/^targets\[3\]\.command: only a target of kind "command"/),
      ]),
    );
    expect(errors).toHaveLength(5);
  });

  test("a matrix's workers applies to tornado and nginx targets; the engine's other settings do not", () => {
    const s = {
      ...base,
      targets: [
        { name: 't', kind: 'tornado', server: { loopCreation: 'pre-fork' } },
        { name: 'n', kind: 'nginx', server: { reuseport: true } },
        { name: 'm', server: { loopCreation: 'post-fork' } },
      ],
      matrix: { workers: [1, 3], exclusive: [false, true] },
    };
    const r = validateScenario(s);
    expect(r.ok ? [] : r.errors).toEqual([]);
    const cells = expandCells(r.ok ? r.scenario : (s as never));
    expect(cells).toHaveLength(4);
    const last = cells[3]!; // workers 3, exclusive true
    const [t, n, m] = last.targets;
    expect([t!.kind, n!.kind, m!.kind]).toEqual(['tornado', 'nginx', 'engine']);
    expect(t!.server).toEqual({ workers: 3, loopCreation: 'pre-fork', backlog: 128 });
    expect(n!.server).toMatchObject({ workers: 3, reuseport: true });
    expect(n!.server).not.toHaveProperty('exclusive');
    expect(m!.server).toMatchObject({ workers: 3, exclusive: true });
    // What the runtime starts: the kind and the flags of the cell's settings.
    if (t!.kind === 'engine' || n!.kind === 'engine') throw new Error('real targets expected');
    expect(t!.launch).toMatchObject({ kind: 'tornado', workers: 3 });
    expect(t!.launch.args.join(' ')).toContain('--workers 3');
    expect(n!.launch.args.join(' ')).toContain('--workers 3');
    // A workers value out of range is reported once, at the matrix.
    const tooMany = validateScenario({ ...s, matrix: { workers: [2, 65] } });
    expect(tooMany.ok ? [] : tooMany.errors).toEqual([
      'matrix.workers[1]: must be an integer from 1 to 64, got 65',
    ]);
  });

  test('an expectation selector matches real targets by their own settings', () => {
    const s = {
      ...base,
      targets: [
        { name: 't', kind: 'tornado', server: { loopCreation: 'pre-fork' } },
        { name: 'm', server: { loopCreation: 'post-fork' } },
      ],
      expectations: [
        { target: 'loopCreation=pre-fork', metric: 'clientErrors', op: '==', value: 0 },
      ],
    };
    const r = validateScenario(s);
    expect(r.ok ? [] : r.errors).toEqual([]);
    const cell = expandCells(r.ok ? r.scenario : (s as never))[0]!;
    expect(selectTargets('loopCreation=pre-fork', cell).map((x) => x.name)).toEqual(['t']);
    const none = validateScenario({
      ...s,
      expectations: [
        { target: 'loopCreation=pre-fork-late', metric: 'clientErrors', op: '==', value: 0 },
      ],
    });
    expect(none.ok ? [] : none.errors).toEqual([
      expect.stringContaining(
        '"loopCreation=pre-fork-late" selects no target (t: loopCreation=pre-fork; m: loopCreation=post-fork)',
      ),
    ]);
  });
});
