// bench:fidelity's CPU check: the spread of a pinned Python loop's time over the CPUs, and the note
// under a verdict whose runs include some taken on uneven CPUs.
import os from 'node:os';
import {
  cpuPctOf,
  meanCpuFactor,
  measureCpuSpread,
  spreadOf,
  unevenNote,
  UNEVEN_SPREAD,
} from '../bench/support/cpu-spread';

test('the spread is the slowest CPU over the fastest; one figure has none', () => {
  expect(spreadOf([140, 210, 150])).toBeCloseTo(1.5, 10);
  expect(spreadOf([130, 130])).toBe(1);
  expect(spreadOf([99])).toBe(1);
});

test('the note counts the runs over the limit and names their spreads; none, no note', () => {
  expect(unevenNote([1.02, 1.1, 1.19])).toBe('');
  expect(unevenNote([])).toBe('');
  const note = unevenNote([1.05, 1.46, 1.1, 1.52]);
  expect(note).toContain('in 2 of 4 runs');
  expect(note).toContain('1.46×, 1.52×');
  expect(note).toContain(`over ${UNEVEN_SPREAD}×`);
  expect(unevenNote([1.3], 1.4)).toBe('');
});

test('the check times the loop on every CPU of the machine', () => {
  const c = measureCpuSpread('/usr/bin/python3', 1);
  expect(c.ms).toHaveLength(os.cpus().length);
  // A million iterations of Python arithmetic take milliseconds of CPU, not microseconds.
  for (const ms of c.ms) expect(ms).toBeGreaterThan(5);
  expect(c.spread).toBeCloseTo(Math.max(...c.ms) / Math.min(...c.ms), 10);
});

test('a Python that cannot run is named with what the check needs', () => {
  expect(() => measureCpuSpread('/nonexistent/python3', 1)).toThrow(
    /CPU check: taskset -c 0 \/nonexistent\/python3 failed .*needs taskset \(util-linux\) and python3/,
  );
});

test("the engine's per-CPU scale: each CPU's loop time in percent of the fastest's, CPU 0 first", () => {
  expect(cpuPctOf([106, 69])).toBe('154,100');
  expect(cpuPctOf([130, 130])).toBe('100,100');
  expect(cpuPctOf([70, 105, 140])).toBe('100,150,200');
  // Within the engine's bounds (--pace-cpu-pct takes 10 to 1000).
  expect(cpuPctOf([10, 200])).toBe('100,1000');
});

test('the mean factor of a per-CPU scale: 1 without one', () => {
  expect(meanCpuFactor(undefined)).toBe(1);
  expect(meanCpuFactor('100,100')).toBe(1);
  expect(meanCpuFactor('even')).toBe(1);
  expect(meanCpuFactor('150,100')).toBeCloseTo(1.25, 10);
  expect(meanCpuFactor('100,150,200')).toBeCloseTo(1.5, 10);
});
