// The lab's load driver (lab/load) against wrk, and what it costs to sample the servers meanwhile.
//
//   npm run bench:driver -- [--rounds 3] [--duration 5] [--connections 32] [--threads 1]
//                           [--only compare|sampling|isolation]
//
// Starts `forklab serve --workers 2` on free loopback ports, then
//  1. compare: wrk and the driver against it in the same run, keep-alive and churn (wrk:
//     `-H 'Connection: close'`), several rounds alternating which goes first; prints both rates and
//     the ratio driver/wrk (target ≥ 0.8), each run cross-checked against the server's counter;
//  2. sampling: the same driver run with and without a sampler polling /snapshot.json every 100 ms
//     from this (the main) process, alternating; prints the difference in % (target < 1 %);
//  3. isolation: two drivers at once (as the lab runs one per target), in worker threads and in
//     child processes, alternating; prints throughput, fairness between the two, start-up time
//     and this process's event-loop delay while a 100 ms sampler runs.
// Prints, does not assert; the exit code is 1 only when something failed to run. Always stops
// the server (and wrk), also on Ctrl-C.
import { parseBenchOptions, type BenchOptions } from './support/options';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { runLoad } from '../lab/load/load-driver';
import type { ClientResult } from '../lab/record/run-record';
import type { LoadSpec } from '../lab/scenario/scenario';
import type { ServerSnapshot } from '../lab/server/snapshot';
import { killAllNow, startChild, stopAll, stopChild, type Child } from './support/children';
import { parseWrk, wrkProblems, type WrkResult } from './support/wrk';

const TARGET_RATIO = 0.8;
const TARGET_SAMPLING_PCT = 1;
const BIN = path.resolve(__dirname, '..', 'bin', 'forklab.js');
const WRK = '/usr/bin/wrk';

type Options = BenchOptions<Section>;

type Section = 'compare' | 'sampling' | 'isolation';
type Mode = LoadSpec['mode'];

function parseOptions(argv: string[]): Options {
  return parseBenchOptions<Section>(argv, {
    name: 'bench:driver',
    connections: 32,
    threads: 1,
    only: ['compare', 'sampling', 'isolation'],
  });
}

// --- the server ----------------------------------------------------------------------------------

interface Server {
  child: Child;
  port: number;
  metricsPort: number;
  snapshotUrl: string;
  requests(): Promise<number>;
}

async function startServer(): Promise<Server> {
  let ready: (v: { port: number; metricsPort: number }) => void = () => {};
  const readyP = new Promise<{ port: number; metricsPort: number }>((r) => (ready = r));
  const args = [BIN, 'serve', '--workers', '2', '--port', '0', '--metrics-port', '0'];
  const child = startChild('forklab serve', process.execPath, args, {
    onLine: (line) => {
      const m = /^FORKLAB_READY (\{.*\})$/.exec(line);
      if (m) ready(JSON.parse(m[1]!) as { port: number; metricsPort: number });
    },
  });
  const limit = new Promise<never>((_, reject) => {
    const t = setTimeout(
      () => reject(new Error(`forklab serve not ready:\n${child.output()}`)),
      15_000,
    );
    t.unref();
    void child.exited.then(() => reject(new Error(`forklab serve exited:\n${child.output()}`)));
  });
  const { port, metricsPort } = await Promise.race([readyP, limit]);
  const snapshotUrl = `http://127.0.0.1:${metricsPort}/snapshot.json`;
  const requests = async (): Promise<number> => {
    const s = (await (await fetch(snapshotUrl)).json()) as ServerSnapshot;
    return s.workers.reduce((sum, w) => sum + (w.counters.requests ?? 0), 0);
  };
  console.log(`server: http://127.0.0.1:${port}/ (2 workers, post-fork), metrics :${metricsPort}`);
  return { child, port, metricsPort, snapshotUrl, requests };
}

// --- wrk -----------------------------------------------------------------------------------------

