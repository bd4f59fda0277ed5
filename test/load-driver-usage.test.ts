// assessUsage: when a load generator counts as saturated, and what the warning tells the user.
import {
  assessUsage,
  SATURATED_LOOP_P99_MS,
  SATURATED_UTILIZATION,
} from '../lab/load/driver-usage';

const base = {
  driver: 'node' as const,
  generator: 'autocannon' as const,
  threads: 1,
  cpuNs: 2e9,
  wallNs: 4e9,
  responses: 100_000,
  loopDelayMs: { p50: 0.2, p99: 5, max: 20 },
};

test('figures: CPU in cores, CPU per response, utilisation clamped to 0..1', () => {
  const u = assessUsage({ ...base, utilization: 0.5 });
  expect(u.cpuCores).toBeCloseTo(0.5, 9); // 2 s of CPU in 4 s
  expect(u.cpuUsPerResponse).toBeCloseTo(20, 9); // 2e9 ns / 1e5 responses = 20 µs
  expect(u.saturated).toBe(false);
  expect(u.warning).toBeNull();
  expect(assessUsage({ ...base, utilization: 1.3 }).utilization).toBe(1);
  expect(assessUsage({ ...base, utilization: 0.5, responses: 0 }).cpuUsPerResponse).toBeNull();
});

test('a loop with work nearly all the time is saturated, whatever CPU share it got', () => {
  // Half a core only (the machine was shared), but never idle: the client set the rate.
  const u = assessUsage({ ...base, utilization: SATURATED_UTILIZATION });
  expect(u.saturated).toBe(true);
  expect(u.warning).toMatch(/autocannon\) was saturated/);
  expect(u.warning).toMatch(/had work 90 % of the time \(and got 0\.50 of a CPU\)/);
  expect(u.warning).toMatch(/the client, not the server, set this rate/);
  expect(u.warning).toMatch(/native driver .* would not have been/);
  expect(assessUsage({ ...base, utilization: SATURATED_UTILIZATION - 0.01 }).saturated).toBe(false);
});

test('an event loop running late is saturation too', () => {
  const late = { p50: 3, p99: SATURATED_LOOP_P99_MS, max: 120 };
  const u = assessUsage({ ...base, utilization: 0.3, loopDelayMs: late });
  expect(u.saturated).toBe(true);
  expect(u.warning).toMatch(/ran up to 50 ms late \(p99\)/);
});

test('a saturated native driver is told to use more threads, not pointed at itself', () => {
  const u = assessUsage({
    ...base,
    driver: 'native',
    generator: 'native',
    threads: 2,
    loopDelayMs: null,
    utilization: 0.97,
  });
  expect(u.warning).toMatch(/its 2 loops had work 97 %/);
  expect(u.warning).toMatch(/more threads \(load\.driverThreads\)/);
  expect(u.warning).not.toMatch(/would not have been/);
});
