// `npm run stack [-- up|down|status]`: the Prometheus + Grafana stack of docker-compose.yml.
//
// up (default): `docker compose up -d` (or Debian's `docker-compose`) with a Grafana admin
// password from $GF_SECURITY_ADMIN_PASSWORD, or a random one kept in .stack/grafana-admin-password
// (mode 600), then prints the addresses. Where compose is missing or the images cannot be pulled
// (no registry reachable), it says so and falls back to Debian's `prometheus` as a plain process
// with the same configuration (prometheus/prometheus.yml, SD glob made absolute), detached, and
// prints its address; Grafana needs its image, so there is none in that case.
// down: stops what `up` started (compose services, or the fallback process by its recorded pid).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { writePrometheusConfig } from '../lab/prometheus/config';
import { defaultSdDir } from '../lab/prometheus/file-sd';
import {
  PROMETHEUS_BIN,
  prometheusInstalled,
  startPrometheus,
} from '../lab/prometheus/prometheus-process';
import { REPO_ROOT } from '../lab/runtime/repo-paths';

const STACK_DIR = path.join(REPO_ROOT, '.stack');
const PASSWORD_FILE = path.join(STACK_DIR, 'grafana-admin-password');
const FALLBACK_DIR = path.join(STACK_DIR, 'prometheus');
const FALLBACK_STATE = path.join(FALLBACK_DIR, 'prometheus.json');
const PROMETHEUS_PORT = Number(process.env.FORKLAB_PROMETHEUS_PORT ?? 9090);
const GRAFANA_PORT = Number(process.env.FORKLAB_GRAFANA_PORT ?? 3000);
const COMPOSE_TIMEOUT_MS = 180_000;

const say = (line = '') => process.stdout.write(line + '\n');

/** `docker compose` (plugin), `docker-compose` (Debian's v1), or null. */
function detectCompose(): string[] | null {
  const works = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 }).status === 0;
  if (works('docker', ['compose', 'version'])) return ['docker', 'compose'];
  if (works('docker-compose', ['version'])) return ['docker-compose'];
  return null;
}

