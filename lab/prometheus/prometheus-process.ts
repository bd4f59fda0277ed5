// Debian's `prometheus` (2.42) as a plain process: what the proof tests use, and the fallback of
// `npm run stack` where no image can be pulled. Listens on 127.0.0.1 only; ready in well under a
// second, but a target written to file SD is first scraped about 5 s later (the discovery
// manager batches updates every 5 s).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../runtime/free-ports';

export const PROMETHEUS_BIN = process.env.FORKLAB_PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.FORKLAB_PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface PrometheusOptions {
  configFile: string;
  storageDir: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  binary?: string;
  /** Default 15000 ms until /-/ready answers 200. */
  readyTimeoutMs?: number;
  /**
   * Detached: keeps running after this process exits, output to `logFile` (for `npm run stack`).
   * Otherwise a child of this process, output kept in memory (for tests).
   */
  detached?: boolean;
  logFile?: string;
  extraArgs?: readonly string[];
}

export interface PrometheusProcess {
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** What the process printed (empty when detached: see the log file). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Whether Debian's prometheus is installed (or the binary FORKLAB_PROMETHEUS_BIN names). */
export function prometheusInstalled(binary = PROMETHEUS_BIN): boolean {
  return existsSync(binary);
}

export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusProcess> {
  const binary = opts.binary ?? PROMETHEUS_BIN;
  if (!existsSync(binary)) {
    throw new Error(
      `prometheus: ${binary} not found; install Debian's package (apt-get install -y prometheus, as scripts/setup.sh does)`,
    );
  }
  const port = opts.port || (await freePorts(1))[0]!;
  const args = [
    `--config.file=${opts.configFile}`,
    `--storage.tsdb.path=${opts.storageDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
    '--storage.tsdb.retention.time=7d',
    ...(opts.extraArgs ?? []),
  ];
  let out = '';
  let proc: ChildProcess;
  if (opts.detached) {
    const fd = openSync(opts.logFile ?? '/dev/null', 'a');
    try {
      proc = spawn(binary, args, { stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    proc.unref();
  } else {
    proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      out = (out + d.toString('utf8')).slice(-200_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
  }
  let exited = proc.exitCode !== null || proc.signalCode !== null;
  const exit = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      exited = true;
      resolve();
    });
    proc.once('error', (err) => {
      out += `\n${err.message}`;
      exited = true;
      resolve();
    });
  });
  const pid = proc.pid ?? -1;
  const url = `http://127.0.0.1:${port}`;
  const stop = async (graceMs = 5000): Promise<void> => {
    if (exited) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(t);
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (exited) {
      throw new Error(`prometheus exited before it was ready:\n${out.slice(-4000)}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `prometheus not ready on ${url} within ${opts.readyTimeoutMs ?? 15_000} ms:\n${out.slice(-4000)}`,
      );
    }
    await sleep(100);
  }
  return { pid, port, url, output: () => out, stop };
}

/** One instant query through the HTTP API; returns the result vector (or matrix) as JSON. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export async function instantQuery(
  baseUrl: string,
  query: string,
  timeSec?: number,
): Promise<PromSample[]> {
  const params = new URLSearchParams({ query });
  if (timeSec !== undefined) params.set('time', timeSec.toFixed(3));
  const res = await fetch(`${baseUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: params.toString(),
  });
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
  if (body.status !== 'success' || !body.data) {
    throw new Error(`query failed (${res.status}): ${body.error ?? 'no data'}\n  ${query}`);
  }
  if (body.data.resultType === 'scalar') {
    return [{ metric: {}, value: body.data.result as [number, string] }];
  }
  if (body.data.resultType !== 'vector') {
    throw new Error(`query gave a ${body.data.resultType}, not a vector:\n  ${query}`);
  }
  return body.data.result as PromSample[];
}

/** Values of one label over the series `match` selects, as label_values(match, label) in Grafana. */
export async function labelValues(
  baseUrl: string,
  label: string,
  match?: string,
  range?: { startSec: number; endSec: number },
): Promise<string[]> {
  const params = new URLSearchParams();
  if (match) params.append('match[]', match);
  if (range) {
    params.set('start', range.startSec.toFixed(3));
    params.set('end', range.endSec.toFixed(3));
  }
  const res = await fetch(`${baseUrl}/api/v1/label/${encodeURIComponent(label)}/values?${params}`);
  const body = (await res.json()) as { status: string; error?: string; data?: string[] };
  if (body.status !== 'success' || !body.data) {
    throw new Error(`label values of ${label} failed (${res.status}): ${body.error ?? 'no data'}`);
  }
  return body.data;
}
