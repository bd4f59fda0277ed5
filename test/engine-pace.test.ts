// The pace model: workers burn the configured CPU where it is configured, count it, and nothing
// at all when unpaced; presets come from the shipped calibration and explicit costs beat them.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseServeConfig, validateServeConfig } from '../lab/server/config';
import {
  describePace,
  PACE_COSTS,
  presetsProblems,
  resolvePace,
  shippedPresets,
  type PacePresets,
} from '../lab/server/pace';
import { churnLoad, keepAliveLoad, parseResponse } from './support/http-client';
import { sleep, startServe, stopAll, waitFor } from './support/serve-process';

afterEach(stopAll);

const PRESETS_FILE = path.join(__dirname, '..', 'lab', 'server', 'pace-presets.json');
const onDisk = (): PacePresets => JSON.parse(readFileSync(PRESETS_FILE, 'utf8')) as PacePresets;

const COST_FLAGS = [
  'cold',
  'cold-request',
  'accept',
  'first-request',
  'register',
  'close',
  'request',
  'request-after',
  'event',
  'keyerror',
  'skip',
  'gc-young',
  'gc-middle',
  'gc-full',
] as const;

/**
 * Every cost 0 except the ones given, and no collector unless `gcEvery` is given: the burns can
 * then be attributed to one place.
 */
function only(costs: Partial<Record<(typeof COST_FLAGS)[number], number>>, gcEvery = 0) {
  const args: string[] = ['--pace-gc-every', String(gcEvery)];
  for (const c of COST_FLAGS) args.push(`--pace-${c}-us`, String(costs[c] ?? 0));
  return args;
}

/** One paced worker burning only the costs given. */
const pacedWorker = (costs: Parameters<typeof only>[0]) =>
  startServe(['--workers', '1', '--pace', 'tornado4', ...only(costs)]);

/** Connects and closes without a request, as wrk's first connection (its address check) does. */
async function probe(port: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('connect', resolve);
  });
  sock.end();
  await new Promise<void>((resolve) => sock.on('close', () => resolve()));
}

/**
 * Requests one after another on one keep-alive connection (a new one to `to` when it is a port),
 * each sent the moment the answer before it is in; resolves at the `count`-th answer, the
 * connection still open, with when each came.
 */
async function answersInTurn(to: number | net.Socket, count: number) {
  const sock = typeof to === 'number' ? net.connect(to, '127.0.0.1') : to;
  let got: Buffer = Buffer.alloc(0);
  const answers: { at: number; status: number }[] = [];
  const all = new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('data', (b: Buffer) => {
      got = Buffer.concat([got, b]);
      for (let r = parseResponse(got); r !== null; r = parseResponse(got)) {
        answers.push({ at: performance.now(), status: r.status });
        got = r.rest;
        if (answers.length < count) sock.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
        else resolve();
      }
    });
  });
  sock.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
  await all;
  return { sock, answers };
}

/** utime + stime of a process in µs (/proc/<pid>/stat, clock ticks of 10 ms). */
function procCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

/**
 * One worker paced with `args` answers `4 × perConnection` keep-alive requests; returns its
 * counters' growth over them (`d`), the kernel's account of its CPU meanwhile, and its pace.
 */
async function pacedRequests(args: string[], perConnection: number) {
  const s = await startServe(['--workers', '1', '--pace', 'tornado4', ...args]);
  const before = await s.snapshot();
  const cpuBefore = procCpuUs(s.pids[0]!);
  const r = await keepAliveLoad({ port: s.port, connections: 4, perConnection });
  expect(r.responses).toBe(4 * perConnection);
  await sleep(250); // the last rusage publish
  const after = await s.snapshot();
  const cpu = procCpuUs(s.pids[0]!) - cpuBefore;
  const d = (f: string) => after.workers[0]!.counters[f]! - before.workers[0]!.counters[f]!;
  await stopAll();
  return { cpu, d, pace: after.pace };
}

test('each answered request burns the request cost once, and the worker really spent that CPU', async () => {
  const cost = 2000;
  const { cpu, d } = await pacedRequests(only({ request: cost }), 50);
  expect(d('responses_200')).toBe(200);
  expect(d('pace_burns')).toBe(200);
  expect(d('pace_cost_us')).toBe(200 * cost);
  // Each burn lasts at least its cost and overshoots by one clock read.
  expect(d('pace_us')).toBeGreaterThanOrEqual(200 * cost);
  expect(d('pace_us')).toBeLessThan(200 * (cost + 100));
  // The kernel's own account of the worker's CPU covers the burns (one 10 ms tick of rounding).
  expect(cpu + 10_000).toBeGreaterThanOrEqual(d('pace_us'));
  const published = d('utime_us') + d('stime_us');
  expect(published).toBeGreaterThanOrEqual(d('pace_us'));
});

