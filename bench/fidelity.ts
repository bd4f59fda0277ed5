// Does the paced engine show what the framework shows? Runs the engine with a pace preset
// (default tornado4) before fork and after fork under the load of the reference runs of real
// Tornado 4.5.3 (`wrk -t1 -c32 -d10s --timeout 2s`, keep-alive and `Connection: close` churn), for
// each worker count and several rounds, and prints KeyErrors per 1000 requests and the pre/post
// throughput ratio next to the reference figures, with a verdict per target.
//
//   npm run bench:fidelity -- [--rounds 3] [--duration 10] [--workers 1,2] [--pace tornado4]
//                             [--loads keep-alive,churn] [--speed reference|calibrated|PCT]
//   npm run bench:fidelity -- --against tornado6 [--rounds 3] [--duration 10] [--workers 1,2,4]
//                             [--loads keep-alive] [--speed calibrated|match|PCT]
//   TORNADO45=DIR npm run bench:fidelity -- --against tornado45 [--rounds 3] [--duration 10]
//                             [--workers 1,2,4] [--loads keep-alive,churn] [--speed calibrated|match|PCT]
//   any of them: [--engine-arg=--pace-keyerror-us=200 ...] (passed to every engine run)
//
// --speed (SPEED, below): the fixed reference runs the engine at the reference runs' speed by
// default; beside a real framework it runs the calibrated costs, or with `match` each engine run
// at the real framework's CPU per request in the run just before it.
//
// --against tornado6 runs the paced `asyncio` engine (flavour asyncio) and real Tornado 6.2
// (servers/tornado/app.py under Debian's python3, the same counters) under the same wrk load, in
// the same rounds: per N and load, engine pre/post and Tornado pre/post one after the other (the
// order alternates by round). It prints both side by side: unknown-fd events per 1000 requests,
// requests per worker (shares), CPU µs per request (the workers' getrusage over the wrk run) and the
// pre/post req/s ratio. N = 1 is the control: with one worker pre- and post-fork differ only in who
// created the epoll instance, so its ratios (engine's and Tornado's together) measure the noise the
// verdict on the engine's ratio against Tornado's allows for. Defaults: N = 1, 2, 4; keep-alive.
//
// --against tornado45 does the same with the paced `tornado4` engine (flavour tornado4) and real
// Tornado 4.5.3 (bench/tornado45/server.py under Debian's python3; the `tornado` package of tag
// v4.5.3 from the directory TORNADO45 names), keep-alive and churn: KeyErrors per 1000 requests and
// the pre/post ratio of both, with verdicts on the engine's against the real runs of this bench.
//
// Every run starts a fresh server (a fresh accept race, as each reference run was a fresh
// Tornado), and pre-fork and post-fork alternate within a round so that drift hits both. KeyErrors
// and requests are the engine's own counters over the wrk run; requests/s is wrk's. Before every run
// and after the last, a CPU check times a short Python loop pinned to each CPU
// (bench/support/cpu-spread.ts): a verdict whose runs include some taken while one CPU ran Python
// more than 1.2× slower than another says so under it, as real Tornado slows there and the engine's
// timed burns do not.
//
// Every server, the engine's as Tornado's, runs in a session of its own (started detached, so
// setsid), wrk in the bench's. That decides how the CPUs are shared (SERVER_SESSION, below).
// The exit code
// is 1 only when something failed to run; targets not met are reported, not fatal.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEBIAN_PYTHON, TORNADO_APP } from '../lab/runtime/server-commands';
import {
  cpuPctOf,
  meanCpuFactor,
  measureCpuSpread,
  unevenNote,
  UNEVEN_SPREAD,
  type CpuSpread,
} from './support/cpu-spread';
import { loadAverage, machineLine } from './support/machine';
import {
  killAllNow,
  startChild,
  stopAll,
  stopChild,
  waitForHttp,
  waitReady,
} from './support/children';
import {
  FIDELITY_USAGE,
  parseFidelityOptions,
  tornado45Dir,
  tornado45Python,
  tornado45Slowing,
  TORNADO45_SERVER,
  type Against,
  type FidelityOptions as Options,
  type Load,
} from './support/fidelity-options';
import {
  controlRatioVerdict,
  keyErrorsBySplit,
  keyErrorVerdict,
  type SplitRun,
} from './support/verdict';
import { runWrk, type WrkResult } from './support/wrk';

const REPO = path.resolve(__dirname, '..');

type LoopCreation = 'pre-fork' | 'post-fork';
/** What serves: the paced engine, real Tornado 6.2 (servers/tornado/app.py), or real 4.5.3. */
type Kind = 'engine' | Against;

/**
 * Real Tornado 4.5.3, N = 2, median [min–max] of 3 runs, measured on a machine of this kind, and
 * the CPU its workers spent per request in those runs (µs, [min, max]).
 */
const REFERENCE: Record<
  Load,
  { keyErrors: [number, number, number]; ratio: number; cpuPerRequest: [number, number] }
