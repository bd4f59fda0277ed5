// The engine against nginx under the same wrk load: is the C++ engine a fast enough server for its
// own behaviour (not the HTTP code) to be what the scenarios measure?
//
//   npm run bench:engine -- [--rounds 3] [--duration 5] [--connections 64] [--threads 2]
//                           [--only engine|nginx]
//
// Starts the engine (post-fork, 2 workers) and nginx (2 worker processes, epoll) on free loopback
// ports, runs `wrk --latency` against each in turn for several rounds (alternating which goes
// first), and prints each round, the median requests/s of both and the ratio engine/nginx with its
// target: the median of the per-round ratios, with a verdict only when the rounds agree
// (support/verdict.ts ratioVerdict). Cross-checks every engine run against the engine's own
// `requests` counter. The ratio is reported, not asserted; the exit code is 1 only when something
// failed to run or a check failed.
//
// Both servers run in a session of their own (started detached, so setsid) and are stopped as a
// group, wrk in the bench's: with autogroup on, that decides how the CPUs are shared between them
// (support/machine.ts; the `machine:` line prints the setting).
import { parseBenchOptions, type BenchOptions } from './support/options';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  freePort,
  killAllNow,
  startChild,
  stopAll,
  waitForHttp,
  type Child,
} from './support/children';
import { machineLine } from './support/machine';
import { ratioVerdict } from './support/verdict';
import { runWrk, wrkProblems, type WrkResult } from './support/wrk';

const TARGET_RATIO = 1.0;
const REPO = path.resolve(__dirname, '..');

type Options = BenchOptions<Server['name']>;

interface Server {
  name: 'engine' | 'nginx';
  url: string;
  child: Child;
  /** Sum of the server's own request counter, when it has one. */
  requestCount?: () => Promise<number>;
}

function parseOptions(argv: string[]): Options {
  return parseBenchOptions<Server['name']>(argv, {
    name: 'bench:engine',
    connections: 64,
    threads: 2,
    only: ['engine', 'nginx'],
  });
}

interface Ready {
  port: number;
  metricsPort: number;
  pids: number[];
}

async function startEngine(): Promise<Server> {
  let onReady: (r: Ready) => void = () => {};
  const ready = new Promise<Ready>((resolve) => (onReady = resolve));
  const args = [
    path.join(REPO, 'bin', 'forklab.js'),
    'serve',
    '--workers',
    '2',
    '--loop-creation',
    'post-fork',
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--name',
    'bench-engine',
  ];
  const child = startChild('engine', process.execPath, args, {
    cwd: REPO,
    group: true, // a session of its own (support/machine.ts)
    onLine: (line) => {
      const m = /^FORKLAB_READY (\{.*\})\s*$/.exec(line);
      if (m) onReady(JSON.parse(m[1]!) as Ready);
    },
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('no FORKLAB_READY line within 20 s')), 20_000).unref(),
  );
  const died = child.exited.then(({ code, signal }) => {
    throw new Error(`exited (${signal ?? `code ${code}`}) before FORKLAB_READY`);
  });
  let r: Ready;
  try {
    r = await Promise.race([ready, timeout, died]);
  } catch (e) {
    throw new Error(
      `engine: ${(e as Error).message}\n$ node ${args.join(' ')}\n${child.output()}`.trimEnd(),
    );
  }
  const url = `http://127.0.0.1:${r.port}/`;
  await waitForHttp(child, url, 10_000);
  const metricsUrl = `http://127.0.0.1:${r.metricsPort}/metrics`;
  console.log(
    `engine: ${url} (workers ${r.pids.join(', ')}; metrics ${metricsUrl}; supervisor pid ${child.proc.pid})`,
  );
  return { name: 'engine', url, child, requestCount: () => engineRequests(metricsUrl) };
}

/** Sum of `forklab_requests_total` over every worker, from the supervisor's /metrics. */
async function engineRequests(metricsUrl: string): Promise<number> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${metricsUrl}: HTTP ${res.status}`);
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = /^forklab_requests_total(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m) {
      sum += Number(m[1]);
      seen = true;
    }
  }
  if (!seen) throw new Error(`${metricsUrl}: no forklab_requests_total samples`);
  return sum;
}

async function startNginx(dir: string): Promise<Server> {
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const errorLog = path.join(dir, 'error.log');
  const root = process.getuid?.() === 0;
  writeFileSync(
    conf,
    `# forklab bench: nginx configured like the engine (2 workers, epoll, no access log).
