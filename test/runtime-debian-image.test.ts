// The Debian images of the real servers, built from this machine's apt sources (once per machine:
// the tag is the hash of the inputs, so a second call reuses the image), and real Tornado 6.2 from
// Debian serving in a container on the host's loopback.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import {
  aptSourceFiles,
  debianImageTag,
  ensureDebianImage,
  ensureTornadoImage,
} from '../lab/runtime/debian-image';
import { runLoad } from '../lab/load/load-driver';
import { connectDocker } from '../lab/runtime/docker-engine';
import { freePorts } from '../lab/runtime/free-ports';
import { LABEL_MANAGED } from '../lab/runtime/labels';
import type { ServerSnapshot } from '../lab/server/snapshot';
import { waitFor } from './support/serve-process';

// mmdebstrap takes 1 to 8 minutes the first time on this kind of machine (idle or busy).
jest.setTimeout(25 * 60_000);

let docker: Docker;
const containers: Docker.Container[] = [];
beforeAll(() => {
  docker = connectDocker();
});
afterAll(async () => {
  await Promise.allSettled(containers.map((c) => c.remove({ force: true })));
});

/** Runs `cmd` in `image` with host networking; resolves with its exit code and output. */
async function run(
  image: string,
  cmd: string[],
  entrypoint?: string[],
): Promise<{ code: number; out: string }> {
  const c = await docker.createContainer({
    Image: image,
    Cmd: cmd,
    ...(entrypoint ? { Entrypoint: entrypoint } : {}),
    name: `forklab-test-debian-${randomBytes(4).toString('hex')}`,
    Labels: { [LABEL_MANAGED]: 'true' },
    HostConfig: { NetworkMode: 'host' },
  });
  containers.push(c);
  const stream = await c.attach({ stream: true, stdout: true, stderr: true });
  let out = '';
  const sink = new PassThrough().setEncoding('utf8').on('data', (d: string) => (out += d));
  docker.modem.demuxStream(stream, sink, sink);
  await c.start();
  const { StatusCode } = (await c.wait()) as { StatusCode: number };
  await new Promise((r) => setTimeout(r, 50));
  return { code: StatusCode, out };
}

test('the tag covers the apt sources: other sources, other tag', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-sources-'));
  try {
    const [first] = aptSourceFiles();
    writeFileSync(path.join(dir, 'a.sources'), 'Types: deb\n');
    const a = await debianImageTag(dir);
    writeFileSync(path.join(dir, 'a.sources'), 'Types: deb-src\n');
    const b = await debianImageTag(dir);
    expect(a).not.toBe(b);
    expect(first).toMatch(/\.(sources|list)$/);
    expect(() => aptSourceFiles(path.join(dir, 'none'))).toThrow(/no apt sources/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forklab-debian: Debian python3-tornado 6.2 and nginx-light in a root built here, reused the second time', async () => {
  const first = await ensureDebianImage(docker);
  expect(first.tag).toMatch(/^forklab-debian:[0-9a-f]{12}$/);
  const again = await ensureDebianImage(docker);
  expect(again).toMatchObject({ tag: first.tag, built: false });

  const py = await run(
    first.tag,
    ['-c', 'import tornado; print(tornado.version)'],
    ['/usr/bin/python3'],
  );
  expect(py).toEqual({ code: 0, out: '6.2\n' });
  const ngx = await run(first.tag, ['-v'], ['/usr/sbin/nginx']);
  expect(ngx.code).toBe(0);
  expect(ngx.out).toMatch(/nginx version: nginx\/1\.22\./);
});

test('forklab-tornado: the app serves from a container on the host loopback, pre-fork shows unknown-fd events', async () => {
  const image = await ensureTornadoImage(docker);
  expect(image.tag).toMatch(/^forklab-tornado:[0-9a-f]{12}$/);
  const [port, metricsPort] = await freePorts(2);
  const c = await docker.createContainer({
    Image: image.tag,
    Cmd: [
      '--port',
      String(port),
      '--metrics-port',
      String(metricsPort),
      '--workers',
      '2',
      '--loop-creation',
      'pre-fork',
    ],
    name: `forklab-test-tornado-${randomBytes(4).toString('hex')}`,
    Labels: { [LABEL_MANAGED]: 'true' },
    HostConfig: { NetworkMode: 'host' },
  });
  containers.push(c);
  await c.start();
  await waitFor(
    'tornado in a container: /healthz 200',
    async () =>
      (await fetch(`http://127.0.0.1:${metricsPort}/healthz`).catch(() => null))?.status === 200
        ? true
        : undefined,
    20_000,
  );
  // One keep-alive connection, so one worker owns it and the other has no fd of that number:
  // the events for it that the shared epoll hands to the other worker are ones it has no key for.
  const client = await runLoad({
    urls: [`http://127.0.0.1:${port}`],
    load: { mode: 'keep-alive', connections: 1, durationSec: 2, timeoutMs: 5000 },
    phase: 'load',
  });
  expect(client.errors + client.timeouts).toBe(0);
  await new Promise((r) => setTimeout(r, 300));
  const snap = (await (
    await fetch(`http://127.0.0.1:${metricsPort}/snapshot.json`)
  ).json()) as ServerSnapshot;
  expect(snap.config).toMatchObject({ kind: 'tornado', tornadoVersion: '6.2' });
  expect(snap.workers.reduce((n, w) => n + (w.counters.requests ?? 0), 0)).toBe(client.responses);
  expect(snap.workers.reduce((n, w) => n + (w.counters.unknown_fd_events ?? 0), 0)).toBeGreaterThan(
    0,
  );
  await c.stop({ t: 3 });
});
