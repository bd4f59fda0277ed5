// npm run calibrate: measures the pace model's costs on this machine with Debian's Python and the
// real `tornado` package, and writes them with how they were obtained to lab/server/pace-presets.json.
//
//   npm run calibrate -- [--rounds 3] [--duration 5] [--out lab/server/pace-presets.json]
//
// 1. Micro timings (scripts/calibrate/tornado_costs.py micro), CPU time per operation:
//    the KeyError with its logged traceback (Tornado 4's path), one event dispatched through a
//    Tornado IOLoop plus the IOStream read attempt it leads to, one unknown fd skipped by asyncio.
// 2. A real Tornado HTTPServer (one process) under `wrk -t1 -c32`, keep-alive and then
//    `Connection: close`: the server's CPU time (utime + stime from /proc) per request, less the
//    unpaced engine's own under the same load (its system calls and parsing are in both). Tornado
//    6.2 for `asyncio`; with TORNADO45, Tornado 4.5.3 (bench/tornado45/server.py, one worker) for
//    `tornado4`, whose request path costs less than 6.2's (else 6.2's figures stand in).
//    request = keep-alive CPU per request − event (each keep-alive request is one event), split
//    at the response's send: requestAfter = the share of a real Tornado worker's CPU spent from
//    the send to its next read of the connection under one keep-alive client
//    (scripts/calibrate/send_to_read.py, a run of its own, 6.2 and with TORNADO45 4.5.3) of the
//    keep-alive CPU per request, − event; request keeps the rest;
//    accept = churn CPU per request − keep-alive CPU per request (a churned request adds an
//    accept, whose listening-socket event stands in for the request's own event: Tornado reads
//    the request inline, with no event of its own).
//    With TORNADO45, a run of its own times where Tornado 4.5.3 spends a churned connection's life
//    (bench/tornado45/server.py TORNADO45_PHASES), and `tornado4`'s accept cost is split over the
//    same places (scripts/calibrate/connection-split.ts): acceptUs before the first read,
//    firstRequestUs with the connection's first request before its send, closeUs after the close,
//    in proportion to what each phase spends beyond a keep-alive request (the phases and the
//    send-to-read run each timed twice, the faster run kept). Without TORNADO45, and for
//    `asyncio`, all of it before the first read. During the phase runs, 200 connections without a
//    request, opened in bursts (scripts/calibrate/idle-connections.ts), time Tornado 4.5.3's path
//    for a connection whose first read finds nothing: registerUs, the lower of the two runs'
//    medians (0 for `asyncio` and without TORNADO45: not timed). The same runs time CPython's
//    cyclic collector (gc.callbacks, the worker's CPU): gcEvery = connections ÷ collections,
//    gcYoungUs, gcMiddleUs and gcFullUs the mean of each generation's collections
//    (scripts/calibrate/cycle-collector.ts), from the run whose collections cost a connection
//    less; their share per connection is taken out of the connection's cost before it is split,
//    as the engine burns it in lumps (0 for `asyncio` and without TORNADO45: not timed).
//    Then one paced worker burning the costs so found (each preset) runs the same loads, and what
//    it spends itself per request (its CPU less its burns) beyond the unpaced engine's own comes
//    out of them: per request from requestUs, per connection from firstRequestUs or acceptUs
//    (scripts/calibrate/paced-own.ts).
// 3. The KeyError in the frame Tornado 4.5 raises it in (scripts/calibrate/tornado45_keyerror.py),
//    when TORNADO45 names a directory holding Tornado 4.5.3's `tornado` package: a real
//    PollIOLoop pass whose epoll returns an unknown fd, minus an empty pass. Python 3.11 walks the
//    raising frame's position table up to the failing instruction to format the traceback, so
//    the same logging call raised from a small function (1.) costs about half as much; without
//    TORNADO45 that figure is used and the calibration says it is a lower bound.
// 4. The cold start (scripts/calibrate/cold_start.py), in two parts: coldUs, the CPU of a freshly
//    forked worker's first connection closed without a request (wrk's first connection is such a
//    probe) minus a warm probe's; coldRequestUs, its first request's connection minus a warm
//    one's. Connections one after the other: Tornado 6.2 (asyncio, loop created after fork) for
//    `asyncio`, Tornado 4.5.3 (loop created before fork) for `tornado4` when TORNADO45 is set
//    (else 6.2's figures stand in, and the calibration says so).
// 5. The work burn's rate (--pace-burn work, native/pace.cc): timed in this process, then one paced
//    worker burning the tornado4 costs as work at that rate under the end-to-end loads, its
//    counters saying how much longer or shorter than their costs the burns ran (pace_us ÷
//    pace_cost_us); the rate is scaled by that. burn.preset (time or work) is kept as shipped.
// Medians over the rounds. Debian 12 ships Tornado 6.2 only; Tornado 4.5.3 comes from TORNADO45.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  freePort,
  killAllNow,
  startChild,
  stopAll,
  stopChild,
  waitReady,
  type Child,
} from '../bench/support/children';
import { tornado45Dir, TORNADO45_FIX, TORNADO45_SERVER } from '../bench/support/fidelity-options';
import { runWrk } from '../bench/support/wrk';
import { measureWorkRate } from '../lab/native/engine';
import { idleConnections } from './calibrate/idle-connections';
import { lessPacedExcess } from './calibrate/paced-own';
import {
  collectorSettings,
  type CollectorSettings,
  type GcRuns,
} from './calibrate/cycle-collector';
import {
  connectionSplit,
  type ConnectionPhases,
  type ConnectionSplit,
} from './calibrate/connection-split';
import { PACE_COST_FIELDS, SERVE_OPTIONS } from '../lab/server/config';
import {
  PACE_COSTS,
  presetsProblems,
  shippedPresets,
  type PaceCost,
  type PaceCosts,
  type PacePresets,
} from '../lab/server/pace';

