// connections_registered counts the connections added to epoll (Tornado's add_handler), at the
// place it happens: unpaced, every connection at accept; with the paced tornado4 request loop,
// only a connection whose inline read found no request (IOStream._try_inline_read → _add_io_state).
import net from 'node:net';
import { churnLoad } from './support/http-client';
import { sleep, startServe, stopAll } from './support/serve-process';

afterEach(stopAll);

/** Connects, waits `waitMs` before writing the request, reads until the server closes. */
function lateRequest(port: number, waitMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const giveUp = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${waitMs + 2000} ms`));
    }, waitMs + 2000);
    sock.on('connect', () => {
      setTimeout(
        () => sock.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        waitMs,
      );
    });
    sock.on('data', (b) => (got += b.toString('latin1')));
    sock.on('error', reject);
    sock.on('close', () => {
      clearTimeout(giveUp);
      resolve(got);
    });
  });
}

test('unpaced: every accepted connection is registered at accept', async () => {
  const s = await startServe(['--workers', '2']);
  const r = await churnLoad({ port: s.port, total: 50, concurrency: 4 });
  expect(r.responses).toBe(50);
  expect(await s.total('connections_opened')).toBe(50);
  expect(await s.total('connections_registered')).toBe(50);
});

test('paced tornado4: a request already there is read inline and never registered; a late one is', async () => {
  // 20 ms burned between the accept and the inline read: a request written right after the
  // connect is in the socket by then.
  const s = await startServe([
    '--workers',
    '1',
    '--pace',
    'tornado4',
    '--pace-cold-us',
    '0',
    '--pace-cold-request-us',
    '0',
    '--pace-accept-us',
    '20000',
  ]);
  const r = await churnLoad({ port: s.port, total: 20, concurrency: 2 });
  expect(r.responses).toBe(20);
  expect(await s.total('connections_opened')).toBe(20);
  expect(await s.total('connections_registered')).toBe(0);
  // A client that waits 300 ms after connecting: the inline read finds nothing, so the fd goes
  // into epoll once, and its request comes as an event.
  for (let i = 0; i < 3; i++) {
    expect(await lateRequest(s.port, 300)).toMatch(/^HTTP\/1\.1 200 /);
  }
  await sleep(50);
  expect(await s.total('connections_opened')).toBe(23);
  expect(await s.total('connections_registered')).toBe(3);
});
