// The lab's load driver (lab/load) against wrk, and what it costs to sample the servers meanwhile.
//
//   npm run bench:driver -- [--rounds 3] [--duration 5] [--connections 32] [--threads 1]
//                           [--only compare|sampling|isolation] [--autocannon-workers 2]
//
// Starts `forklab serve --workers 2 --flavour asyncio` on free loopback ports, then
//  1. compare: wrk and each driver against it in the same run, keep-alive (autocannon, native, and
//     stock autocannon with its `workers` option) and churn (the churn client, native; wrk with
//     `-H 'Connection: close'`), several rounds rotating which goes first; prints each rate, the
//     ratio of each driver to wrk on its own line (`keep-alive (native): … ratio X`, target ≥ 0.8:
//     the median of the per-round ratios, with a verdict only when the rounds agree, see
//     support/verdict.ts), each driver's busy share and CPU per response, each run cross-checked
//     against the server, and the load average (how much other work shared the cores);
//  2. sampling: the same driver run with and without a sampler polling /snapshot.json every 100 ms
//     from this (the main) process, alternating; prints the difference in % (target < 1 %);
//  3. isolation: two drivers at once (as the lab runs one per target), in worker threads and in
//     child processes, alternating; prints throughput, fairness between the two, start-up time
//     and this process's event-loop delay while a 100 ms sampler runs.
// Prints, does not assert; the exit code is 1 only when something failed to run. Always stops
// the server (and wrk), also on Ctrl-C.
//
// The server runs in a session of its own (started detached, so setsid) and is stopped as a group;
// wrk and the drivers (threads of this process, or its child processes) run in the bench's: with
// autogroup on, that decides how the CPUs are shared between them (support/machine.ts; the
// `machine:` line prints the setting).
import { parseBenchOptions, type BenchOptions } from './support/options';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { runLoad } from '../lab/load/load-driver';
import type { ClientResult } from '../lab/record/run-record';
import type { DriverUsage } from '../lab/load/driver-usage';
import type { LoadDriverName } from '../lab/scenario/load-drivers';
import type { LoadSpec } from '../lab/scenario/scenario';
import type { ServerSnapshot } from '../lab/server/snapshot';
import { killAllNow, startChild, stopAll, stopChild, type Child } from './support/children';
import { loadAverage, machineLine } from './support/machine';
import { ratioVerdict, samplingVerdict } from './support/verdict';
import { parseWrk, wrkProblems, type WrkResult } from './support/wrk';

const TARGET_RATIO = 0.8;
const TARGET_SAMPLING_PCT = 1;
const BIN = path.resolve(__dirname, '..', 'bin', 'forklab.js');
const WRK = '/usr/bin/wrk';

type Options = BenchOptions<Section> & {
  /** Also run stock autocannon with its own `workers` option (0 or 1: not). */
  acWorkers: number;
};

type Section = 'compare' | 'sampling' | 'isolation';
type Mode = LoadSpec['mode'];

function parseOptions(argv: string[]): Options {
  // Ours, before the shared options: --autocannon-workers N (default 2; 0 leaves it out).
  let acWorkers = 2;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--autocannon-workers') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0 || n > availableParallelism() * 4) {
        throw new Error(
          `--autocannon-workers must be an integer from 0 to ${availableParallelism() * 4}`,
        );
      }
      acWorkers = n;
    } else rest.push(argv[i]!);
  }
  return { ...parseOptionsShared(rest), acWorkers };
}