const REPO = path.resolve(__dirname, '..');
const PYTHON = '/usr/bin/python3'; // Debian's, with python3-tornado (scripts/setup.sh)
const SCRIPT = path.join(REPO, 'scripts', 'calibrate', 'tornado_costs.py');
const SCRIPT_45 = path.join(REPO, 'scripts', 'calibrate', 'tornado45_keyerror.py');
const SCRIPT_COLD = path.join(REPO, 'scripts', 'calibrate', 'cold_start.py');
const SCRIPT_SEND = path.join(REPO, 'scripts', 'calibrate', 'send_to_read.py');
const CLK_TCK = 100;
const READY_LIMIT_MS = 20_000;

/** waitReady, its failure carrying the child's output. */
async function readyOf<T>(child: Child, ready: Promise<T>, line: string): Promise<T> {
  try {
    return await waitReady(child, ready, line, READY_LIMIT_MS);
  } catch (e) {
    throw new Error(`${child.name}: ${(e as Error).message}:\n${child.output()}`);
  }
}

/** tornado45_keyerror.py's output. */
interface KeyError45 {
  keyerror: number;
  passWithKeyError: number;
  emptyPass: number;
  tornado: string;
}

/** The KeyError timed in Tornado 4.5.3's own loop, or undefined without TORNADO45. */
function keyErrorInTornado45(dir: string | undefined): KeyError45 | undefined {
  if (!dir) {
    console.log(
      '  TORNADO45 is not set: the KeyError is timed in a small frame only, a lower bound ' +
        `(set it to a directory holding Tornado 4.5.3's tornado package: ${TORNADO45_FIX})`,
    );
    return undefined;
  }
  try {
    return JSON.parse(execFileSync(PYTHON, [SCRIPT_45, dir], { encoding: 'utf8' })) as KeyError45;
  } catch (e) {
    throw new Error(
      `TORNADO45=${dir}: ${SCRIPT_45} failed (${(e as Error).message}); TORNADO45 must hold the tornado package of tag v4.5.3`,
    );
  }
}

/** cold_start.py's output (medians over its forks). */
interface ColdStart {
  coldConnection: number;
  coldRequest: number;
  /** coldConnection + coldRequest: what the pass that timed lower is chosen by. */
  cold: number;
  firstProbe: number;
  warmProbe: number;
  firstRequest: number;
  warmRequest: number;
  probeFaults: number;
  firstRequestFaults: number;
  tornado: string;
  loop: string;
}

interface MicroTimings {
  micro: Micro;
  ke45: KeyError45 | undefined;
  cold6: ColdStart;
  cold45: ColdStart | undefined;
}

/** The per-operation timings: micro, the KeyError in Tornado 4.5.3's frame, the cold starts. */
function microTimings(t45: string | undefined, pass: string): MicroTimings {
  console.log(`calibrate: micro timings with ${PYTHON} (${pass})`);
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
  const ke45 = keyErrorInTornado45(t45);
  if (ke45)
    console.log(
      `  KeyError in Tornado ${ke45.tornado}'s PollIOLoop.start: ${ke45.keyerror.toFixed(1)} µs ` +
        `(a pass with it ${ke45.passWithKeyError.toFixed(1)} µs, an empty pass ${ke45.emptyPass.toFixed(1)} µs)`,
    );
  return { micro, ke45, ...coldStarts(t45) };
}

/** Both cold starts, each printed. */
function coldStarts(t45: string | undefined): { cold6: ColdStart; cold45: ColdStart | undefined } {
  const cold6 = coldStart();
  const cold45 = t45 ? coldStart(t45) : undefined;
  for (const c of [cold6, cold45]) {
    if (c)
      console.log(
        `  cold start, Tornado ${c.tornado}: first probe ${c.firstProbe.toFixed(0)} µs, warm ` +
          `${c.warmProbe.toFixed(0)} µs → connection ${c.coldConnection.toFixed(0)} µs; first request ` +
          `${c.firstRequest.toFixed(0)} µs, warm ${c.warmRequest.toFixed(0)} µs → request ${c.coldRequest.toFixed(0)} µs`,
      );
  }
  return { cold6, cold45 };
}

/** Why the presets burn as they do (lab/server/pace-presets.json burn.preset; README, the pace model). */
const BURN_CHOICE = 'The presets burn for time (README, the pace model: the work burn).';
const LOWER_OF_TWO = '; the lower of two passes, before and after the end-to-end runs';

/** Each figure from the pass that timed it lower. */
/** Of two timed runs, the one whose figures add up to less: the machine's faster moment. */
function fasterRun<T>(a: T, b: T, total: (t: T) => number): T {
  return total(b) < total(a) ? b : a;
}

function lowerOf(a: MicroTimings, b: MicroTimings): MicroTimings {
  const low = <T>(x: T | undefined, y: T | undefined, key: (t: T) => number): T | undefined =>
    x === undefined ? y : y === undefined ? x : key(y) < key(x) ? y : x;
  const m = (k: 'keyerror' | 'event' | 'streamRead' | 'skip'): number =>
    Math.min(a.micro[k], b.micro[k]);
  return {
    micro: {
      ...a.micro,
      keyerror: m('keyerror'),
      event: m('event'),
      streamRead: m('streamRead'),
      skip: m('skip'),
    },
    ke45: low(a.ke45, b.ke45, (k) => k.keyerror),
    cold6: low(a.cold6, b.cold6, (c) => c.cold)!,
    cold45: low(a.cold45, b.cold45, (c) => c.cold),
  };
}

function coldStart(tornado45?: string): ColdStart {
  const args = tornado45 ? [SCRIPT_COLD, tornado45] : [SCRIPT_COLD];
  try {
    return JSON.parse(execFileSync(PYTHON, args, { encoding: 'utf8' })) as ColdStart;
  } catch (e) {
    throw new Error(`${PYTHON} ${args.join(' ')} failed (${(e as Error).message})`);
  }
}

