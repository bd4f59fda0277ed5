// Runs a real nginx (master and N workers) with a generated config and turns what it tells into a
// snapshot in the engine's shape: per worker the requests it logged (the access log carries $pid)
// by status, plus whatever the caller's probe adds (CPU, context switches, open connections from
// /proc); for the whole server the accepted and handled connections of stub_status, less the
// adapter's own status requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  ACCESS_LOG,
  AccessLogCounter,
  ERROR_LOG,
  NGINX_DEFAULTS,
  nginxConfig,
  parseStubStatus,
  type NginxSettings,
  type StubStatus,
} from './nginx-config';
import type { Health } from './metrics-server';
import type { RealServerConfig, ServerSnapshot, WorkerSnapshot } from './snapshot';

export const DEBIAN_NGINX = '/usr/sbin/nginx';
/** Most a status request or the start-up may take. */
const STATUS_TIMEOUT_MS = 2000;
const START_TIMEOUT_MS = 10_000;
/** Most the access log is read per snapshot (the rest comes with the next one). */
const LOG_READ_LIMIT = 64 << 20;
/**
 * How long a snapshot waits for the access log to hold every request stub_status counts as done.
 * A worker writes its line right after the response, so the wait is a few ms at most; past this
 * (less than the sampler's 800 ms deadline) the snapshot goes out with `unlogged` > 0.
 */
const SETTLE_TIMEOUT_MS = 500;
const SETTLE_POLL_MS = 2;

export interface NginxAdapterOptions {
  settings: NginxSettings;
  name: string;
  host: string;
  port: number;
  metricsPort: number;
  /** stub_status port; 0 or absent picks a free one. */
  statusPort?: number;
  /** Folder for nginx.conf, logs and temp files (created). */
  prefix: string;
  nginxBinary?: string;
  /** Extra per-worker fields (e.g. lab/sample/proc-probe.ts); null when the process is gone. */
  probe?: (pid: number, port: number) => Promise<Record<string, number> | null>;
  /** nginx's stdout and stderr go here; default: this process's. */
  stdio?: 'inherit' | 'ignore';
}

/** The stub_status figures of the load: the adapter's own status requests taken out. */
export interface NginxStatus extends StubStatus {
  /** Status requests the adapter made (one connection each), already subtracted. */
  statusPolls: number;
  /**
   * Requests stub_status counted as done (`requests` less those still `reading` or `writing`) that
   * the access log did not hold yet when the snapshot was taken (it waits up to
   * SETTLE_TIMEOUT_MS for them): 0 when the per-worker counts are complete.
   */
  unlogged?: number;
}

export type NginxSnapshot = ServerSnapshot & { nginx: NginxStatus };

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const text = await readFile(`/proc/${pid}/task/${t}/children`, 'utf8');
      for (const c of text.trim().split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      // task gone
    }
  }
  return out.sort((a, b) => a - b);
}

export class NginxAdapter {
  readonly settings: Required<NginxSettings>;
  readonly statusPort: number;
  readonly version: string;
  private readonly master: ChildProcess;
  private readonly exited: Promise<void>;
  private exitReason: string | undefined;
  /** Worker pids by index (the order they were first seen). */
  readonly pids: number[] = [];
  private readonly log = new AccessLogCounter();
  private logOffset = 0;
  private statusPolls = 0;
  private stopping = false;

  private constructor(
    private readonly o: NginxAdapterOptions,
    statusPort: number,
    master: ChildProcess,
    version: string,
  ) {
    this.settings = { ...NGINX_DEFAULTS, ...o.settings };
    this.statusPort = statusPort;
    this.master = master;
    this.version = version;
    this.exited = new Promise((resolve) =>
      master.once('exit', (code, signal) => {
        this.exitReason = signal ? `killed by ${signal}` : `exited with status ${code}`;
        resolve();
      }),
    );
  }

