// Two Docker engines, the second reached over tcp:// with TLS verified both ways, end to end: a
// second dockerd started here (scripts/second-engine.sh with FORKLAB_ENGINE2_TCP=127.0.0.1:PORT,
// a free port; the script makes a CA, a server certificate for 127.0.0.1 and a client certificate
// with openssl) beside the default one. The two-engines scenario, with its engine given as
// tcp://127.0.0.1:PORT and the TLS files { ca, cert, key }, puts its servers on that engine and its
// load generators on the default one; the record must name the engine by its tcp:// address, the
// counts agree, and nothing of the lab is left on either engine. A CA that did not sign the
// engine's certificate stops the run before anything starts, naming the engine. The engine is
// started with --until-gone (this process) and --remove-dirs: killed, this test leaves nothing.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import {
  expectTwoEnginesRecord,
  readCompletedRecord,
  startSecondEngine,
  stopSecondEngine,
} from './support/two-engines-record';

const REPO = path.resolve(__dirname, '..');
const BIN = path.join(REPO, 'bin', 'forklab.js');
const engine = probeDockerSync(3000);
const has = (cmd: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
const ready = engine.ok && has('dockerd') && has('openssl') && process.getuid?.() === 0;
// A second engine needs root, dockerd and openssl; under CI=true their absence fails instead.
const describeEngines = ready || process.env.CI === 'true' ? describe : describe.skip;
if (!ready && process.env.CI !== 'true') {
  console.log(
    `run-two-engines-tcp tests skipped: ${!engine.ok ? `no Docker engine answered (${engine.reason})` : 'needs root, dockerd and openssl'}`,
  );
}

jest.setTimeout(300_000);

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function forklab(args: string[]): { pid: number; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliRun>((resolve) => {
    const t = setTimeout(() => {
      stderr += '\n[test: forklab killed after 240 s]\n';
      child.kill('SIGKILL');
    }, 240_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
  return { pid: child.pid!, done };
}

/** Runs openssl with `args`; throws with its stderr if it fails. */
function ssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A self-signed CA for a day: its certificate at `cert`, its key at `key`, subject CN=`cn`. */
function newCa(cn: string, key: string, cert: string): void {
  ssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${cn}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
}

/** A port nobody listens on now, on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describeEngines('two Docker engines, the second over tcp:// with TLS', () => {
  let tmp: string;
  let env2: NodeJS.ProcessEnv;
  let address: string;
  let tls: { ca: string; cert: string; key: string };
  let second: Docker;
  const first = connectDocker();

  const ofLab = (docker: Docker, pid: number) =>
    docker.listContainers({ all: true, filters: { label: [`forklab.owner-pid=${pid}`] } });

  /** A scenario file: two-engines with its engine at `address` over TLS with `files`. */
  const scenarioFile = (name: string, files: { ca: string; cert: string; key: string }): string => {
    const file = path.join(tmp, `${name}.ts`);
    writeFileSync(
      file,
      `import base from ${JSON.stringify(path.join(REPO, 'scenarios', 'two-engines'))};
export default { ...base, name: ${JSON.stringify(name)}, engines: { engine2: ${JSON.stringify({ address, tls: files })} } };
`,
    );
    return file;
  };

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'forklab-e2t-'));
    const port = await freePort();
    env2 = {
      ...process.env,
      FORKLAB_ENGINE2_ROOT: tmp,
      FORKLAB_ENGINE2_DATA: path.join(tmp, 'data'),
      FORKLAB_ENGINE2_TCP: `127.0.0.1:${port}`,
    };
    startSecondEngine(env2);
    address = `tcp://127.0.0.1:${port}`;
    const dir = path.join(tmp, 'tls');
    tls = {
      ca: path.join(dir, 'ca.pem'),
      cert: path.join(dir, 'cert.pem'),
      key: path.join(dir, 'key.pem'),
    };
    second = new Docker({
      protocol: 'https',
      host: '127.0.0.1',
      port,
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
    });
  });

  afterAll(() => {
    if (tmp) stopSecondEngine(env2, tmp);
  });

  test('the engine answers only over verified TLS', async () => {
    await expect(second.version()).resolves.toMatchObject({ Version: expect.any(String) });
    // Without TLS the port does not talk Docker.
    const plain = spawnSync(
      'docker',
      ['-H', address, 'version', '--format', '{{.Server.Version}}'],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(plain.status).not.toBe(0);
  });

  test('two-engines over tcp://: servers on the second engine, drivers on the default one, counts agree, nothing left', async () => {
    const runsDir = path.join(tmp, 'runs-ok');
    mkdirSync(runsDir);
    const run = forklab([
      'run',
      scenarioFile('two-engines-tcp', tls),
      '--runs-dir',
      runsDir,
      '--duration',
      '3',
    ]);
    const seen = { first: 0, second: 0 };
    let running = true;
    const watch = (async () => {
      while (running) {
        seen.first = Math.max(seen.first, (await ofLab(first, run.pid)).length);
        seen.second = Math.max(seen.second, (await ofLab(second, run.pid)).length);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const r = await run.done;
    running = false;
    await watch;
    if (r.code !== 0) process.stderr.write(r.stderr);
    expect(r.stderr).not.toMatch(/forklab run: .*error/i);
    expect(r.code).toBe(0);

    const record = readCompletedRecord(runsDir);
    await expectTwoEnginesRecord(record, address, first, second);
    expect(seen.first).toBeGreaterThanOrEqual(2);
    expect(seen.second).toBeGreaterThanOrEqual(2);
    expect(await ofLab(first, run.pid)).toEqual([]);
    expect(await ofLab(second, run.pid)).toEqual([]);
    // What `docker ps -a` shows on each engine (the second through its TLS files), by the run's label.
    const tlsArgs = [
      '--tlsverify',
      '--tlscacert',
      tls.ca,
      '--tlscert',
      tls.cert,
      '--tlskey',
      tls.key,
    ];
    for (const host of [[], ['-H', address, ...tlsArgs]]) {
      const ps = spawnSync(
        'docker',
        [...host, 'ps', '-aq', '--filter', `label=forklab.run=${record.runId}`],
        { encoding: 'utf8', timeout: 20_000 },
      );
      expect(ps.stderr).toBe('');
      expect(ps.status).toBe(0);
      expect(ps.stdout.trim()).toBe('');
    }
  });

  test('a CA that did not sign the engine certificate stops the run before anything starts, naming the engine', async () => {
    // Another CA, same subject: only its key differs.
    const other = path.join(tmp, 'other-ca.pem');
    newCa('forklab-engine2-ca', path.join(tmp, 'other-ca-key.pem'), other);
    const runsDir = path.join(tmp, 'runs-wrong-ca');
    mkdirSync(runsDir);
    const run = forklab([
      'run',
      scenarioFile('two-engines-wrong-ca', { ...tls, ca: other }),
      '--runs-dir',
      runsDir,
    ]);
    const r = await run.done;
    process.stderr.write(`wrong CA: ${r.stderr}\n`);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `engine "engine2" (${address}) did not answer: unable to verify the first certificate (its TLS certificate is not signed by the CA in engines.engine2.tls.ca, ${other}: give the CA that signed it, as docker --tlscacert takes it)`,
    );
    expect(readdirSync(runsDir)).toEqual([]);
    expect(await ofLab(first, run.pid)).toEqual([]);
    expect(await ofLab(second, run.pid)).toEqual([]);
  });

  test('a client certificate the engine does not trust, and no TLS files at all, are named with the field to fix', async () => {
    // A client certificate and key signed by a CA the engine does not know.
    const f = (n: string): string => path.join(tmp, n);
    newCa('stranger-ca', f('stranger-ca-key.pem'), f('stranger-ca.pem'));
    ssl([
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=stranger',
      '-keyout',
      f('stranger-key.pem'),
      '-out',
      f('stranger.csr'),
    ]);
    ssl([
      'x509',
      '-req',
      '-days',
      '1',
      '-in',
      f('stranger.csr'),
      '-CA',
      f('stranger-ca.pem'),
      '-CAkey',
      f('stranger-ca-key.pem'),
      '-CAcreateserial',
      '-out',
      f('stranger-cert.pem'),
    ]);
    const stranger = forklab([
      'run',
      scenarioFile('two-engines-stranger', {
        ...tls,
        cert: f('stranger-cert.pem'),
        key: f('stranger-key.pem'),
      }),
      '--runs-dir',
      tmp,
    ]);
    const s = await stranger.done;
    process.stderr.write(`client certificate refused: ${s.stderr}\n`);
    expect(s.code).toBe(3);
    expect(s.stderr).toContain(
      `engine "engine2" (${address}) did not answer: TLS alert "bad certificate" (the engine refused the client certificate in engines.engine2.tls.cert, ${f('stranger-cert.pem')}: give a certificate and key signed by the CA the engine trusts, its --tlscacert)`,
    );

    const file = path.join(tmp, 'two-engines-plain.ts');
    writeFileSync(
      file,
      `import base from ${JSON.stringify(path.join(REPO, 'scenarios', 'two-engines'))};
export default { ...base, name: 'two-engines-plain', engines: { engine2: { address: ${JSON.stringify(address)} } } };
`,
    );
    const plain = forklab(['run', file, '--runs-dir', tmp]);
    const p = await plain.done;
    process.stderr.write(`no TLS files: ${p.stderr}\n`);
    expect(p.code).toBe(3);
    expect(p.stderr).toContain(
      `engine "engine2" (${address}) did not answer: HTTP 400 (HTTP code 400) unexpected - Client sent an HTTP request to an HTTPS server. (the engine speaks TLS: give engines.engine2.tls: { ca, cert, key }, the files docker --tlsverify takes)`,
    );
    expect(await ofLab(first, stranger.pid)).toEqual([]);
    expect(await ofLab(first, plain.pid)).toEqual([]);
  });
});
