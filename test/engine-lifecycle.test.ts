// Workers as processes: restarts, cycling, shutdown, and no zombies.
import { keepAliveLoad, oneShot } from './support/http-client';
import { procState, startServe, stopAll, waitFor } from './support/serve-process';

afterEach(stopAll);

test('a killed worker is reaped, counted and restarted; the server keeps serving', async () => {
  const s = await startServe(['--workers', '2']);
  const victim = s.pids[0]!;
  process.kill(victim, 'SIGKILL');
  const snap = await waitFor('worker 0 restarted', async () => {
    const snap = await s.snapshot();
    const w = snap.workers[0]!;
    return w.up && w.pid !== victim ? snap : undefined;
  });
  expect(snap.workers[0]!.restartsByReason.crash).toBe(1);
  expect(snap.workers[0]!.exits.signal).toBe(1);
  expect(await procState(victim)).toBeNull(); // reaped: no zombie left behind
  expect(s.stderr()).toMatch(/worker 0 .*SIGKILL/);
  const m = await s.metrics();
  expect(m).toMatch(/^forklab_worker_restarts_total\{[^}]*reason="crash"[^}]*\} 1$/m);
  const r = await keepAliveLoad({ port: s.port, connections: 4, perConnection: 25 });
  expect(r.responses).toBe(100);
});

test('max requests: workers cycle, the counters carry on, the client sees no failure', async () => {
  const s = await startServe(['--workers', '2', '--max-requests', '100']);
  const r = await keepAliveLoad({ port: s.port, connections: 1, perConnection: 90 });
  expect(r.responses).toBe(90);
  // Sequential connections, each until the server closes it after its cycle.
  let got = 0;
  for (let i = 0; i < 10 && got < 500; i++) {
    const x = await keepAliveLoad({ port: s.port, connections: 1, perConnection: 100 });
    got += x.responses;
  }
  const snap = await waitFor('a cycled worker restarted', async () => {
    const snap = await s.snapshot();
    return snap.workers.some((w) => w.restartsByReason.cycled > 0) &&
      snap.workers.every((w) => w.up)
      ? snap
      : undefined;
  });
  const cycled = snap.workers.reduce((a, w) => a + w.exits.cycled, 0);
  expect(cycled).toBeGreaterThan(0);
  const requests = snap.workers.reduce((a, w) => a + w.counters.requests!, 0);
  expect(requests).toBe(90 + got); // counters survive restarts
});

test('SIGTERM stops every worker, reaps them, exits 0', async () => {
  const s = await startServe(['--workers', '3', '--loop-creation', 'pre-fork']);
  await keepAliveLoad({ port: s.port, connections: 3, perConnection: 10 });
  const { code } = await s.stop('SIGTERM');
  expect(code).toBe(0);
  for (const pid of s.pids) expect(await procState(pid)).toBeNull();
});

test('a supervisor killed outright takes its workers with it', async () => {
  const s = await startServe(['--workers', '2']);
  await s.stop('SIGKILL');
  await waitFor('workers gone', async () =>
    (await Promise.all(s.pids.map(procState))).every((st) => st === null) ? true : undefined,
  );
});

test('a worker keeps only the fds it needs: nothing of the Node.js parent leaks into it', async () => {
  const { readdir, readlink } = await import('node:fs/promises');
  const fdsOf = async (pid: number) => {
    const out = new Map<number, string>();
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      // The supervisor opens and closes fds of its own at any time: skip one that just went.
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null);
      if (link !== null) out.set(Number(fd), link);
    }
    return out;
  };
  const s = await startServe(['--workers', '1']);
  // A worker that has answered a request has finished its set-up (closing what it inherited).
  const served = await oneShot(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(served.response?.status).toBe(200);
  const worker = await fdsOf(s.pids[0]!);
  const parent = await fdsOf(s.proc.pid!);
  expect(worker.get(0)).toBe('/dev/null');
  expect(worker.get(1)).toBe(parent.get(1)); // the supervisor's stdout and stderr
  expect(worker.get(2)).toBe(parent.get(2));
  const rest = [...worker.entries()]
    .filter(([fd]) => fd > 2)
    .map(([, l]) => l.replace(/\d+/g, 'N'))
    .sort();
  // The listening socket, the worker's own epoll and its waker pipe, the EMFILE reserve fd.
  expect(rest).toEqual([
    '/dev/null',
    'anon_inode:[eventpoll]',
    'pipe:[N]',
    'pipe:[N]',
    'socket:[N]',
  ]);
  // The supervisor has many more (libuv's epoll and eventfds, the metrics server...).
  expect(parent.size).toBeGreaterThan(worker.size + 2);
});
