// `forklab inspect` against the engine in every set-up. What the kernel must show follows from how
// the engine builds each one (native/engine.cc, worker.cc): post-fork workers create their own
// epoll after fork and register the inherited listening socket in it; pre-fork the supervisor
// creates one epoll before fork and registers the socket; pre-fork-late the supervisor creates the
// epoll and the first worker registers the socket (the others get EEXIST); --exclusive sets
// EPOLLEXCLUSIVE on the listening socket; --reuseport opens one socket per worker; --trigger edge
// registers connections with EPOLLET. Worker pids come from the server's own FORKLAB_READY line.
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { main } from '../lab/cli';
import { checkDeclared, type DeclaredSetup } from '../lab/inspect/check-declared';
import type { Evidence } from '../lab/inspect/evidence';
import { inspectTarget, type Inspection } from '../lab/inspect/inspect';
import { startServe, stopAll, waitFor, type RunningServe } from './support/serve-process';

afterEach(stopAll);

const W = 3;
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

function listenersOn(e: Evidence, port: number) {
  return e.listeners.filter((l) => l.endpoint === `127.0.0.1:${port}`);
}
function instance(e: Evidence, id: string) {
  return e.instances.find((x) => x.id === id)!;
}

async function startAndInspect(args: string[]): Promise<{ s: RunningServe; r: Inspection }> {
  const s = await startServe(['--workers', String(W), ...args]);
  const r = await inspectTarget(s.proc.pid!);
  return { s, r };
}

const declared = (d: Partial<DeclaredSetup> & { port: number }): DeclaredSetup => ({
  loopCreation: 'post-fork',
  workers: W,
  exclusive: false,
  reusePort: false,
  ...d,
});