const describeCold = (c: ColdStart): string =>
  `Tornado ${c.tornado} (loop ${c.loop}): CPU of a freshly forked worker's first connection, ` +
  `closed without a request as wrk's first connection is (${c.firstProbe.toFixed(0)} µs, ` +
  `${c.probeFaults} minor page faults), minus a warm one's (${c.warmProbe.toFixed(0)} µs)`;
const describeColdRequest = (c: ColdStart): string =>
  `Tornado ${c.tornado} (loop ${c.loop}): CPU of the same worker's first connection with a ` +
  `request (${c.firstRequest.toFixed(0)} µs, ${c.firstRequestFaults} minor page faults) minus a ` +
  `warm one's (${c.warmRequest.toFixed(0)} µs)`;
const COLD_HOW =
  ', one connection at a time, /proc/<pid>/schedstat, medians of 5 forks (scripts/calibrate/cold_start.py)';

/** The cold costs of both presets and their methods. */
function coldCosts(
  cold6: ColdStart,
  cold45: ColdStart | undefined,
): {
  tornado4: Pick<PaceCosts, 'coldUs' | 'coldRequestUs'>;
  asyncio: Pick<PaceCosts, 'coldUs' | 'coldRequestUs'>;
  method: Pick<Record<PaceCost, string>, 'coldUs' | 'coldRequestUs'>;
} {
  const of = (c: ColdStart): Pick<PaceCosts, 'coldUs' | 'coldRequestUs'> => ({
    coldUs: Math.max(0, Math.round(c.coldConnection)),
    coldRequestUs: Math.max(0, Math.round(c.coldRequest)),
  });
  const text = (d: (c: ColdStart) => string): string =>
    (cold45
      ? `tornado4: ${d(cold45)}; asyncio: ${d(cold6)}`
      : `tornado4 AND asyncio (TORNADO45 not set, Tornado 6.2 stands in for 4.5): ${d(cold6)}`
    ).concat(COLD_HOW, LOWER_OF_TWO);
  return {
    tornado4: of(cold45 ?? cold6),
    asyncio: of(cold6),
    method: { coldUs: text(describeCold), coldRequestUs: text(describeColdRequest) },
  };
}

function writePresets(doc: PacePresets, out: string): void {
  const problems = presetsProblems(doc);
  if (problems.length > 0) throw new Error(`calibration out of range: ${problems.join('; ')}`);
  writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  for (const name of ['tornado4', 'asyncio'] as const) {
    const p = doc.presets[name];
    console.log(`calibrate: ${name}: ${PACE_COSTS.map((c) => `${c} ${p[c]}`).join(', ')}`);
  }
  console.log(`calibrate: wrote ${path.relative(REPO, out)}`);
}

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
    group: true, // a session of its own, as in bench:fidelity (its SERVER_SESSION)
    onLine: (l) => l.trim() === 'READY' && ready(),
  });
  await readyOf(child, isReady, 'READY');
  return { child, url: `http://127.0.0.1:${port}/` };
}

/**
 * Real Tornado 4.5.3 (bench/tornado45/server.py, one worker, its loop created after fork) on a free
 * port; its CPU is the worker's, the process the server forked.
 */
async function startTornado45(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ child: Child; url: string; pid: number; stats: string }> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'forklab-calibrate45-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  let ready: (port: number) => void = () => {};
  const isReady = new Promise<number>((r) => (ready = r));
  const child = startChild(
    'tornado45',
    PYTHON,
    [TORNADO45_SERVER, '0', '1', 'post-fork', path.join(tmp, 'out')],
    {
      env: { ...process.env, ...env, TORNADO45: dir },
      group: true, // a session of its own, as in bench:fidelity (its SERVER_SESSION)
      onLine: (l) => {
        const m = /^READY (\d+)\s*$/.exec(l);
        if (m) ready(Number(m[1]));
      },
    },
  );
  const port = await readyOf(child, isReady, 'READY <port>');
  const leader = child.proc.pid!;
  const kids = readFileSync(`/proc/${leader}/task/${leader}/children`, 'utf8').trim().split(' ');
  if (kids.length !== 1 || !kids[0])
    throw new Error(`tornado45: expected one worker, found "${kids.join(' ')}"`);
  return {
    child,
    url: `http://127.0.0.1:${port}/`,
    pid: Number(kids[0]),
    stats: path.join(tmp, 'out.w0.json'),
  };
}

/** bench/tornado45/server.py's TORNADO45_PHASES figures: medians in µs of wall time. */
interface Phases45 extends ConnectionPhases {
  n: number;
  /** Connections whose first read found nothing (server.py's n_empty)... */
  n_empty: number;
  /** ...and the median µs from that read to TCPServer._handle_connection's return. */
  empty_read_to_return: number;
  /** What CPython's cyclic collector did meanwhile (server.py's phases.gc). */
  gc: GcRuns;
  /** Connections the worker accepted in the run (server.py's accepts). */
  accepts: number;
}

/** Connections without a request opened during the phase run, in bursts of IDLE_BURST. */
const IDLE_CONNECTIONS = 200;
const IDLE_BURST = 8;

/** The phases a ConnectionSplit was taken from, for the presets' method texts. */
function connectionPhases(
  c: ConnectionSplit,
  p: Phases45,
  s: SendToRead,
  duration: number,
): string {
  const f = (x: number): string => x.toFixed(1);
  return (
    `Tornado 4.5.3's churned connections, one worker under wrk -t1 -c32 -d${duration}s with Connection: close, timed by bench/tornado45/server.py (TORNADO45_PHASES, medians of ${p.n}): accept → first read ${f(p.accept_to_read)} µs, first read → close ${f(p.read_to_close)} µs (a keep-alive request's read → send: ${f(s.before)} µs, scripts/calibrate/send_to_read.py), close → the next accept or epoll_wait ${f(p.close_to_next)} µs (a keep-alive request's send → next read: ${f(s.after)} µs); ` +
    `the connection's cost goes before the first read (acceptUs), before the first send (firstRequestUs) and after the close (closeUs) in proportion ${f(c.beforeRead)} : ${f(c.pastRequest)} : ${f(c.pastAfter)}`
  );
}

