// bench:fidelity's command line and its KeyError verdict against a real framework.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  parseFidelityOptions,
  tornado45Dir,
  tornado45Python,
  tornado45Slowing,
} from '../bench/support/fidelity-options';
import { keyErrorVerdict } from '../bench/support/verdict';

describe('parseFidelityOptions', () => {
  test('no --against: the tornado4 pace, N = 1, 2, both loads, no engine args', () => {
    expect(parseFidelityOptions([])).toEqual({
      rounds: 3,
      durationSec: 10,
      workers: [1, 2],
      pace: 'tornado4',
      loads: ['keep-alive', 'churn'],
      against: undefined,
      engineArgs: [],
      speed: 'reference',
      cpus: 'even',
    });
  });

  test('--cpus: measured beside a real framework, even against the fixed figures, either when asked', () => {
    expect(parseFidelityOptions(['--against', 'tornado45'])?.cpus).toBe('measured');
    expect(parseFidelityOptions(['--against', 'tornado6'])?.cpus).toBe('measured');
    expect(parseFidelityOptions([])?.cpus).toBe('even');
    expect(parseFidelityOptions(['--cpus', 'measured'])?.cpus).toBe('measured');
    expect(parseFidelityOptions(['--against', 'tornado45', '--cpus', 'even'])?.cpus).toBe('even');
    expect(() => parseFidelityOptions(['--cpus', 'uneven'])).toThrow(
      '--cpus: even or measured, got "uneven"',
    );
    // measured sets the engine's per-CPU scale itself: one given as an engine arg would fight it.
    expect(() =>
      parseFidelityOptions(['--against', 'tornado45', '--engine-arg=--pace-cpu-pct=100,150']),
    ).toThrow('drop --engine-arg=--pace-cpu-pct or use --cpus even');
    expect(
      parseFidelityOptions(['--cpus', 'even', '--engine-arg=--pace-cpu-pct=100,150'])?.engineArgs,
    ).toEqual(['--pace-cpu-pct=100,150']);
  });

  test('--speed: the reference speed by default against the fixed figures, the calibrated one beside a real framework', () => {
    expect(parseFidelityOptions(['--against', 'tornado45'])?.speed).toBe('calibrated');
    expect(parseFidelityOptions(['--pace', 'native'])?.speed).toBe('calibrated');
    expect(parseFidelityOptions(['--speed', 'calibrated'])?.speed).toBe('calibrated');
    expect(parseFidelityOptions(['--against', 'tornado6', '--speed', '150'])?.speed).toBe(150);
    expect(parseFidelityOptions(['--against', 'tornado45', '--speed', 'match'])?.speed).toBe(
      'match',
    );
    expect(() => parseFidelityOptions(['--speed', 'fast'])).toThrow(
      /^--speed: reference, calibrated, match or a percentage .*got "fast"/,
    );
    expect(() => parseFidelityOptions(['--speed', '5'])).toThrow(
      /^--speed: an integer from 10 to 1000, got "5"/,
    );
    expect(() => parseFidelityOptions(['--speed', 'match'])).toThrow(
      /^--speed match: .*add --against tornado45 or --against tornado6/,
    );
    expect(() => parseFidelityOptions(['--against', 'tornado45', '--speed', 'reference'])).toThrow(
      /^--speed reference: .*for --pace tornado4 without --against; use --speed calibrated/,
    );
  });

  test('--against tornado45: the tornado4 pace, N = 1, 2, 4, keep-alive and churn', () => {
    const o = parseFidelityOptions(['--against', 'tornado45']);
    expect(o?.pace).toBe('tornado4');
    expect(o?.workers).toEqual([1, 2, 4]);
    expect(o?.loads).toEqual(['keep-alive', 'churn']);
  });

  test('--against tornado6: the asyncio pace, keep-alive only', () => {
    const o = parseFidelityOptions(['--against', 'tornado6']);
    expect(o?.pace).toBe('asyncio');
    expect(o?.loads).toEqual(['keep-alive']);
  });

  test('--engine-arg repeats, in order', () => {
    const o = parseFidelityOptions([
      '--engine-arg=--pace-keyerror-us=200',
      '--engine-arg=--pace-event-us=5',
    ]);
    expect(o?.engineArgs).toEqual(['--pace-keyerror-us=200', '--pace-event-us=5']);
  });

  test('an engine arg given apart from --engine-arg is refused, naming the = form', () => {
    expect(() => parseFidelityOptions(['--engine-arg', '--pace-event-us=5'])).toThrow(
      /'--engine-arg=-XYZ'/,
    );
  });

  test('an engine arg that is not an option is refused with the form to use', () => {
    expect(() => parseFidelityOptions(['--engine-arg=200'])).toThrow(
      /--engine-arg: .*"200".*--engine-arg=--pace-keyerror-us=200/,
    );
  });

  test('a pace other than the one --against runs is refused', () => {
    expect(() => parseFidelityOptions(['--against', 'tornado45', '--pace', 'asyncio'])).toThrow(
      '--against tornado45 runs --pace tornado4; drop --pace asyncio',
    );
  });

  test('an unknown --against names both choices', () => {
    expect(() => parseFidelityOptions(['--against', 'tornado5'])).toThrow(
      /--against: tornado6 .* or tornado45 .*"tornado5"/,
    );
  });

  test('--workers and --rounds out of range name the option', () => {
    expect(() => parseFidelityOptions(['--workers', '1,0'])).toThrow(/--workers: .*"0"/);
    expect(() => parseFidelityOptions(['--rounds', '1.5'])).toThrow(/--rounds: .*"1.5"/);
  });

  test('--help gives no options', () => {
    expect(parseFidelityOptions(['--help'])).toBeUndefined();
  });
});

