// Bring your own server, in Docker: a user's image (built here: a pre-forking Python server on the
// Debian image, 2 workers, port from $PORT or from the command line) run by the Docker runtime as a
// command target, measured from the host with the generic probes: per worker CPU time and context
// switches from /proc of the container's processes, the inspect evidence of the container.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspectStartedServer } from '../lab/inspect/inspect-started-server';
import { ensureDebianImage } from '../lab/runtime/debian-image';
import { followProgress } from '../lab/runtime/docker-progress';
import { connectDocker } from '../lab/runtime/docker-engine';
import { DockerRuntime } from '../lab/runtime/docker-runtime';
import { LABEL_MANAGED, LABEL_RUN } from '../lab/runtime/labels';
import { newRunId } from '../lab/runtime/session';
import { packEntries } from '../lab/runtime/tar-entries';
import { realTargetLaunch } from '../lab/scenario/target-kinds';
import type { ServerSnapshot } from '../lab/server/snapshot';

// The Debian root is built once per machine (1 to 10 minutes the first time), reused after that.
jest.setTimeout(25 * 60_000);

/** The user's server: binds $PORT (or --port N), forks 2 workers that accept on the socket. */
const SERVER_PY = `import http.server, os, socket, sys
port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else int(os.environ["PORT"])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen(128)
class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"mine %d\\n" % os.getpid()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
for _ in range(2):
    if os.fork() == 0:
        server = http.server.HTTPServer(("127.0.0.1", port), Hello, bind_and_activate=False)
        server.socket = sock
        server.serve_forever()
os.wait()
`;

const docker = connectDocker();
const userImage = `forklab-test-byo:${process.pid}`;
const runtime = new DockerRuntime({ stopTimeoutS: 2 });
let runDir: string;

beforeAll(async () => {
  runDir = mkdtempSync(path.join(os.tmpdir(), 'forklab-docker-command-'));
  const base = await ensureDebianImage(docker);
  const context = packEntries([
    {
      type: 'file',
      name: 'Dockerfile',
      content: `FROM ${base.tag}\nCOPY server.py /srv/server.py\nCMD ["python3", "/srv/server.py"]\n`,
    },
    { type: 'file', name: 'server.py', content: SERVER_PY },
  ]);
  const answer = await docker.buildImage(context, {
    t: userImage,
    labels: { [LABEL_MANAGED]: 'true' },
    rm: true,
    forcerm: true,
    version: '1',
  });
  await followProgress(docker, answer);
});

afterAll(async () => {
  await runtime.stopAll();
  await docker
    .getImage(userImage)
    .remove()
    .catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
});

/** Processes on this host whose command line carries `needle`. */
function processesWith(needle: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) out.push(`${pid}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const ppidOf = (pid: number): number =>
  Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

async function startMine(
  command: { argv?: string[]; image?: string; imageArgs?: string[]; workers: number },
  runId = newRunId(),
) {
  const launch = realTargetLaunch({ name: 'mine', kind: 'command', command });
  return runtime.start({
    runId,
    scenario: 'docker-command-test',
    target: 'mine',
    kind: launch.kind,
    args: launch.args,
    ...(launch.env ? { env: launch.env } : {}),
    ...(launch.image ? { image: launch.image } : {}),
    ...(launch.imageArgs ? { imageArgs: launch.imageArgs } : {}),
    runDir,
  });
}

test.each([
  ['its own CMD, the port from $PORT', undefined],
  ['imageArgs with {port} instead of its CMD', ['python3', '/srv/server.py', '--port', '{port}']],
])(
  'a user image as a command target (%s): served, probed per worker from the host, inspected, removed',
  async (_how, imageArgs) => {
    const runId = newRunId();
    const [server] = await startMine(
      // argv is the local runtime's: the Docker runtime runs the image, not this.
      {
        image: userImage,
        argv: ['/nonexistent', '{port}'],
        workers: 2,
        ...(imageArgs ? { imageArgs } : {}),
      },
      runId,
    );
    const s = server!;
    expect(s.kind).toBe('docker');
    const answered = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const r = await fetch(`http://127.0.0.1:${s.port}/`, { headers: { connection: 'close' } });
      answered.add((await r.text()).trim());
    }
    const snap = (await (
      await fetch(`http://127.0.0.1:${s.metricsPort}/snapshot.json`)
    ).json()) as ServerSnapshot;
    expect(snap.config).toMatchObject({ kind: 'command', workers: 2 });
    expect(snap.workers).toHaveLength(2);
    // The workers are the container's two forked processes, as the host sees them: children of
    // the same parent, which is the container's init's child.
    const pids = snap.workers.map((w) => w.pid);
    expect(new Set(pids).size).toBe(2);
    const parent = ppidOf(pids[0]!);
    expect(ppidOf(pids[1]!)).toBe(parent);
    const { State } = await docker.getContainer(s.id).inspect();
    expect(ppidOf(parent)).toBe(State.Pid);
    for (const w of snap.workers) {
      expect(w.up).toBe(true);
      // The probes read /proc: every worker that answered ran on a CPU and slept in accept.
      expect(w.counters.nvcsw).toBeGreaterThan(0);
      expect(w.counters.open_connections).toBe(0);
    }
    // 150 requests of Python's http.server (a few hundred µs of CPU each) show in the workers'
    // CPU time, in clock ticks of 10 ms.
    const cpuUs = snap.workers.reduce((n, w) => n + w.counters.utime_us! + w.counters.stime_us!, 0);
    expect(cpuUs).toBeGreaterThan(0);
    // Each answer names the worker's pid in the container's namespace: the answers came from it.
    expect(answered.size).toBeGreaterThanOrEqual(1);
    for (const a of answered) expect(a).toMatch(/^mine \d+$/);
    // The container's processes hold the listening socket: the inspect evidence of a run.
    const inspection = await inspectStartedServer(s, null);
    expect(inspection.pid).toBe(State.Pid);
    const listener = inspection.evidence!.listeners.find((l) => l.port === s.port);
    expect(listener?.heldBy.length).toBe(3);
    await s.stop();
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_RUN}=${runId}`] },
    });
    expect(left).toEqual([]);
    expect(processesWith(s.name)).toEqual([]);
  },
);

test('a command target without an image is refused by the Docker runtime, naming the field', async () => {
  await expect(
    startMine({ argv: ['python3', '-m', 'http.server', '{port}'], workers: 1 }),
  ).rejects.toThrow(/command\.image is not set.*--runtime local/);
  await expect(startMine({ image: 'forklab-test-no-such-image:0', workers: 1 })).rejects.toThrow(
    /command\.image forklab-test-no-such-image:0 is not on this Docker engine/,
  );
});