// Burns of at most 20 µs are timed by the monotonic clock, counting only the steps the thread ran
// (native/pace.cc): they must still last their cost and be CPU the worker really spent.
test('short burns (event cost 10 µs) last their cost each and are CPU the worker spent', async () => {
  const cost = 10;
  const s = await pacedWorker({ event: cost });
  const before = await s.snapshot();
  const r = await keepAliveLoad({ port: s.port, connections: 8, perConnection: 500 });
  expect(r.responses).toBe(4000);
  await sleep(250); // the last rusage publish
  const after = await s.snapshot();
  const d = (f: string) => after.workers[0]!.counters[f]! - before.workers[0]!.counters[f]!;
  // One burn per dispatched event and one per inline read of the request loop (one per answer).
  expect(d('pace_burns')).toBeGreaterThanOrEqual(4000);
  expect(d('pace_us')).toBeGreaterThanOrEqual(d('pace_burns') * cost);
  expect(d('pace_us')).toBeLessThan(d('pace_burns') * (cost + 2));
  expect(d('utime_us') + d('stime_us')).toBeGreaterThanOrEqual(d('pace_us'));
});

// Per connection, under churn: the accept cost in the accept loop before the inline first read,
// the close cost after each close (the server's close of the last connections may follow the
// client's by a moment, hence the pause before the last snapshot).
test.each([
  ['accept', 'accepts_ok', 700, 300],
  ['first-request', 'requests', 800, 250],
  ['close', 'connections_closed', 900, 200],
] as const)(
  'each connection burns the %s cost once (churn, tornado4 inline first read)',
  async (cost, counter, us, total) => {
    const s = await startServe(['--workers', '2', '--pace', 'tornado4', ...only({ [cost]: us })]);
    const before = await s.snapshot();
    const r = await churnLoad({ port: s.port, total, concurrency: 4 });
    expect(r.responses).toBe(total);
    await sleep(100);
    const after = await s.snapshot();
    const d = (f: string) =>
      after.workers.reduce((a, w, i) => a + w.counters[f]! - before.workers[i]!.counters[f]!, 0);
    expect(d(counter)).toBe(total);
    expect(d('pace_burns')).toBe(total);
    expect(d('pace_us')).toBeGreaterThanOrEqual(total * us);
    expect(d('pace_us')).toBeLessThan(total * (us + 100));
  },
);

// Tornado's teardown runs after the socket is closed: the client has its answer and its FIN while
// the worker still burns. Seen from the counters: at the client's end of stream the close is
// counted and the burn (100 ms) is not yet.
test('the close cost is burned after the close: the client has its end of stream first', async () => {
  const cost = 100_000;
  const s = await pacedWorker({ close: cost });
  const sock = net.connect(s.port, '127.0.0.1');
  const got: Buffer[] = [];
  sock.on('data', (b: Buffer) => got.push(b));
  await new Promise<void>((resolve, reject) => {
    sock.on('error', reject);
    sock.on('end', resolve);
    sock.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
  });
  sock.destroy();
  const atEnd = (await s.snapshot()).workers[0]!.counters;
  expect(parseResponse(Buffer.concat(got))?.status).toBe(200);
  expect(atEnd.connections_closed).toBe(1);
  expect(atEnd.pace_burns).toBe(0);
  await sleep(250);
  const later = (await s.snapshot()).workers[0]!.counters;
  expect(later.pace_burns).toBe(1);
  expect(later.pace_us).toBeGreaterThanOrEqual(cost);
});

