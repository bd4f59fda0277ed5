// Runs Debian's nginx as a plain process for a test: a generated configuration in a temporary
// directory, one 127.0.0.1 port, the master in the foreground (`daemon off`) with its workers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from '../../lab/runtime/free-ports';
import { waitFor } from './serve-process';

export const NGINX = '/usr/sbin/nginx';

// sh -c LIFELINE sh NGINX ARGS…: prints nginx's pid, waits for stdin to close, stops nginx.
const LIFELINE =
  '"$@" </dev/null & n=$!; echo "$n"; cat >/dev/null; kill -TERM "$n" 2>/dev/null; wait "$n"';

export interface NginxProcess {
  pid: number;
  port: number;
  workerPids: number[];
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Children of `pid`, from the parent field of every /proc/<n>/stat. */
async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid)
        out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

async function hasEventpoll(pid: number): Promise<boolean> {
  try {
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === 'anon_inode:[eventpoll]')
        return true;
    }
  } catch {
    // gone
  }
  return false;
}

export async function startNginx(opts: {
  workers: number;
  listen: string;
  events?: string;
}): Promise<NginxProcess> {
  const dir = await mkdtemp(path.join(tmpdir(), 'forklab-nginx-'));
  const [port] = await freePorts(1);
  const conf = `
daemon off;
master_process on;
worker_processes ${opts.workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { ${opts.events ?? ''} }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ${opts.listen};
    location / { return 200 "ok\\n"; }
  }
}
`;
  await writeFile(path.join(dir, 'nginx.conf'), conf);
  // The lifeline: a shell holds the test runner's pipe on stdin and stops nginx (TERM: the master
  // stops its workers) when it closes, so a runner killed outright leaves no nginx behind.
  const proc = spawn(
    '/bin/sh',
    [
      '-c',
      LIFELINE,
      'sh',
      NGINX,
      '-p',
      dir,
      '-c',
      path.join(dir, 'nginx.conf'),
      '-e',
      path.join(dir, 'error.log'),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const master = new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(() => reject(new Error(`nginx did not start: ${err}`)));
  });
  let masterPid = 0;
  let workerPids: number[] = [];
  const stop = async () => {
    proc.stdin!.end();
    const t = setTimeout(() => {
      for (const p of [masterPid, ...workerPids]) {
        try {
          if (p > 0) process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }, 5000);
    await exited;
    clearTimeout(t);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    masterPid = await master;
    workerPids = await waitFor(
      `nginx with ${opts.workers} workers on port ${port}`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`nginx exited: ${err}`);
        const kids = await childrenOf(masterPid);
        if (kids.length !== opts.workers) return undefined;
        // Each worker creates its epoll instance after fork: wait until every one has it.
        for (const k of kids) if (!(await hasEventpoll(k))) return undefined;
        return kids;
      },
      10_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: masterPid, port: port!, workerPids, proc, stop };
}