> = {
  'keep-alive': { keyErrors: [4.0, 0.2, 14.9], ratio: 4141 / 4523, cpuPerRequest: [210, 250] },
  churn: { keyErrors: [10.5, 9.8, 27.7], ratio: 1.1, cpuPerRequest: [320, 370] },
};
// SPEED. The reference runs' Tornado spent more CPU per request (REFERENCE.cpuPerRequest) than
// 4.5.3 calibrated on this machine in a quiet minute (lab/server/pace-presets.json). What a
// request costs against what the client's request costs decides how often a worker catches up
// with wrk and takes a connection whose request is not written yet, and so the churn KeyErrors (README, "At the reference's speed"). So `--speed
// reference` (the default of the fixed reference) runs the engine at the reference runs' speed:
// for each load, short probes (N = 2 pre-fork, the load) scale every cost until the engine's CPU
// per request is the middle of the reference's range, and every engine run of that load, any N,
// runs at that scale (--pace-scale-pct).
const SPEED_PROBE_SEC = 3;
const SPEED_PROBES = 3;
const RATIO_TOLERANCE = 0.2;
const KEYERROR_FACTOR = 3;
const READY_TIMEOUT_MS = 30_000;

// SERVER_SESSION. Linux's autogroup (`kernel.sched_autogroup_enabled`, on in Debian's kernels and
// here) shares the CPUs fairly between sessions first and between the processes of a session
// second. A server started in wrk's session has its N workers and wrk take turns as N + 1 equals,
// so under load wrk waits behind them; a server in a session of its own has its workers share one
// session's weight against wrk's, as a production server's clients never wait for its workers.
// It decides the figures (README, "Every server in a session of its own"), so every server gets a
// session of its own (`group`), as the lab's local runtime (detached) and Docker (a cgroup per
// container) give it.

interface Snapshot {
  /** The engine's pace; absent for Tornado. */
  pace?: { pace: string } & Record<string, unknown>;
  workers: { counters: Record<string, number> }[];
}

interface Run {
  kind: Kind;
  workers: number;
  load: Load;
  loop: LoopCreation;
  rps: number;
  requests: number;
  keyErrors: number;
  unknownFd: number;
  /** Requests served by each worker during the run. */
  perWorker: number[];
  /** Connections each worker accepted during the run. */
  acceptsPerWorker: number[];
  /**
   * How the load's connections were split 1 s in: connections open in each worker 1 s into the
   * wrk run (engine, Tornado 6.2), or accepted by each worker 1 s after its loop started (4.5.3).
   */
  at1sPerWorker: number[];
  /** epoll_wait calls that returned, and events they returned, per worker. */
  passesPerWorker: number[];
  eventsPerWorker: number[];
  /**
   * Connections added to epoll during the run (add_handler): with Tornado 4.5's request loop, those
   * whose request was not there when it was read inline after the accept. Absent for Tornado 6.2.
   */
  registered?: number;
  timeouts: number;
  /** The workers' user + system CPU over the run, µs. */
  cpuUs: number;
  /** The engine's pace share of its CPU; absent for a real framework. */
  paceShare?: number;
  /** Involuntary context switches of the workers per 1000 requests: preemption by other load. */
  preemptedPer1000?: number;
  /** The engine's --pace-scale-pct, when --speed match set it for this run. */
  scalePct?: number;
  /** The engine's --pace-cpu-pct, when --cpus measured set it for this run. */
  cpuPct?: string;
  /**
   * How unevenly the CPUs ran Python around the run (bench/support/cpu-spread.ts): the larger of
   * the checks just before and just after it. Absent when the check could not run.
   */
  cpuSpread?: number;
}

async function snapshot(metricsPort: number): Promise<Snapshot> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/snapshot.json`, {
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 200) throw new Error(`/snapshot.json: HTTP ${res.status}`);
  return (await res.json()) as Snapshot;
}

const sum = (s: Snapshot, field: string): number =>
  s.workers.reduce((a, w) => a + (w.counters[field] ?? 0), 0);

/** The engine's command line but for --workers and --loop-creation (printed at the start). */
function engineFlags(opts: Options): string[] {
  return [
    '--pace',
    opts.pace,
    '--flavour',
    opts.pace === 'asyncio' ? 'asyncio' : 'tornado4',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--keyerror-log-per-sec',
    '5',
    ...opts.engineArgs,
  ];
}

/** --pace-scale-pct per load, when the engine runs at another speed than the calibration's. */
const scalePctByLoad = new Map<Load, number>();

function engineArgs(
  opts: Options,
  workers: number,
  loop: LoopCreation,
  pct: number | undefined,
  cpuPct: string | undefined,
): string[] {
  return [
    path.join(REPO, 'bin', 'forklab.js'),
    'serve',
    '--workers',
    String(workers),
    '--loop-creation',
    loop,
    ...engineFlags(opts),
    ...(pct === undefined ? [] : ['--pace-scale-pct', String(pct)]),
    ...(cpuPct === undefined ? [] : ['--pace-cpu-pct', cpuPct]),
    '--name',
    `fidelity-${loop}`,
  ];
}

/** servers/tornado/app.py: real Tornado 6.2 with the engine's counters and placement flags. */
function tornadoArgs(workers: number, loop: LoopCreation): string[] {
  return [
    path.join(REPO, TORNADO_APP),
    '--workers',
    String(workers),
    '--loop-creation',
    loop,
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--name',
    `fidelity-tornado-${loop}`,
  ];
}

/** The load of the reference runs: one wrk thread, 32 connections, churn closing each. */
function startLoad(opts: Options, port: number, load: Load): Promise<WrkResult> {
  const wrkRun = runWrk({
    url: `http://127.0.0.1:${port}/`,
    threads: 1,
    connections: 32,
    durationSec: opts.durationSec,
    timeoutSec: 2,
    headers: load === 'churn' ? ['Connection: close'] : [],
  });
  // A failed wrk run rejects where it is awaited; meanwhile nothing else should see it unhandled.
  wrkRun.catch(() => {});
  return wrkRun;
}