// Tornado's work after a response's send (the rest of finish, the coroutines' ends, the way to the
// next read) lies between the answer and the next read of the connection: a client that answers at
// once has its next request waiting by then.
test('the after-send cost lies between an answer and the next read of its connection', async () => {
  const cost = 100_000;
  const s = await pacedWorker({ 'request-after': cost });
  // The second request goes out the moment the first answer is in.
  const { sock, answers } = await answersInTurn(s.port, 2);
  // At the second answer the second burn is under way: only the first one is counted.
  const atSecond = (await s.snapshot()).workers[0]!.counters;
  sock.destroy();
  expect(answers.map((a) => a.status)).toEqual([200, 200]);
  expect(atSecond.pace_burns).toBe(1);
  // The second request waited in its socket while the worker burned the first answer's cost:
  // 100 ms of CPU take at least 100 ms.
  expect(answers[1]!.at - answers[0]!.at).toBeGreaterThanOrEqual(cost / 1000);
  await sleep(250);
  const later = (await s.snapshot()).workers[0]!.counters;
  expect(later.requests).toBe(2);
  expect(later.pace_burns).toBe(2);
  expect(later.pace_cost_us).toBe(2 * cost);
});

// The rest of a connection's set-up (Tornado 4.5.3: the HTTP1ServerConnection, its request loop and
// the first HTTP1Connection) comes with its first request, before that answer's send: once per
// connection, however many requests it carries, and a probe without a request burns none.
test('the first-request cost: once per connection, with its first request, before the answer', async () => {
  const cost = 50_000;
  const s = await pacedWorker({ 'first-request': cost });
  await probe(s.port);
  await waitFor('the probe counted as closed', async () => {
    const c = (await s.snapshot()).workers[0]!.counters;
    return c.connections_closed === 1 ? c : undefined;
  });
  const { sock, answers } = await answersInTurn(s.port, 1);
  // At the answer the burn is done and counted: it came before the send.
  const atAnswer = (await s.snapshot()).workers[0]!.counters;
  sock.destroy();
  expect(answers.map((a) => a.status)).toEqual([200]);
  expect(atAnswer.pace_burns).toBe(1);
  expect(atAnswer.pace_cost_us).toBe(cost);
  expect(atAnswer.pace_us).toBeGreaterThanOrEqual(cost);
  // Three keep-alive connections of 20 requests each: three more burns, not sixty.
  const r = await keepAliveLoad({ port: s.port, connections: 3, perConnection: 20 });
  expect(r.responses).toBe(60);
  await sleep(100);
  const last = (await s.snapshot()).workers[0]!.counters;
  expect(last.requests).toBe(61);
  expect(last.pace_burns).toBe(4);
  expect(last.pace_cost_us).toBe(4 * cost);
});

// A connection whose request has not come when the worker first reads it goes into epoll, and the
// worker burns the framework's cost of waiting for it (Tornado 4.5.3: add_handler, the coroutines
// suspending) right there, in its accept loop: a connection accepted after it waits that long, and
// finds its request there. A connection whose request is there at the first read burns none.
test('the register cost: once for a connection whose first read finds nothing, in the accept loop', async () => {
  const cost = 100_000;
  const s = await pacedWorker({ register: cost });
  const idle = net.connect(s.port, '127.0.0.1');
  idle.on('error', () => {});
  await new Promise<void>((resolve) => idle.on('connect', () => resolve()));
  // Connected and written while the worker burns for the first: accepted after that burn, in the
  // same accept loop, with its request there.
  const answered = await churnLoad({ port: s.port, total: 1, concurrency: 1 });
  const atAnswer = (await s.snapshot()).workers[0]!.counters;
  expect(answered.responses).toBe(1);
  expect(atAnswer.accepts_ok).toBe(2);
  expect(atAnswer.connections_registered).toBe(1);
  expect(atAnswer.pace_burns).toBe(1);
  expect(atAnswer.pace_cost_us).toBe(cost);
  expect(atAnswer.pace_us).toBeGreaterThanOrEqual(cost);
  // The idle connection's request, once sent, is read after an event: no second burn.
  const { answers } = await answersInTurn(idle, 1);
  idle.destroy();
  expect(answers.map((a) => a.status)).toEqual([200]);
  const last = (await s.snapshot()).workers[0]!.counters;
  expect(last.requests).toBe(2);
  expect(last.pace_burns).toBe(1);
});

