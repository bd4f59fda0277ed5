// The scenario's `engines` and `placement`: addresses as DOCKER_HOST takes them, every error with
// its field and the fix, and which engines a scenario uses.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  DEFAULT_ENGINE,
  engineOfTarget,
  enginesUsed,
  parseEngineAddress,
} from '../lab/scenario/engines';
import { validateScenario } from '../lab/scenario/validate-scenario';

const base = {
  kind: 'scenario',
  name: 'placed',
  description: 'd',
  targets: [
    { name: 'a', server: {} },
    { name: 'b', server: {} },
    { name: 'n', kind: 'command', command: { image: 'mine:1', workers: 2 } },
  ],
  load: { mode: 'keep-alive', connections: 4, durationSec: 1 },
};

function errorsOf(extra: Record<string, unknown>): string[] {
  const r = validateScenario({ ...base, ...extra });
  return r.ok ? [] : r.errors;
}

describe('engine addresses', () => {
  it('takes unix, tcp and ssh addresses apart; servers on a unix engine are on this machine', () => {
    expect(parseEngineAddress('unix:///run/e2/docker.sock')).toEqual({
      scheme: 'unix',
      host: '127.0.0.1',
      socketPath: '/run/e2/docker.sock',
    });
    expect(parseEngineAddress('tcp://10.0.0.2:2376')).toEqual({
      scheme: 'tcp',
      host: '10.0.0.2',
      port: 2376,
    });
    expect(parseEngineAddress('ssh://lab@host-b.example')).toEqual({
      scheme: 'ssh',
      host: 'host-b.example',
      username: 'lab',
    });
  });

  it('names the problem with a bad address and the fix', () => {
    expect(parseEngineAddress('https://10.0.0.2:2376')).toBe(
      'scheme "https://" is not one of unix://, tcp://, ssh:// (write tcp://10.0.0.2:2376; TLS is given by tls: { ca, cert, key })',
    );
    expect(parseEngineAddress('unix://run/docker.sock')).toMatch(/absolute socket path/);
    expect(parseEngineAddress('tcp://10.0.0.2')).toMatch(/needs a port/);
    expect(parseEngineAddress('/var/run/docker.sock')).toMatch(/as DOCKER_HOST takes it/);
  });
});

describe('validation of engines and placement', () => {
  it('accepts engines with placements of targets and drivers', () => {
    expect(
      errorsOf({
        engines: {
          b2: { address: 'unix:///run/e2/docker.sock' },
          remote: {
            address: 'tcp://10.0.0.2:2376',
            tls: { ca: '/c/ca.pem', cert: '/c/cert.pem', key: '/c/key.pem' },
          },
        },
        placement: { targets: { a: 'b2', b: 'default' }, drivers: 'remote' },
      }),
    ).toEqual([]);
  });

  it('returns every error at once, each naming its field and the fix', () => {
    expect(
      errorsOf({
        engines: {
          default: { address: 'unix:///x.sock' },
          B: { address: 'unix:///y.sock' },
          e2: { address: 'http://h:1', extra: 1 },
          e3: { address: 'ssh://u@h', tls: { ca: 'a', cert: 'b', key: 'c' } },
          e4: 'unix:///z.sock',
        },
        placement: { targets: { a: 'nope', zz: 'e2', n: 'e2' }, drivers: 5, extra: true },
      }),
    ).toEqual([
      'engines.default: "default" is the engine the lab already uses (DOCKER_HOST or /var/run/docker.sock); give this engine another name',
      'engines.B: an engine name must be 1 to 40 lowercase letters, digits or "-", starting with a letter or digit',
      'engines.e2.extra: unknown field; an engine has address and tls',
      'engines.e2.address: scheme "http://" is not one of unix://, tcp://, ssh:// (write tcp://h:1; TLS is given by tls: { ca, cert, key }), got "http://h:1"',
      'engines.e3.tls: only a tcp:// engine is reached over TLS (ssh:// has its own transport); remove tls',
      'engines.e4: must be an object { address: "unix:///…" | "tcp://HOST:PORT" | "ssh://USER@HOST", tls? }, got "unix:///z.sock"',
      'placement.extra: unknown field; placement has targets and drivers',
      'placement.drivers: must name an engine: one of "default", "e2", "e3", "e4", got 5',
      'placement.targets.a: must name an engine: one of "default", "e2", "e3", "e4" (declare "nope" in engines: { "nope": { address: "unix:///…" } }), got "nope"',
      'placement.targets.zz: no target is named "zz"; targets are "a", "b", "n"',
      'placement.targets.n: a command target runs on the default engine only (its probes attach to its processes from this machine); remove it from placement',
    ]);
  });

  it('a tcp engine with TLS needs every file named', () => {
    expect(
      errorsOf({ engines: { r: { address: 'tcp://h:2376', tls: { ca: '/ca.pem', cert: '' } } } }),
    ).toEqual([
      'engines.r.tls.cert: must be the path of a PEM file, got ""',
      'engines.r.tls.key: must be the path of a PEM file, missing',
    ]);
  });
});

describe('engines used', () => {
  it('lists the default engine first, then each engine something is placed on, once', () => {
    const engines = { b2: { address: 'unix:///b2.sock' }, idle: { address: 'unix:///i.sock' } };
    const used = enginesUsed({
      engines,
      placement: { targets: { a: 'b2', b: 'b2' }, drivers: 'b2' },
    });
    expect(used).toEqual([
      { name: DEFAULT_ENGINE, spec: null },
      { name: 'b2', spec: engines.b2 },
    ]);
    expect(engineOfTarget({ targets: { a: 'b2' } }, 'a')).toBe('b2');
    expect(engineOfTarget({ targets: { a: 'b2' } }, 'b')).toBe(DEFAULT_ENGINE);
    expect(engineOfTarget(undefined, 'a')).toBe(DEFAULT_ENGINE);
  });
});

describe('engines need the Docker runtime', () => {
  it('forklab run with --runtime local refuses a scenario with engines: exit 2, nothing started', () => {
    const r = spawnSync(
      process.execPath,
      [path.join(__dirname, '..', 'bin', 'forklab.js'), 'run', 'two-engines', '--runtime', 'local'],
      {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, FORKLAB_ENGINE2: 'unix:///x.sock' },
      },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'forklab run: --runtime: the scenario places targets or load generators on Docker engines (engines, placement), which needs the Docker runtime: leave out --runtime local',
    );
    expect(r.stderr).toContain('nothing was started');
  });
});
