// The modelled collector's settings from what CPython's collector did in Tornado 4.5.3 under churn
// (scripts/calibrate/cycle-collector.ts).
import { collectorSettings } from '../scripts/calibrate/cycle-collector';

test('a collection every connections ÷ collections, each generation its mean, and their share per connection', () => {
  // A run of 15,103 connections (measured 2026-11-27): 1,193 young collections of 75.8 µs, 108
  // middle of 809.9 and 10 full of 12,769.2. 1,311 collections: one every 11.52 → 12 connections;
  // 90,429.4 + 87,469.2 + 127,692 = 305,590.6 µs in all, 20.23 µs a connection.
  const s = collectorSettings({ '0': [1193, 75.8], '1': [108, 809.9], '2': [10, 12769.2] }, 15103);
  expect(s).toMatchObject({ gcEvery: 12, gcYoungUs: 76, gcMiddleUs: 810, gcFullUs: 12769 });
  expect(s.perConnectionUs).toBeCloseTo(20.234, 3);
});

test('a run too short to see every generation collected is refused, naming the fix', () => {
  expect(() => collectorSettings({ '0': [200, 70], '1': [18, 800], '2': [0, 0] }, 2400)).toThrow(
    /2400 connections gave 200 young, 18 middle and 0 full collections .*a longer --duration/,
  );
  expect(() => collectorSettings({ '0': [300, 70], '1': [20, 800], '2': [1, 9000] }, 2900)).toThrow(
    /want ≥ 3000 connections/,
  );
});