// CPython's collector runs when its young generation's allocations pass the threshold, and then
// collects the oldest generation whose count passed its own (gc.get_threshold() (700, 10, 10),
// counts compared with >): the middle generation's count is the young collections since it was
// collected, so 11 young collections come before each middle one; the full generation's count is
// the middle collections since, so the first full collection is the one after 11 middle ones,
// each 12 collections apart: collection 11 × 12 + 1 = 133.
test("the collector: every gcEvery connections a collection, young, middle or full as CPython's thresholds choose", async () => {
  const [young, middle, full] = [1, 20, 300];
  const s = await startServe([
    '--workers',
    '1',
    '--pace',
    'tornado4',
    ...only({ 'gc-young': young, 'gc-middle': middle, 'gc-full': full }, 2),
  ]);
  const counters = async () => (await s.snapshot()).workers[0]!.counters;
  const accepted = (n: number) =>
    waitFor(`${n} connections accepted`, async () =>
      (await counters()).accepts_ok === n ? true : undefined,
    );
  for (let i = 0; i < 2 * 132; i++) await probe(s.port);
  await accepted(264);
  const before = await counters();
  expect(before.pace_gc_collections).toBe(132);
  expect(before.pace_gc_full).toBe(0);
  expect(before.pace_cost_us).toBe(121 * young + 11 * middle);
  // The 265th connection sets nothing off (one in two does); the 266th the first full collection.
  await probe(s.port);
  await accepted(265);
  expect((await counters()).pace_gc_collections).toBe(132);
  await probe(s.port);
  await accepted(266);
  const after = await counters();
  expect(after.pace_gc_collections).toBe(133);
  expect(after.pace_gc_full).toBe(1);
  expect(after.pace_burns).toBe(133);
  expect(after.pace_cost_us! - before.pace_cost_us!).toBe(full);
  expect(after.pace_us! - before.pace_us!).toBeGreaterThanOrEqual(full);
  // After the full collection the counts start again: the next collection is a young one.
  await probe(s.port);
  await probe(s.port);
  await accepted(268);
  const next = await counters();
  expect(next.pace_gc_collections).toBe(134);
  expect(next.pace_cost_us! - after.pace_cost_us!).toBe(young);
});

test('a connection that closes with its answer burns the after-send cost after the close', async () => {
  const cost = 100_000;
  const s = await pacedWorker({ 'request-after': cost });
  const r = await churnLoad({ port: s.port, total: 1, concurrency: 1 });
  expect(r.responses).toBe(1);
  const atEnd = (await s.snapshot()).workers[0]!.counters;
  expect(atEnd.connections_closed).toBe(1);
  expect(atEnd.pace_burns).toBe(0);
  await sleep(250);
  const later = (await s.snapshot()).workers[0]!.counters;
  expect(later.pace_burns).toBe(1);
  expect(later.pace_cost_us).toBe(cost);
});

test('each worker burns the cold-start cost once, on its first connection, and never again', async () => {
  const cost = 30_000;
  const s = await startServe(['--workers', '2', '--pace', 'tornado4', ...only({ cold: cost })]);
  const first = await s.snapshot();
  for (const w of first.workers) expect(w.counters.pace_burns).toBe(0); // nothing before a connection
  const r1 = await churnLoad({ port: s.port, total: 60, concurrency: 4 });
  expect(r1.responses).toBe(60);
  const mid = await s.snapshot();
  let served = 0;
  for (const w of mid.workers) {
    const accepted = w.counters.accepts_ok!;
    if (accepted === 0) {
      expect(w.counters.pace_burns).toBe(0);
      continue;
    }
    served++;
    expect(w.counters.pace_burns).toBe(1);
    expect(w.counters.pace_us).toBeGreaterThanOrEqual(cost);
    expect(w.counters.pace_us).toBeLessThan(cost + 5_000);
  }
  expect(served).toBeGreaterThanOrEqual(1);
  // A second burst: every worker that already had a connection burns nothing more.
  const r2 = await churnLoad({ port: s.port, total: 60, concurrency: 4 });
  expect(r2.responses).toBe(60);
  const last = await s.snapshot();
  for (const [i, w] of last.workers.entries()) {
    const hadOne = mid.workers[i]!.counters.accepts_ok! > 0;
    const hasOne = w.counters.accepts_ok! > 0;
    expect(w.counters.pace_burns).toBe(hasOne ? 1 : 0);
    if (hadOne) expect(w.counters.pace_us).toBe(mid.workers[i]!.counters.pace_us);
  }
});

