// --reuseport must not join a port another program already listens on with SO_REUSEPORT (the
// kernel would spread connections over both, silently): start-up fails naming that process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { oneShot } from './support/http-client';
import { startServe, stopAll } from './support/serve-process';

afterEach(stopAll);

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** A process listening on 127.0.0.1:<free port> with SO_REUSEPORT; resolves with it and the port. */
function reusePortListener(): Promise<{ proc: ChildProcess; port: number }> {
  const script = [
    'import socket, sys',
    's = socket.socket()',
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)',
    "s.bind(('127.0.0.1', 0))",
    's.listen(16)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()', // until the test closes our stdin (or dies)
  ].join('\n');
  const proc = spawn(PYTHON, ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('python listener did not start')), 5000);
    proc.stdout!.setEncoding('utf8').once('data', (d: string) => {
      clearTimeout(t);
      resolve({ proc, port: Number(d.trim()) });
    });
  });
}

test('--reuseport on a port another process listens on fails, naming the process', async () => {
  const { proc, port } = await reusePortListener();
  try {
    const err = await startServe(['--workers', '2', '--reuseport', '--port', String(port)]).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err).toBeDefined();
    expect(err).toContain(`port ${port} is already listened on by pid ${proc.pid} (python`);
    expect(err).toContain('choose another --port');
  } finally {
    proc.stdin!.end();
    proc.kill();
  }
});

test('--reuseport on the same port once that process is gone starts and serves', async () => {
  const { proc, port } = await reusePortListener();
  proc.stdin!.end();
  await new Promise((r) => proc.once('exit', r));
  const s = await startServe(['--workers', '2', '--reuseport', '--port', String(port)]);
  expect(s.port).toBe(port);
  expect(
    (await oneShot(s.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).response
      ?.status,
  ).toBe(200);
});
