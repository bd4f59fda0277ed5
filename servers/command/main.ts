// Bring your own server: runs a command line (`{port}` in an argument becomes the lab's port),
// finds its workers (the process's children, or the process itself when it has none) and serves
// what /proc says of each in the engine's shape on the metrics port (/snapshot.json, /metrics,
// /healthz): CPU time, context switches and open connections (lab/sample/proc-probe.ts). Healthy
// once the port accepts a connection and the workers are there. Stops the command's process group
// on SIGTERM/SIGINT, or when its stdin closes with FORKLAB_LIFELINE=stdin.
//
//   node servers/command/run.js --port P --metrics-port M --workers N [--name NAME] -- ARGV...
//   (or the command line as a JSON array in FORKLAB_COMMAND, as the runtimes pass it)
//   node servers/command/run.js --port P --metrics-port M --workers N --attach-pid PID
//   (a server started by someone else, e.g. a container's first process as the host sees it: the
//   same probes, nothing started or stopped; it ends when PID is gone)
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { openConnections, probeProcess } from '../../lab/sample/proc-probe';
import { startMetricsServer, type Health } from '../../lab/server/metrics-server';
import type { ServerSnapshot, WorkerSnapshot } from '../../lab/server/snapshot';
import {
  SNAPSHOT_METRICS_CONTENT_TYPE,
  snapshotMetricsText,
} from '../../lab/server/snapshot-metrics';

const START_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 1000;

export interface CommandOptions {
  name: string;
  host: string;
  port: number;
  metricsPort: number;
  workers: number;
  argv: string[];
  /** Probe this running process (and its children) instead of starting `argv`. */
  attachPid?: number;
}

export function parseCommandArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): CommandOptions {
  const o: CommandOptions = {
    name: 'command',
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    workers: 1,
    argv: [],
  };
  const errors: string[] = [];
  const dash = args.indexOf('--');
  const flags = dash < 0 ? args : args.slice(0, dash);
  o.argv = dash < 0 ? [] : args.slice(dash + 1);
  if (dash < 0 && env.FORKLAB_COMMAND) {
    try {
      const v: unknown = JSON.parse(env.FORKLAB_COMMAND);
      if (Array.isArray(v) && v.every((a) => typeof a === 'string')) o.argv = v as string[];
      else errors.push('FORKLAB_COMMAND: must be a JSON array of strings');
    } catch {
      errors.push('FORKLAB_COMMAND: must be a JSON array of strings');
    }
  }
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i]!;
    const v = flags[++i];
    const int = (min: number, max: number): number => {
      const n = Number(v);
      if (v === undefined || !/^\d+$/.test(v) || n < min || n > max)
        errors.push(`${flag}: needs an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
      return n;
    };
    if (flag === '--name') o.name = v ?? '';
    else if (flag === '--host') o.host = v ?? '';
    else if (flag === '--port') o.port = int(1, 65535);
    else if (flag === '--metrics-port') o.metricsPort = int(0, 65535);
    else if (flag === '--workers') o.workers = int(1, 256);
    else if (flag === '--attach-pid') o.attachPid = int(1, 2 ** 22);
    else errors.push(`${flag}: unknown flag (the command goes after --)`);
  }
  if (o.attachPid !== undefined) {
    if (o.argv.length > 0) errors.push('--attach-pid: probes a running server; give no command');
  } else if (o.argv.length === 0)
    errors.push('--: the command line goes after -- (or in FORKLAB_COMMAND as a JSON array)');
  else if (!o.argv.some((a) => a.includes('{port}')))
    errors.push('--: put {port} in an argument of the command (the port the lab picked)');
  if (errors.length > 0) throw new Error(`forklab command: ${errors.join('; ')}`);
  o.argv = o.argv.map((a) => a.replaceAll('{port}', String(o.port)));
  return o;
}

async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for (const t of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '');
      for (const c of text.trim().split(/\s+/)) if (c) out.push(Number(c));
    }
  } catch {
    // gone
  }
  return out.sort((a, b) => a - b);
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(CONNECT_TIMEOUT_MS, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function commandMain(args: readonly string[]): Promise<number> {
  const o = parseCommandArgs(args);
  const { leader, what, exited, exitReason, stop } =
    o.attachPid === undefined ? startCommand(o) : attach(o.attachPid);
  /** The command's workers: its children, or itself when it is the only process. */
  const workerPids = async (): Promise<number[]> => {
    const kids = await childPids(leader);
    return o.workers === 1 && kids.length === 0 ? [leader] : kids.slice(0, o.workers);
  };
  const pids: number[] = [];
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exitReason()) throw new Error(`forklab command: ${what} ${exitReason()}`);
    const found = await workerPids();
    if (found.length === o.workers && (await accepts(o.host, o.port))) {
      pids.push(...found);
      break;
    }
    if (Date.now() > deadline) {
      await stop(0);
      throw new Error(
        `forklab command: no ${o.workers} worker(s) serving port ${o.port} within ${START_TIMEOUT_MS} ms (found ${found.length})`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const startedAt = Date.now();
  let stopping = false;
  const snapshot = async (): Promise<ServerSnapshot> => {
    const workers: WorkerSnapshot[] = await Promise.all(
      pids.map(async (pid, index) => {
        const p = await probeProcess(pid);
        const open = p ? await openConnections(pid, o.port) : null;
        const counters: Record<string, number> = { pid: p ? pid : 0, started_at_ms: startedAt };
        if (p) {
          counters.nvcsw = p.nvcsw;
          counters.nivcsw = p.nivcsw;
          counters.utime_us = p.utime_us;
          counters.stime_us = p.stime_us;
        }
        if (open !== null) counters.open_connections = open;
        return {
          index,
          pid: p ? pid : 0,
          up: p !== null,
          failed: false,
          restarts: 0,
          restartsByReason: { crash: 0, cycled: 0, clean: 0 },
          exits: { clean: 0, cycled: 0, eexist: 0, startup_failed: 0, crash: 0, signal: 0, oom: 0 },
          counters,
        };
      }),
    );
    return {
      name: o.name,
      engineVersion: `command:${what}`,
      port: o.port,
      metricsPort: server.port,
      stopping,
      takenAtMs: Date.now(),
      config: {
        kind: 'command',
        name: o.name,
        host: o.host,
        port: o.port,
        metricsPort: server.port,
        workers: o.workers,
        ...(o.attachPid === undefined ? { argv: o.argv } : { attachedPid: o.attachPid }),
      },
      workers,
    };
  };
  const health = async (): Promise<Health> => {
    if (stopping) return { ok: false, reason: 'stopping' };
    if (exitReason()) return { ok: false, reason: `${what} ${exitReason()}` };
    const gone = (await Promise.all(pids.map((p) => probeProcess(p)))).filter((p) => !p).length;
    if (gone > 0) return { ok: false, reason: `${gone} of ${pids.length} workers gone` };
    return { ok: true, reason: 'ok' };
  };
  const server = await startMetricsServer(o.host, o.metricsPort, {
    metrics: async () => ({
      contentType: SNAPSHOT_METRICS_CONTENT_TYPE,
      body: snapshotMetricsText(await snapshot()),
    }),
    health,
    snapshot,
  });
  process.stdout.write(
    `FORKLAB_READY ${JSON.stringify({ port: o.port, metricsPort: server.port, pids })}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    void exited.then(resolve);
    if (process.env.FORKLAB_LIFELINE === 'stdin') {
      process.stdin.on('data', () => undefined);
      process.stdin.once('end', resolve);
      process.stdin.once('close', resolve);
    }
  });
  stopping = true;
  await stop(3000);
  for (const pid of o.attachPid === undefined ? pids : []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await server.close();
  return 0;
}

