// Does the paced engine show what the framework shows? Runs the engine with a pace preset
// (default tornado4) before fork and after fork under the load of the reference runs of real
// Tornado 4.5.3 (`wrk -t1 -c32 -d10s --timeout 2s`, keep-alive and `Connection: close` churn), for
// each worker count and several rounds, and prints KeyErrors per 1000 requests and the pre/post
// throughput ratio next to the reference figures, with a verdict per target.
//
//   npm run bench:fidelity -- [--rounds 3] [--duration 10] [--workers 1,2] [--pace tornado4]
//                             [--loads keep-alive,churn]
//   npm run bench:fidelity -- --against tornado6 [--rounds 3] [--duration 10] [--workers 1,2,4]
//                             [--loads keep-alive]
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
// Every run starts a fresh server (a fresh accept race, as each reference run was a fresh
// Tornado), and pre-fork and post-fork alternate within a round so that drift hits both. KeyErrors
// and requests are the engine's own counters over the wrk run; requests/s is wrk's. The exit code
// is 1 only when something failed to run; targets not met are reported, not fatal.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEBIAN_PYTHON, TORNADO_APP } from '../lab/runtime/server-commands';
import { killAllNow, startChild, stopAll, stopChild, waitForHttp } from './support/children';
import { controlRatioVerdict } from './support/verdict';
import { runWrk } from './support/wrk';

const REPO = path.resolve(__dirname, '..');

type Load = 'keep-alive' | 'churn';
type LoopCreation = 'pre-fork' | 'post-fork';
/** What serves: the paced engine, or real Tornado 6.2 (servers/tornado/app.py). */
type Kind = 'engine' | 'tornado';

/** Real Tornado 4.5.3, N = 2, median [min–max] of 3 runs, measured on a machine of this kind. */
const REFERENCE: Record<Load, { keyErrors: [number, number, number]; ratio: number }> = {
  'keep-alive': { keyErrors: [4.0, 0.2, 14.9], ratio: 4141 / 4523 },
  churn: { keyErrors: [10.5, 9.8, 27.7], ratio: 1.1 },
};
const RATIO_TOLERANCE = 0.2;
const KEYERROR_FACTOR = 3;

interface Options {
  rounds: number;
  durationSec: number;
  workers: number[];
  pace: string;
  loads: Load[];
  /** Real Tornado 6.2 beside the paced asyncio engine. */
  against: 'tornado6' | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      workers: { type: 'string' },
      pace: { type: 'string' },
      loads: { type: 'string' },
      against: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'usage: npm run bench:fidelity -- [--rounds 3] [--duration 10] [--workers 1,2] ' +
        '[--pace tornado4|asyncio|native] [--loads keep-alive,churn]\n' +
        '       npm run bench:fidelity -- --against tornado6 [--rounds 3] [--duration 10] ' +
        '[--workers 1,2,4] [--loads keep-alive]',
    );
    process.exit(0);
  }
  const int = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name}: an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    return n;
  };
  if (values.against !== undefined && values.against !== 'tornado6')
    throw new Error(
      `--against: tornado6 (real Tornado 6.2), got ${JSON.stringify(values.against)}`,
    );
  const against = values.against;
  if (against && values.pace !== undefined && values.pace !== 'asyncio')
    throw new Error(`--against tornado6 runs --pace asyncio; drop --pace ${values.pace}`);
  const pace = values.pace ?? (against ? 'asyncio' : 'tornado4');
  const loads = (values.loads ?? (against ? 'keep-alive' : 'keep-alive,churn'))
    .split(',')
    .map((l) => l.trim());
  for (const l of loads) {
    if (l !== 'keep-alive' && l !== 'churn')
      throw new Error(`--loads: keep-alive and/or churn, got ${JSON.stringify(l)}`);
  }
  if (!['native', 'tornado4', 'asyncio'].includes(pace))
    throw new Error(`--pace: native, tornado4 or asyncio, got ${JSON.stringify(pace)}`);
  return {
    rounds: int('rounds', values.rounds, 1, 100),
    durationSec: int('duration', values.duration, 1, 600),
    workers: (values.workers ?? (against ? '1,2,4' : '1,2'))
      .split(',')
      .map((w) => int('workers', w.trim(), 1, 64)),
    pace,
    loads: loads as Load[],
    against,
  };
}

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
  /** Connections open in each worker 1 s into the run: how the load's connections were split. */
  openAt1sPerWorker: number[];
  /** epoll_wait calls that returned, and events they returned, per worker. */
  passesPerWorker: number[];
  eventsPerWorker: number[];
  timeouts: number;
  /** The workers' user + system CPU over the run, µs (getrusage, published every 250 ms). */
  cpuUs: number;
  paceShare: number;
  /** Involuntary context switches of the workers per 1000 requests: preemption by other load. */
  preemptedPer1000: number;
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

