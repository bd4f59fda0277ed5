// The warm-up's connections carry into the measured load: one generator per target runs through
// both, and its counting switches to the measured window at the gate. Seen from the server: under
// keep-alive it accepts no connection in the measured window (a fresh generator would open all of
// its connections there), while the client's and the server's counts still agree.
import type { LoadDriverName } from '../lab/scenario/load-drivers';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';

const CONNECTIONS = 4;

function scenario(driver: LoadDriverName, warmupSec: number) {
  return defineScenario({
    name: `warm-carry-${driver}-${warmupSec}`,
    description: 'Keep-alive load with and without a warm-up before the measured window.',
    targets: [{ name: 't', server: { workers: 2 } }],
    load: { mode: 'keep-alive', connections: CONNECTIONS, durationSec: 1, warmupSec, driver },
    sampleIntervalMs: 200,
    drainSec: 1,
  });
}

describe.each(['node', 'native'] as const)('keep-alive through the %s driver', (driver) => {
  it('accepts no connection in the measured window after a warm-up, and counts agree', async () => {
    const { record } = await realRun(scenario(driver, 1), {
      runsDir: await freshRunsDir(`warm-carry-${driver}`),
    });
    const t = record.cells[0]!.targets[0]!;
    expect(t.counters['accepts_ok'] ?? 0).toBe(0);
    const c = t.client;
    expect(c.responses).toBeGreaterThan(100);
    // Every request of the window ended one way, the ones carried in from the warm-up included.
    expect(c.sent).toBe(c.responses + c.errors + c.timeouts);
    // The server's count over the window is the client's, within the few requests that were in
    // flight at the two snapshots (each connection has at most one in flight).
    expect(Math.abs(c.responses - (t.counters['requests'] ?? 0))).toBeLessThanOrEqual(
      2 * CONNECTIONS + 0.01 * c.responses,
    );
  }, 60_000);

  it('without a warm-up, the measured window opens every connection', async () => {
    const { record } = await realRun(scenario(driver, 0), {
      runsDir: await freshRunsDir(`warm-carry-${driver}-none`),
    });
    expect(record.cells[0]!.targets[0]!.counters['accepts_ok']).toBe(CONNECTIONS);
  }, 60_000);
});

describe.each(['node', 'native'] as const)('churn through the %s driver', (driver) => {
  it('goes on from the warm-up without a gap, and every request of the window is counted', async () => {
    const s = scenario(driver, 1);
    const { record } = await realRun(
      { ...s, name: `warm-carry-churn-${driver}`, load: { ...s.load, mode: 'churn' } },
      { runsDir: await freshRunsDir(`warm-carry-churn-${driver}`) },
    );
    const t = record.cells[0]!.targets[0]!;
    const c = t.client;
    expect(c.responses).toBeGreaterThan(100);
    expect(c.sent).toBe(c.responses + c.errors + c.timeouts);
    // The server's count over the window agrees with the client's.
    const requests = t.counters['requests'] ?? 0;
    expect(Math.abs(c.responses - requests)).toBeLessThanOrEqual(2 * CONNECTIONS + 0.01 * requests);
  }, 60_000);
});