interface Served {
  /** The process whose children are the workers (or which is the one worker). */
  leader: number;
  /** What it is, for messages. */
  what: string;
  /** Resolves when it is gone. */
  exited: Promise<void>;
  exitReason: () => string | undefined;
  /** Stops it: TERM, then KILL after `graceMs` (attached: nothing, it is not ours). */
  stop: (graceMs: number) => Promise<void>;
}

function startCommand(o: CommandOptions): Served {
  // The lab's settings are not the command's (FORKLAB_LIFELINE would make a forklab-aware server
  // watch a stdin it does not have).
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('FORKLAB_')),
  );
  const child = spawn(o.argv[0]!, o.argv.slice(1), {
    stdio: ['ignore', 'inherit', 'inherit'],
    env,
  });
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitReason = signal ? `killed by ${signal}` : `exited with status ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exitReason = `could not start: ${err.message}`;
      resolve();
    });
  });
  return {
    leader: child.pid ?? 0,
    what: o.argv[0]!,
    exited,
    exitReason: () => exitReason,
    stop: async (graceMs) => {
      if (exitReason) return;
      child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, graceMs))]);
      if (!exitReason) child.kill('SIGKILL');
    },
  };
}

/** How often an attached process is checked for being gone. */
const ATTACH_POLL_MS = 250;

function attach(pid: number): Served {
  let exitReason: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<void>((resolve) => {
    const check = async () => {
      if ((await probeProcess(pid)) === null) {
        exitReason = 'is gone';
        resolve();
      } else timer = setTimeout(() => void check(), ATTACH_POLL_MS);
    };
    void check();
  });
  return {
    leader: pid,
    what: `pid ${pid}`,
    exited,
    exitReason: () => exitReason,
    stop: async () => clearTimeout(timer),
  };
}
