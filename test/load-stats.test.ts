// LoadStats: totals for the whole phase, latency per progress window.
import { LoadStats } from '../lab/load/load-stats';

test('progress reports the latency of the responses since the previous report only', () => {
  const s = new LoadStats();
  for (let i = 1; i <= 100; i++) s.recordResponse(200, 10, i); // 1..100 ms
  const first = s.progress(1);
  expect(first.responses).toBe(100);
  expect(first.status2xx).toBe(100);
  expect(first.latencyMs!.p50).toBeCloseTo(50, 0);
  expect(first.latencyMs!.p99).toBeCloseTo(99, 0);
  // Nothing completed since: no latency to report (not the old figures again).
  expect(s.progress(2).latencyMs).toBeNull();
  s.recordResponse(500, 10, 7);
  const third = s.progress(3);
  expect(third.latencyMs!.p50).toBeCloseTo(7, 1);
  expect(third.statusOther).toBe(1);
  // The phase's result still holds every response.
  const r = s.toClientResult(3);
  expect(r.responses).toBe(101);
  expect(r.latencyMs!.max).toBeCloseTo(100, 0);
});
