// Real nginx (Debian's nginx-light) as a lab target: the generated config is accepted by nginx
// itself for every combination of settings, and the adapter's figures (requests per worker from the
// access log, accepts from stub_status) agree with what the lab's own client saw, on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runLoad } from '../lab/load/load-driver';
import { freePorts } from '../lab/runtime/free-ports';
import { DEBIAN_NGINX, type NginxSnapshot } from '../lab/server/nginx-adapter';
import {
  AccessLogCounter,
  nginxConfig,
  parseStubStatus,
  validateNginxSettings,
  type NginxSettings,
} from '../lab/server/nginx-config';
import type { LoadSpec } from '../lab/scenario/scenario';
import { startServerProcess, stopAll, type RunningServe } from './support/serve-process';

jest.setTimeout(60_000);
afterEach(stopAll);

const RUN_JS = path.resolve(__dirname, '..', 'servers', 'nginx', 'run.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'forklab-nginx-test-'));
mkdirSync(path.join(tmp, 'tmp'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('nginx config', () => {
  const placement = { host: '127.0.0.1', port: 18080, statusPort: 18081, prefix: tmp };

  test('every setting becomes its directive', () => {
    const conf = nginxConfig(
      { workers: 4, acceptMutex: true, reuseport: true, multiAccept: true, backlog: 511 },
      placement,
    );
    expect(conf).toMatch(/^worker_processes 4;$/m);
    expect(conf).toMatch(/^\s+accept_mutex on;$/m);
    expect(conf).toMatch(/^\s+multi_accept on;$/m);
    expect(conf).toMatch(/^\s+listen 127\.0\.0\.1:18080 backlog=511 reuseport;$/m);
    expect(conf).toMatch(/^\s+listen 127\.0\.0\.1:18081;$/m);
    const plain = nginxConfig({}, placement);
    expect(plain).toMatch(/^worker_processes 2;$/m);
    expect(plain).toMatch(/^\s+accept_mutex off;$/m);
    expect(plain).toMatch(/^\s+multi_accept off;$/m);
    expect(plain).toMatch(/^\s+listen 127\.0\.0\.1:18080 backlog=128;$/m);
  });

  test('nginx -t accepts the config for every combination', () => {
    for (const acceptMutex of [false, true])
      for (const reuseport of [false, true])
        for (const multiAccept of [false, true]) {
          const conf = path.join(tmp, 'nginx.conf');
          writeFileSync(conf, nginxConfig({ acceptMutex, reuseport, multiAccept }, placement));
          execFileSync(
            DEBIAN_NGINX,
            ['-t', '-q', '-p', tmp, '-c', conf, '-e', path.join(tmp, 'error.log')],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
        }
  });

  test('bad settings: every error at once, naming the field', () => {
    const bad = { workers: 0, backlog: 1.5, acceptMutex: 'yes' } as unknown as NginxSettings;
    expect(validateNginxSettings(bad, 'targets[1].server')).toEqual([
      'targets[1].server.workers: must be an integer from 1 to 64, got 0',
      'targets[1].server.backlog: must be an integer from 1 to 65535, got 1.5',
      'targets[1].server.acceptMutex: must be true or false, got "yes"',
    ]);
    expect(() => nginxConfig(bad, placement)).toThrow(/workers/);
  });

  test('stub_status page and access-log lines split across reads', () => {
    expect(
      parseStubStatus(
        'Active connections: 3 \nserver accepts handled requests\n 17 16 40 \nReading: 0 Writing: 1 Waiting: 2 \n',
      ),
    ).toEqual({
      active: 3,
      accepts: 17,
      handled: 16,
      requests: 40,
      reading: 0,
      writing: 1,
      waiting: 2,
    });
    const c = new AccessLogCounter();
    c.push('101 200 1 1\n102 2');
    c.push('00 2 1\n101 404 1 2\n10');
    expect(c.byPid.get(101)?.requests).toBe(2);
    expect(c.byPid.get(102)?.requests).toBe(1);
    expect(c.byPid.get(101)?.byStatus.get(404)).toBe(1);
    c.push('1 200 3 1\n');
    expect(c.byPid.get(101)?.requests).toBe(3);
    expect(c.badLines).toBe(0);
  });
});

describe('nginx under load', () => {
  async function startNginx(args: string[]): Promise<RunningServe> {
    const [port, metricsPort] = await freePorts(2);
    const prefix = mkdtempSync(path.join(tmp, 'run-'));
    return startServerProcess(
      process.execPath,
      [
        RUN_JS,
        '--port',
        String(port),
        '--metrics-port',
        String(metricsPort),
        '--prefix',
        prefix,
        ...args,
      ],
      20_000,
    );
  }

  const snap = async (s: RunningServe): Promise<NginxSnapshot> =>
    (await s.snapshot()) as unknown as NginxSnapshot;
  const total = (v: NginxSnapshot, f: string): number =>
    v.workers.reduce((n, w) => n + (w.counters[f] ?? 0), 0);

  async function measured(s: RunningServe, load: LoadSpec) {
    const before = await snap(s);
    const client = await runLoad({ urls: [`http://127.0.0.1:${s.port}`], load, phase: 'load' });
    expect(client.errors + client.timeouts).toBe(0);
    expect(client.responses).toBe(client.status2xx);
    expect(client.responses).toBeGreaterThan(100);
    // The access log is flushed every 200 ms: wait past that before the last snapshot.
    await new Promise((r) => setTimeout(r, 600));
    const after = await snap(s);
    const delta = (f: string): number => total(after, f) - total(before, f);
    const requestsBy = after.workers.map(
      (w, i) => (w.counters.requests ?? 0) - (before.workers[i]?.counters.requests ?? 0),
    );
    return {
      client,
      before,
      after,
      delta,
      requestsBy,
      accepts: after.nginx.accepts - before.nginx.accepts,
      handled: after.nginx.handled - before.nginx.handled,
      stubRequests: after.nginx.requests - before.nginx.requests,
    };
  }

  test('churn, accept_mutex off: one connection per request, every request logged by its worker', async () => {
    const s = await startNginx(['--workers', '2', '--accept-mutex', 'off']);
    const m = await measured(s, { mode: 'churn', connections: 4, durationSec: 2 });
    expect(m.delta('requests')).toBe(m.client.responses);
    expect(m.stubRequests).toBe(m.client.responses);
    expect(m.accepts).toBe(m.client.responses);
    expect(m.handled).toBe(m.accepts);
    // The generic probes saw the workers work.
    for (const w of m.after.workers) {
      expect(w.up).toBe(true);
      expect(w.counters.nvcsw).toBeGreaterThan(0);
    }
    expect(m.delta('utime_us') + m.delta('stime_us')).toBeGreaterThan(0);
  });

  test('keep-alive: accepts are the client connections, requests are its responses', async () => {
    const s = await startNginx(['--workers', '2']);
    const m = await measured(s, { mode: 'keep-alive', connections: 8, durationSec: 2 });
    expect(m.delta('requests')).toBe(m.client.responses);
    expect(m.accepts).toBe(8);
    // Connections still open at the last snapshot are the client's, all closed by now or closing.
    expect(m.after.nginx.active).toBeLessThanOrEqual(8);
  });

  test('reuseport, 2 workers, churn: the kernel spreads connections over both sockets', async () => {
    const s = await startNginx(['--workers', '2', '--reuseport']);
    const m = await measured(s, { mode: 'churn', connections: 4, durationSec: 2 });
    expect(m.delta('requests')).toBe(m.client.responses);
    // Hashing hundreds of source ports over 2 sockets: each gets far more than a fifth.
    for (const n of m.requestsBy) expect(n).toBeGreaterThan(m.client.responses / 5);
  });
});