async function waitForWrk(limitMs = 10 * 60_000): Promise<void> {
  if (existsSync(WRK)) return;
  console.log(`waiting for ${WRK} (being installed) …`);
  const deadline = Date.now() + limitMs;
  while (!existsSync(WRK)) {
    if (Date.now() > deadline) throw new Error(`${WRK} missing: apt-get install wrk`);
    await sleep(2000);
  }
}

async function runWrkWith(o: Options, url: string, mode: Mode): Promise<WrkResult> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSec}s`, '--latency'];
  if (mode === 'churn') args.push('-H', 'Connection: close');
  args.push(url);
  const child = startChild('wrk', WRK, args);
  const { code, signal } = await child.closed;
  if (code !== 0)
    throw new Error(`wrk ${args.join(' ')} failed (${signal ?? code}): ${child.output()}`);
  return parseWrk(child.output());
}

// --- helpers -------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

/** Client responses against the server's own count, in %. */
const diffPct = (client: number, server: number): string =>
  server > 0 ? `${fmt(((client - server) / server) * 100, 2)} %` : '-';

function driverLoad(o: Options, mode: Mode, connections = o.connections): LoadSpec {
  return { mode, connections, durationSec: o.durationSec, warmupSec: 0, timeoutMs: 2000 };
}

/** Polls the snapshot every `everyMs` from this process (skipping a beat while one is pending). */
function startSampler(
  url: string,
  everyMs: number,
): () => { samples: number; perSec: number; maxGapMs: number } {
  const startedAt = performance.now();
  let samples = 0;
  let busy = false;
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void fetch(url)
      .then((r) => r.json())
      .then(() => {
        const now = performance.now();
        maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
        samples++;
      })
      .catch(() => {})
      .finally(() => (busy = false));
  }, everyMs);
  return () => {
    clearInterval(timer);
    return { samples, perSec: samples / ((performance.now() - startedAt) / 1000), maxGapMs };
  };
}

// --- 1. driver vs wrk ----------------------------------------------------------------------------

async function compare(o: Options, server: Server): Promise<void> {
  const url = `http://127.0.0.1:${server.port}/`;
  for (const mode of ['keep-alive', 'churn'] as const) {
    console.log(
      `\n== ${mode}: driver vs wrk (-t${o.threads}${mode === 'churn' ? ", -H 'Connection: close'" : ''}), ` +
        `${o.connections} connections, ${o.durationSec} s, ${o.rounds} rounds`,
    );
    const rows: string[][] = [];
    const rates = { wrk: [] as number[], driver: [] as number[] };
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? (['wrk', 'driver'] as const) : (['driver', 'wrk'] as const);
      for (const tool of order) {
        const before = await server.requests();
        let rate: number;
        let responses: number;
        let p50: number | undefined;
        let p99: number | undefined;
        let problems: string[];
        if (tool === 'wrk') {
          const w = await runWrkWith(o, url, mode);
          rate = w.requestsPerSec;
          responses = w.requests;
          p50 = w.latencyMs.p50;
          p99 = w.latencyMs.p99;
          problems = wrkProblems(w).filter((p) => !(mode === 'churn' && p.startsWith('socket')));
        } else {
          const r = await runLoad({ urls: [url], load: driverLoad(o, mode), phase: 'load' });
          rate = r.requestsPerSec;
          responses = r.responses;
          p50 = r.latencyMs?.p50;
          p99 = r.latencyMs?.p99;
          problems =
            r.errors + r.timeouts > 0 ? [`${r.errors} errors, ${r.timeouts} timeouts`] : [];
        }
        const counted = (await server.requests()) - before;
        rates[tool].push(rate);
        rows.push([
          String(round),
          tool,
          fmt(rate),
          fmt(responses),
          p50 === undefined ? '-' : `${fmt(p50, 2)} ms`,
          p99 === undefined ? '-' : `${fmt(p99, 2)} ms`,
          diffPct(responses, counted),
          problems.join('; ') || 'none',
        ]);
      }
    }
    table(['round', 'tool', 'req/s', 'responses', 'p50', 'p99', 'vs server', 'problems'], rows);
    const w = median(rates.wrk);
    const d = median(rates.driver);
    const ratio = d / w;
    console.log(
      `${mode}: median wrk ${fmt(w)} req/s, driver ${fmt(d)} req/s: ratio ${fmt(ratio, 2)} ` +
        `(target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'})`,
    );
  }
}