describe('tornado45Dir', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-test-t45-'));
    mkdirSync(path.join(dir, 'tornado'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const writeVersion = (v: string): void =>
    writeFileSync(path.join(dir, 'tornado', '__init__.py'), `"""x"""\nversion = "${v}"\n`);

  test('unset: names TORNADO45 and the fix', () => {
    expect(() => tornado45Dir({})).toThrow(/needs TORNADO45.*git -C tornado archive v4\.5\.3/);
  });

  test('no tornado package there: names the file', () => {
    rmSync(path.join(dir, 'tornado'), { recursive: true });
    expect(() => tornado45Dir({ TORNADO45: dir })).toThrow(
      /TORNADO45=.*cannot read .*__init__\.py/,
    );
  });

  test('another version: named, refused', () => {
    writeVersion('6.2');
    expect(() => tornado45Dir({ TORNADO45: dir })).toThrow(/is version 6\.2, not 4\.5\.3/);
  });

  test('4.5.3: the directory', () => {
    writeVersion('4.5.3');
    expect(tornado45Dir({ TORNADO45: dir })).toBe(dir);
  });
});

describe('keyErrorVerdict', () => {
  test('inside the real range and within 3× of its median: met', () => {
    // engine median 2 (of 1, 2, 9); real [0.2, 4, 14.9]: 2 in range, 4/3 = 1.33 ≤ 2 ≤ 12
    expect(keyErrorVerdict([1, 2, 9], [4, 0.2, 14.9], 2)).toMatch(
      /engine median 2\.00, real 4\.00 \[0\.20–14\.90\]: inside the real range yes, within 3× of 4\.00 yes: met$/,
    );
  });

  test('inside the range but more than 3× below the median: NOT met', () => {
    // engine median 1 ≥ 0.2 but < 4/3
    expect(keyErrorVerdict([1], [4, 0.2, 14.9], 2)).toMatch(/range yes, within 3× .* NO: NOT met$/);
  });

  test('within 3× but outside the range: NOT met', () => {
    // real [9.8, 10.5, 27.7]: engine 5 ≥ 10.5/3 = 3.5 but < 9.8
    expect(keyErrorVerdict([5], [10.5, 9.8, 27.7], 2)).toMatch(
      /range NO, within 3× .* yes: NOT met$/,
    );
  });

  test('a real median of 0 asks for an engine median of 0', () => {
    expect(keyErrorVerdict([0, 0, 1], [0, 0, 3], 4)).toMatch(/: met$/);
    expect(keyErrorVerdict([0, 1, 1], [0, 0, 3], 4)).toMatch(/within 3× of 0\.00 NO: NOT met$/);
  });

  test('one worker: met only when no run of either shows a KeyError', () => {
    expect(keyErrorVerdict([0, 0], [0, 0], 1)).toMatch(/: met$/);
    expect(keyErrorVerdict([0, 0], [0, 0.5], 1)).toMatch(
      /NOT met \(runs with KeyErrors: engine 0, real 1\)/,
    );
  });

  test('no runs: no verdict', () => {
    expect(keyErrorVerdict([], [1], 2)).toBe('no verdict: no runs');
  });
});

describe('tornado45Python', () => {
  test("unset: Debian's", () => {
    expect(tornado45Python({}, '/usr/bin/python3')).toBe('/usr/bin/python3');
  });

  test('a Python 3 that runs: that one', () => {
    // The Python the lab runs Tornado with is itself a Python 3.7+.
    expect(tornado45Python({ TORNADO45_PYTHON: '/usr/bin/python3' }, '/x')).toBe(
      '/usr/bin/python3',
    );
  });

  test('no such program: names the variable and the fix', () => {
    expect(() =>
      tornado45Python({ TORNADO45_PYTHON: '/nonexistent/python3' }, '/usr/bin/python3'),
    ).toThrow(
      /TORNADO45_PYTHON=\/nonexistent\/python3: not a Python 3\.7 or later that runs \(.*ENOENT.*\); give the path of a python3 executable, or leave it unset for \/usr\/bin\/python3/,
    );
  });

  test('a program that is not Python: refused', () => {
    expect(() => tornado45Python({ TORNADO45_PYTHON: '/bin/false' }, '/usr/bin/python3')).toThrow(
      /TORNADO45_PYTHON=\/bin\/false: not a Python 3\.7 or later/,
    );
  });
});

describe('tornado45Slowing', () => {
  test('neither set (or set empty): not slowed', () => {
    expect(tornado45Slowing({}, 2)).toBeUndefined();
    expect(
      tornado45Slowing({ TORNADO45_SLOW_SHARE: '', TORNADO45_SLOW_CPU: '' }, 2),
    ).toBeUndefined();
  });

  test('a share from 0 to 1, or a CPU of the machine', () => {
    expect(tornado45Slowing({ TORNADO45_SLOW_SHARE: '0.7' }, 2)).toEqual({ share: 0.7 });
    expect(tornado45Slowing({ TORNADO45_SLOW_SHARE: '1' }, 2)).toEqual({ share: 1 });
    expect(tornado45Slowing({ TORNADO45_SLOW_CPU: '1' }, 2)).toEqual({ cpu: 1 });
    expect(tornado45Slowing({ TORNADO45_SLOW_CPU: '0' }, 4)).toEqual({ cpu: 0 });
  });

  test('a bad share names the variable and the range', () => {
    for (const v of ['1.5', '-0.1', 'half'])
      expect(() => tornado45Slowing({ TORNADO45_SLOW_SHARE: v }, 2)).toThrow(
        `TORNADO45_SLOW_SHARE=${v}: not a share from 0 to 1`,
      );
  });

  test('a CPU the machine does not have names the CPUs it has', () => {
    for (const v of ['2', '-1', '0.5', 'cpu1'])
      expect(() => tornado45Slowing({ TORNADO45_SLOW_CPU: v }, 2)).toThrow(
        `TORNADO45_SLOW_CPU=${v}: not a CPU of this machine; give one of 0–1`,
      );
  });

  test('both set: one must go', () => {
    expect(() =>
      tornado45Slowing({ TORNADO45_SLOW_SHARE: '0.5', TORNADO45_SLOW_CPU: '1' }, 2),
    ).toThrow('they exclude each other; unset one');
  });
});