function engineArgs(opts: Options, workers: number, loop: LoopCreation): string[] {
  return [
    path.join(REPO, 'bin', 'forklab.js'),
    'serve',
    '--workers',
    String(workers),
    '--loop-creation',
    loop,
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

async function runOnce(
  opts: Options,
  kind: Kind,
  workers: number,
  load: Load,
  loop: LoopCreation,
): Promise<{ run: Run; pace: Snapshot['pace'] }> {
  let onReady: (r: { port: number; metricsPort: number }) => void = () => {};
  const ready = new Promise<{ port: number; metricsPort: number }>((r) => (onReady = r));
  const [command, args] =
    kind === 'engine'
      ? [process.execPath, engineArgs(opts, workers, loop)]
      : [DEBIAN_PYTHON, tornadoArgs(workers, loop)];
  const child = startChild(kind, command, args, {
    cwd: REPO,
    onLine: (line) => {
      const m = /^FORKLAB_READY (\{.*\})\s*$/.exec(line);
      if (m) onReady(JSON.parse(m[1]!) as { port: number; metricsPort: number });
    },
  });
  try {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no FORKLAB_READY within 30 s')), 30_000).unref(),
    );
    const r = await Promise.race([ready, timeout]);
    const url = `http://127.0.0.1:${r.port}/`;
    await waitForHttp(child, `http://127.0.0.1:${r.metricsPort}/healthz`, 10_000);
    const before = await snapshot(r.metricsPort);
    const wrkRun = runWrk({
      url,
      threads: 1,
      connections: 32,
      durationSec: opts.durationSec,
      timeoutSec: 2,
      headers: load === 'churn' ? ['Connection: close'] : [],
    });
    // A failed wrk run rejects here first; the snapshot only looks.
    wrkRun.catch(() => {});
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
        perWorker: after.workers.map(
          (w, i) => (w.counters.requests ?? 0) - (before.workers[i]?.counters.requests ?? 0),
        ),
        acceptsPerWorker: after.workers.map(
          (w, i) => (w.counters.accepts_ok ?? 0) - (before.workers[i]?.counters.accepts_ok ?? 0),
        ),
        openAt1sPerWorker: early.workers.map((w) => w.counters.open_connections ?? 0),
        passesPerWorker: perWorker('loop_passes'),
        eventsPerWorker: perWorker('epoll_events'),
        timeouts: wrk.socketErrors?.timeout ?? 0,
        cpuUs: cpu,
        paceShare: cpu > 0 ? d('pace_us') / cpu : 0,
        preemptedPer1000: requests > 0 ? (1000 * d('nivcsw')) / requests : 0,
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

function describe(r: Run): string {
  return (
    `${r.kind === 'tornado' ? 'tornado ' : ''}${r.loop.padEnd(9)} ${fmt(r.rps).padStart(6)} req/s  ` +
    `KeyErrors/1000 ${fmt(per1000(r), 2).padStart(8)}  unknown-fd ${fmt(r.unknownFd).padStart(9)}  ` +
    `per worker ${r.perWorker.map((n) => fmt(n)).join('/')} ` +
    `(connections ${r.acceptsPerWorker.map((n) => fmt(n)).join('/')}, ` +
    `open at 1 s ${r.openAt1sPerWorker.map((n) => fmt(n)).join('/')})  ` +
    `polls ${r.passesPerWorker.map((n) => fmt(n)).join('/')} events ${r.eventsPerWorker.map((n) => fmt(n)).join('/')}  ` +
    `timeouts ${r.timeouts}  unknown-fd/1000 ${fmt(unknownPer1000(r), 0)}  ` +
    `CPU µs/request ${fmt(cpuPerRequest(r), 1)}  ` +
    `pace ${fmt(100 * r.paceShare)} % of CPU  preempted/1000 ${fmt(r.preemptedPer1000, 1)}`
  );
}

/** The --against tornado6 summary: engine and Tornado side by side, per N and load. */
function summariseAgainstTornado(opts: Options, runs: Run[]): void {
  console.log('summary (medians over the rounds [min–max]; engine = paced asyncio, tornado = 6.2)');
  const of = (kind: Kind, workers: number, load: Load, loop: LoopCreation): Run[] =>
    runs.filter(
      (r) => r.kind === kind && r.workers === workers && r.load === load && r.loop === loop,
    );
  const range = (xs: number[], digits: number): string =>
    `${fmt(median(xs), digits)} [${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}]`;
  const ratiosOf = (kind: Kind, workers: number, load: Load): number[] => {
    const post = of(kind, workers, load, 'post-fork');
    return of(kind, workers, load, 'pre-fork').map((r, i) => r.rps / (post[i]?.rps ?? NaN));
  };
  for (const load of opts.loads) {
    // The one-worker ratios of both servers: the noise the ratio verdict allows for.
    const control = opts.workers.includes(1)
      ? [...ratiosOf('engine', 1, load), ...ratiosOf('tornado', 1, load)]
      : [];
    for (const workers of opts.workers) {
      console.log(`  N=${workers} ${load}`);
      for (const loop of ['pre-fork', 'post-fork'] as const) {
        for (const kind of ['engine', 'tornado'] as const) {
          const rs = of(kind, workers, load, loop);
          if (rs.length === 0) continue;
          console.log(
            `    ${kind.padEnd(7)} ${loop.padEnd(9)} unknown-fd/1000 ${range(rs.map(unknownPer1000), 0)}  ` +
              `CPU µs/request ${range(rs.map(cpuPerRequest), 1)}  ` +
              `req/s ${range(
                rs.map((r) => r.rps),
                0,
              )}  shares % ${rs.map(shares).join(', ')}`,
          );
        }
      }
      const eng = ratiosOf('engine', workers, load);
      const tor = ratiosOf('tornado', workers, load);
      console.log(
        `    pre/post req/s: engine ${range(eng, 2)}, tornado ${range(tor, 2)}` +
          (workers === 1 ? ' (the control)' : ''),
      );
      if (workers > 1 && eng.length > 0 && tor.length > 0) {
        console.log(
          `      engine's ratio against Tornado's: ${controlRatioVerdict(eng, control, median(tor), RATIO_TOLERANCE)}`,
        );
      }
    }
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}, stopping the servers`);
      void stopAll().finally(() => process.exit(130));
    });
  }
  console.log(
    `bench:fidelity: --pace ${opts.pace}${opts.against ? ` --against ${opts.against}` : ''}, wrk -t1 -c32 -d${opts.durationSec}s --timeout 2s, ` +
      `${opts.rounds} round(s), N = ${opts.workers.join(', ')}, loads ${opts.loads.join(', ')}`,
  );
  const loadAvg = (): string =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.type()} ${os.release()}; ` +
      `load average at start ${loadAvg()}`,
  );
  const runs: Run[] = [];
  let paceShown = false;
  // Round-major: every N and load once per round, so that drift in the machine's load spreads over
  // all of them alike (the one-worker control included); pre- and post-fork alternate their order.
  for (let round = 1; round <= opts.rounds; round++) {
    for (const workers of opts.workers) {
      for (const load of opts.loads) {
        const order: LoopCreation[] =
          round % 2 === 1 ? ['pre-fork', 'post-fork'] : ['post-fork', 'pre-fork'];
        console.log(`\nround ${round}: N=${workers} ${load} (load average ${loadAvg()})`);
        const kinds: Kind[] = !opts.against
          ? ['engine']
          : round % 2 === 1
            ? ['engine', 'tornado']
            : ['tornado', 'engine'];
        for (const [kind, loop] of kinds.flatMap((k) => order.map((l) => [k, l] as const))) {
          const { run, pace } = await runOnce(opts, kind, workers, load, loop);
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

  console.log(`\nload average at end ${loadAvg()}`);
  if (opts.against) {
    summariseAgainstTornado(opts, runs);
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
      console.log(
        `  N=${workers} ${load.padEnd(10)} pre-fork KeyErrors/1000 ${fmt(keMedian, 2)} ` +
          `[${fmt(Math.min(...ke), 2)}–${fmt(Math.max(...ke), 2)}]; ` +
          `pre/post req/s ${fmt(ratio, 2)} [${ratios.map((x) => fmt(x, 2)).join(', ')}]; ` +
          `post-fork KeyErrors ${postKe}`,
      );
      const ref = REFERENCE[load];
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