// --- 2. the cost of sampling every 100 ms ----------------------------------------------------------

/** CPU time of a process so far, ms (utime + stime from /proc, USER_HZ = 100). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** What the sampler itself costs, without load: CPU of this process and of the server's. */
async function samplerCpu(server: Server, seconds: number): Promise<void> {
  const pid = server.child.proc.pid!;
  const c0 = process.cpuUsage();
  const s0 = cpuMsOf(pid);
  const t0 = performance.now();
  const stop = startSampler(server.snapshotUrl, 100);
  await sleep(seconds * 1000);
  const s = stop();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const mine = (c.user + c.system) / 1000 / wall;
  const theirs = (cpuMsOf(pid) - s0) / wall;
  const cores = availableParallelism();
  console.log(
    `\n== the sampler alone (no load), ${seconds} s, ${fmt(s.perSec, 1)} samples/s: ` +
      `${fmt(mine, 1)} ms CPU/s here + ${fmt(theirs, 1)} ms CPU/s in the server's supervisor ` +
      `= ${fmt((mine + theirs) / 10, 2)} % of one core, ${fmt((mine + theirs) / 10 / cores, 2)} % ` +
      `of the ${cores} cores that the load and the server share`,
  );
}

async function sampling(o: Options, server: Server): Promise<void> {
  const url = `http://127.0.0.1:${server.port}/`;
  await samplerCpu(server, Math.max(5, o.durationSec));
  for (const mode of ['keep-alive', 'churn'] as const) {
    console.log(`\n== ${mode}: driver with and without a 100 ms sampler, ${o.rounds} rounds`);
    const rows: string[][] = [];
    const rates = { without: [] as number[], with: [] as number[] };
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? (['without', 'with'] as const) : (['with', 'without'] as const);
      for (const how of order) {
        const stop = how === 'with' ? startSampler(server.snapshotUrl, 100) : undefined;
        const r = await runLoad({ urls: [url], load: driverLoad(o, mode), phase: 'load' });
        const s = stop?.();
        rates[how].push(r.requestsPerSec);
        rows.push([
          String(round),
          how,
          fmt(r.requestsPerSec),
          s ? `${s.samples} (${fmt(s.perSec, 1)}/s)` : '-',
          s ? `${fmt(s.maxGapMs)} ms` : '-',
        ]);
      }
    }
    table(['round', 'sampler', 'req/s', 'samples', 'max gap'], rows);
    const a = median(rates.without);
    const b = median(rates.with);
    const pct = ((a - b) / a) * 100;
    const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
    // The run-to-run noise: the relative range of the runs without a sampler. A difference smaller
    // than that says nothing either way, so no verdict is printed for it.
    const noisePct = ((Math.max(...rates.without) - Math.min(...rates.without)) / a) * 100;
    const verdict =
      Math.abs(pct) <= noisePct
        ? `within the run-to-run noise of ±${fmt(noisePct / 2, 1)} %: these rounds cannot tell a ` +
          `${TARGET_SAMPLING_PCT} % cost; raise --rounds or --duration`
        : `target < ${TARGET_SAMPLING_PCT} %: ${pct < TARGET_SAMPLING_PCT ? 'met' : 'NOT met'}`;
    console.log(
      `${mode}: median without ${fmt(a)} req/s, with ${fmt(b)} req/s: cost ${fmt(pct, 2)} % ` +
        `(${verdict}); run-to-run spread without ${spread(rates.without)}, with ${spread(rates.with)}`,
    );
  }
}

