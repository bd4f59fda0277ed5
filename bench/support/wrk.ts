// Runs wrk and parses its report.
import { startChild } from './children';

export interface WrkResult {
  requestsPerSec: number;
  /** Completed requests (responses read) over the whole run. */
  requests: number;
  durationSec: number;
  /** Latency percentiles in milliseconds, from `--latency` (50, 75, 90, 99). */
  latencyMs: Partial<Record<'p50' | 'p75' | 'p90' | 'p99', number>>;
  socketErrors: { connect: number; read: number; write: number; timeout: number } | null;
  non2xx3xx: number;
  raw: string;
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationSec: number;
  /** Request headers, e.g. `Connection: close` for one connection per request. */
  headers?: string[];
  /** wrk's --timeout in seconds (its default is 2). */
  timeoutSec?: number;
}

/** Runs `wrk --latency` to completion; rejects if it cannot start or exits non-zero. */
export async function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.durationSec}s`,
    '--latency',
    ...(opts.headers ?? []).flatMap((h) => ['-H', h]),
    ...(opts.timeoutSec === undefined ? [] : ['--timeout', `${opts.timeoutSec}s`]),
    opts.url,
  ];
  // Tracked like the servers, so that an interrupted benchmark stops wrk too.
  const child = startChild('wrk', 'wrk', args);
  const { code, signal } = await child.closed;
  if (code !== 0) {
    const why =
      code === null && signal === null
        ? 'cannot run it; apt-get install wrk'
        : (signal ?? `exit ${code}`);
    throw new Error(`wrk ${args.join(' ')} failed (${why}): ${child.output()}`);
  }
  return parseWrk(child.output());
}

const UNITS_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function durationToMs(value: string, unit: string): number {
  const scale = UNITS_MS[unit];
  if (scale === undefined) throw new Error(`wrk: unknown time unit ${unit}`);
  return Number(value) * scale;
}

/** Parses wrk 4's text report. Throws if the essential lines are missing. */
export function parseWrk(raw: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(raw);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(raw);
  if (!rps || !total) throw new Error(`wrk: cannot parse its report:\n${raw}`);
  const latencyMs: WrkResult['latencyMs'] = {};
  for (const m of raw.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$/gm)) {
    latencyMs[`p${m[1]}` as keyof WrkResult['latencyMs']] = durationToMs(m[2]!, m[3]!);
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  return {
    requestsPerSec: Number(rps[1]),
    requests: Number(total[1]),
    durationSec: durationToMs(total[2]!, total[3]!) / 1000,
    latencyMs,
    socketErrors: sock
      ? {
          connect: Number(sock[1]),
          read: Number(sock[2]),
          write: Number(sock[3]),
          timeout: Number(sock[4]),
        }
      : null,
    non2xx3xx: non2xx ? Number(non2xx[1]) : 0,
    raw,
  };
}

/** What is wrong with a run, or an empty list: socket errors and non-2xx/3xx responses. */
export function wrkProblems(r: WrkResult): string[] {
  const problems: string[] = [];
  const s = r.socketErrors;
  if (s && s.connect + s.read + s.write + s.timeout > 0) {
    problems.push(
      `socket errors: connect ${s.connect}, read ${s.read}, write ${s.write}, timeout ${s.timeout}`,
    );
  }
  if (r.non2xx3xx > 0) problems.push(`${r.non2xx3xx} non-2xx/3xx responses`);
  if (r.requests === 0) problems.push('no requests completed');
  return problems;
}
