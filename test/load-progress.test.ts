// Progress rendering: pure string functions, and the view's TTY / non-TTY behaviour.
import { PassThrough } from 'node:stream';
import type { LoadProgress } from '../lab/load/load-stats';
import {
  LoadProgressView,
  compact,
  renderBar,
  renderFrame,
  renderPlain,
  renderProgress,
} from '../lab/load/progress';

const p = (over: Partial<LoadProgress> = {}): LoadProgress => ({
  sent: 30_010,
  responses: 30_000,
  errors: 0,
  timeouts: 0,
  elapsedSec: 2.5,
  status2xx: 30_000,
  statusOther: 0,
  latencyMs: { p50: 0.3, p90: 0.8, p99: 2.1 },
  ...over,
});

test('compact numbers', () => {
  expect(compact(0)).toBe('0');
  expect(compact(9999)).toBe('9999');
  expect(compact(12_345)).toBe('12.3k');
  expect(compact(123_456)).toBe('123k');
  expect(compact(1_234_567)).toBe('1.23M');
  expect(compact(12_345_678)).toBe('12.3M');
});

test('one bar per target', () => {
  expect(renderBar({ name: 'a', progress: p() }, 'load', 10, 3)).toBe(
    'a   load [=====               ]   2.5/10 s  30.0k resp  12.0k/s',
  );
  expect(renderBar({ name: 'b', progress: undefined }, 'warmup', 2, 1)).toBe(
    'b warmup [                    ]    0.0/2 s  starting',
  );
  // Errors and timeouts appear only when there are some; elapsed is capped at the duration.
  expect(
    renderBar(
      { name: 'c', progress: p({ errors: 3, timeouts: 12_000, elapsedSec: 11 }) },
      'load',
      10,
      1,
    ),
  ).toBe('c load [====================]  10.0/10 s  30.0k resp  2727/s  3 err  12.0k t/o');
  // Cut to the terminal's width.
  const cut = renderBar({ name: 'a', progress: p() }, 'load', 10, 1, 30);
  expect(cut).toHaveLength(30);
  expect(cut.endsWith('…')).toBe(true);
});

test('a frame aligns the names', () => {
  const lines = renderFrame(
    [
      { name: 'post-fork', progress: p() },
      { name: 'pre', progress: p({ responses: 10 }) },
    ],
    'load',
    10,
  );
  expect(lines).toHaveLength(2);
  expect(lines[0]!.indexOf('[')).toBe(lines[1]!.indexOf('['));
});

test('plain line for logs', () => {
  expect(renderPlain({ name: 'a', progress: p({ errors: 1, timeouts: 2 }) }, 'load', 10)).toBe(
    '[load 2.5/10 s] a: 30000 responses (12000/s), 1 errors, 2 timeouts, 30010 sent',
  );
  expect(renderPlain({ name: 'a', progress: undefined }, 'warmup', 1)).toBe(
    '[warmup 0.0/1 s] a: starting',
  );
});

test('one combined line, padded so that \\r overwrites the last one', () => {
  const targets = new Map([
    ['a', p()],
    ['b', p({ responses: 500, elapsedSec: 2 })],
  ]);
  const line = renderProgress({ phase: 'load', durationSec: 10, targets, columns: 100 });
  expect(line).toMatch(
    /^load \[=== {7}\] 2\.5\/10 s {2}│ a: 30\.0k resp {2}12\.0k\/s {2}│ b: 500 resp {2}250\/s +$/,
  );
  expect(line).toHaveLength(99);
  expect(renderProgress({ phase: 'load', durationSec: 10, targets, columns: 40 })).toHaveLength(39);
  expect(renderProgress({ phase: 'load', durationSec: 10, targets: new Map() })).toMatch(
    /^load \[ {10}\] 0\.0\/10 s +$/,
  );
});

function fakeStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  Object.assign(s, { isTTY: tty, columns: 120 });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

describe('LoadProgressView', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('TTY: redrawn in place, at most 10 times a second, only when something changed', async () => {
    const { stream, text } = fakeStream(true);
    const view = new LoadProgressView({
      stream,
      targets: ['a', 'b'],
      phase: 'load',
      durationSec: 10,
    });
    for (let i = 1; i <= 50; i++) {
      view.update('a', p({ responses: i, elapsedSec: i / 100 }));
      jest.advanceTimersByTime(10);
    }
    jest.advanceTimersByTime(1000); // nothing new: no redraw
    view.done();
    await Promise.resolve();
    const out = text();
    const frames = out.split('\x1b[2A').length; // every redraw after the first moves up 2 lines
    expect(frames).toBeGreaterThanOrEqual(5);
    expect(frames).toBeLessThanOrEqual(8); // 0.5 s of updates + the first and the final frame
    expect(out).toContain('\r\x1b[2Ka load [');
    expect(out.trimEnd().split('\n').slice(-2)[0]).toContain('50 resp');
  });

  test('not a TTY: a plain line per target every few seconds, no escape codes', async () => {
    const { stream, text } = fakeStream(false);
    const view = new LoadProgressView({
      stream,
      targets: ['a'],
      phase: 'load',
      durationSec: 10,
      plainEveryMs: 2000,
    });
    for (let i = 1; i <= 50; i++) {
      view.update('a', p({ responses: i * 100, elapsedSec: i / 10 }));
      jest.advanceTimersByTime(100);
    }
    view.done();
    await Promise.resolve();
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[load 2\.0\/10 s\] a: 2000 responses/);
    expect(text()).not.toContain('\x1b');
  });
});