// The cold start in two parts, as a forked Tornado worker spends it: the connection path on the
// first connection, the request path on the first request. A probe (no request) pays only the first.
test('the cold start: its connection part on the first connection, its request part on the first request, each once', async () => {
  const cold = 20_000;
  const coldRequest = 30_000;
  const s = await pacedWorker({ cold, 'cold-request': coldRequest });
  await probe(s.port);
  const afterProbe = await waitFor('the probe counted as accepted and closed', async () => {
    const c = (await s.snapshot()).workers[0]!.counters;
    return c.connections_closed === 1 ? c : undefined;
  });
  expect(afterProbe.requests).toBe(0);
  expect(afterProbe.pace_burns).toBe(1);
  expect(afterProbe.pace_cost_us).toBe(cold);
  expect(afterProbe.pace_us).toBeGreaterThanOrEqual(cold);
  // Two more probes: nothing more is burned.
  await probe(s.port);
  await probe(s.port);
  // Requests on connections after that: the first request burns the request part, once.
  const r = await keepAliveLoad({ port: s.port, connections: 2, perConnection: 10 });
  expect(r.responses).toBe(20);
  await sleep(100);
  const last = (await s.snapshot()).workers[0]!.counters;
  expect(last.accepts_ok).toBe(5);
  expect(last.pace_burns).toBe(2);
  expect(last.pace_cost_us).toBe(cold + coldRequest);
  expect(last.pace_us).toBeGreaterThanOrEqual(cold + coldRequest);
  expect(last.pace_us).toBeLessThan(cold + coldRequest + 5_000);
});

test('pre-fork: every KeyError burns the KeyError cost, and only KeyErrors do', async () => {
  const cost = 300;
  const s = await startServe([
    '--workers',
    '2',
    '--loop-creation',
    'pre-fork',
    '--accept-batch',
    '1',
    '--pace',
    'tornado4',
    ...only({ keyerror: cost }),
  ]);
  const r = await keepAliveLoad({
    port: s.port,
    connections: 16,
    perConnection: 150,
    staggerMs: 5,
  });
  expect(r.responses).toBe(16 * 150);
  const snap = await s.snapshot();
  const t = (f: string) => snap.workers.reduce((a, w) => a + w.counters[f]!, 0);
  expect(t('keyerrors')).toBeGreaterThan(0);
  expect(t('pace_burns')).toBe(t('keyerrors'));
  expect(t('pace_us')).toBeGreaterThanOrEqual(t('keyerrors') * cost);
  expect(t('pace_us')).toBeLessThan(t('keyerrors') * (cost + 100));
});

