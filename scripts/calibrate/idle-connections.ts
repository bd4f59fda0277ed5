// Connections that send nothing: each one's first read in the server finds nothing, so the server
// takes the path of a connection whose request has not come yet (for Tornado 4.5.3, IOStream
// registering the fd and the request coroutines suspending). Used by the calibration to time that
// path in a busy server. They come in bursts, opened at once, as wrk's fresh connections come to a
// worker that has caught up with it: the worker takes a burst in one pass of its accept loop, the
// empty path's code hot from the connection before.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const CONNECT_TIMEOUT_MS = 2000;

/** One connection to 127.0.0.1:port, resolved once connected; rejects after CONNECT_TIMEOUT_MS. */
function connect(port: number, open: net.Socket[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    open.push(s); // destroyed by the caller whatever happens
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `idle connection to 127.0.0.1:${port}: not connected within ${CONNECT_TIMEOUT_MS} ms`,
          ),
        ),
      CONNECT_TIMEOUT_MS,
    );
    s.once('connect', () => {
      clearTimeout(timer);
      s.on('error', () => {}); // a reset at the end is no news
      resolve();
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/**
 * Opens `count` connections to 127.0.0.1:port in bursts of `burst` opened at once, `gapMs` between
 * bursts, writes nothing on them, holds them all open for `holdMs`, then closes them. Every socket
 * is destroyed also when one fails to connect.
 */
export async function idleConnections(
  port: number,
  count: number,
  { burst = 1, gapMs = 2, holdMs = 200 }: { burst?: number; gapMs?: number; holdMs?: number } = {},
): Promise<void> {
  const open: net.Socket[] = [];
  try {
    for (let opened = 0; opened < count; opened += burst) {
      const n = Math.min(burst, count - opened);
      await Promise.all(Array.from({ length: n }, () => connect(port, open)));
      await sleep(gapMs);
    }
    await sleep(holdMs);
  } finally {
    for (const s of open) s.destroy();
  }
}