/**
 * The engine (its costs at `scalePct` % of the calibrated ones, when given) or real Tornado 6.2:
 * both publish the engine's counters on a metrics port.
 */
async function runWithMetrics(
  opts: Options,
  kind: 'engine' | 'tornado6',
  workers: number,
  load: Load,
  loop: LoopCreation,
  scalePct?: number,
  cpuPct?: string,
): Promise<{ run: Run; pace: Snapshot['pace'] }> {
  let onReady: (r: { port: number; metricsPort: number }) => void = () => {};
  const ready = new Promise<{ port: number; metricsPort: number }>((r) => (onReady = r));
  const [command, args] =
    kind === 'engine'
      ? [process.execPath, engineArgs(opts, workers, loop, scalePct, cpuPct)]
      : [DEBIAN_PYTHON, tornadoArgs(workers, loop)];
  const child = startChild(kind, command, args, {
    cwd: REPO,
    group: true, // a session of its own (SERVER_SESSION)
    onLine: (line) => {
      const m = /^FORKLAB_READY (\{.*\})\s*$/.exec(line);
      if (m) onReady(JSON.parse(m[1]!) as { port: number; metricsPort: number });
    },
  });
  try {
    const r = await waitReady(child, ready, 'FORKLAB_READY', READY_TIMEOUT_MS);
    await waitForHttp(child, `http://127.0.0.1:${r.metricsPort}/healthz`, 10_000);
    const before = await snapshot(r.metricsPort);
    const wrkRun = startLoad(opts, r.port, load);
    await new Promise((res) => setTimeout(res, Math.min(1000, (opts.durationSec * 1000) / 2)));
    const early = await snapshot(r.metricsPort);
    const wrk = await wrkRun;
    await new Promise((res) => setTimeout(res, 250)); // the workers' last rusage publish
    const after = await snapshot(r.metricsPort);
    const d = (f: string): number => sum(after, f) - sum(before, f);
    const requests = d('requests');
    const perWorker = (f: string): number[] =>
      after.workers.map((w, i) => (w.counters[f] ?? 0) - (before.workers[i]?.counters[f] ?? 0));
    const cpu = d('utime_us') + d('stime_us');
    return {
      pace: after.pace,
      run: {
        kind,
        workers,
        load,
        loop,
        rps: wrk.requestsPerSec,
        requests,
        keyErrors: d('keyerrors'),
        unknownFd: d('unknown_fd_events'),
        perWorker: perWorker('requests'),
        acceptsPerWorker: perWorker('accepts_ok'),
        at1sPerWorker: early.workers.map((w) => w.counters.open_connections ?? 0),
        passesPerWorker: perWorker('loop_passes'),
        eventsPerWorker: perWorker('epoll_events'),
        registered: d('connections_registered'),
        timeouts: wrk.socketErrors?.timeout ?? 0,
        cpuUs: cpu,
        paceShare: cpu > 0 ? d('pace_us') / cpu : 0,
        preemptedPer1000: requests > 0 ? (1000 * d('nivcsw')) / requests : 0,
        ...(kind === 'engine' && cpuPct !== undefined ? { cpuPct } : {}),
      },
    };
  } catch (e) {
    throw new Error(
      `${kind} ${loop} N=${workers} ${load}: ${(e as Error).message}\n${child.output()}`,
    );
  } finally {
    await stopChild(child);
  }
}

/** Temporary directories of runs under way: removed by the run, or on exit if it was cut short. */
const tempDirs = new Set<string>();
function removeTemp(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.delete(dir);
}

/** What bench/tornado45/server.py writes for each worker when it is stopped. */
interface Tornado45Stats {
  accepts: number;
  requests: number;
  keyerrors: number;
  split_at_1s: number | null;
  polls?: number;
  events?: number;
  unknown?: number;
  /** Connection fds registered in epoll (the listening socket's registration is not counted). */
  registered?: number;
  cpu_s: number;
}

/** Real Tornado 4.5.3: the directory holding its package, and the Python that runs it. */
interface Tornado45 {
  dir: string;
  python: string;
  /** TORNADO45_SLOW_SHARE or TORNADO45_SLOW_CPU, checked; server.py reads them from the env. */
  slowing: ReturnType<typeof tornado45Slowing>;
}

/**
 * Real Tornado 4.5.3 (bench/tornado45/server.py): a fresh server on a free port, the load, then
 * SIGTERM, on which each worker writes its counters (over its whole life: it served nothing but
 * the load) to a temporary directory removed afterwards.
 */