/**
 * Where Tornado 4.5.3 spends a churned connection's life: one worker (busy under the load, so its
 * wall time is its CPU) under wrk `Connection: close`, timed per connection by the server itself
 * (TORNADO45_PHASES). A run of its own: the timing calls are not in the CPU figures of endToEnd.
 * Meanwhile IDLE_CONNECTIONS connections that send nothing are opened in bursts, so that the
 * same busy worker also times the path of a connection whose request has not come when it first
 * reads it (one worker under wrk alone reads every request at once; N workers that catch up with
 * wrk take its fresh connections before their requests are written).
 */
async function phasesOfTornado45(dir: string, duration: number): Promise<Phases45> {
  const server = await startTornado45(dir, { TORNADO45_PHASES: '1' });
  const port = Number(new URL(server.url).port);
  // Spread over the middle of the run, past the worker's cold start.
  const gapMs = Math.max(1, Math.floor((duration * 1000 * 0.6 * IDLE_BURST) / IDLE_CONNECTIONS));
  let wrk: { requests: number };
  try {
    [wrk] = await Promise.all([
      runWrk({
        url: server.url,
        threads: 1,
        connections: 32,
        durationSec: duration,
        timeoutSec: 2,
        headers: ['Connection: close'],
      }),
      sleep(duration * 100).then(() =>
        idleConnections(port, IDLE_CONNECTIONS, { burst: IDLE_BURST, gapMs }),
      ),
    ]);
  } finally {
    await stopChild(server.child);
  }
  const stats = JSON.parse(readFileSync(server.stats, 'utf8')) as {
    phases?: Omit<Phases45, 'accepts'>;
    accepts: number;
  };
  const p = stats.phases && { ...stats.phases, accepts: stats.accepts };
  if (
    !p ||
    p.n < 100 ||
    !(p.accept_to_read > 0) ||
    !(p.close_to_next > 0) ||
    p.n_empty < IDLE_CONNECTIONS / 2 ||
    !(p.empty_read_to_return > 0)
  )
    throw new Error(
      `tornado45 phases: ${wrk.requests} requests and ${IDLE_CONNECTIONS} idle connections gave ${JSON.stringify(p)} (want n ≥ 100, n_empty ≥ ${IDLE_CONNECTIONS / 2} and every phase timed)`,
    );
  return p;
}

/** The presets' method texts for the collector's settings. */
function gcMethodTexts(
  chosen: { p: Phases45; s: CollectorSettings } | undefined,
  runs: (Phases45 | undefined)[],
): Record<'gcEvery' | 'gcYoungUs' | 'gcMiddleUs' | 'gcFullUs', string> {
  const none = 'asyncio: 0 (not timed for Tornado 6.2)';
  if (!chosen) {
    const text = `0: not timed (TORNADO45 not set: Tornado 4.5.3's collections are not timed; Tornado 6.2's are not timed)`;
    return { gcEvery: text, gcYoungUs: text, gcMiddleUs: text, gcFullUs: text };
  }
  const other = runs.find((r) => r !== undefined && r !== chosen.p);
  const of = (p: Phases45, g: '0' | '1' | '2'): string =>
    `${p.gc[g][0]} collections, mean ${p.gc[g][1].toFixed(1)} µs`;
  const gen = (g: '0' | '1' | '2', name: string): string =>
    `tornado4: the mean CPU of a ${name} collection of CPython's cyclic collector in that run (gcEvery says which): ${of(chosen.p, g)}` +
    (other ? ` (the other run: ${of(other, g)})` : '') +
    `; ${none}`;
  const perConn = (p: Phases45): string =>
    collectorSettings(p.gc, p.accepts).perConnectionUs.toFixed(1);
  return {
    gcEvery:
      `tornado4: Tornado 4.5.3, the runs that timed the phases (acceptUs says how): CPython's cyclic garbage collector, timed by gc.callbacks with time.thread_time, ran ${chosen.p.gc['0'][0]} young, ${chosen.p.gc['1'][0]} middle and ${chosen.p.gc['2'][0]} full collections while the worker accepted ${chosen.p.accepts} connections: one collection every ${chosen.s.gcEvery} connections (a keep-alive request leaves no cycles); the run whose collections cost a connection less, ${perConn(chosen.p)} µs` +
      (other ? ` (the other run: ${perConn(other)} µs)` : '') +
      `, taken out of the connection's cost (acceptUs); ${none}`,
    gcYoungUs: gen('0', 'young'),
    gcMiddleUs: gen('1', 'middle'),
    gcFullUs: gen('2', 'full'),
  };
}

/** The serve flag that sets a cost (`--pace-request-after-us` for requestAfterUs). */
function paceFlag(cost: PaceCost): string {
  const spec = SERVE_OPTIONS.find((o) => o.key === PACE_COST_FIELDS[cost]);
  if (!spec) throw new Error(`no serve flag sets ${cost}`);
  return spec.flag;
}

/** send_to_read.py's output: µs of the worker thread's CPU. */
interface SendToRead {
  before: number;
  after: number;
  afterP10: number;
  afterP90: number;
  hits: number;
  misses: number;
  n: number;
  tornado: string;
}

/**
 * Where a keep-alive request's CPU goes around its response's send: a real Tornado (4.5.3 from
 * `t45`, else the installed 6.2) in one process under one keep-alive client (wrk -t1 -c1), timed
 * by the server itself (scripts/calibrate/send_to_read.py). A run of its own: the timing calls are
 * not in the CPU figures of endToEnd.
 */
