// The sampler against real `forklab serve` processes under a little load.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { counterDeltas } from '../lab/record/derive-figures';
import type { Phase } from '../lab/record/run-record';
import { isCounterField } from '../lab/sample/fields';
import type { Sample, SampleOutput } from '../lab/sample/sample';
import { startSampler, type Sampler } from '../lab/sample/sampler';
import { SeriesOutput } from '../lab/sample/series-output';
import { keepAliveLoad } from './support/http-client';
import { sleep, startServe, stopAll } from './support/serve-process';

class Recorder implements SampleOutput {
  samples: Sample[] = [];
  closed = 0;
  onSample(s: Sample): void {
    this.samples.push(s);
  }
  close(): void {
    this.closed++;
  }
}

let sampler: Sampler | undefined;
afterEach(async () => {
  await sampler?.stop();
  sampler = undefined;
  await stopAll();
});

const PHASES: Phase[] = ['warmup', 'load', 'drain'];

describe('sampler against real servers', () => {
  it('records monotonic series, phases and one sample per interval; a killed server is a gap', async () => {
    const [a0, a1, b] = await Promise.all([
      startServe(['--workers', '2', '--name', 'a0']),
      startServe(['--workers', '2', '--name', 'a1']),
      startServe(['--workers', '1', '--name', 'b']),
    ]);
    const intervalMs = 100;
    const startedAtMs = Date.now();
    const series = new SeriesOutput();
    const rec = new Recorder();
    sampler = startSampler({
      targets: [
        {
          name: 'a',
          servers: [
            { name: 'a0', metricsPort: a0.metricsPort },
            { name: 'a1', metricsPort: a1.metricsPort },
          ],
        },
        { name: 'b', servers: [{ name: 'b', metricsPort: b.metricsPort }] },
      ],
      intervalMs,
      startedAtMs,
      outputs: [series, rec],
    });
    const t0 = performance.now();
    const load = (ms: number) => {
      const until = Date.now() + ms;
      const loop = async (port: number) => {
        let responses = 0;
        while (Date.now() < until) {
          responses += (await keepAliveLoad({ port, connections: 4, perConnection: 50 })).responses;
        }
        return responses;
      };
      return Promise.all([loop(a0.port), loop(a1.port), loop(b.port)]);
    };

    await load(400); // warm-up
    const before = await sampler.snapshotNow();
    sampler.setPhase('load');
    const [, , bResponses] = await load(800);
    await a1.stop('SIGKILL'); // a server dies: its samples become gaps
    const killedAt = Date.now() - startedAtMs;
    sampler.setPhase('drain');
    await sleep(400);
    const after = await sampler.snapshotNow();
    const elapsed = performance.now() - t0;
    const stats = await sampler.stop();

    // One periodic slot per interval, sampled or skipped (counted), none queued.
    const slots = stats.ticks + stats.skippedTicks;
    expect(slots).toBeGreaterThanOrEqual(Math.floor(elapsed / intervalMs) - 1);
    expect(slots).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs) + 1);
    expect(stats.ticks).toBeGreaterThanOrEqual(0.6 * slots);
    expect(stats.snapshotsNow).toBe(2);

    // Every batch reached the outputs, in order, one sample per server.
    const ticks = [...new Set(rec.samples.map((s) => s.tick))];
    expect(ticks).toEqual(ticks.slice().sort((x, y) => x - y));
    expect(ticks).toHaveLength(stats.ticks + stats.snapshotsNow);
    expect(rec.samples).toHaveLength(ticks.length * 3);
    expect(rec.closed).toBe(1);

    // Gaps of the killed server are counted, not thrown; the others have none.
    const gaps = Object.fromEntries(stats.servers.map((s) => [s.serverName, s]));
    expect(gaps.a1!.gaps).toBeGreaterThan(0);
    expect(gaps.a1!.lastError).toMatch(/ECONNREFUSED|no answer|socket hang up|ECONNRESET/);
    // The live servers may miss the odd 80 ms deadline on a loaded 2-core machine: a few gaps.
    for (const live of [gaps.a0!, gaps.b!]) {
      expect(live.gaps).toBeLessThanOrEqual(Math.ceil(live.samples * 0.2));
      if (live.gaps > 0) expect(live.lastError).toMatch(/no answer within 80 ms/);
    }
    expect(stats.gaps).toBe(gaps.a0!.gaps + gaps.a1!.gaps + gaps.b!.gaps);
    expect(sampler.warnings().join('\n')).toContain('server 1 (a1');
    expect(after.get('a')[1]).toBeNull();
    expect(after.get('a')[0]).not.toBeNull();

    for (const name of ['a', 'b']) {
      const s = series.seriesOf(name);
      // One point per batch, but for batches where no server of the target answered.
      expect(s.t).toHaveLength(ticks.length - series.gapsOf(name).dropped);
      expect(s.t.length).toBeGreaterThanOrEqual(0.7 * ticks.length);
      expect(s.t).toEqual(s.t.slice().sort((x, y) => x - y));
      // Phases in order, each present.
      const order = s.phase.map((p) => PHASES.indexOf(p));
      expect(order).toEqual(order.slice().sort((x, y) => x - y));
      expect(new Set(s.phase)).toEqual(new Set(PHASES));
      // Counters never go down (they survive restarts; a dead server's are carried over).
      for (const [field, values] of Object.entries(s.totals)) {
        if (!isCounterField(field)) continue;
        for (let i = 1; i < values.length; i++) {
          expect([field, i, values[i]! >= values[i - 1]!]).toEqual([field, i, true]);
        }
      }
      expect(s.totals.requests!.at(-1)!).toBeGreaterThan(s.totals.requests![0]!);
      expect(Object.keys(s.workers).sort()).toEqual(
        name === 'a' ? ['0/0', '0/1', '1/0', '1/1'] : ['0/0'],
      );
    }
    // Points after the kill still come for target a, carried over for a1.
    const a = series.seriesOf('a');
    expect(a.t.at(-1)!).toBeGreaterThan(killedAt);
    expect(series.gapsOf('a').carried).toBeGreaterThan(0);

    // The boundary snapshots give the measured window: the server counted what the client got.
    const d = counterDeltas(
      before.get('b'),
      after.get('b').filter((x) => x !== null),
    );
    expect(d.totals.requests).toBe(bResponses);
  });

  it('skips the ticks it missed while the process was busy, and counts them', async () => {
    const srv = http.createServer((_req, res) => {
      res.end(JSON.stringify({ workers: [{ index: 0, counters: { requests: 1 } }] }));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      const rec = new Recorder();
      sampler = startSampler({
        targets: [{ name: 't', servers: [{ name: 't', metricsPort: port }] }],
        intervalMs: 100,
        startedAtMs: Date.now(),
        outputs: [rec],
      });
      await sleep(250);
      const busyUntil = performance.now() + 450;
      while (performance.now() < busyUntil) {
        // the event loop is blocked: ticks are due but cannot run
      }
      await sleep(250);
      const stats = await sampler.stop();
      expect(stats.skippedTicks).toBeGreaterThanOrEqual(3);
      expect(stats.ticks + stats.skippedTicks).toBeGreaterThanOrEqual(8);
      expect(stats.ticks + stats.skippedTicks).toBeLessThanOrEqual(11);
      // no pile-up after the stall: ticks stay ≥ ~interval apart
      const times = rec.samples.map((s) => s.tMs);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThan(40);
      expect(sampler.warnings().join('\n')).toContain('skipped');
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('turns a slow or bad answer into a gap within the deadline', async () => {
    const timers: NodeJS.Timeout[] = [];
    const srv = http.createServer((req, res) => {
      if (req.url === '/snapshot.json') timers.push(setTimeout(() => res.end('{}'), 1000));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      sampler = startSampler({
        targets: [{ name: 't', servers: [{ name: 't', metricsPort: port }] }],
        intervalMs: 200,
        startedAtMs: Date.now(),
        outputs: [],
        snapshotNowTimeoutMs: 100,
      });
      const now = await sampler.snapshotNow();
      expect(now.get('t')).toEqual([null]);
      expect(now.samples[0]!.error).toContain('no answer within 100 ms');
      await sleep(450);
      const stats = await sampler.stop();
      expect(stats.gaps).toBe(stats.samples);
      expect(stats.ticks).toBeGreaterThanOrEqual(2);
    } finally {
      timers.forEach(clearTimeout);
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  });

  it('rejects an interval outside 100..10000 ms', () => {
    const base = { targets: [], startedAtMs: 0, outputs: [] };
    expect(() => startSampler({ ...base, intervalMs: 50 })).toThrow(/100\.\.10000/);
    expect(() => startSampler({ ...base, intervalMs: 20_000 })).toThrow(RangeError);
    expect(() => startSampler({ ...base, intervalMs: 100, requestTimeoutMs: 100 })).toThrow(
      /< intervalMs/,
    );
  });
});