async function runTornado45(
  opts: Options,
  { dir, python }: Tornado45,
  workers: number,
  load: Load,
  loop: LoopCreation,
): Promise<Run> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'forklab-tornado45-'));
  tempDirs.add(tmp);
  const out = path.join(tmp, 'out');
  let onReady: (port: number) => void = () => {};
  const ready = new Promise<number>((r) => (onReady = r));
  const child = startChild(
    'tornado45',
    python,
    [TORNADO45_SERVER, '0', String(workers), loop, out],
    {
      cwd: REPO,
      env: { ...process.env, TORNADO45: dir },
      group: true, // a session of its own (SERVER_SESSION)
      onLine: (line) => {
        const m = /^READY (\d+)\s*$/.exec(line);
        if (m) onReady(Number(m[1]));
      },
    },
  );
  try {
    const port = await waitReady(child, ready, 'READY <port>', READY_TIMEOUT_MS);
    const wrk = await startLoad(opts, port, load);
    await stopChild(child);
    const stats: Tornado45Stats[] = [];
    for (let i = 0; i < workers; i++) {
      const file = `${out}.w${i}.json`;
      try {
        stats.push(JSON.parse(readFileSync(file, 'utf8')) as Tornado45Stats);
      } catch (e) {
        throw new Error(`worker ${i} left no counters in ${file}: ${(e as Error).message}`);
      }
    }
    const total = (f: (s: Tornado45Stats) => number): number => stats.reduce((a, s) => a + f(s), 0);
    return {
      kind: 'tornado45',
      workers,
      load,
      loop,
      rps: wrk.requestsPerSec,
      requests: total((s) => s.requests),
      keyErrors: total((s) => s.keyerrors),
      unknownFd: total((s) => s.unknown ?? 0),
      perWorker: stats.map((s) => s.requests),
      acceptsPerWorker: stats.map((s) => s.accepts),
      at1sPerWorker: stats.map((s) => s.split_at_1s ?? 0),
      passesPerWorker: stats.map((s) => s.polls ?? 0),
      eventsPerWorker: stats.map((s) => s.events ?? 0),
      registered: total((s) => s.registered ?? 0),
      timeouts: wrk.socketErrors?.timeout ?? 0,
      cpuUs: total((s) => s.cpu_s) * 1e6,
    };
  } catch (e) {
    throw new Error(
      `tornado45 ${loop} N=${workers} ${load}: ${(e as Error).message}\n${child.output()}`,
    );
  } finally {
    await stopChild(child);
    removeTemp(tmp);
  }
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const per1000 = (r: Run): number => (r.requests > 0 ? (1000 * r.keyErrors) / r.requests : 0);

const unknownPer1000 = (r: Run): number => (r.requests > 0 ? (1000 * r.unknownFd) / r.requests : 0);
const cpuPerRequest = (r: Run): number => (r.requests > 0 ? r.cpuUs / r.requests : 0);
/** Each worker's share of the requests, in %. */
const shares = (r: Run): string =>
  r.perWorker.map((n) => fmt(r.requests > 0 ? (100 * n) / r.requests : 0)).join('/');

const KIND_LABEL: Record<Kind, string> = {
  engine: 'engine',
  tornado6: 'tornado 6.2',
  tornado45: 'tornado 4.5.3',
};

/** Connections that went into epoll, in % of the connections accepted; undefined if not counted. */
const registeredShare = (r: Run): number | undefined => {
  const accepted = r.acceptsPerWorker.reduce((a, n) => a + n, 0);
  return r.registered === undefined || accepted === 0 ? undefined : (100 * r.registered) / accepted;
};

const perRequest = (r: Run, xs: number[]): number =>
  r.requests > 0 ? xs.reduce((a, x) => a + x, 0) / r.requests : 0;

function describe(r: Run): string {
  const list = (xs: number[]): string => xs.map((n) => fmt(n)).join('/');
  return (
    `${r.kind === 'engine' ? '' : `${KIND_LABEL[r.kind]} `}${r.loop.padEnd(9)} ${fmt(r.rps).padStart(6)} req/s  ` +
    `KeyErrors/1000 ${fmt(per1000(r), 2).padStart(8)}  unknown-fd ${fmt(r.unknownFd).padStart(9)}  ` +
    `per worker ${list(r.perWorker)} (connections ${list(r.acceptsPerWorker)}, ` +
    `${r.kind === 'tornado45' ? 'accepted by' : 'open at'} 1 s ${list(r.at1sPerWorker)})  ` +
    `polls ${list(r.passesPerWorker)} events ${list(r.eventsPerWorker)} ` +
    `(${fmt(perRequest(r, r.passesPerWorker), 2)} and ${fmt(perRequest(r, r.eventsPerWorker), 2)} per request)  ` +
    (registeredShare(r) === undefined
      ? ''
      : `into epoll ${fmt(registeredShare(r)!, 1)} % of connections  `) +
    `timeouts ${r.timeouts}  unknown-fd/1000 ${fmt(unknownPer1000(r), 0)}  ` +
    `CPU µs/request ${fmt(cpuPerRequest(r), 1)}` +
    (r.paceShare === undefined ? '' : `  pace ${fmt(100 * r.paceShare)} % of CPU`) +
    (r.preemptedPer1000 === undefined ? '' : `  preempted/1000 ${fmt(r.preemptedPer1000, 1)}`) +
    (r.scalePct === undefined ? '' : `  costs at ${r.scalePct} %`) +
    (r.cpuPct === undefined ? '' : `, per CPU ${r.cpuPct} %`)
  );
}

