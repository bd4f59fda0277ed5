// The supervisor's HTTP server (node:http, in the supervisor process, never in a worker):
// GET /metrics, GET /healthz, GET /snapshot.json.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Health {
  ok: boolean;
  /** `ok`, or why not. */
  reason: string;
}

export interface MetricsRoutes {
  metrics(): Promise<{ contentType: string; body: string }>;
  /** May answer asynchronously (a real server's adapter asks the server). */
  health(): Health | Promise<Health>;
  /** The snapshot, or a promise of it. */
  snapshot(): unknown;
}

export interface MetricsServer {
  /** The port it listens on (the actual one when 0 was asked). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  host: string,
  port: number,
  routes: MetricsRoutes,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, contentType: string, body: string): void => {
      res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    try {
      switch (path) {
        case '/metrics':
          routes.metrics().then(
            (m) => send(200, m.contentType, m.body),
            (err: unknown) =>
              send(500, 'text/plain; charset=utf-8', `metrics failed: ${(err as Error).message}\n`),
          );
          return;
        case '/healthz':
          Promise.resolve(routes.health()).then(
            (h) => send(h.ok ? 200 : 503, 'text/plain; charset=utf-8', `${h.reason}\n`),
            (err: unknown) =>
              send(503, 'text/plain; charset=utf-8', `health failed: ${(err as Error).message}\n`),
          );
          return;
        case '/snapshot.json':
          Promise.resolve(routes.snapshot()).then(
            (snap) =>
              send(200, 'application/json; charset=utf-8', JSON.stringify(snap, null, 2) + '\n'),
            (err: unknown) =>
              send(
                500,
                'text/plain; charset=utf-8',
                `snapshot failed: ${(err as Error).message}\n`,
              ),
          );
          return;
        default:
          send(
            404,
            'text/plain; charset=utf-8',
            'not found: try /metrics, /healthz or /snapshot.json\n',
          );
      }
    } catch (err) {
      send(500, 'text/plain; charset=utf-8', `${path} failed: ${(err as Error).message}\n`);
    }
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
