// npm run calibrate: measures the pace model's costs on this machine with Debian's Python and the
// real `tornado` package, and writes them with how they were obtained to lab/server/pace-presets.json.
//
//   npm run calibrate -- [--rounds 3] [--duration 5] [--out lab/server/pace-presets.json]
//
// 1. Micro timings (scripts/calibrate/tornado_costs.py micro), CPU time per operation:
//    the KeyError with its logged traceback (Tornado 4's path), one event dispatched through a
//    Tornado IOLoop plus the IOStream read attempt it leads to, one unknown fd skipped by asyncio.
// 2. A real Tornado HTTPServer (one process) under `wrk -t1 -c32`, keep-alive and then
//    `Connection: close`: the server's CPU time (utime + stime from /proc) per request.
//    request = keep-alive CPU per request − event (each keep-alive request is one event);
//    accept = churn CPU per request − keep-alive CPU per request (a churned request adds an
//    accept, whose listening-socket event stands in for the request's own event: Tornado reads
//    the request inline, with no event of its own).
// Medians over the rounds. Debian 12 ships Tornado 6.2 only: its request and accept paths stand in
// for Tornado 4.5's, and the KeyError is timed through the code Tornado 4.5 runs for it.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, killAllNow, startChild, stopAll, type Child } from '../bench/support/children';
import { runWrk } from '../bench/support/wrk';
import { PACE_COSTS, presetsProblems, type PaceCost, type PacePresets } from '../lab/server/pace';

const REPO = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-tornado (scripts/setup.sh)
const SCRIPT = path.join(REPO, 'scripts', 'calibrate', 'tornado_costs.py');
const CLK_TCK = 100;

interface Micro {
  keyerror: number;
  event: number;
  streamRead: number;
  skip: number;
  python: string;
  tornado: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** utime + stime of a process in µs, from /proc/<pid>/stat. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

async function startTornado(): Promise<{ child: Child; url: string }> {
  const port = await freePort();
  let ready: () => void = () => {};
  const isReady = new Promise<void>((r) => (ready = r));
  const child = startChild('tornado', PYTHON, [SCRIPT, 'serve', String(port)], {
    onLine: (l) => l.trim() === 'READY' && ready(),
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`no READY within 20 s:\n${child.output()}`)), 20_000).unref(),
  );
  await Promise.race([isReady, timeout]);
  return { child, url: `http://127.0.0.1:${port}/` };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      out: { type: 'string', default: path.join(REPO, 'lab', 'server', 'pace-presets.json') },
    },
    strict: true,
  });
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: an integer ≥ 1');
  if (!Number.isInteger(duration) || duration < 1) throw new Error('--duration: an integer ≥ 1');
  process.on('exit', killAllNow);

  console.log(`calibrate: micro timings with ${PYTHON}`);
  let microText: string;
  try {
    microText = execFileSync(PYTHON, [SCRIPT, 'micro'], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(
      `${PYTHON} ${SCRIPT} micro failed (${(e as Error).message}); install Debian's python3-tornado (scripts/setup.sh)`,
    );
  }
  const micro = JSON.parse(microText) as Micro;
  console.log(
    `  KeyError logged ${micro.keyerror.toFixed(1)} µs, event ${micro.event.toFixed(1)} µs ` +
      `+ IOStream read ${micro.streamRead.toFixed(1)} µs, ` +
      `asyncio skip ${micro.skip.toFixed(1)} µs (Python ${micro.python}, Tornado ${micro.tornado})`,
  );

  const { child, url } = await startTornado();
  const pid = child.proc.pid!;
  const perRequest: Record<'keepAlive' | 'churn', number[]> = { keepAlive: [], churn: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const load of ['keepAlive', 'churn'] as const) {
        const before = cpuUs(pid);
        const wrk = await runWrk({
          url,
          threads: 1,
          connections: 32,
          durationSec: duration,
          timeoutSec: 2,
          headers: load === 'churn' ? ['Connection: close'] : [],
        });
        const cpu = cpuUs(pid) - before;
        if (wrk.requests < 100) throw new Error(`${load}: wrk completed only ${wrk.requests}`);
        perRequest[load].push(cpu / wrk.requests);
        console.log(
          `  round ${round} ${load.padEnd(9)} ${wrk.requests} requests, ` +
            `${(cpu / wrk.requests).toFixed(0)} µs CPU per request`,
        );
      }
    }
  } finally {
    await stopAll();
  }
  const keepAlive = median(perRequest.keepAlive);
  const churn = median(perRequest.churn);
  const eventCpu = micro.event + micro.streamRead;
  const event = Math.round(eventCpu);
  const costs: Record<PaceCost, number> = {
    acceptUs: Math.max(0, Math.round(churn - keepAlive)),
    requestUs: Math.max(0, Math.round(keepAlive - eventCpu)),
    eventUs: event,
    keyErrorUs: Math.round(micro.keyerror),
    skipUs: Math.round(micro.skip),
  };
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1));
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
  const doc: PacePresets = {
    calibration: {
      date: new Date().toISOString(),
      machine: `${os.hostname()}: ${cpus.length} CPUs, load average ${load.join(' ')} at the end`,
      cpu: cpus[0]?.model ?? 'unknown',
      kernel: `${os.type()} ${os.release()}`,
      python: `${micro.python} (${PYTHON})`,
      tornado: micro.tornado,
      command: `npm run calibrate -- --rounds ${rounds} --duration ${duration}`,
      method: {
        acceptUs: `Tornado HTTPServer (1 process) under wrk -t1 -c32 -d${duration}s, CPU per request with Connection: close (${list(perRequest.churn)} µs) minus keep-alive (${list(perRequest.keepAlive)} µs), medians`,
        requestUs: `Tornado HTTPServer under wrk keep-alive: CPU per request, median of ${list(perRequest.keepAlive)} µs, minus one event (${eventCpu.toFixed(1)} µs)`,
        eventUs: `Tornado IOLoop: CPU per event dispatched to an add_handler handler, pass included (median of 5 × 10000): ${micro.event.toFixed(1)} µs; plus an IOStream waiting for a request head handling a READ event whose recv finds nothing (median of 5 × 20000): ${micro.streamRead.toFixed(1)} µs`,
        keyErrorUs: `Tornado 4.5's path for an unknown fd: self._handlers[fd] raising KeyError, app_log.error("Exception in callback %r", None, exc_info=True) through tornado.log.LogFormatter to a file (median of 5 × 5000): ${micro.keyerror.toFixed(1)} µs`,
        skipUs: `asyncio loop._run_once whose epoll returns an fd the selector does not know (median of 5 × 20000): ${micro.skip.toFixed(1)} µs`,
      },
    },
    presets: { tornado4: { ...costs }, asyncio: { ...costs } },
  };
  const problems = presetsProblems(doc);
  if (problems.length > 0) throw new Error(`calibration out of range: ${problems.join('; ')}`);
  writeFileSync(values.out, JSON.stringify(doc, null, 2) + '\n');
  console.log(`calibrate: ${PACE_COSTS.map((c) => `${c} ${costs[c]}`).join(', ')}`);
  console.log(`calibrate: wrote ${path.relative(REPO, values.out)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`calibrate: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
