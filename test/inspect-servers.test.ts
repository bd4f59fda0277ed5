// `forklab inspect` against real servers the lab did not write. What the kernel must show follows
// from how each one sets itself up:
// - nginx 1.22 (Debian): the master opens the listening socket and forks; each worker creates its
//   own epoll in ngx_epoll_init. With `accept_mutex off` and more than one worker it registers the
//   listening socket with EPOLLEXCLUSIVE (ngx_event_process_init, since 1.11.3); with `reuseport`
//   the master opens one socket per worker and each worker registers only its own, without the
//   exclusive flag.
// - Python asyncio (Debian's python3), test/fixtures/asyncio-fork-server.py: loop created after
//   fork → one epoll per worker watching the inherited socket; before fork → one epoll for all.
// - Node.js cluster, default round-robin scheduling: the primary owns the listening socket and
//   accepts in its own loop; workers get connections over IPC and never hold the socket.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Evidence } from '../lab/inspect/evidence';
import { inspectTarget } from '../lab/inspect/inspect';
import { NGINX, startNginx, type NginxProcess } from './support/nginx-process';
import { startReady, stopAllReady } from './support/ready-process';

const W = 3;
const PYTHON = '/usr/bin/python3';
const FIXTURES = path.join(__dirname, 'fixtures');
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const instance = (e: Evidence, id: string) => e.instances.find((x) => x.id === id)!;
const onPort = (e: Evidence, port: number) => e.listeners.filter((l) => l.port === port);

afterEach(stopAllReady);

describe('nginx', () => {
  let n: NginxProcess | undefined;
  afterEach(async () => {
    await n?.stop();
    n = undefined;
  });
  if (!existsSync(NGINX))
    throw new Error(`${NGINX} missing: bash scripts/setup.sh installs nginx-light`);

  it('accept_mutex off: each worker its own instance, the one listening socket watched with EPOLLEXCLUSIVE', async () => {
    n = await startNginx({ workers: W, listen: '', events: 'accept_mutex off;' });
    const r = await inspectTarget(n.pid);
    const [l, ...more] = onPort(r.evidence, n.port);
    expect(more).toEqual([]);
    expect(r.evidence.instances.filter((x) => x.pids.length > 1)).toEqual([]);
    expect(l!.watchedBy).toHaveLength(W);
    expect(l!.watchedBy.every((w) => w.exclusive)).toBe(true);
    expect(sorted(l!.watchedBy.flatMap((w) => instance(r.evidence, w.instance).pids))).toEqual(
      sorted(n.workerPids),
    );
    expect(l!.backlog).toBe(511); // nginx's default backlog on Linux (NGX_LISTEN_BACKLOG)
    expect(r.evidence.reuseportGroups).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.findings.map((f) => f.text).join()).toMatch(
      new RegExp(`${W} epoll instances, all with EPOLLEXCLUSIVE`),
    );
  });

  it("reuseport: a group of one socket per worker, each in that worker's instance only, no exclusive flag", async () => {
    n = await startNginx({ workers: W, listen: 'reuseport' });
    const r = await inspectTarget(n.pid);
    const ls = onPort(r.evidence, n.port);
    expect(ls).toHaveLength(W);
    expect(r.evidence.reuseportGroups).toHaveLength(1);
    expect(sorted(r.evidence.reuseportGroups[0]!.inodes)).toEqual(sorted(ls.map((l) => l.inode)));
    const owners = ls.map((l) => {
      expect(l.watchedBy).toHaveLength(1);
      expect(l.watchedBy[0]!.exclusive).toBe(false);
      return instance(r.evidence, l.watchedBy[0]!.instance).pids;
    });
    expect(sorted(owners.flat())).toEqual(sorted(n.workerPids));
    expect(r.exitCode).toBe(0);
  });
});

describe('Python asyncio, pre-forking', () => {
  const server = path.join(FIXTURES, 'asyncio-fork-server.py');

  it('loop created after fork: one instance per worker, all watching the inherited socket (herd)', async () => {
    const p = await startReady(PYTHON, [server, '--workers', String(W), '--loop', 'post-fork']);
    const r = await inspectTarget(p.pid);
    expect(r.evidence.instances.filter((x) => x.pids.length > 1)).toEqual([]);
    const [l] = onPort(r.evidence, p.port);
    expect(l!.watchedBy).toHaveLength(W);
    expect(l!.watchedBy.some((w) => w.exclusive)).toBe(false);
    expect(sorted(l!.watchedBy.flatMap((w) => instance(r.evidence, w.instance).pids))).toEqual(
      sorted(p.pids),
    );
    expect(r.exitCode).toBe(0);
    expect((await inspectTarget(p.pid, { strict: true })).exitCode).toBe(1);
  });

  it('loop created before fork: one instance shared by the parent and every worker', async () => {
    const p = await startReady(PYTHON, [server, '--workers', String(W), '--loop', 'pre-fork']);
    const r = await inspectTarget(p.pid);
    const shared = r.evidence.instances.filter((x) => x.pids.length > 1);
    expect(shared).toHaveLength(1);
    expect(sorted(shared[0]!.pids)).toEqual(sorted([p.pid, ...p.pids]));
    const [l] = onPort(r.evidence, p.port);
    expect(l!.watchedBy).toEqual([{ instance: shared[0]!.id, exclusive: false, trigger: 'level' }]);
    expect(r.exitCode).toBe(1);
    expect(r.findings[0]!.text).toMatch(/shared by 4 processes.*asyncio skips/);
  });
});

describe('Node.js cluster', () => {
  it('round-robin: only the primary holds and watches the listening socket; no instance is shared', async () => {
    const c = await startReady(process.execPath, [
      path.join(FIXTURES, 'cluster-server.js'),
      String(W),
    ]);
    const r = await inspectTarget(c.pid);
    expect(sorted(r.evidence.processes.filter((p) => p.pid !== c.pid).map((p) => p.pid))).toEqual(
      sorted(c.pids),
    );
    expect(r.evidence.instances.filter((x) => x.pids.length > 1)).toEqual([]);
    const [l, ...more] = onPort(r.evidence, c.port);
    expect(more).toEqual([]);
    expect(l!.heldBy).toEqual([c.pid]);
    expect(l!.watchedBy).toHaveLength(1);
    expect(instance(r.evidence, l!.watchedBy[0]!.instance).pids).toEqual([c.pid]);
    expect(r.exitCode).toBe(0);
  });
});
