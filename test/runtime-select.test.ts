// Choosing the runtime: Docker when an engine answers, local processes with a one-line notice
// when none does, and a clear error when Docker was asked for and is not there.
import { probeDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import {
  NoDockerEngineError,
  parseRuntimePreference,
  selectRuntime,
} from '../lab/runtime/select-runtime';

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
});

const NO_ENGINE = 'unix:///nonexistent/forklab-test-docker.sock';

test('probeDocker answers quickly, with a reason, when there is no engine', async () => {
  process.env.DOCKER_HOST = NO_ENGINE;
  const t0 = performance.now();
  const probe = await probeDocker(1000);
  expect(probe).toEqual({ ok: false, reason: `${NO_ENGINE}: no such socket` });
  expect(performance.now() - t0).toBeLessThan(1500);
  expect(probeDockerSync(1000)).toEqual(probe);
});

test('auto falls back to local processes with a one-line notice', async () => {
  process.env.DOCKER_HOST = NO_ENGINE;
  const notices: string[] = [];
  const rt = await selectRuntime({ prefer: 'auto', notice: (l) => notices.push(l) });
  expect(rt.kind).toBe('local');
  expect(notices).toEqual([
    `forklab: no Docker engine answered (${NO_ENGINE}: no such socket); running the servers as local processes`,
  ]);
});

test('docker asked for with no engine is an error that names the fix', async () => {
  process.env.DOCKER_HOST = NO_ENGINE;
  const err = await selectRuntime({ prefer: 'docker', notice: () => undefined }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NoDockerEngineError);
  expect((err as Error).message).toMatch(/no Docker engine answered/);
  expect((err as Error).message).toMatch(/dockerd/);
  expect((err as Error).message).toMatch(/bash scripts\/setup\.sh/);
});

test('local is used when asked for, without asking the engine', async () => {
  process.env.DOCKER_HOST = NO_ENGINE;
  const notices: string[] = [];
  const rt = await selectRuntime({ prefer: 'local', notice: (l) => notices.push(l) });
  expect(rt.kind).toBe('local');
  expect(notices).toEqual([]);
});

test('auto picks docker when an engine answers', async () => {
  const probe = await probeDocker(2000);
  if (!probe.ok) {
    if (process.env.CI === 'true') throw new Error(`no Docker engine answered (${probe.reason})`);
    console.log(`skipped the docker half: ${probe.reason}`);
    return;
  }
  const rt = await selectRuntime({ prefer: 'auto', notice: () => undefined });
  expect(rt.kind).toBe('docker');
});

test('runtime preferences are parsed strictly', () => {
  expect(parseRuntimePreference(undefined)).toBe('auto');
  expect(parseRuntimePreference('local')).toBe('local');
  expect(() => parseRuntimePreference('podman')).toThrow(/auto, docker or local/);
});