/** A caution under a verdict whose runs include some taken on uneven CPUs. */
function printUneven(rs: Run[]): void {
  const note = unevenNote(rs.flatMap((r) => (r.cpuSpread === undefined ? [] : [r.cpuSpread])));
  if (note) console.log(`      ${note}`);
}

/**
 * The scale (--pace-scale-pct) at which the engine spends, N = 2 pre-fork under `load`, the
 * middle of the reference runs' CPU per request (SPEED). Each probe takes the engine's own CPU
 * per request (all of it less the pace's) as fixed and the pace's as proportional to the scale.
 */
async function referenceScale(
  opts: Options,
  load: Load,
  cpuPct: string | undefined,
): Promise<number> {
  const [lo, hi] = REFERENCE[load].cpuPerRequest;
  const target = (lo + hi) / 2;
  let pct = 100;
  const steps: string[] = [];
  // pct is the scale for even CPUs; a probe with a per-CPU scale runs at it ÷ that scale's mean.
  const mean = meanCpuFactor(cpuPct);
  for (let i = 0; i < SPEED_PROBES; i++) {
    const { run } = await runWithMetrics(
      { ...opts, durationSec: SPEED_PROBE_SEC },
      'engine',
      2,
      load,
      'pre-fork',
      Math.round(pct / mean),
      cpuPct,
    );
    const cpu = cpuPerRequest(run);
    const pace = cpu * (run.paceShare ?? 0);
    steps.push(`${pct} %: ${fmt(cpu, 1)} µs`);
    if (!(pace > 0))
      throw new Error(`--speed reference: the engine burned no pace at ${pct} % (${load})`);
    const next = Math.round((pct * (target - (cpu - pace))) / pace);
    if (next === pct) break;
    pct = Math.min(1000, Math.max(10, next));
  }
  console.log(
    `  speed, ${load}: the reference's Tornado spent ${lo}–${hi} µs of CPU per request; the engine, ` +
      `N=2 pre-fork, ${SPEED_PROBE_SEC} s probes${cpuPct === undefined ? '' : ` (per CPU ${cpuPct} %)`}: ` +
      `${steps.join(' → ')} → every cost at ${pct} %`,
  );
  return pct;
}

// --speed match: each engine run at the speed the real framework ran at just before it, under
// the same N, load and placement. The engine's CPU per request is its own (taken as fixed) plus the
// pace's (proportional to the scale); both are learnt per N, load and placement from a probe at
// the calibrated costs and then from every matched run.
type Matching = Map<string, { ownUs: number; pacePer100Us: number }>;
const matchKey = (workers: number, load: Load, loop: LoopCreation): string =>
  `${workers} ${load} ${loop}`;

function learnScale(matching: Matching, run: Run): void {
  const cpu = cpuPerRequest(run);
  const pace = cpu * (run.paceShare ?? 0);
  if (!(pace > 0) || run.scalePct === undefined) return;
  matching.set(matchKey(run.workers, run.load, run.loop), {
    ownUs: cpu - pace,
    pacePer100Us: (pace * 100) / run.scalePct / meanCpuFactor(run.cpuPct),
  });
}

async function matchScale(
  opts: Options,
  matching: Matching,
  workers: number,
  load: Load,
  loop: LoopCreation,
  real: Run,
  cpuPct: string | undefined,
): Promise<number> {
  const key = matchKey(workers, load, loop);
  if (!matching.has(key)) {
    const { run } = await runWithMetrics(
      { ...opts, durationSec: SPEED_PROBE_SEC },
      'engine',
      workers,
      load,
      loop,
      100,
      cpuPct,
    );
    run.scalePct = 100;
    learnScale(matching, run);
  }
  const m = matching.get(key);
  if (!m)
    throw new Error(`--speed match: the engine burned no pace (N=${workers} ${load} ${loop})`);
  const target = cpuPerRequest(real);
  const pct = Math.min(
    1000,
    Math.max(10, Math.round((100 * (target - m.ownUs)) / (m.pacePer100Us * meanCpuFactor(cpuPct)))),
  );
  console.log(
    `  speed: real ${fmt(target, 1)} µs/request; the engine's own ${fmt(m.ownUs, 1)} + pace ` +
      `${fmt(m.pacePer100Us, 1)} at 100 % → every cost at ${pct} %`,
  );
  return pct;
}