describe('forklab inspect: the engine', () => {
  it('post-fork: one own instance per worker watches the listening socket, no EPOLLEXCLUSIVE (herd)', async () => {
    const { s, r } = await startAndInspect(['--loop-creation', 'post-fork']);
    const e = r.evidence;
    expect(e.sharingKnown).toBe(true);
    expect(e.instances.filter((x) => x.pids.length > 1)).toEqual([]);
    const [l, ...more] = listenersOn(e, s.port);
    expect(more).toEqual([]);
    expect(l!.watchedBy).toHaveLength(W);
    expect(l!.watchedBy.every((w) => !w.exclusive && w.trigger === 'level')).toBe(true);
    expect(sorted(l!.watchedBy.flatMap((w) => instance(e, w.instance).pids))).toEqual(
      sorted(s.pids),
    );
    expect(l!.backlog).toBe(128);
    expect(r.exitCode).toBe(0);
    expect(
      r.findings
        .filter((f) => f.severity === 'cost')
        .map((f) => f.text)
        .join(),
    ).toMatch(
      new RegExp(
        `watched by ${W} epoll instances, ${W} without EPOLLEXCLUSIVE: up to ${W} wake-ups`,
      ),
    );
    expect(checkDeclared(e, declared({ port: s.port }))).toEqual([]);
    expect(checkDeclared(e, declared({ port: s.port, exclusive: true })).join()).toMatch(
      /without EPOLLEXCLUSIVE/,
    );
    expect(checkDeclared(e, declared({ port: s.port, reusePort: true })).join()).toMatch(
      /but 1 listening socket on/,
    );
    expect(checkDeclared(e, declared({ port: s.port, loopCreation: 'pre-fork' })).join()).toMatch(
      /no epoll instance is shared/,
    );
  });

  it('post-fork --exclusive: every worker instance carries EPOLLEXCLUSIVE on the listening socket', async () => {
    const { s, r } = await startAndInspect(['--loop-creation', 'post-fork', '--exclusive']);
    const [l] = listenersOn(r.evidence, s.port);
    expect(l!.watchedBy).toHaveLength(W);
    expect(l!.watchedBy.every((w) => w.exclusive)).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.findings.some((f) => f.severity === 'cost')).toBe(false);
    expect(r.findings.map((f) => f.text).join()).toMatch(/all with EPOLLEXCLUSIVE/);
    expect(checkDeclared(r.evidence, declared({ port: s.port, exclusive: true }))).toEqual([]);
    expect(checkDeclared(r.evidence, declared({ port: s.port })).join()).toMatch(
      /with EPOLLEXCLUSIVE/,
    );
  });

  it('post-fork --reuseport: a group of one socket per worker, each watched by that worker alone', async () => {
    const { s, r } = await startAndInspect(['--loop-creation', 'post-fork', '--reuseport']);
    const ls = listenersOn(r.evidence, s.port);
    expect(ls).toHaveLength(W);
    expect(r.evidence.reuseportGroups).toEqual([
      { endpoint: `127.0.0.1:${s.port}`, inodes: expect.any(Array) },
    ]);
    expect(sorted(r.evidence.reuseportGroups[0]!.inodes)).toEqual(sorted(ls.map((l) => l.inode)));
    const owners = ls.map((l) => {
      expect(l.watchedBy).toHaveLength(1);
      return instance(r.evidence, l.watchedBy[0]!.instance).pids;
    });
    expect(sorted(owners.flat())).toEqual(sorted(s.pids));
    expect(r.exitCode).toBe(0);
    expect(r.findings.map((f) => f.text).join()).toMatch(new RegExp(`SO_REUSEPORT group of ${W}`));
    expect(checkDeclared(r.evidence, declared({ port: s.port, reusePort: true }))).toEqual([]);
    expect(checkDeclared(r.evidence, declared({ port: s.port })).join()).toMatch(
      new RegExp(`${W} listening sockets`),
    );
  });

  it('pre-fork: one instance held by the supervisor and every worker, watching the listening socket', async () => {
    const { s, r } = await startAndInspect(['--loop-creation', 'pre-fork']);
    const shared = r.evidence.instances.filter((x) => x.pids.length > 1);
    expect(shared).toHaveLength(1);
    expect(sorted(shared[0]!.pids)).toEqual(sorted([s.proc.pid!, ...s.pids]));
    const [l] = listenersOn(r.evidence, s.port);
    expect(l!.watchedBy).toEqual([{ instance: shared[0]!.id, exclusive: false, trigger: 'level' }]);
    expect(r.exitCode).toBe(1);
    expect(r.findings[0]!.severity).toBe('risk');
    expect(r.findings[0]!.text).toMatch(new RegExp(`shared by ${W + 1} processes.*KeyError`));
    expect(checkDeclared(r.evidence, declared({ port: s.port, loopCreation: 'pre-fork' }))).toEqual(
      [],
    );
    expect(checkDeclared(r.evidence, declared({ port: s.port })).join()).toMatch(
      /declared post-fork, but epoll instance E\d+ is shared/,
    );

    // Without kcmp the sharing cannot be told: exit code 2, and it says why.
    const blind = await inspectTarget(s.proc.pid!, {
      kcmp: { unavailable: 'switched off for this test' },
    });
    expect(blind.exitCode).toBe(2);
    expect(blind.evidence.instances.every((x) => x.pids.length === 1)).toBe(true);
    expect(blind.evidence.unseen.join()).toMatch(/kcmp unavailable \(switched off for this test\)/);
  });

  it('pre-fork-late: one shared instance; the listening socket is in it once (the others got EEXIST)', async () => {
    const { s, r } = await startAndInspect([
      '--loop-creation',
      'pre-fork-late',
      '--on-eexist',
      'ignore',
    ]);
    const shared = r.evidence.instances.filter((x) => x.pids.length > 1);
    expect(shared).toHaveLength(1);
    expect(sorted(shared[0]!.pids)).toEqual(sorted([s.proc.pid!, ...s.pids]));
    const [l] = listenersOn(r.evidence, s.port);
    expect(l!.watchedBy).toEqual([{ instance: shared[0]!.id, exclusive: false, trigger: 'level' }]);
    expect(r.exitCode).toBe(1);
    expect(
      checkDeclared(r.evidence, declared({ port: s.port, loopCreation: 'pre-fork-late' })),
    ).toEqual([]);
  });

  it.each(['pre-fork', 'post-fork'] as const)(
    '--trigger edge (%s): open connections are registered edge-triggered where the kernel shows them',
    async (loop) => {
      const s = await startServe([
        '--workers',
        String(W),
        '--loop-creation',
        loop,
        '--trigger',
        'edge',
      ]);
      const clients: net.Socket[] = [];
      try {
        for (let i = 0; i < 6; i++) {
          const c = net.connect(s.port, '127.0.0.1');
          await new Promise((res, rej) => c.once('connect', res).once('error', rej));
          clients.push(c);
        }
        const peers = sorted(clients.map((c) => c.localPort!));
        const r = await waitFor('every client connection registered', async () => {
          const x = await inspectTarget(s.proc.pid!);
          const conns = x.evidence.instances.flatMap((i) =>
            i.watches.filter((w) => w.kind === 'tcp connection'),
          );
          return conns.length === peers.length ? x : undefined;
        });
        const conns = r.evidence.instances.flatMap((x) =>
          x.watches.filter((w) => w.kind === 'tcp connection').map((w) => ({ w, x })),
        );
        expect(sorted(conns.map(({ w }) => Number(w.remote!.split(':')[1])))).toEqual(peers);
        expect(
          conns.every(({ w }) => w.trigger === 'edge' && w.local === `127.0.0.1:${s.port}`),
        ).toBe(true);
        const edgeRisk = r.findings.filter((f) =>
          /edge-triggered connections? in shared instance/.test(f.text),
        );
        if (loop === 'pre-fork') {
          expect(conns.every(({ x }) => x.pids.length === W + 1)).toBe(true);
          expect(edgeRisk).toHaveLength(1);
          expect(edgeRisk[0]!.text).toMatch(/^6 edge-triggered connections.*hangs/);
          expect(r.exitCode).toBe(1);
        } else {
          expect(conns.every(({ x }) => x.pids.length === 1 && s.pids.includes(x.pids[0]!))).toBe(
            true,
          );
          expect(edgeRisk).toEqual([]);
          expect(r.exitCode).toBe(0);
        }
      } finally {
        for (const c of clients) c.destroy();
      }
    },
  );
});

