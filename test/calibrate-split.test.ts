// How the calibration places a connection's cost: in proportion to where Tornado 4.5.3's phases
// spend it beyond a keep-alive request (scripts/calibrate.ts connectionSplit).
import { connectionSplit } from '../scripts/calibrate/connection-split';

const send = { before: 75, after: 50 };

test('splits the cost in proportion to the phases beyond a keep-alive request, and keeps its sum', () => {
  // Beyond a keep-alive request: 20 before the read, 150 − 75 = 75 before the close, 60 − 50 = 10
  // after it; 105 in all. 95 µs: 95 × 20/105 = 18.1 → 18, 95 × 10/105 = 9.05 → 9, the rest 68.
  const c = connectionSplit(
    95,
    { accept_to_read: 20, read_to_close: 150, close_to_next: 60 },
    send,
  );
  expect([c.acceptUs, c.firstRequestUs, c.closeUs]).toEqual([18, 68, 9]);
  expect(c.acceptUs + c.firstRequestUs + c.closeUs).toBe(95);
});

test('a phase shorter than the keep-alive request it stands beside gets nothing', () => {
  // After the close: 44 < 50 → 0; 20 : 73 share 93.
  const c = connectionSplit(
    93,
    { accept_to_read: 20, read_to_close: 148, close_to_next: 44 },
    send,
  );
  expect([c.acceptUs, c.firstRequestUs, c.closeUs]).toEqual([20, 73, 0]);
});

test('with no phase beyond a keep-alive request, all of it before the first read', () => {
  const c = connectionSplit(40, { accept_to_read: 0, read_to_close: 70, close_to_next: 30 }, send);
  expect([c.acceptUs, c.firstRequestUs, c.closeUs]).toEqual([40, 0, 0]);
});