${root ? 'user root;\n' : ''}worker_processes 2;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events {
  use epoll;
  worker_connections 4096;
}
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      return 200 "Hello, world\\n";
    }
  }
}
`,
  );
  const args = ['-p', dir, '-c', conf, '-e', errorLog];
  // A session of its own (support/machine.ts), stopped as a group: the master and its workers.
  const child = startChild('nginx', 'nginx', args, { cwd: dir, group: true });
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitForHttp(child, url, 10_000);
  } catch (e) {
    let log = '';
    try {
      log = readFileSync(errorLog, 'utf8');
    } catch {
      // No log written.
    }
    throw new Error(`nginx: ${(e as Error).message}\n$ nginx ${args.join(' ')}\n${log}`.trimEnd());
  }
  console.log(`nginx:  ${url} (master pid ${child.proc.pid}; config ${conf})`);
  return { name: 'nginx', url, child };
}

interface Run {
  server: Server['name'];
  wrk: WrkResult;
  problems: string[];
  /** Engine only: how much its own requests counter grew during the run. */
  counted?: number;
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (v: number | undefined): string => (v === undefined ? '-' : `${fmt(v, 2)} ms`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function printRound(round: number, runs: Run[]): void {
  const header = ['server', 'req/s', 'requests', 'p50', 'p99', 'server count', 'problems'];
  const rows = runs.map((r) => [
    r.server,
    fmt(r.wrk.requestsPerSec),
    fmt(r.wrk.requests),
    ms(r.wrk.latencyMs.p50),
    ms(r.wrk.latencyMs.p99),
    r.counted === undefined ? '-' : fmt(r.counted),
    r.problems.length ? r.problems.join('; ') : 'none',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) =>
        i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  console.log(`\nround ${round}`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

async function measure(server: Server, opts: Options): Promise<Run> {
  const before = server.requestCount ? await server.requestCount() : undefined;
  const wrk = await runWrk({
    url: server.url,
    threads: opts.threads,
    connections: opts.connections,
    durationSec: opts.durationSec,
  });
  const problems = wrkProblems(wrk);
  const run: Run = { server: server.name, wrk, problems };
  if (server.requestCount && before !== undefined) {
    run.counted = (await server.requestCount()) - before;
    if (run.counted < wrk.requests) {
      problems.push(`server counted ${run.counted} requests, fewer than wrk's ${wrk.requests}`);
    }
  }
  if (server.child.proc.exitCode !== null || server.child.proc.signalCode !== null) {
    problems.push(`${server.name} exited during the run:\n${server.child.output()}`);
  }
  return run;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const dir = mkdtempSync(path.join(tmpdir(), 'forklab-bench-'));
  process.on('exit', () => {
    killAllNow();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench: ${sig}, stopping the servers`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    console.log(
      `bench: wrk -t${opts.threads} -c${opts.connections} -d${opts.durationSec}s --latency, ` +
        `${opts.rounds} round(s)${opts.only ? `, ${opts.only} only` : ', engine and nginx in turn'}`,
    );
    console.log(machineLine('wrk'));
    const servers: Server[] = [];
    if (opts.only !== 'nginx') servers.push(await startEngine());
    if (opts.only !== 'engine') servers.push(await startNginx(dir));

    const runs: Run[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      // Alternate which server goes first, so that drift (heat, other load) affects both alike.
      const order = round % 2 === 1 ? servers : [...servers].reverse();
      const roundRuns: Run[] = [];
      for (const server of order) roundRuns.push(await measure(server, opts));
      printRound(round, roundRuns);
      runs.push(...roundRuns);
    }

    const rps = (name: Server['name']): number[] =>
      runs.filter((r) => r.server === name).map((r) => r.wrk.requestsPerSec);
    const medians = new Map(servers.map((s) => [s.name, median(rps(s.name))]));
    const failed = runs.filter((r) => r.problems.length > 0);

    console.log('\nsummary');
    for (const [name, m] of medians)
      console.log(`  ${`${name} median:`.padEnd(15)} ${fmt(m)} req/s`);
    const engineMedian = medians.get('engine');
    const nginxMedian = medians.get('nginx');
    if (engineMedian !== undefined && nginxMedian !== undefined) {
      // Per round, as bench:driver judges its drivers: the two ran minutes apart at most, so a
      // change in the machine's load hits both alike; the rounds' spread is the noise.
      const v = ratioVerdict(rps('engine'), rps('nginx'), TARGET_RATIO);
      console.log(
        `  engine/nginx: ${v.text} (medians ${fmt(engineMedian)} / ${fmt(nginxMedian)} = ` +
          `${fmt(engineMedian / nginxMedian, 2)}×)`,
      );
    }
    const engineRuns = runs.filter((r) => r.server === 'engine');
    if (engineRuns.length > 0) {
      const wrkTotal = engineRuns.reduce((a, r) => a + r.wrk.requests, 0);
      const countedTotal = engineRuns.reduce((a, r) => a + (r.counted ?? 0), 0);
      console.log(
        `  engine requests counter: ${fmt(countedTotal)} over its runs, wrk completed ` +
          `${fmt(wrkTotal)} (${countedTotal >= wrkTotal ? 'ok: ≥ wrk' : 'FAILED: fewer than wrk'})`,
      );
    }
    if (failed.length > 0) {
      console.error(`\nbench: ${failed.length} run(s) failed a check:`);
      for (const r of failed) console.error(`  ${r.server}: ${r.problems.join('; ')}`);
      return 1;
    }
    return 0;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    void stopAll().finally(() => process.exit(1));
  },
);
