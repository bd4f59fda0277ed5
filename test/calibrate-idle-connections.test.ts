// The calibration's idle connections (scripts/calibrate/idle-connections.ts): each one connects,
// sends nothing, and all are closed at the end, also when a connection fails.
import net from 'node:net';
import { idleConnections } from '../scripts/calibrate/idle-connections';

/** A listener on 127.0.0.1 that records what its connections do. */
async function recorder() {
  const seen = { connections: 0, bytes: 0, open: 0, maxOpen: 0 };
  const server = net.createServer((s) => {
    seen.connections++;
    seen.open++;
    seen.maxOpen = Math.max(seen.maxOpen, seen.open);
    s.on('data', (b: Buffer) => (seen.bytes += b.length));
    s.on('error', () => {});
    s.on('close', () => seen.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { server, port, seen };
}

test('opens the connections in bursts, writes nothing, holds them all, then closes them', async () => {
  const { server, port, seen } = await recorder();
  try {
    await idleConnections(port, 25, { burst: 5, gapMs: 5, holdMs: 50 });
    // Every connection reached the server and sent no byte; all were open at once.
    expect(seen.connections).toBe(25);
    expect(seen.bytes).toBe(0);
    expect(seen.maxOpen).toBe(25);
    // Closed by the client: the server sees each one end.
    const until = Date.now() + 2000;
    while (seen.open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(seen.open).toBe(0);
  } finally {
    server.close();
  }
});

test('a connection that fails rejects, naming the port, and the ones opened are closed', async () => {
  const { server, port, seen } = await recorder();
  // Stop listening after the third connection: the fourth is refused.
  server.on('connection', () => {
    if (seen.connections === 3) server.close();
  });
  await expect(idleConnections(port, 10, { gapMs: 20, holdMs: 0 })).rejects.toThrow(
    /ECONNREFUSED|127\.0\.0\.1/,
  );
  expect(seen.connections).toBe(3);
  const until = Date.now() + 2000;
  while (seen.open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  expect(seen.open).toBe(0);
});
