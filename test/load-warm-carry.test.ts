// The measured window after a warm-up, seen from the server. The warm-up's generator is not carried
// across the first snapshot (lab/run/run-scenario.ts says why): the window opens its connections
// afresh, so under keep-alive the server accepts exactly one per client connection in it, and the
// client's count equals the server's, warm-up or not.
import type { LoadDriverName } from '../lab/scenario/load-drivers';
import { defineScenario } from '../lab/scenario/scenario';
import { freshRunsDir, realRun } from './fixtures/real-run';

const CONNECTIONS = 4;

function scenario(driver: LoadDriverName, warmupSec: number) {
  return defineScenario({
    name: `warm-window-${driver}-${warmupSec}`,
    description: 'Keep-alive load with and without a warm-up before the measured window.',
    targets: [{ name: 't', server: { workers: 2 } }],
    load: { mode: 'keep-alive', connections: CONNECTIONS, durationSec: 1, warmupSec, driver },
    sampleIntervalMs: 200,
    drainSec: 1,
  });
}

describe.each(['node', 'native'] as const)('keep-alive through the %s driver', (driver) => {
  it.each([1, 0])(
    'warm-up %i s: the window opens every connection, and client and server counts are equal',
    async (warmupSec) => {
      const { record } = await realRun(scenario(driver, warmupSec), {
        runsDir: await freshRunsDir(`warm-window-${driver}-${warmupSec}`),
      });
      const t = record.cells[0]!.targets[0]!;
      expect(t.counters['accepts_ok']).toBe(CONNECTIONS);
      const c = t.client;
      expect(c.responses).toBeGreaterThan(100);
      expect(c.sent).toBe(c.responses + c.errors + c.timeouts);
      expect(c.responses).toBe(t.counters['requests']);
    },
    60_000,
  );
});

describe.each(['node', 'native'] as const)('churn through the %s driver', (driver) => {
  it('after a warm-up every request of the window is counted on both sides', async () => {
    const s = scenario(driver, 1);
    const { record } = await realRun(
      { ...s, name: `warm-window-churn-${driver}`, load: { ...s.load, mode: 'churn' } },
      { runsDir: await freshRunsDir(`warm-window-churn-${driver}`) },
    );
    const t = record.cells[0]!.targets[0]!;
    const c = t.client;
    expect(c.responses).toBeGreaterThan(100);
    expect(c.sent).toBe(c.responses + c.errors + c.timeouts);
    expect(c.responses).toBe(t.counters['requests']);
  }, 60_000);
});
