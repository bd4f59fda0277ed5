// Free TCP ports on the loopback, for servers that share the host's network (host networking or
// local processes). All listeners stay open until every port is picked, so no two are the same;
// a port can still be taken by someone else between here and the server's bind (rare: the kernel
// hands out ephemeral ports in a sequence).
import net from 'node:net';
import { LOOPBACK, type PortPair } from './runtime';

export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, LOOPBACK, () => resolve());
      });
      ports.push((srv.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export async function freePortPairs(count: number): Promise<PortPair[]> {
  const ports = await freePorts(count * 2);
  return Array.from({ length: count }, (_, i) => ({
    port: ports[2 * i]!,
    metricsPort: ports[2 * i + 1]!,
  }));
}