  /** Writes the config, starts nginx and waits until stub_status answers and every worker runs. */
  static async start(o: NginxAdapterOptions): Promise<NginxAdapter> {
    const statusPort = o.statusPort || (await freePort(o.host));
    mkdirSync(path.join(o.prefix, 'tmp'), { recursive: true });
    const conf = path.join(o.prefix, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(o.settings, { host: o.host, port: o.port, statusPort, prefix: o.prefix }),
    );
    writeFileSync(path.join(o.prefix, ACCESS_LOG), '');
    const binary = o.nginxBinary ?? DEBIAN_NGINX;
    // setpriv (util-linux) gives nginx's master SIGTERM when this process dies, however it dies;
    // the master then stops its workers.
    const master = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'SIGTERM',
        binary,
        ...['-p', o.prefix, '-c', conf, '-e', path.join(o.prefix, ERROR_LOG), '-g', 'daemon off;'],
      ],
      { stdio: ['ignore', o.stdio ?? 'inherit', o.stdio ?? 'inherit'] },
    );
    const spawnError = new Promise<Error>((resolve) => master.once('error', resolve));
    const a = new NginxAdapter(o, statusPort, master, await nginxVersion(binary));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const failed = await Promise.race([
        spawnError,
        a.exited.then(() => new Error(`nginx ${a.exitReason}`)),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)),
      ]);
      if (failed) throw new Error(`${failed.message}; ${await a.errorLogTail()}`);
      const kids = await childPids(master.pid!);
      if (kids.length >= a.settings.workers && (await a.status().catch(() => null))) {
        a.pids.push(...kids.slice(0, a.settings.workers));
        return a;
      }
      if (Date.now() > deadline) {
        await a.stop();
        throw new Error(
          `nginx did not serve within ${START_TIMEOUT_MS} ms; ${await a.errorLogTail()}`,
        );
      }
    }
  }

  get masterPid(): number {
    return this.master.pid ?? 0;
  }

  private async errorLogTail(): Promise<string> {
    try {
      const text = await readFile(path.join(this.o.prefix, ERROR_LOG), 'utf8');
      return `error log: ${text.trim().split('\n').slice(-5).join(' | ')}`;
    } catch {
      return 'no error log';
    }
  }

  /** stub_status now, with the adapter's own status connections and requests taken out. */
  async status(): Promise<NginxStatus> {
    const r = await fetch(`http://${this.o.host}:${this.statusPort}/status`, {
      signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
    });
    const s = parseStubStatus(await r.text());
    this.statusPolls++;
    // This request's connection is among the accepted ones, and its request among the requests.
    return {
      ...s,
      accepts: s.accepts - this.statusPolls,
      handled: s.handled - this.statusPolls,
      requests: s.requests - this.statusPolls,
      active: s.active - 1,
      writing: s.writing - 1,
      statusPolls: this.statusPolls,
    };
  }

  private readLog(): void {
    const fd = openSync(path.join(this.o.prefix, ACCESS_LOG), 'r');
    try {
      const buf = Buffer.alloc(1 << 20);
      let total = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.logOffset);
        if (n <= 0) break;
        this.logOffset += n;
        total += n;
        this.log.push(buf.toString('latin1', 0, n));
        if (total >= LOG_READ_LIMIT) break;
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Reads the access log until it holds `requests` lines (every request stub_status had counted
   * when asked), or SETTLE_TIMEOUT_MS passed. Returns how many are still missing.
   */
  private async settleLog(requests: number): Promise<number> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (;;) {
      this.readLog();
      const missing = requests - this.log.lines;
      if (missing <= 0 || Date.now() >= deadline) return Math.max(0, missing);
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
  }

  async snapshot(): Promise<NginxSnapshot> {
    const status = await this.status();
    // stub_status counts a request when it is created and keeps it in `reading`/`writing` until
    // the worker frees it, which is where it writes the log line: the per-worker counts hold every
    // request done at the moment of the status once the log has caught up with those. When the
    // load is quiet (the snapshots that open and close the measured window) that is every request.
    const done = status.requests - status.reading - status.writing;
    const nginx: NginxStatus = { ...status, unlogged: await this.settleLog(done) };
    // A worker nginx started anew (after one died) gets the next index.
    for (const pid of this.log.byPid.keys()) if (!this.pids.includes(pid)) this.pids.push(pid);
    const alive = new Set(await childPids(this.masterPid));
    const workers: WorkerSnapshot[] = await Promise.all(
      this.pids.map(async (pid, index) => {
        const counted = this.log.byPid.get(pid);
        const counters: Record<string, number> = { pid, requests: counted?.requests ?? 0 };
        let other = 0;
        for (const [status, n] of counted?.byStatus ?? []) {
          if ([200, 404, 501].includes(status)) counters[`responses_${status}`] = n;
          else other += n;
        }
        counters.responses_other = other;
        const up = alive.has(pid);
        if (up && this.o.probe) Object.assign(counters, await this.o.probe(pid, this.o.port));
        return {
          index,
          pid: up ? pid : 0,
          up,
          failed: false,
          restarts: 0,
          restartsByReason: { crash: 0, cycled: 0, clean: 0 },
          exits: { clean: 0, cycled: 0, eexist: 0, startup_failed: 0, crash: 0, signal: 0, oom: 0 },
          counters,
        };
      }),
    );
    const config: RealServerConfig = {
      kind: 'nginx',
      name: this.o.name,
      host: this.o.host,
      port: this.o.port,
      metricsPort: this.o.metricsPort,
      statusPort: this.statusPort,
      ...this.settings,
      nginxVersion: this.version,
    };
    return {
      name: this.o.name,
      engineVersion: `nginx-${this.version}`,
      port: this.o.port,
      metricsPort: this.o.metricsPort,
      stopping: this.stopping,
      takenAtMs: Date.now(),
      config,
      workers,
      nginx,
    };
  }

  async health(): Promise<Health> {
    if (this.stopping) return { ok: false, reason: 'stopping' };
    if (this.exitReason) return { ok: false, reason: `nginx ${this.exitReason}` };
    const alive = await childPids(this.masterPid);
    if (alive.length < this.settings.workers)
      return { ok: false, reason: `${alive.length} of ${this.settings.workers} workers running` };
    return { ok: true, reason: 'ok' };
  }

  /** Stops nginx: QUIT (graceful), then TERM, then KILL, each after a short wait. */
  async stop(): Promise<void> {
    this.stopping = true;
    const workers = await childPids(this.masterPid);
    for (const [signal, ms] of [
      ['SIGQUIT', 3000],
      ['SIGTERM', 2000],
      ['SIGKILL', 2000],
    ] as const) {
      if (this.exitReason) break;
      this.master.kill(signal);
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, ms))]);
    }
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

async function nginxVersion(binary: string): Promise<string> {
  const out = await new Promise<string>((resolve) => {
    const p = spawn(binary, ['-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.once('error', () => resolve(''));
    p.once('exit', () => resolve(err));
  });
  return /nginx\/(\S+)/.exec(out)?.[1] ?? 'unknown';
}