/** Writes `requests` in one write on one connection; resolves once `count` responses came, open. */
async function pipelined(port: number, requests: string, count: number): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  let buf: Buffer = Buffer.alloc(0);
  let got = 0;
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${got} of ${count} responses in 5 s`)), 5000);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (let p = parseResponse(buf); p; p = parseResponse(buf)) {
        expect(p.status).toBe(200);
        buf = p.rest;
        if (++got === count) {
          clearTimeout(timer);
          res();
        }
      }
    });
    sock.write(requests);
  });
  return sock;
}

// Tornado 4.5's request loop (HTTP1ServerConnection._server_request_loop): after each answered
// request on a kept-alive connection the loop yields gen.moment and calls read_response, whose
// read_until_regex tries IOStream._try_inline_read: one inline read per answered request, whether
// it finds the next request in the buffer, in the socket, or nothing (then the fd asks for READ).
// So with only the event cost set, the burns are one per dispatched event plus one per response.
test('tornado4: every answered keep-alive request is followed by one inline read, paced as an event', async () => {
  const s = await pacedWorker({ event: 50 });
  const before = await s.snapshot();
  const get = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
  // Three requests in one write: the first is answered (inline at accept, or on the pass after its
  // event), the second and third come from the stream's buffer by the inline reads that follow,
  // and the read after the third finds nothing.
  const a = await pipelined(s.port, get.repeat(3), 3);
  const b = await pipelined(s.port, get.repeat(2), 2);
  await sleep(100); // the last inline reads happen on the passes after the last answers
  const after = await s.snapshot();
  a.destroy();
  b.destroy();
  const d = (f: string) => after.workers[0]!.counters[f]! - before.workers[0]!.counters[f]!;
  expect(d('responses_200')).toBe(5);
  expect(d('pace_burns') - d('events_dispatched')).toBe(5);
  expect(d('pace_us')).toBeGreaterThanOrEqual(d('pace_burns') * 50);
});

test('tornado4: a connection answered inline at accept and closed was never in epoll, and is not removed from it', async () => {
  // The fd of a connection whose request was already there when it was accepted is answered in
  // the accept handler and registered only when its next inline read would block; under churn it
  // closes after its answer without ever being registered, and closing it must not ask epoll to
  // remove it (EPOLL_CTL_DEL of an fd not in epoll fails: an epoll_ctl error). Every connection
  // closes, and none was registered twice (EEXIST).
  const s = await pacedWorker({});
  const r = await churnLoad({ port: s.port, total: 200, concurrency: 4 });
  expect(r.responses).toBe(200);
  const k = await keepAliveLoad({ port: s.port, connections: 4, perConnection: 50 });
  expect(k.responses).toBe(200);
  await sleep(100);
  expect(await s.total('epoll_ctl_eexist')).toBe(0);
  expect(await s.total('epoll_ctl_errors')).toBe(0);
  expect(await s.total('open_connections')).toBe(0);
});

test('--pace-cpu-pct: each burn takes the scale of the CPU the worker runs on then', async () => {
  const cpu = os.cpus().length - 1; // the worker is pinned here
  const list = (here: number, elsewhere: number): string =>
    Array.from({ length: cpu + 1 }, (_, i) => (i === cpu ? here : elsewhere)).join(',');
  const cost = 1000;
  const run = async (pct: string) => {
    const s = await startServe([
      '--workers',
      '1',
      '--pace',
      'tornado4',
      ...only({ request: cost }),
      '--pace-cpu-pct',
      pct,
    ]);
    execFileSync('taskset', ['-pc', String(cpu), String(s.pids[0])]);
    const before = await s.snapshot();
    const r = await keepAliveLoad({ port: s.port, connections: 2, perConnection: 50 });
    expect(r.responses).toBe(100);
    const after = await s.snapshot();
    await stopAll();
    return (f: string) => after.workers[0]!.counters[f]! - before.workers[0]!.counters[f]!;
  };
  const slow = await run(list(250, 100));
  expect(slow('pace_burns')).toBe(100);
  // The cost a burn stands for is the scaled one, and the burn lasts it.
  expect(slow('pace_cost_us')).toBe(100 * 2.5 * cost);
  expect(slow('pace_us')).toBeGreaterThanOrEqual(100 * 2.5 * cost);
  expect(slow('pace_us')).toBeLessThan(100 * (2.5 * cost + 100));
  // A scale for the other CPUs leaves this one's burns at their cost (one CPU: 100 % here).
  const other = await run(list(100, 250));
  expect(other('pace_burns')).toBe(100);
  expect(other('pace_cost_us')).toBe(100 * cost);
});

test('native burns nothing and changes nothing', async () => {
  const s = await startServe(['--workers', '2']);
  const r = await keepAliveLoad({ port: s.port, connections: 4, perConnection: 100 });
  expect(r.responses).toBe(400);
  const c = await churnLoad({ port: s.port, total: 100, concurrency: 4 });
  expect(c.responses).toBe(100);
  expect(await s.total('pace_us')).toBe(0);
  expect(await s.total('pace_burns')).toBe(0);
  const snap = await s.snapshot();
  expect(snap.pace).toMatchObject({ pace: 'native', inlineRead: false, deferAnswer: false });
  for (const c of PACE_COSTS) expect(snap.pace?.[c]).toBe(0);
});

test('the server reports the costs it runs with: the preset, and an explicit cost over it', async () => {
  const file = onDisk();
  const s = await startServe([
    '--workers',
    '1',
    '--flavour',
    'asyncio',
    '--pace',
    'asyncio',
    '--pace-request-us',
    '7',
  ]);
  const snap = await s.snapshot();
  expect(snap.pace?.pace).toBe('asyncio');
  expect(snap.pace?.requestUs).toBe(7);
  expect(snap.pace?.overridden).toEqual(['requestUs']);
  for (const c of PACE_COSTS.filter((x) => x !== 'requestUs'))
    expect(snap.pace?.[c]).toBe(file.presets.asyncio[c]);
  expect(snap.pace?.calibration?.date).toBe(file.calibration.date);
  expect(await s.metrics()).toMatch(/^forklab_server_info\{[^}]*pace="asyncio"[^}]*\} 1$/m);
});

// The work burn runs a number of work units, not a time: what it takes depends on the CPU's state,
// so the time it ran is counted apart from the cost it stood for.
describe('the work burn (--pace-burn work)', () => {
  async function burnRequests(extra: string[]) {
    const cost = 2000;
    const { cpu, d, pace } = await pacedRequests(
      ['--pace-burn', 'work', ...extra, ...only({ request: cost })],
      25,
    );
    return { cost, cpu, d, rate: pace?.workPerUs };
  }

  test('counts the cost each burn stood for exactly, and the time it ran as CPU the worker spent', async () => {
    const { cost, cpu, d, rate } = await burnRequests([]);
    expect(rate).toBe(onDisk().burn.workPerUs);
    expect(d('pace_burns')).toBe(100);
    expect(d('pace_cost_us')).toBe(100 * cost);
    // The kernel's account of the worker's CPU covers the time the work ran (one 10 ms tick).
    expect(cpu + 10_000).toBeGreaterThanOrEqual(d('pace_us'));
    expect(d('utime_us') + d('stime_us')).toBeGreaterThanOrEqual(d('pace_us'));
    // At the calibrated rate the work takes its cost's time on a CPU like the calibration's; this
    // only checks the order of magnitude (the CPU's state varies by a factor under 2 here).
    expect(d('pace_us')).toBeGreaterThan((100 * cost) / 10);
    expect(d('pace_us')).toBeLessThan(100 * cost * 10);
  });

  test('--pace-work-per-ms sets the amount of work: four times the units, several times the time', async () => {
    const base = Math.round(onDisk().burn.workPerUs * 1000);
    const one = await burnRequests(['--pace-work-per-ms', String(base)]);
    const four = await burnRequests(['--pace-work-per-ms', String(4 * base)]);
    expect(one.rate).toBeCloseTo(base / 1000, 6);
    expect(four.rate).toBeCloseTo((4 * base) / 1000, 6);
    expect(four.d('pace_cost_us')).toBe(one.d('pace_cost_us'));
    // 4× the work: above 2× the time even if the CPU ran the second run 1.9× faster.
    expect(four.d('pace_us')).toBeGreaterThan(2 * one.d('pace_us'));
  });
});

describe('presets and settings', () => {
  test('the shipped presets are the calibration file, with how they were obtained', () => {
    const file = onDisk();
    expect(shippedPresets()).toEqual(file);
    expect(presetsProblems(file)).toEqual([]);
    for (const c of PACE_COSTS) expect(file.calibration.method[c]).toEqual(expect.any(String));
  });

  test('an explicit cost beats the preset; -1 keeps the preset', () => {
    const file = onDisk();
    const p = resolvePace('tornado4', { requestUs: 5, keyErrorUs: -1 });
    expect(p.requestUs).toBe(5);
    expect(p.keyErrorUs).toBe(file.presets.tornado4.keyErrorUs);
    expect(p.overridden).toEqual(['requestUs']);
    expect(resolvePace('native', { eventUs: 9 })).toMatchObject({ eventUs: 9, requestUs: 0 });
  });

  test('the burn: the presets choose it unless set; work takes the calibrated rate unless given', () => {
    const file = onDisk();
    expect(resolvePace('tornado4', {})).toMatchObject({
      burn: file.burn.preset,
      workPerUs: file.burn.preset === 'work' ? file.burn.workPerUs : 0,
    });
    expect(resolvePace('native', {})).toMatchObject({ burn: 'time', workPerUs: 0 });
    expect(resolvePace('tornado4', {}, file, { burn: 'time' })).toMatchObject({ workPerUs: 0 });
    expect(resolvePace('tornado4', {}, file, { burn: 'work' }).workPerUs).toBe(file.burn.workPerUs);
    expect(
      resolvePace('asyncio', {}, file, { burn: 'work', workPerMs: 12_345 }).workPerUs,
    ).toBeCloseTo(12.345, 9);
    // A rate given without the work burn changes nothing.
    expect(resolvePace('tornado4', {}, file, { burn: 'time', workPerMs: 12_345 }).workPerUs).toBe(
      0,
    );
  });

  test('--pace-scale-pct scales every µs cost, explicit ones too, and not how often the collector runs', () => {
    const file = onDisk();
    const t4 = file.presets.tornado4;
    const p = resolvePace('tornado4', { requestUs: 200, gcEvery: 7 }, file, { scalePct: 150 });
    expect(p.scalePct).toBe(150);
    expect(p.requestUs).toBe(300);
    expect(p.keyErrorUs).toBe(Math.round(t4.keyErrorUs * 1.5));
    expect(p.acceptUs).toBe(Math.round(t4.acceptUs * 1.5));
    expect(p.gcFullUs).toBe(Math.round(t4.gcFullUs * 1.5));
    expect(p.gcEvery).toBe(7);
    expect(resolvePace('tornado4', {}, file).scalePct).toBe(100);
    expect(resolvePace('tornado4', {}, file)).toMatchObject(t4);
    expect(parseServeConfig(['--pace-scale-pct', '5'], {}).errors).toEqual([
      expect.stringMatching(/^--pace-scale-pct: must be an integer from 10 to 1000, got /),
    ]);
  });

  test('--pace-cpu-pct: percentages per CPU on top of the scale, or even; not beside the work burn', () => {
    const file = onDisk();
    const p = resolvePace('tornado4', {}, file, { scalePct: 150, cpuPct: [100, 160] });
    expect(p.cpuPct).toEqual([100, 160]);
    expect(p.requestUs).toBe(Math.round(file.presets.tornado4.requestUs * 1.5));
    expect(describePace(p)).toContain('; every cost × 1.50; per CPU × 1.00, 1.60');
    expect(resolvePace('tornado4', {}, file).cpuPct).toEqual([]);
    expect(validateServeConfig({ paceCpuPct: '100,160' }).config?.paceCpuPct).toBe('100,160');
    expect(validateServeConfig({ paceCpuPct: 'even' }).config?.paceCpuPct).toBe('even');
    for (const bad of ['100,5', '100,1001', '1.5', 'fast', '100,,160', ' 100', '-100'])
      expect(parseServeConfig(['--pace-cpu-pct', bad], {}).errors).toEqual([
        `--pace-cpu-pct: must be even or a percentage from 10 to 1000 per CPU, CPU 0 first, separated by commas (at most 256), e.g. 100,160, got ${JSON.stringify(bad)}`,
      ]);
    expect(
      parseServeConfig([], { FORKLAB_PACE_CPU_PCT: new Array(257).fill('100').join(',') }).errors,
    ).toEqual([expect.stringMatching(/^FORKLAB_PACE_CPU_PCT: must be even or .*\(at most 256\)/)]);
    expect(
      parseServeConfig(
        ['--pace', 'tornado4', '--pace-burn', 'work', '--pace-cpu-pct', '100,160'],
        {},
      ).errors,
    ).toEqual([
      '--pace-cpu-pct: the work burn slows on a slow CPU by itself; a per-CPU scale is for timed burns: use --pace-burn time or --pace-cpu-pct even (the burn is work)',
    ]);
  });

  test('a broken presets file names each bad field and the fix', () => {
    const file = onDisk();
    const bad = { ...file, presets: { ...file.presets, asyncio: { ...file.presets.asyncio } } };
    (bad.presets.asyncio as Record<string, unknown>).skipUs = -3;
    const errs = presetsProblems(bad);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^presets\.asyncio\.skipUs: .*got -3 .*npm run calibrate/);
    const noRate = { ...file, burn: { ...file.burn, preset: 'fast', workPerUs: 0 } };
    expect(presetsProblems(noRate)).toEqual([
      expect.stringMatching(
        /^burn\.preset: must be one of time, work, got "fast" .*npm run calibrate/,
      ),
      expect.stringMatching(
        /^burn\.workPerUs: must be a number above 0 .*got 0 .*npm run calibrate/,
      ),
    ]);
  });

  test('pace flags are validated with the field named', () => {
    const r = parseServeConfig(['--pace', 'fast', '--pace-keyerror-us', '-7'], {});
    expect(r.errors).toEqual([
      expect.stringMatching(/^--pace: must be one of native, tornado4, asyncio, got "fast"$/),
      expect.stringMatching(/^--pace-keyerror-us: must be -1 \(the --pace preset\) or an integer/),
    ]);
    expect(parseServeConfig(['--pace-burn', 'spin', '--pace-work-per-ms', '0'], {}).errors).toEqual(
      [
        expect.stringMatching(/^--pace-burn: must be one of preset, time, work, got "spin"$/),
        expect.stringMatching(
          /^--pace-work-per-ms: must be -1 \(the presets' calibrated rate\) or an integer from 1 to/,
        ),
      ],
    );
    expect(validateServeConfig({ pace: 'asyncio' }).errors).toEqual([
      'pace: the asyncio pace burns the costs of the asyncio loop, whose treatment of unknown fds the flavour sets: use flavour: "asyncio" or pace: "tornado4" (flavour is tornado4)',
    ]);
    expect(validateServeConfig({ pace: 'tornado4', paceSkipUs: 12 }).config).toMatchObject({
      pace: 'tornado4',
      paceSkipUs: 12,
      paceAcceptUs: -1,
    });
  });
});
