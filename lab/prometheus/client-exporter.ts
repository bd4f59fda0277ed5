// The lab's client-side figures for Prometheus: what the load generator saw, per target and cell,
// served on a metrics port of its own during a run (registered in file SD with role="client").
//
// The runner calls `update(target, cell, figures)` on each progress tick with the cumulative
// figures of that target's load so far; a scrape reads the latest figures. Series:
//
//   forklab_client_requests_total{target,cell}                  requests sent
//   forklab_client_responses_total{target,cell,status_class}    responses received (2xx, other, …)
//   forklab_client_errors_total{target,cell}                    connection errors (not timeouts)
//   forklab_client_timeouts_total{target,cell}                  requests past the client deadline
//   forklab_client_latency_ms{target,cell,quantile}             latency quantiles 0.5, 0.9, 0.99
//   forklab_client_requests_per_second{target,cell}             client throughput (responses/s)
//
// Counters are cumulative per (target, cell): a figure that goes down is a counter reset, which
// rate() handles. Latency series exist only while the figures have latencies.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';

/** Cumulative client figures of one target in one cell (a subset of the run record's ClientResult). */
export interface ClientFigures {
  /** Requests sent (completed or not). */
  sent: number;
  /** Responses received, all statuses. */
  responses: number;
  status2xx: number;
  statusOther: number;
  /** Responses by status class ("2xx", "4xx", …); when given, replaces status2xx/statusOther. */
  statusClasses?: Readonly<Record<string, number>>;
  /** Connection errors (refused, reset, closed mid-response), excluding timeouts. */
  errors: number;
  timeouts: number;
  requestsPerSec: number;
  /** Latency in ms over completed requests; null when none completed yet. */
  latencyMs: { p50: number; p90: number; p99: number } | null;
}

export interface ClientExporter {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for a file SD entry. */
  readonly address: string;
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly registry: Registry;
  /** Sets the figures of one target in one cell (cumulative values). */
  update(target: string, cell: string, figures: ClientFigures): void;
  /** Drops a target's series (e.g. when its cell ended); all of them without arguments. */
  remove(target?: string, cell?: string): void;
  close(): Promise<void>;
}

export interface ClientExporterOptions {
  /** Default 127.0.0.1: the lab's traffic stays on the loopback. */
  host?: string;
  /** Default 0: a free port, returned in `port`. */
  port?: number;
}

export const CLIENT_QUANTILES = ['0.5', '0.9', '0.99'] as const;

const num = (v: number): number => (Number.isFinite(v) ? v : 0);

/** The registry behind the exporter, reading `state` at scrape time. */
export function createClientRegistry(
  state: ReadonlyMap<string, { target: string; cell: string; f: ClientFigures }>,
): Registry {
  const registry = new Registry();
  const each = (fn: (labels: { target: string; cell: string }, f: ClientFigures) => void) => {
    for (const { target, cell, f } of state.values()) fn({ target, cell }, f);
  };
  const counter = (name: string, help: string, value: (f: ClientFigures) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['target', 'cell'],
      registers: [registry],
      collect() {
        this.reset();
        each((labels, f) => this.inc(labels, Math.max(0, num(value(f)))));
      },
    });
  counter(
    'forklab_client_requests_total',
    'requests the lab client sent (completed or not)',
    (f) => f.sent,
  );
  new Counter({
    name: 'forklab_client_responses_total',
    help: 'complete responses the lab client received, by status class (2xx, other, or 1xx…5xx when known)',
    labelNames: ['target', 'cell', 'status_class'],
    registers: [registry],
    collect() {
      this.reset();
      each((labels, f) => {
        const classes = f.statusClasses ?? { '2xx': f.status2xx, other: f.statusOther };
        for (const [status_class, n] of Object.entries(classes)) {
          this.inc({ ...labels, status_class }, Math.max(0, num(n)));
        }
      });
    },
  });
  counter(
    'forklab_client_errors_total',
    'requests the lab client lost to connection errors (refused, reset, closed mid-response), timeouts excluded',
    (f) => f.errors,
  );
  counter(
    'forklab_client_timeouts_total',
    'requests with no complete response before the client deadline',
    (f) => f.timeouts,
  );
  new Gauge({
    name: 'forklab_client_latency_ms',
    help: 'latency of completed requests as the lab client measured it, in ms, by quantile',
    labelNames: ['target', 'cell', 'quantile'],
    registers: [registry],
    collect() {
      this.reset();
      each((labels, f) => {
        if (!f.latencyMs) return;
        const q = f.latencyMs;
        const values: Record<(typeof CLIENT_QUANTILES)[number], number> = {
          '0.5': q.p50,
          '0.9': q.p90,
          '0.99': q.p99,
        };
        for (const quantile of CLIENT_QUANTILES) {
          if (Number.isFinite(values[quantile]))
            this.set({ ...labels, quantile }, values[quantile]);
        }
      });
    },
  });
  new Gauge({
    name: 'forklab_client_requests_per_second',
    help: 'responses per second the lab client is receiving (its own progress figure)',
    labelNames: ['target', 'cell'],
    registers: [registry],
    collect() {
      this.reset();
      each((labels, f) => this.set(labels, num(f.requestsPerSec)));
    },
  });
  return registry;
}

/** Starts the exporter's HTTP server (/metrics, /healthz). */
export async function startClientExporter(
  opts: ClientExporterOptions = {},
): Promise<ClientExporter> {
  const host = opts.host ?? '127.0.0.1';
  const state = new Map<string, { target: string; cell: string; f: ClientFigures }>();
  const registry = createClientRegistry(state);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    } else if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const key = (target: string, cell: string) => `${cell}\u0000${target}`;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    address: `${host}:${port}`,
    url: `http://${host}:${port}/metrics`,
    registry,
    update(target, cell, figures) {
      state.set(key(target, cell), { target, cell, f: { ...figures } });
    },
    remove(target, cell) {
      for (const [k, v] of state) {
        if (
          (target === undefined || v.target === target) &&
          (cell === undefined || v.cell === cell)
        ) {
          state.delete(k);
        }
      }
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