// --- 3. two drivers at once: worker threads or child processes --------------------------------------

interface Pair {
  results: ClientResult[];
  /** runLoad called → first progress, ms, per driver. */
  startMs: number[];
  loopP99Ms: number;
  loopMaxMs: number;
}

async function pair(
  o: Options,
  server: Server,
  mode: Mode,
  isolation: 'thread' | 'process',
): Promise<Pair> {
  const url = `http://127.0.0.1:${server.port}/`;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const stop = startSampler(server.snapshotUrl, 100);
  delay.enable();
  const t0 = performance.now();
  const startMs = [NaN, NaN];
  const results = await Promise.all(
    [0, 1].map((i) =>
      runLoad({
        urls: [url],
        load: driverLoad(o, mode, Math.max(1, Math.floor(o.connections / 2))),
        phase: 'load',
        isolation,
        onProgress: () => {
          if (Number.isNaN(startMs[i])) startMs[i] = performance.now() - t0;
        },
      }),
    ),
  );
  delay.disable();
  stop();
  return {
    results,
    startMs,
    loopP99Ms: delay.percentile(99) / 1e6,
    loopMaxMs: delay.max / 1e6,
  };
}

async function isolation(o: Options, server: Server): Promise<void> {
  for (const mode of ['keep-alive', 'churn'] as const) {
    console.log(
      `\n== ${mode}: two drivers at once (${Math.floor(o.connections / 2)} connections each), ` +
        `thread vs process, with a 100 ms sampler, ${o.rounds} rounds`,
    );
    const rows: string[][] = [];
    const agg = { thread: [] as Pair[], process: [] as Pair[] };
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? (['thread', 'process'] as const) : (['process', 'thread'] as const);
      for (const how of order) {
        const p = await pair(o, server, mode, how);
        agg[how].push(p);
        const [a, b] = p.results.map((r) => r.requestsPerSec) as [number, number];
        rows.push([
          String(round),
          how,
          fmt(a + b),
          `${fmt(a)} / ${fmt(b)}`,
          fmt(Math.max(a, b) / Math.min(a, b), 3),
          p.startMs.map((s) => fmt(s)).join(' / '),
          `${fmt(p.loopP99Ms, 1)} / ${fmt(p.loopMaxMs, 1)}`,
        ]);
      }
    }
    table(['round', 'in', 'total req/s', 'each', 'max/min', 'start ms', 'loop p99/max ms'], rows);
    for (const how of ['thread', 'process'] as const) {
      const ps = agg[how];
      const total = median(
        ps.map((p) => p.results[0]!.requestsPerSec + p.results[1]!.requestsPerSec),
      );
      const fair = median(
        ps.map((p) => {
          const [a, b] = p.results.map((r) => r.requestsPerSec) as [number, number];
          return Math.max(a, b) / Math.min(a, b);
        }),
      );
      const start = median(ps.flatMap((p) => p.startMs));
      const loop = median(ps.map((p) => p.loopP99Ms));
      console.log(
        `${mode} in ${how === 'thread' ? 'threads' : 'processes'}: median total ${fmt(total)} req/s, max/min ${fmt(fair, 3)}, ` +
          `start ${fmt(start)} ms, main loop p99 ${fmt(loop, 1)} ms`,
      );
    }
  }
}

// --- main ----------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  process.on('exit', () => killAllNow());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}, stopping the server`);
      void stopAll().finally(() => process.exit(130));
    });
  }
  const run = (s: Section): boolean => o.only === undefined || o.only === s;
  if (run('compare')) await waitForWrk();
  const server = await startServer();
  try {
    if (run('compare')) await compare(o, server);
    if (run('sampling')) await sampling(o, server);
    if (run('isolation')) await isolation(o, server);
  } finally {
    await stopChild(server.child);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