async function sendToRead(t45: string | undefined, duration: number): Promise<SendToRead> {
  let ready: (port: number) => void = () => {};
  const isReady = new Promise<number>((r) => (ready = r));
  const child = startChild('send_to_read', PYTHON, t45 ? [SCRIPT_SEND, t45] : [SCRIPT_SEND], {
    group: true, // a session of its own, as in bench:fidelity (its SERVER_SESSION)
    onLine: (l) => {
      const m = /^READY (\d+)\s*$/.exec(l);
      if (m) ready(Number(m[1]));
    },
  });
  let wrk: { requests: number };
  try {
    const port = await readyOf(child, isReady, 'READY <port>');
    wrk = await runWrk({
      url: `http://127.0.0.1:${port}/`,
      threads: 1,
      connections: 1,
      durationSec: duration,
      timeoutSec: 2,
    });
  } finally {
    await stopChild(child);
  }
  await child.closed;
  const line = child
    .output()
    .split('\n')
    .find((l) => l.startsWith('{'));
  const r = line ? (JSON.parse(line) as SendToRead & { error?: string }) : undefined;
  if (!r || r.error !== undefined || !(r.after > 0) || !(r.before > 0))
    throw new Error(
      `send_to_read${t45 ? ' (Tornado 4.5.3)' : ''}: ${wrk.requests} requests gave ${line ?? 'no report'}:\n${child.output()}`,
    );
  console.log(
    `  Tornado ${r.tornado}, one keep-alive client: read → send ${r.before} µs, send → next read ` +
      `${r.after} µs [${r.afterP10}–${r.afterP90}], the next request there in ${r.hits} of ${r.hits + r.misses} reads`,
  );
  return r;
}

/** The share of a keep-alive request's CPU Tornado spends from the send to the next read. */
const afterShare = (r: SendToRead): number => r.after / (r.before + r.after);

const describeSendToRead = (r: SendToRead): string =>
  `Tornado ${r.tornado} (1 process) under one keep-alive client (wrk -t1 -c1): the worker's CPU from the send of a response to its next read of the connection, median ${r.after} µs [p10 ${r.afterP10}, p90 ${r.afterP90}] of ${r.n} (from the read that brought the request to the send: ${r.before} µs; the next request was there in ${r.hits} of ${r.hits + r.misses} reads), scripts/calibrate/send_to_read.py`;

/**
 * The work burn's rate (lab/server/pace.ts BurnCalibration): the best rate timed in this process
 * (r0), then one paced worker burning `costs` as work at r0 under the end-to-end loads; each run
 * ran its burns `pace_us ÷ pace_cost_us` times their costs' time, so the rate at which a cost's
 * work takes its time in a worker under load is r0 divided by the median of those.
 */
/** The calibration's load: wrk -t1 -c32 for `duration` s, keep-alive or `Connection: close`. */
function calibrationLoad(
  url: string,
  load: 'keepAlive' | 'churn',
  duration: number,
): ReturnType<typeof runWrk> {
  return runWrk({
    url,
    threads: 1,
    connections: 32,
    durationSec: duration,
    timeoutSec: 2,
    headers: load === 'churn' ? ['Connection: close'] : [],
  });
}

/** The counters of a one-worker engine's worker (its /snapshot.json). */
async function workerCounters(metricsPort: number): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/snapshot.json`, {
    signal: AbortSignal.timeout(5000),
  });
  return ((await res.json()) as { workers: { counters: Record<string, number> }[] }).workers[0]!
    .counters;
}

async function workRate(
  costs: Record<PaceCost, number>,
  rounds: number,
  duration: number,
): Promise<{ workPerUs: number; method: string }> {
  const r0 = measureWorkRate(10);
  const costArgs = PACE_COSTS.flatMap((c) => [paceFlag(c), String(costs[c])]);
  const engine = await startNativeEngine([
    '--pace',
    'tornado4',
    '--pace-burn',
    'work',
    '--pace-work-per-ms',
    String(Math.round(r0 * 1000)),
    ...costArgs,
  ]);
  const ratios: number[] = [];
  try {
    const paced = async (): Promise<{ ran: number; cost: number }> => {
      const w = await workerCounters(engine.metricsPort);
      return { ran: w.pace_us ?? 0, cost: w.pace_cost_us ?? 0 };
    };
    // The worker's cold start (its first connection) out of the way first.
    await runWrk({ url: engine.url, threads: 1, connections: 4, durationSec: 1, timeoutSec: 2 });
    for (let round = 1; round <= rounds; round++) {
      for (const load of ['keepAlive', 'churn'] as const) {
        const before = await paced();
        await calibrationLoad(engine.url, load, duration);
        const after = await paced();
        const cost = after.cost - before.cost;
        if (cost <= 0) throw new Error(`work burn ${load}: the paced worker burned nothing`);
        ratios.push((after.ran - before.ran) / cost);
        console.log(
          `  work burn round ${round} ${load.padEnd(9)} ran ${ratios.at(-1)!.toFixed(3)}× its costs' time`,
        );
      }
    }
  } finally {
    await stopAll();
  }
  const workPerUs = Math.round((r0 / median(ratios)) * 10) / 10;
  return {
    workPerUs,
    method: `the work burn timed in the calibrating process: ${r0.toFixed(1)} units/µs (best of 10 runs of 200,000 units); one worker burning the tornado4 costs above as work at that rate under wrk -t1 -c32 -d${duration}s, keep-alive and churn, ran ${ratios.map((r) => r.toFixed(2)).join(', ')}× their time (pace_us ÷ pace_cost_us): ${r0.toFixed(1)} ÷ ${median(ratios).toFixed(3)} = ${workPerUs} units/µs`,
  };
}

/**
 * The engine with one worker (unpaced unless `extra` says otherwise), to subtract what the engine
 * itself spends per request (its system calls and parsing, which the interpreter's measured cost
 * includes too); its CPU is the worker's.
 */
