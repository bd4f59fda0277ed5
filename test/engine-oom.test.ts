// A real OOM kill: the worker is moved into a memory cgroup of its own, a child of the
// supervisor's, with a limit of 8 MiB; clients hold many connections with large unfinished heads
// (each within every per-connection bound, together over the limit), and the kernel's OOM killer
// takes the worker, the group's only process. The supervisor sees the kill in the machine's count
// (/proc/vmstat; cgroup v1 does not count a child group's kills in its parent, v2 does). It must
// say "out of memory" and count reason="oom". Needs root and a writable memory cgroup (v1, or v2 with
// the memory controller enabled for child groups); skipped otherwise.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { cgroupPaths } from '../lab/server/oom-kills';
import { oneShot } from './support/http-client';
import { sleep, startServe, stopAll, waitFor } from './support/serve-process';

interface Group {
  dir: string;
  procs: string;
  limit: string;
  usage: string;
}

/** A fresh child memory cgroup of this process's own, or why there is none. */
function makeGroup(): Group | string {
  if (process.getuid?.() !== 0) return 'not root';
  const paths = cgroupPaths(readFileSync('/proc/self/cgroup', 'utf8'));
  const name = `forklab-oom-test-${process.pid}`;
  try {
    if (paths.v1Memory !== undefined && existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
      const own = path.join('/sys/fs/cgroup/memory', paths.v1Memory);
      const dir = path.join(existsSync(own) ? own : '/sys/fs/cgroup/memory', name);
      mkdirSync(dir);
      return {
        dir,
        procs: path.join(dir, 'cgroup.procs'),
        limit: path.join(dir, 'memory.limit_in_bytes'),
        usage: path.join(dir, 'memory.usage_in_bytes'),
      };
    }
    if (paths.v2 !== undefined && existsSync('/sys/fs/cgroup/cgroup.controllers')) {
      const parent = path.join('/sys/fs/cgroup', paths.v2);
      const sub = readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8');
      if (!sub.split(/\s+/).includes('memory')) return 'cgroup v2 without memory for child groups';
      const dir = path.join(parent, name);
      mkdirSync(dir);
      return {
        dir,
        procs: path.join(dir, 'cgroup.procs'),
        limit: path.join(dir, 'memory.max'),
        usage: path.join(dir, 'memory.current'),
      };
    }
  } catch (err) {
    return `cannot make a memory cgroup: ${(err as Error).message}`;
  }
  return 'no memory cgroup';
}

const group = makeGroup();
const it = typeof group === 'string' ? test.skip : test;
if (typeof group === 'string') console.log(`engine-oom: skipped (${group})`);

afterAll(async () => {
  await stopAll();
  if (typeof group === 'string') return;
  // The group can go once its processes have (the supervisor kills its workers as it exits).
  await waitFor('cgroup empty', async () => {
    try {
      rmdirSync(group.dir);
      return true;
    } catch {
      return undefined;
    }
  });
});

it('a worker killed by the OOM killer is logged and counted as oom, and replaced', async () => {
  const g = group as Group;
  const s = await startServe(['--workers', '1']);
  const worker = s.pids[0]!;
  writeFileSync(g.limit, String(8 * 1024 * 1024));
  writeFileSync(g.procs, String(worker)); // its memory from now on is charged to the group

  // Each connection: a valid head of about 28 KiB that never ends (below every per-connection
  // limit, so the worker keeps it until the header timeout); 800 of them need over 20 MiB.
  const field = (i: number) => `X-${i}: ${'v'.repeat(7000)}\r\n`;
  const partial = `GET / HTTP/1.1\r\nHost: x\r\n${[0, 1, 2, 3].map(field).join('')}`;
  const socks: net.Socket[] = [];
  try {
    for (let i = 0; i < 800; i++) {
      const sock = net.connect(s.port, '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write(partial);
      socks.push(sock);
      if (i % 50 === 49) {
        await sleep(20);
        if ((await s.snapshot()).workers[0]!.exits.oom > 0) break;
      }
    }
    const w = await waitFor(
      'OOM kill counted',
      async () => {
        const snap = await s.snapshot();
        return snap.workers[0]!.exits.oom > 0 ? snap.workers[0]! : undefined;
      },
      10_000,
    );
    expect(w.exits).toMatchObject({ oom: 1, signal: 0 });
    expect(s.stderr()).toMatch(
      new RegExp(
        `worker 0 \\(pid ${worker}\\) killed by SIGKILL: out of memory \\(the kernel's OOM killer; counted in \\S+ oom_kill[^;]*\\); restarting \\(1/10\\)`,
      ),
    );
    expect(await s.metrics()).toContain('forklab_worker_exits_total{worker="0",reason="oom"} 1');
    // Replaced (forked into the supervisor's group, without the limit), and it answers.
    for (const sock of socks) sock.destroy();
    await waitFor('replacement up', async () => {
      const snap = await s.snapshot();
      return snap.workers[0]!.up && snap.workers[0]!.pid !== worker ? true : undefined;
    });
    const r = await oneShot(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.response?.status).toBe(200);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nserver stderr:\n${s.stderr()}`);
  } finally {
    for (const sock of socks) sock.destroy();
  }
});