/** The --against summary: the engine and the real framework side by side, per N and load. */
function summariseAgainst(opts: Options, real: Against, runs: Run[]): void {
  console.log(
    `summary (medians over the rounds [min–max]; engine = paced ${opts.pace}, real = ${KIND_LABEL[real]})`,
  );
  const of = (kind: Kind, workers: number, load: Load, loop: LoopCreation): Run[] =>
    runs.filter(
      (r) => r.kind === kind && r.workers === workers && r.load === load && r.loop === loop,
    );
  const range = (xs: number[], digits: number): string =>
    xs.length === 0
      ? '-'
      : `${fmt(median(xs), digits)} [${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}]`;
  const ratiosOf = (kind: Kind, workers: number, load: Load): number[] => {
    const post = of(kind, workers, load, 'post-fork');
    return of(kind, workers, load, 'pre-fork').map((r, i) => r.rps / (post[i]?.rps ?? NaN));
  };
  // Tornado 6.2 (asyncio) skips unknown fds; Tornado 4.5.3 raises a KeyError on them.
  const [missName, miss] =
    real === 'tornado6' ? ['unknown-fd/1000', unknownPer1000] : ['KeyErrors/1000', per1000];
  for (const load of opts.loads) {
    // The one-worker ratios of both servers: the noise the ratio verdict allows for.
    const control = opts.workers.includes(1)
      ? [...ratiosOf('engine', 1, load), ...ratiosOf(real, 1, load)]
      : [];
    for (const workers of opts.workers) {
      console.log(`  N=${workers} ${load}`);
      for (const loop of ['pre-fork', 'post-fork'] as const) {
        for (const kind of ['engine', real] as const) {
          const rs = of(kind, workers, load, loop);
          if (rs.length === 0) continue;
          console.log(
            `    ${(kind === 'engine' ? 'engine' : 'real').padEnd(6)} ${loop.padEnd(9)} ` +
              `${missName} ${range(rs.map(miss), real === 'tornado6' ? 0 : 2)}  ` +
              `CPU µs/request ${range(rs.map(cpuPerRequest), 1)}  ` +
              (rs.every((r) => registeredShare(r) !== undefined)
                ? `into epoll % ${range(
                    rs.map((r) => registeredShare(r)!),
                    1,
                  )}  `
                : '') +
              `req/s ${range(
                rs.map((r) => r.rps),
                0,
              )}  shares % ${rs.map(shares).join(', ')}`,
          );
        }
      }
      const eng = ratiosOf('engine', workers, load);
      const rea = ratiosOf(real, workers, load);
      console.log(
        `    pre/post req/s: engine ${range(eng, 2)}, real ${range(rea, 2)}` +
          (workers === 1 ? ' (the control)' : ''),
      );
      if (real === 'tornado45') {
        // With one worker every run counts (none may show a KeyError); with more, the pre-fork ones.
        const keyErrors = (kind: Kind, keep: (r: Run) => boolean = () => true): number[] =>
          (workers === 1
            ? [...of(kind, 1, load, 'pre-fork'), ...of(kind, 1, load, 'post-fork')]
            : of(kind, workers, load, 'pre-fork')
          )
            .filter(keep)
            .map(per1000);
        console.log(
          `      KeyErrors/1000 (pre-fork): ${keyErrorVerdict(keyErrors('engine'), keyErrors(real), workers, KEYERROR_FACTOR)}`,
        );
        // The same verdict from the runs taken on even CPUs only, when some were not.
        const even = (r: Run): boolean => r.cpuSpread !== undefined && r.cpuSpread <= UNEVEN_SPREAD;
        const [engEven, realEven] = [keyErrors('engine', even), keyErrors(real, even)];
        if (
          engEven.length > 0 &&
          realEven.length > 0 &&
          (engEven.length < keyErrors('engine').length || realEven.length < keyErrors(real).length)
        )
          console.log(
            `      the same from the runs on even CPUs only (${engEven.length} engine, ${realEven.length} real): ` +
              keyErrorVerdict(engEven, realEven, workers, KEYERROR_FACTOR),
          );
      }
      if (real === 'tornado45' && load === 'keep-alive' && workers > 1) {
        const split = (kind: Kind): SplitRun[] =>
          of(kind, workers, load, 'pre-fork').map((r) => ({
            at1s: r.at1sPerWorker,
            keyErrorsPer1000: per1000(r),
          }));
        for (const line of keyErrorsBySplit(split('engine'), split(real), workers, KEYERROR_FACTOR))
          console.log(`      by split, ${line}`);
      }
      if (workers > 1 && eng.length > 0 && rea.length > 0) {
        console.log(
          `      engine's ratio against the real one: ${controlRatioVerdict(eng, control, median(rea), RATIO_TOLERANCE)}`,
        );
      }
      printUneven(runs.filter((r) => r.workers === workers && r.load === load));
    }
  }
}