function parseOptionsShared(argv: string[]): BenchOptions<Section> {
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
  // The asyncio flavour answers a client's `Connection: close` with the header, as most servers do
  // (the tornado4 flavour, like Tornado 4.5, does not, and wrk would then write a second request
  // onto each closing socket and reconnect only on the FIN): wrk's churn stays the reference it is.
  const flags = ['--workers', '2', '--flavour', 'asyncio', '--port', '0', '--metrics-port', '0'];
  const args = [BIN, 'serve', ...flags];
  const child = startChild('forklab serve', process.execPath, args, {
    group: true, // a session of its own (support/machine.ts), stopped as a group
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

/**
 * Runs wrk through bash so that bash's `times` reports wrk's CPU time afterwards (its children's
 * user and system time): the reference for the drivers' CPU per response. wrk ends by itself
 * after the duration.
 */
async function runWrkWith(
  o: Options,
  url: string,
  mode: Mode,
): Promise<WrkResult & { cpuSec: number | null }> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationSec}s`, '--latency'];
  if (mode === 'churn') args.push('-H', 'Connection: close');
  args.push(url);
  // `times` in the shell itself (not in a subshell, whose children are none): its second line is
  // the children's user and system time.
  const script = `${WRK} "$@"; rc=$?; echo FORKLAB_TIMES; times; exit $rc`;
  const child = startChild('wrk', '/bin/bash', ['-c', script, 'wrk', ...args]);
  const { code, signal } = await child.closed;
  if (code !== 0)
    throw new Error(`wrk ${args.join(' ')} failed (${signal ?? code}): ${child.output()}`);
  const t = /FORKLAB_TIMES\n.*\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(child.output());
  const cpuSec = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : null;
  return { ...parseWrk(child.output()), cpuSec };
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

function driverLoad(
  o: Options,
  mode: Mode,
  connections = o.connections,
  driver: LoadDriverName = 'node',
): LoadSpec {
  return { mode, connections, durationSec: o.durationSec, warmupSec: 0, timeoutMs: 2000, driver };
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

// --- 1. drivers vs wrk ---------------------------------------------------------------------------

/** A load generator the bench can run: wrk (the reference), a lab driver, or raw autocannon. */
type Tool = 'wrk' | 'autocannon' | 'churn-client' | 'native' | `autocannon-w${number}`;

function toolsFor(o: Options, mode: Mode): Tool[] {
  if (mode === 'churn') return ['wrk', 'churn-client', 'native'];
  const tools: Tool[] = ['wrk', 'autocannon', 'native'];
  if (o.acWorkers > 1) tools.push(`autocannon-w${o.acWorkers}`);
  return tools;
}

interface ToolRun {
  rate: number;
  responses: number;
  p50?: number;
  p99?: number;
  problems: string[];
  usage?: DriverUsage;
  cpuUsPerResponse?: number;
}

/**
 * Stock autocannon with its own `workers` option (worker threads it starts itself), counted from
 * its summary: the lab's driver cannot use it (its counting hooks are functions, which autocannon
 * does not pass to its workers), so this measures only how fast autocannon's `workers` goes.
 */
async function runAutocannonWorkers(o: Options, url: string, workers: number): Promise<ToolRun> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as typeof import('autocannon');
  // Its workers are threads of this process: the process's CPU time is theirs (plus a little of
  // this thread's, idle meanwhile).
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url,
    connections: o.connections,
    duration: o.durationSec,
    workers,
    timeout: 2,
  });
  const responses = r['2xx'] + r.non2xx;
  const c = process.cpuUsage(cpu0);
  return {
    cpuUsPerResponse: responses > 0 ? (c.user + c.system) / responses : undefined,
    rate: responses / o.durationSec,
    responses,
    p50: r.latency.p50,
    p99: r.latency.p99,
    problems: r.errors + r.timeouts > 0 ? [`${r.errors} errors, ${r.timeouts} timeouts`] : [],
  };
}

async function runTool(o: Options, url: string, mode: Mode, tool: Tool): Promise<ToolRun> {
  if (tool === 'wrk') {
    const w = await runWrkWith(o, url, mode);
    return {
      cpuUsPerResponse:
        w.cpuSec !== null && w.requests > 0 ? (w.cpuSec * 1e6) / w.requests : undefined,
      rate: w.requestsPerSec,
      responses: w.requests,
      p50: w.latencyMs.p50,
      p99: w.latencyMs.p99,
      problems: wrkProblems(w).filter((p) => !(mode === 'churn' && p.startsWith('socket'))),
    };
  }
  if (tool.startsWith('autocannon-w')) {
    return runAutocannonWorkers(o, url, Number(tool.slice('autocannon-w'.length)));
  }
  const driver: LoadDriverName = tool === 'native' ? 'native' : 'node';
  const r = await runLoad({
    urls: [url],
    load: driverLoad(o, mode, o.connections, driver),
    phase: 'load',
  });
  return {
    rate: r.requestsPerSec,
    responses: r.responses,
    p50: r.latencyMs?.p50,
    p99: r.latencyMs?.p99,
    problems: [
      ...(r.errors + r.timeouts > 0 ? [`${r.errors} errors, ${r.timeouts} timeouts`] : []),
      ...(r.usage?.saturated ? ['client saturated'] : []),
    ],
    usage: r.usage,
    cpuUsPerResponse: r.usage?.cpuUsPerResponse ?? undefined,
  };
}

async function compare(o: Options, server: Server): Promise<void> {
  const url = `http://127.0.0.1:${server.port}/`;
  for (const mode of ['keep-alive', 'churn'] as const) {
    const tools = toolsFor(o, mode);
    console.log(
      `\n== ${mode}: ${tools.join(', ')} (wrk -t${o.threads}${mode === 'churn' ? ", -H 'Connection: close'" : ''}), ` +
        `${o.connections} connections, ${o.durationSec} s, ${o.rounds} rounds`,
    );
    const rows: string[][] = [];
    const rates = new Map<Tool, number[]>(tools.map((t) => [t, []]));
    const usages = new Map<Tool, DriverUsage[]>();
    const cpu = new Map<Tool, number[]>();
    for (let round = 1; round <= o.rounds; round++) {
      // Rotate the order so that no tool always runs first (a warmer server) or last.
      const order = tools.map((_, i) => tools[(i + round - 1) % tools.length]!);
      for (const tool of order) {
        const before = await server.requests();
        const t = await runTool(o, url, mode, tool);
        const counted = (await server.requests()) - before;
        rates.get(tool)!.push(t.rate);
        if (t.usage) usages.set(tool, [...(usages.get(tool) ?? []), t.usage]);
        if (t.cpuUsPerResponse !== undefined) {
          cpu.set(tool, [...(cpu.get(tool) ?? []), t.cpuUsPerResponse]);
        }
        rows.push([
          String(round),
          tool,
          fmt(t.rate),
          fmt(t.responses),
          t.p50 === undefined ? '-' : `${fmt(t.p50, 2)} ms`,
          t.p99 === undefined ? '-' : `${fmt(t.p99, 2)} ms`,
          diffPct(t.responses, counted),
          t.usage ? `${fmt(t.usage.utilization * 100)} % / ${fmt(t.usage.cpuCores, 2)}` : '-',
          t.cpuUsPerResponse === undefined ? '-' : fmt(t.cpuUsPerResponse, 1),
          t.usage?.loopDelayMs ? `${fmt(t.usage.loopDelayMs.p99, 1)} ms` : '-',
          t.problems.join('; ') || 'none',
        ]);
      }
    }
    table(
      [
        'round',
        'tool',
        'req/s',
        'responses',
        'p50',
        'p99',
        'vs server',
        'busy / CPU',
        'CPU µs/resp',
        'loop p99',
        'problems',
      ],
      rows,
    );
    const wrkRates = rates.get('wrk')!;
    const w = median(wrkRates);
    const cpuOf = (tool: Tool): string => {
      const xs = cpu.get(tool);
      return xs ? `${fmt(median(xs), 1)} µs CPU/response` : 'CPU not measured';
    };
    console.log(`${mode} (wrk): median ${fmt(w)} req/s, ${cpuOf('wrk')}`);
    for (const tool of tools.filter((t) => t !== 'wrk')) {
      const d = median(rates.get(tool)!);
      const u = usages.get(tool);
      const busy =
        `; ${cpuOf(tool)}` +
        (u
          ? `, busy ${fmt(median(u.map((x) => x.utilization)) * 100)} %` +
            (u.some((x) => x.saturated)
              ? `, saturated in ${u.filter((x) => x.saturated).length} of ${u.length} runs`
              : '')
          : '');
      // Each round's ratio (the driver against wrk in the same round), not the ratio of medians.
      const v = ratioVerdict(rates.get(tool)!, wrkRates, TARGET_RATIO);
      console.log(`${mode} (${tool}): median ${fmt(d)} req/s vs wrk ${fmt(w)}: ${v.text}${busy}`);
    }
    console.log(`${mode}: load average ${loadAverage()} (1, 5, 15 min) at the end`);
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
    const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
    const verdict = samplingVerdict(rates.without, rates.with, TARGET_SAMPLING_PCT);
    console.log(
      `${mode}: median without ${fmt(a)} req/s, with ${fmt(b)} req/s: ${verdict}; ` +
        `run-to-run spread without ${spread(rates.without)}, with ${spread(rates.with)}`,
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
  console.log(machineLine('wrk and the drivers'));
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
