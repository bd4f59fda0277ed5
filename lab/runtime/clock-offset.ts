// An engine's clock against the lab's, measured as NTP does: a container on the engine answers
// each line on its stdin with its wall clock; the lab notes its own clock when it sent the line
// (t0) and when the answer came (t1). If the answer was taken halfway, the engine's clock minus
// the lab's is `remote − (t0 + t1) / 2`, known to within half the round trip. Of several
// exchanges, the one with the smallest round trip is kept (the least queueing, the tightest bound).
import { createInterface } from 'node:readline';
import { PassThrough, type Duplex } from 'node:stream';
import type { DockerRuntime } from './docker-runtime';
import { LABEL_ROLE, serverLabels } from './labels';
import { SERVER_UID } from './node-base-image';

export interface ClockOffset {
  /** The engine's clock minus the lab's, ms. */
  offsetMs: number;
  /** Round trip of the exchange kept, ms: the offset is within ±rttMs/2. */
  rttMs: number;
  /** Exchanges made. */
  samples: number;
}

/** Exchanges per engine; 16 took about 20 ms here once the container ran. */
export const CLOCK_SAMPLES = 16;
/** How long one answer (and the container's start-up) may take. */
const ANSWER_TIMEOUT_MS = 5000;

/** The probe: answers every line with its wall clock, µs resolution, as the lab reads its own. */
const PROBE = [
  "process.stdin.setEncoding('utf8');",
  "let b = '';",
  "process.stdin.on('data', (c) => { b += c; let i;",
  "  while ((i = b.indexOf('\\n')) >= 0) { b = b.slice(i + 1);",
  "    process.stdout.write((performance.timeOrigin + performance.now()).toFixed(3) + '\\n'); } });",
  "process.stdin.on('end', () => process.exit(0));",
  "process.stdout.write('ready\\n');",
].join('\n');

/** The lab's wall clock, read the way the probe reads its own. */
const now = (): number => performance.timeOrigin + performance.now();

/** The offset with the smallest round trip among `(t0, remote, t1)` exchanges. */
export function bestOffset(exchanges: ReadonlyArray<[number, number, number]>): ClockOffset {
  if (exchanges.length === 0) throw new Error('no clock exchange');
  let best: ClockOffset | undefined;
  for (const [t0, remote, t1] of exchanges) {
    const rttMs = t1 - t0;
    if (!best || rttMs < best.rttMs) best = { offsetMs: remote - (t0 + t1) / 2, rttMs, samples: 0 };
  }
  return { ...best!, samples: exchanges.length };
}

/** Measures the clock of `runtime`'s engine with a short-lived container; removes it after. */
export async function measureClockOffset(
  runtime: DockerRuntime,
  samples = CLOCK_SAMPLES,
  /** The run it is for: its label, so the run's cleanup covers it. */
  runId = 'clock',
): Promise<ClockOffset> {
  const image = await runtime.imageTag();
  runtime.reapOnExit();
  const container = await runtime.docker.createContainer({
    Image: image,
    Entrypoint: ['node', '-e', PROBE],
    Cmd: [],
    User: `${SERVER_UID}:${SERVER_UID}`,
    Labels: {
      ...serverLabels({
        session: runtime.session,
        runId,
        scenario: 'clock',
        target: 'clock',
      }),
      [LABEL_ROLE]: 'clock-probe',
    },
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: 64,
    },
  });
  let stream: Duplex | undefined;
  try {
    stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    stream.on('error', () => undefined);
    const out = new PassThrough();
    runtime.docker.modem.demuxStream(stream, out, new PassThrough());
    const lines = createInterface({ input: out, crlfDelay: Infinity })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<string> => {
      let t: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        t = setTimeout(
          () => reject(new Error(`the clock probe did not answer within ${ANSWER_TIMEOUT_MS} ms`)),
          ANSWER_TIMEOUT_MS,
        );
      });
      try {
        const next = await Promise.race([lines.next(), late]);
        if (next.done) throw new Error('the clock probe ended its output');
        return next.value;
      } finally {
        clearTimeout(t);
      }
    };
    await container.start();
    const first = await nextLine();
    if (first !== 'ready') throw new Error(`the clock probe said ${JSON.stringify(first)}`);
    const exchanges: Array<[number, number, number]> = [];
    for (let i = 0; i < samples; i++) {
      const t0 = now();
      stream.write('\n');
      const answer = await nextLine();
      const t1 = now();
      const remote = Number(answer);
      if (!Number.isFinite(remote))
        throw new Error(`the clock probe answered ${JSON.stringify(answer)}`);
      exchanges.push([t0, remote, t1]);
    }
    return bestOffset(exchanges);
  } finally {
    stream?.end();
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}