async function startNativeEngine(
  extra: string[] = ['--pace', 'native'],
): Promise<{ child: Child; url: string; pid: number; metricsPort: number }> {
  let ready: (r: { port: number; metricsPort: number }) => void = () => {};
  const isReady = new Promise<{ port: number; metricsPort: number }>((r) => (ready = r));
  const child = startChild(
    'engine',
    process.execPath,
    [
      path.join(REPO, 'bin', 'forklab.js'),
      'serve',
      '--workers',
      '1',
      ...extra,
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--name',
      'calibrate-native',
    ],
    {
      group: true, // a session of its own, as in bench:fidelity (its SERVER_SESSION)
      onLine: (l) => {
        const m = /^FORKLAB_READY (\{.*\})\s*$/.exec(l);
        if (m) ready(JSON.parse(m[1]!) as { port: number; metricsPort: number });
      },
    },
  );
  const r = await readyOf(child, isReady, 'FORKLAB_READY');
  const res = await fetch(`http://127.0.0.1:${r.metricsPort}/snapshot.json`, {
    signal: AbortSignal.timeout(5000),
  });
  const snap = (await res.json()) as { workers: { counters: { pid: number } }[] };
  return {
    child,
    url: `http://127.0.0.1:${r.port}/`,
    pid: snap.workers[0]!.counters.pid,
    metricsPort: r.metricsPort,
  };
}

interface EndToEnd {
  label: string;
  /** CPU µs per request, one per round. */
  keepAlive: number[];
  churn: number[];
}

/** A server under wrk -t1 -c32, keep-alive then churn each round: its CPU per request. */
async function endToEnd(
  label: string,
  server: { child: Child; url: string; pid?: number },
  rounds: number,
  duration: number,
): Promise<EndToEnd> {
  const pid = server.pid ?? server.child.proc.pid!;
  const e: EndToEnd = { label, keepAlive: [], churn: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const load of ['keepAlive', 'churn'] as const) {
        const before = cpuUs(pid);
        const wrk = await calibrationLoad(server.url, load, duration);
        const cpu = cpuUs(pid) - before;
        if (wrk.requests < 100)
          throw new Error(`${label} ${load}: wrk completed only ${wrk.requests}`);
        e[load].push(cpu / wrk.requests);
        console.log(
          `  ${label} round ${round} ${load.padEnd(9)} ${wrk.requests} requests, ` +
            `${(cpu / wrk.requests).toFixed(0)} µs CPU per request`,
        );
      }
    }
  } finally {
    await stopAll();
  }
  return e;
}

/**
 * One paced worker burning `costs` for their time under the end-to-end loads: what it spends
 * itself per request, its CPU (/proc) less its burns (pace_us), per round and load.
 */