function runCompose(
  compose: string[],
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const [cmd, ...pre] = compose;
    const child = spawn(cmd!, [...pre, '-p', 'forklab', '-f', 'docker-compose.yml', ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const pass = (d: Buffer) => {
      output += d.toString('utf8');
      process.stderr.write(d);
    };
    child.stdout.on('data', pass);
    child.stderr.on('data', pass);
    const timer = setTimeout(() => child.kill('SIGTERM'), COMPOSE_TIMEOUT_MS);
    child.on('error', (err) => {
      output += err.message;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const PULL_FAILURE =
  /pull access denied|failed to resolve|no such host|dial tcp|lookup .* on|i\/o timeout|TLS handshake|connection refused|network is unreachable|manifest unknown|toomanyrequests|error pulling|Get "?https:\/\//i;

/** The admin password: from the environment, kept from an earlier start, or new. */
async function adminPassword(): Promise<{ password: string; where: string }> {
  const fromEnv = process.env.GF_SECURITY_ADMIN_PASSWORD;
  if (fromEnv) return { password: fromEnv, where: 'from $GF_SECURITY_ADMIN_PASSWORD' };
  const kept = await readFile(PASSWORD_FILE, 'utf8').catch(() => '');
  if (kept.trim())
    return { password: kept.trim(), where: `in ${path.relative(process.cwd(), PASSWORD_FILE)}` };
  const password = randomBytes(18).toString('base64url');
  await mkdir(STACK_DIR, { recursive: true });
  await writeFile(PASSWORD_FILE, password + '\n', { mode: 0o600 });
  return { password, where: `new, in ${path.relative(process.cwd(), PASSWORD_FILE)} (mode 600)` };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

interface FallbackState {
  pid: number;
  port: number;
  startedAt: string;
}

async function fallbackState(): Promise<FallbackState | null> {
  try {
    const s = JSON.parse(await readFile(FALLBACK_STATE, 'utf8')) as FallbackState;
    // Only our prometheus: the pid must still run the prometheus binary.
    const cmdline = await readFile(`/proc/${s.pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes('prometheus') ? s : null;
  } catch {
    return null;
  }
}

async function startFallback(sdDir: string): Promise<boolean> {
  say('');
  say('Fallback: Debian’s prometheus as a plain process, with the same configuration');
  say(
    '(prometheus/prometheus.yml, its file SD glob pointed at the SD folder). No Grafana without its image.',
  );
  const running = await fallbackState();
  if (running) {
    say(`Prometheus is already running (pid ${running.pid}): http://127.0.0.1:${running.port}`);
    return true;
  }
  if (!prometheusInstalled()) {
    say(
      `${PROMETHEUS_BIN} is not installed: apt-get install -y prometheus (scripts/setup.sh does).`,
    );
    return false;
  }
  if (!(await portFree(PROMETHEUS_PORT))) {
    say(
      `Port ${PROMETHEUS_PORT} on 127.0.0.1 is taken: set FORKLAB_PROMETHEUS_PORT to another port.`,
    );
    return false;
  }
  await mkdir(FALLBACK_DIR, { recursive: true });
  const config = await writePrometheusConfig(path.join(FALLBACK_DIR, 'prometheus.yml'), sdDir);
  const logFile = path.join(FALLBACK_DIR, 'prometheus.log');
  const prom = await startPrometheus({
    configFile: config,
    storageDir: path.join(FALLBACK_DIR, 'data'),
    port: PROMETHEUS_PORT,
    detached: true,
    logFile,
  });
  const state: FallbackState = {
    pid: prom.pid,
    port: prom.port,
    startedAt: new Date().toISOString(),
  };
  await writeFile(FALLBACK_STATE, JSON.stringify(state, null, 2) + '\n');
  say(`Prometheus:  ${prom.url}   (pid ${prom.pid}; log ${path.relative(process.cwd(), logFile)})`);
  say(`Config:      ${path.relative(process.cwd(), config)}`);
  say('Look at the data in its own UI (Graph), e.g. rate(forklab_keyerrors_total[10s]);');
  say('the dashboards (dashboards/forklab-*.json) import into any Grafana 12 that can reach it.');
  say('Stop it with: npm run stack -- down');
  return true;
}

async function up(): Promise<number> {
  const sdDir = defaultSdDir();
  await mkdir(sdDir, { recursive: true, mode: 0o755 });
  say(`forklab stack: file SD folder ${sdDir}`);
  const compose = detectCompose();
  if (!compose) {
    say('docker compose is not available here (neither `docker compose` nor `docker-compose`).');
    return (await startFallback(sdDir)) ? 0 : 1;
  }
  const { password, where } = await adminPassword();
  say(`Starting Prometheus and Grafana with \`${compose.join(' ')} up -d\` …`);
  const res = await runCompose(compose, ['up', '-d'], {
    ...process.env,
    GF_SECURITY_ADMIN_PASSWORD: password,
    FORKLAB_SD_DIR: sdDir,
    FORKLAB_PROMETHEUS_PORT: String(PROMETHEUS_PORT),
    FORKLAB_GRAFANA_PORT: String(GRAFANA_PORT),
  });
  if (res.code === 0) {
    say('');
    say(
      `Grafana:     http://127.0.0.1:${GRAFANA_PORT}/d/forklab-main   (anonymous viewers; admin password ${where})`,
    );
    say(`Prometheus:  http://127.0.0.1:${PROMETHEUS_PORT}`);
    say('Stop with:   npm run stack -- down');
    return 0;
  }
  if (PULL_FAILURE.test(res.output)) {
    say('');
    say('The images could not be pulled: no container registry is reachable from this machine.');
    say(
      '(Load prom/prometheus and grafana/grafana-oss with `docker load`, or set FORKLAB_*_IMAGE to local images.)',
    );
  } else {
    say('');
    say(
      `\`${compose.join(' ')} up -d\` failed (exit ${res.code ?? 'killed'}); see its output above.`,
    );
  }
  await runCompose(compose, ['down'], { ...process.env, GF_SECURITY_ADMIN_PASSWORD: password });
  return (await startFallback(sdDir)) ? 0 : 1;
}

async function down(): Promise<number> {
  const compose = detectCompose();
  if (compose) {
    await runCompose(compose, ['down'], {
      ...process.env,
      GF_SECURITY_ADMIN_PASSWORD: process.env.GF_SECURITY_ADMIN_PASSWORD ?? 'unused-for-down',
    });
  }
  const s = await fallbackState();
  if (s) {
    process.kill(s.pid, 'SIGTERM');
    for (let i = 0; i < 100 && existsSync(`/proc/${s.pid}`); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    say(`Stopped the fallback Prometheus (pid ${s.pid}).`);
  }
  await rm(FALLBACK_STATE, { force: true });
  return 0;
}

async function status(): Promise<number> {
  const s = await fallbackState();
  if (s) say(`Fallback Prometheus running: pid ${s.pid}, http://127.0.0.1:${s.port}`);
  const compose = detectCompose();
  if (compose) {
    await runCompose(compose, ['ps'], {
      ...process.env,
      GF_SECURITY_ADMIN_PASSWORD: process.env.GF_SECURITY_ADMIN_PASSWORD ?? 'unused-for-ps',
    });
  } else if (!s) {
    say('Nothing running (no docker compose here, no fallback Prometheus).');
  }
  return 0;
}

const command = process.argv[2] ?? 'up';
const commands: Record<string, () => Promise<number>> = { up, down, status };
const run = commands[command];
if (!run) {
  process.stderr.write(`usage: npm run stack [-- up|down|status]\n`);
  process.exit(2);
}
run().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`forklab stack: ${err.message}\n`);
    process.exit(1);
  },
);