async function main(): Promise<number> {
  const opts = parseFidelityOptions(process.argv.slice(2));
  if (!opts) {
    console.log(FIDELITY_USAGE);
    return 0;
  }
  let tornado45: Tornado45 | undefined;
  if (opts.against === 'tornado45') {
    try {
      tornado45 = {
        dir: tornado45Dir(process.env),
        python: tornado45Python(process.env, DEBIAN_PYTHON),
        slowing: tornado45Slowing(process.env, os.cpus().length),
      };
    } catch (e) {
      console.error(`bench:fidelity: ${(e as Error).message}`);
      return 2;
    }
  }
  process.on('exit', () => {
    killAllNow();
    for (const dir of tempDirs) removeTemp(dir);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}, stopping the servers`);
      void stopAll().finally(() => process.exit(130));
    });
  }
  console.log(
    `bench:fidelity: --pace ${opts.pace}${opts.against ? ` --against ${opts.against}` : ''}, wrk -t1 -c32 -d${opts.durationSec}s --timeout 2s, ` +
      `${opts.rounds} round(s), N = ${opts.workers.join(', ')}, loads ${opts.loads.join(', ')}, ` +
      `speed ${typeof opts.speed === 'number' ? `${opts.speed} % of the calibrated costs` : opts.speed}, ` +
      `CPUs ${opts.cpus === 'measured' ? "measured (the engine burns × each CPU's Python loop time ÷ the fastest's, from the check before its run)" : 'even'}`,
  );
  console.log(
    `engine: forklab serve --workers N --loop-creation pre-fork|post-fork ${engineFlags(opts).join(' ')}` +
      ` (engine args: ${opts.engineArgs.length > 0 ? opts.engineArgs.join(' ') : 'none'})`,
  );
  if (tornado45) {
    const burn = process.env.TORNADO45_ACCEPT_BURN_US;
    const slow = tornado45.slowing;
    console.log(
      `real: ${tornado45.python} bench/tornado45/server.py, TORNADO45=${tornado45.dir}` +
        (tornado45.python === DEBIAN_PYTHON ? '' : ' (TORNADO45_PYTHON)') +
        (burn ? `, TORNADO45_ACCEPT_BURN_US=${burn} (CPU added to each accept)` : '') +
        (slow === undefined
          ? ''
          : 'share' in slow
            ? `, TORNADO45_SLOW_SHARE=${slow.share} (that share of its loop passes, drawn at random, profiled: a slower interpreter)`
            : `, TORNADO45_SLOW_CPU=${slow.cpu} (its loop passes that start on CPU ${slow.cpu} profiled: a slower CPU)`),
    );
  }
  console.log(machineLine('wrk'));
  const runs: Run[] = [];
  // The CPU check before every run and once after the last; a run gets the larger of its two.
  const spreads: (number | undefined)[] = [];
  let cpuCheck = true;
  // --cpus measured: the engine's --pace-cpu-pct from the last check (even when none could run).
  let lastCheck: CpuSpread | undefined;
  const cpuPct = (): string | undefined =>
    opts.cpus === 'measured' && lastCheck ? cpuPctOf(lastCheck.ms) : undefined;
  const measureCpus = (): CpuSpread | undefined => {
    lastCheck = undefined;
    if (!cpuCheck) return undefined;
    try {
      const c = measureCpuSpread(DEBIAN_PYTHON);
      console.log(
        `  CPUs: Python loop ${c.ms.map((m) => m.toFixed(0)).join(', ')} ms (slowest ${c.spread.toFixed(2)}× the fastest)`,
      );
      return (lastCheck = c);
    } catch (e) {
      const why = opts.cpus === 'measured' ? '; the engine burns the same on every CPU' : '';
      console.log(`  ${(e as Error).message}: no more CPU checks in this bench${why}`);
      cpuCheck = false;
      return undefined;
    }
  };
  const checkCpus = (): void => void spreads.push(measureCpus()?.spread);
  if (opts.speed === 'reference') {
    if (opts.cpus === 'measured') measureCpus();
    for (const load of opts.loads)
      scalePctByLoad.set(load, await referenceScale(opts, load, cpuPct()));
  } else if (typeof opts.speed === 'number') {
    for (const load of opts.loads) scalePctByLoad.set(load, opts.speed);
  }
  const matching: Matching = new Map();
  let paceShown = false;
  // Round-major: every N and load once per round, so that drift in the machine's load spreads over
  // all of them alike (the one-worker control included); pre- and post-fork alternate their order.
  for (let round = 1; round <= opts.rounds; round++) {
    for (const workers of opts.workers) {
      for (const load of opts.loads) {
        const order: LoopCreation[] =
          round % 2 === 1 ? ['pre-fork', 'post-fork'] : ['post-fork', 'pre-fork'];
        console.log(`\nround ${round}: N=${workers} ${load} (load average ${loadAverage()})`);
        // --speed match: the real framework first, so the engine can run at its speed.
        const kinds: Kind[] = !opts.against
          ? ['engine']
          : round % 2 === 1 && opts.speed !== 'match'
            ? ['engine', opts.against]
            : [opts.against, 'engine'];
        for (const [kind, loop] of kinds.flatMap((k) => order.map((l) => [k, l] as const))) {
          // The check first: with --cpus measured the engine's run (and its speed probe) burns per
          // CPU as it found.
          checkCpus();
          let scalePct = scalePctByLoad.get(load);
          // The reference's speed is a mean CPU per request: kept whatever the CPUs' spread.
          if (kind === 'engine' && opts.speed === 'reference' && scalePct !== undefined)
            scalePct = Math.round(scalePct / meanCpuFactor(cpuPct()));
          if (kind === 'engine' && opts.speed === 'match') {
            const real = runs.filter(
              (r) =>
                r.kind !== 'engine' && r.workers === workers && r.load === load && r.loop === loop,
            );
            scalePct = await matchScale(
              opts,
              matching,
              workers,
              load,
              loop,
              real.at(-1)!,
              cpuPct(),
            );
          }
          const { run, pace } =
            kind === 'tornado45'
              ? { run: await runTornado45(opts, tornado45!, workers, load, loop), pace: undefined }
              : await runWithMetrics(
                  opts,
                  kind,
                  workers,
                  load,
                  loop,
                  scalePct,
                  kind === 'engine' ? cpuPct() : undefined,
                );
          if (kind === 'engine' && opts.cpus === 'measured') run.scalePct = scalePct;
          if (kind === 'engine' && opts.speed === 'match') {
            run.scalePct = scalePct;
            learnScale(matching, run);
          }
          if (!paceShown && pace) {
            console.log(`  pace: ${JSON.stringify(pace)}`);
            paceShown = true;
          }
          console.log(`  ${describe(run)}`);
          runs.push(run);
        }
      }
    }
  }

  checkCpus();
  runs.forEach((r, i) => {
    const around = [spreads[i], spreads[i + 1]].filter((s): s is number => s !== undefined);
    if (around.length > 0) r.cpuSpread = Math.max(...around);
  });
  console.log(`\nload average at end ${loadAverage()}`);
  if (opts.against) {
    summariseAgainst(opts, opts.against, runs);
    return 0;
  }
  console.log('summary (medians over the rounds; reference: real Tornado 4.5.3, N = 2)');
  // With one worker, pre-fork and post-fork differ only in who created the epoll instance: their
  // ratio is 1 but for run-to-run noise, which makes it the measure of that noise.
  const noise = new Map<Load, number[]>();
  for (const load of opts.loads) {
    const one = (loop: LoopCreation): Run[] =>
      runs.filter((r) => r.workers === 1 && r.load === load && r.loop === loop);
    const post1 = one('post-fork');
    const r1 = one('pre-fork').map((r, i) => r.rps / (post1[i]?.rps ?? NaN));
    if (r1.length > 0) noise.set(load, r1);
  }
  for (const workers of opts.workers) {
    for (const load of opts.loads) {
      const of = (loop: LoopCreation): Run[] =>
        runs.filter((r) => r.workers === workers && r.load === load && r.loop === loop);
      const pre = of('pre-fork');
      const post = of('post-fork');
      const ke = pre.map(per1000);
      const keMedian = median(ke);
      const ratios = pre.map((r, i) => r.rps / (post[i]?.rps ?? NaN));
      const ratio = median(ratios);
      const postKe = post.reduce((a, r) => a + r.keyErrors, 0);
      const ref = REFERENCE[load];
      const cpu = pre.map(cpuPerRequest);
      console.log(
        `  N=${workers} ${load.padEnd(10)} pre-fork KeyErrors/1000 ${fmt(keMedian, 2)} ` +
          `[${fmt(Math.min(...ke), 2)}–${fmt(Math.max(...ke), 2)}]; ` +
          `pre/post req/s ${fmt(ratio, 2)} [${ratios.map((x) => fmt(x, 2)).join(', ')}]; ` +
          `post-fork KeyErrors ${postKe}; pre-fork CPU µs/request ${fmt(median(cpu), 1)} ` +
          `[${fmt(Math.min(...cpu), 1)}–${fmt(Math.max(...cpu), 1)}]` +
          (workers === 2 && opts.pace === 'tornado4'
            ? ` (reference ${ref.cpuPerRequest[0]}–${ref.cpuPerRequest[1]})`
            : ''),
      );
      const pct = scalePctByLoad.get(load);
      if (pct !== undefined)
        console.log(`      the engine's costs at ${pct} % of the calibrated ones`);
      if (workers === 1) {
        const all = [...pre, ...post].reduce((a, r) => a + r.keyErrors, 0);
        console.log(
          `      target: 0 KeyErrors with one worker: ${all === 0 ? 'met' : `NOT met (${all})`}`,
        );
      } else if (workers === 2 && opts.pace === 'tornado4') {
        const [m, lo, hi] = ref.keyErrors;
        const inRange = keMedian >= lo && keMedian <= hi;
        const within3 = keMedian >= m / KEYERROR_FACTOR && keMedian <= m * KEYERROR_FACTOR;
        console.log(
          `      reference KeyErrors/1000 ${fmt(m, 1)} [${fmt(lo, 1)}–${fmt(hi, 1)}]: ` +
            `inside the range ${inRange ? 'yes' : 'NO'}, within ${KEYERROR_FACTOR}× of ${fmt(m, 1)} ` +
            `${within3 ? 'yes' : 'NO'} → ${inRange && within3 ? 'met' : 'NOT met'}`,
        );
        console.log(
          `      reference pre/post: ${controlRatioVerdict(ratios, noise.get(load) ?? [], ref.ratio, RATIO_TOLERANCE)}`,
        );
        if (postKe > 0) console.log(`      post-fork KeyErrors should be 0: NOT met (${postKe})`);
      } else {
        console.log('      (no reference figures for this N and pace)');
      }
      printUneven([...pre, ...post]);
    }
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:fidelity: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