async function pacedOwn(
  pace: 'tornado4' | 'asyncio',
  costs: Record<PaceCost, number>,
  rounds: number,
  duration: number,
): Promise<EndToEnd> {
  const engine = await startNativeEngine([
    '--pace',
    pace,
    '--flavour',
    pace,
    '--pace-burn',
    'time',
    ...PACE_COSTS.flatMap((c) => [paceFlag(c), String(costs[c])]),
  ]);
  const label = `engine (paced ${pace})`;
  const e: EndToEnd = { label, keepAlive: [], churn: [] };
  const burned = async (): Promise<number> =>
    (await workerCounters(engine.metricsPort)).pace_us ?? 0;
  try {
    // The worker's cold start (its first connection and request) out of the way first.
    await runWrk({ url: engine.url, threads: 1, connections: 4, durationSec: 1, timeoutSec: 2 });
    for (let round = 1; round <= rounds; round++) {
      for (const load of ['keepAlive', 'churn'] as const) {
        const [cpu0, pace0] = [cpuUs(engine.pid), await burned()];
        const wrk = await calibrationLoad(engine.url, load, duration);
        const own = (cpuUs(engine.pid) - cpu0 - ((await burned()) - pace0)) / wrk.requests;
        e[load].push(own);
        console.log(
          `  ${label} round ${round} ${load.padEnd(9)} ${wrk.requests} requests, ${own.toFixed(1)} µs of its own CPU per request`,
        );
      }
    }
  } finally {
    await stopAll();
  }
  return e;
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

  // Checked before anything runs: a wrong TORNADO45 is named with its fix at once.
  const t45 = process.env.TORNADO45 ? tornado45Dir(process.env) : undefined;
  // Timed twice, before and after the end-to-end runs, each figure the lower of the two: this
  // host's CPUs intermittently run Python up to 1.5× slower (measured: the same loop pinned to one
  // vCPU or the other, seconds apart), and the burns stand for the interpreter on a CPU of its own.
  const first = microTimings(t45, 'first pass');
  // Tornado 4.5.3's phases and its keep-alive request's read → send are set against each other
  // (connectionSplit), so both are timed twice as well, before and after the end-to-end runs, and
  // each is the faster whole run of its two: a ratio of figures from a slow and a fast moment
  // (one calibration here had read → send 118 µs against a usual 75) misplaces the cost.
  const phasesFirst = t45 ? await phasesOfTornado45(t45, duration) : undefined;
  const send45First = t45 ? await sendToRead(t45, duration) : undefined;
  const native = await endToEnd('engine (unpaced)', await startNativeEngine(), rounds, duration);
  const e2e6 = await endToEnd('Tornado 6.2', await startTornado(), rounds, duration);
  const e2e45 = t45
    ? await endToEnd('Tornado 4.5.3', await startTornado45(t45), rounds, duration)
    : undefined;
  const phasesSecond = t45 ? await phasesOfTornado45(t45, duration) : undefined;
  const phases45 =
    phasesFirst && phasesSecond
      ? fasterRun(
          phasesFirst,
          phasesSecond,
          (p) => p.accept_to_read + p.read_to_close + p.close_to_next,
        )
      : undefined;
  // A figure of its own, so the lower of the two runs', as for the micro timings.
  const empty45 =
    phasesFirst && phasesSecond
      ? [phasesFirst, phasesSecond].reduce((a, b) =>
          b.empty_read_to_return < a.empty_read_to_return ? b : a,
        )
      : undefined;
  // The collector's settings from the run whose collections cost a connection less.
  const gc45 =
    phasesFirst && phasesSecond
      ? [phasesFirst, phasesSecond]
          .map((p) => ({ p, s: collectorSettings(p.gc, p.accepts) }))
          .reduce((a, b) => (b.s.perConnectionUs < a.s.perConnectionUs ? b : a))
      : undefined;
  const send6 = await sendToRead(undefined, duration);
  const send45 =
    t45 && send45First
      ? fasterRun(send45First, await sendToRead(t45, duration), (r) => r.before + r.after)
      : undefined;
  const { micro, ke45, cold6, cold45 } = lowerOf(first, microTimings(t45, 'second pass'));
  if (phases45)
    console.log(
      `  Tornado 4.5.3, a churned connection: accept → first read ${phases45.accept_to_read} µs, ` +
        `→ close ${phases45.read_to_close} µs, close → next ${phases45.close_to_next} µs (medians of ${phases45.n}); ` +
        `a first read that found nothing → _handle_connection's return ${phasesFirst!.empty_read_to_return} and ${phasesSecond!.empty_read_to_return} µs in the two runs (medians of ${phasesFirst!.n_empty} and ${phasesSecond!.n_empty})`,
    );
  const eventCpu = micro.event + micro.streamRead;
  const event = Math.round(eventCpu);
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
  // What the interpreter adds to what the engine spends anyway (medians):
  // accept = (churn − keep-alive) − the engine's (churn − keep-alive);
  // request = keep-alive − the engine's keep-alive − one event, split at the send: after = the
  // share of the worker's CPU Tornado spends from the send to its next read (send_to_read: after ÷
  // (before + after), a share, as its run may fall in a slower or faster moment than endToEnd's)
  // of the keep-alive request, less the event that read burns in the engine.
  const ownKeepAlive = median(native.keepAlive);
  const ownAccept = median(native.churn) - ownKeepAlive;
  const paths = (
    e: EndToEnd,
    send: SendToRead,
  ): { acceptUs: number; requestUs: number; requestAfterUs: number } => {
    const perRequest = median(e.keepAlive) - ownKeepAlive;
    const request = Math.max(0, Math.round(perRequest - eventCpu));
    const requestAfterUs = Math.min(
      request,
      Math.max(0, Math.round(perRequest * afterShare(send) - eventCpu)),
    );
    return {
      acceptUs: Math.max(0, Math.round(median(e.churn) - median(e.keepAlive) - ownAccept)),
      requestUs: request - requestAfterUs,
      requestAfterUs,
    };
  };
  /** A method text per preset's server, then what both subtract. */
  const perServer = (describe: (e: EndToEnd) => string): string =>
    (e2e45
      ? [`tornado4: ${describe(e2e45)}`, `asyncio: ${describe(e2e6)}`]
      : [
          `tornado4 and asyncio (TORNADO45 not set, Tornado 6.2 stands in for 4.5): ${describe(e2e6)}`,
        ]
    )
      .join('; ')
      .concat(own);
  const sendOf = (e: EndToEnd): SendToRead => (e === e2e45 && send45 ? send45 : send6);
  const paths45 = e2e45 && send45 ? paths(e2e45, send45) : undefined;
  // The collections' share is burned in lumps (gc*), so it is not burned with the connection too.
  const connection45 = paths45
    ? Math.max(0, paths45.acceptUs - Math.round(gc45?.s.perConnectionUs ?? 0))
    : undefined;
  const split45 =
    connection45 !== undefined && phases45 && send45
      ? connectionSplit(connection45, phases45, send45)
      : undefined;
  const own = `; minus the unpaced engine's own (one worker, same load: keep-alive ${list(native.keepAlive)} µs, churn ${list(native.churn)} µs per request)`;
  const cold = coldCosts(cold6, cold45);
  const gcShare = (gc45?.s.perConnectionUs ?? 0).toFixed(1);
  const gcMethods = gcMethodTexts(gc45, [phasesFirst, phasesSecond]);
  const costs: Record<PaceCost, number> = {
    ...cold.asyncio,
    ...paths(e2e6, send6),
    firstRequestUs: 0,
    registerUs: 0,
    closeUs: 0,
    eventUs: event,
    keyErrorUs: Math.round(ke45 ? ke45.keyerror : micro.keyerror),
    skipUs: Math.round(micro.skip),
    gcEvery: 0,
    gcYoungUs: 0,
    gcMiddleUs: 0,
    gcFullUs: 0,
  };
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(1));
  const presets: PacePresets['presets'] = {
    tornado4: {
      ...costs,
      ...cold.tornado4,
      ...paths45,
      ...(split45 && {
        acceptUs: split45.acceptUs,
        firstRequestUs: split45.firstRequestUs,
        closeUs: split45.closeUs,
      }),
      ...(empty45 && { registerUs: Math.round(empty45.empty_read_to_return) }),
      ...(gc45 && {
        gcEvery: gc45.s.gcEvery,
        gcYoungUs: gc45.s.gcYoungUs,
        gcMiddleUs: gc45.s.gcMiddleUs,
        gcFullUs: gc45.s.gcFullUs,
      }),
    },
    asyncio: { ...costs },
  };
  // The paced engine's own CPU beyond the unpaced one's, out of the costs (paced-own.ts).
  const unpacedOwn = { keepAlive: median(native.keepAlive), churn: median(native.churn) };
  const pacedNotes: string[] = [];
  const signed = (us: number, what: string): string =>
    us >= 0 ? `${us} µs taken out of each ${what}` : `${-us} µs added to each ${what}`;
  for (const name of ['tornado4', 'asyncio'] as const) {
    const paced = await pacedOwn(name, presets[name], Math.min(rounds, 3), duration);
    const c = lessPacedExcess(presets[name], unpacedOwn, {
      keepAlive: median(paced.keepAlive),
      churn: median(paced.churn),
    });
    presets[name] = c.costs;
    pacedNotes.push(
      `${name}: keep-alive ${list(paced.keepAlive)}, churn ${list(paced.churn)} µs per request, so ${signed(c.request, 'request')} and ${signed(c.connection, 'connection')}`,
    );
  }
  const pacedNote = `; then less what the paced engine spends itself beyond that (scripts/calibrate/paced-own.ts: one worker burning the costs so found for their time, same loads, its CPU less its burns: ${pacedNotes.join('; ')})`;
  const burn = await workRate(presets.tornado4, rounds, duration);
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
        ...cold.method,
        acceptUs: perServer(
          (e) =>
            `${e.label} HTTPServer (1 process) under wrk -t1 -c32 -d${duration}s, CPU per request with Connection: close (${list(e.churn)} µs) minus keep-alive (${list(e.keepAlive)} µs), medians`,
        )
          .concat(
            split45
              ? `; tornado4 burns ${split45.acceptUs} of its ${connection45!} µs here (${paths45!.acceptUs} less ${gcShare} µs of garbage collections, burned in lumps: gcEvery), before the first read, in proportion to ${split45.beforeRead.toFixed(1)} µs: ${connectionPhases(split45, phases45!, send45!, duration)}`
              : '',
          )
          .concat(pacedNote),
        firstRequestUs: split45
          ? `tornado4: ${split45.firstRequestUs} of the connection's ${connection45!} µs (acceptUs), in proportion to ${split45.pastRequest.toFixed(1)} µs of Tornado 4.5.3's phases (acceptUs says which), less the paced engine's own excess (acceptUs says how); asyncio: 0 (Tornado 6.2's phases are not timed: all of its connection's cost is burned before the first read)`
          : `0: all of a connection's cost is burned before its first read (TORNADO45 not set: Tornado 4.5.3's phases are not timed)`,
        registerUs: empty45
          ? `tornado4: Tornado 4.5.3, the runs that timed the phases (acceptUs says how), during each of which ${IDLE_CONNECTIONS} connections were opened without a request in bursts of ${IDLE_BURST} (as wrk's fresh connections come to a worker that has caught up with it): from a connection's first read that found nothing to the return of TCPServer._handle_connection (IOStream._add_io_state → IOLoop.add_handler, the request coroutines suspending), median of ${empty45.n_empty}: ${empty45.empty_read_to_return.toFixed(1)} µs (the other run: ${(empty45 === phasesFirst ? phasesSecond! : phasesFirst!).empty_read_to_return.toFixed(1)}), the lower of the two runs. Not taken out of acceptUs: one worker under wrk alone reads its connections' requests at once, so its CPU per churned request holds next to none of it. asyncio: 0 (not timed for Tornado 6.2)`
          : `0: not timed (TORNADO45 not set: Tornado 4.5.3's path for a connection whose request has not come is not timed; Tornado 6.2's is not timed)`,
        closeUs: split45
          ? `tornado4: ${split45.closeUs} of the connection's ${connection45!} µs (acceptUs), in proportion to ${split45.pastAfter.toFixed(1)} µs of Tornado 4.5.3's phases (acceptUs says which); asyncio: 0`
          : `0: all of a connection's cost is burned before its first read (TORNADO45 not set: Tornado 4.5.3's phases are not timed)`,
        requestUs: perServer(
          (e) =>
            `${e.label} HTTPServer under wrk keep-alive: CPU per request, median of ${list(e.keepAlive)} µs, minus one event (${eventCpu.toFixed(1)} µs), minus what is spent after the send (requestAfterUs ${paths(e, sendOf(e)).requestAfterUs})`,
        ).concat(pacedNote),
        requestAfterUs: perServer(
          (e) =>
            `${describeSendToRead(sendOf(e))}: that share (${afterShare(sendOf(e)).toFixed(3)}) of ${e.label}'s keep-alive CPU per request (${list(e.keepAlive)} µs, medians, minus the unpaced engine's own), minus one event (${eventCpu.toFixed(1)} µs: the engine burns it for that read); taken out of the request's cost, so a request costs what it did`,
        ),
        eventUs:
          `Tornado IOLoop: CPU per event dispatched to an add_handler handler, pass included (median of 5 × 10000): ${micro.event.toFixed(1)} µs; plus an IOStream waiting for a request head handling a READ event whose recv finds nothing (median of 5 × 20000): ${micro.streamRead.toFixed(1)} µs`.concat(
            LOWER_OF_TWO,
          ),
        keyErrorUs: (ke45
          ? `Tornado ${ke45.tornado}'s own PollIOLoop (TORNADO45): a pass whose epoll returns an fd without a handler, self._handlers[fd] raising KeyError in start() and handle_callback_exception logging it with its traceback through tornado.log.LogFormatter to a file, minus an empty pass (medians of 5 × 5000): ${ke45.passWithKeyError.toFixed(1)} − ${ke45.emptyPass.toFixed(1)} µs; the same logging call raised from a small function: ${micro.keyerror.toFixed(1)} µs`
          : `LOWER BOUND, TORNADO45 not set: self._handlers[fd] raising KeyError in a small function, app_log.error("Exception in callback %r", None, exc_info=True) through tornado.log.LogFormatter to a file (median of 5 × 5000): ${micro.keyerror.toFixed(1)} µs; raised in Tornado 4.5's PollIOLoop.start the traceback costs about twice as much`
        ).concat(LOWER_OF_TWO),
        ...gcMethods,
        skipUs:
          `asyncio loop._run_once whose epoll returns an fd the selector does not know (median of 5 × 20000): ${micro.skip.toFixed(1)} µs`.concat(
            LOWER_OF_TWO,
          ),
      },
    },
    burn: {
      preset: shippedPresets().burn.preset,
      workPerUs: burn.workPerUs,
      method: `${burn.method}. ${BURN_CHOICE}`,
    },
    presets,
  };
  writePresets(doc, values.out);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`calibrate: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