describe('forklab inspect: the command', () => {
  function io() {
    let out = '';
    let err = '';
    return {
      io: {
        stdout: { write: (t: string) => (out += t) },
        stderr: { write: (t: string) => (err += t) },
      },
      out: () => out,
      err: () => err,
    };
  }

  it('prints text or JSON and exits 1 on a shared instance', async () => {
    const s = await startServe(['--workers', '2', '--loop-creation', 'pre-fork']);
    const t = io();
    expect(await main(['inspect', String(s.proc.pid)], {}, t.io)).toBe(1);
    expect(t.out()).toMatch(/SHARED by 3 processes/);
    expect(t.out()).toMatch(/RISK/);
    const j = io();
    expect(await main(['inspect', String(s.proc.pid), '--json'], {}, j.io)).toBe(1);
    const parsed = JSON.parse(j.out()) as Evidence & { exitCode: number };
    expect(parsed.exitCode).toBe(1);
    expect(parsed.rootPid).toBe(s.proc.pid);
  });

  it('exits 2 when it cannot inspect: bad arguments, a process that is gone', async () => {
    const bad = io();
    expect(await main(['inspect'], {}, bad.io)).toBe(2);
    expect(bad.err()).toMatch(/exactly one target/);
    expect(await main(['inspect', 'abc'], {}, bad.io)).toBe(2);
    expect(bad.err()).toMatch(/pid must be a positive integer/);
    const s = await startServe(['--workers', '1']);
    const pid = s.proc.pid!;
    await s.stop();
    const gone = io();
    expect(await main(['inspect', String(pid)], {}, gone.io)).toBe(2);
    expect(gone.err()).toMatch(/process gone/);
  });

  it('exits 2 saying "permission denied" when run without the right to read the fds', () => {
    if (process.getuid?.() !== 0) return; // needs root to start as another user; CI runs as root
    // This test's own process belongs to root: user nobody may not read its fd table.
    const r = spawnSync(
      'runuser',
      [
        '-u',
        'nobody',
        '--',
        process.execPath,
        path.resolve(__dirname, '..', 'bin', 'forklab.js'),
        'inspect',
        String(process.pid),
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`process ${process.pid}: fd table: permission denied`));
  });
});
