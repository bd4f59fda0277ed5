// bench:driver's sampler-cost verdict: given only when the difference is outside the noise.
import {
  controlRatioVerdict,
  fewHeld,
  keyErrorsBySplit,
  ratioVerdict,
  samplingVerdict,
} from '../bench/support/verdict';

test('a cost plus its noise below the target: met', () => {
  // medians 1000 and 998: cost 0.2 %; ranges 2/1000 and 2/998 → noise ≈ 0.2 %; 0.4 % < 1 %
  expect(samplingVerdict([999, 1000, 1001], [997, 998, 999])).toMatch(
    /cost 0\.20 % ± 0\.2 % .*: target < 1 % met/,
  );
});

test('a cost minus its noise above the target: NOT met', () => {
  // cost 10 %, noise 2 %: at least 8 % > 1 %
  expect(samplingVerdict([990, 1000, 1010], [891, 900, 909])).toMatch(
    /cost 10\.00 % ± 2\.0 % .*NOT met/,
  );
});

test('the issue’s case: −10 % with a 15,750–23,865 spread gives no verdict', () => {
  const v = samplingVerdict([15_750, 20_000, 23_865], [21_000, 22_000, 23_000]);
  expect(v).toMatch(/no verdict, the noise is wider/);
  expect(v).not.toMatch(/met/);
});

test('one run each cannot measure the noise', () => {
  expect(samplingVerdict([1000], [900])).toMatch(/^no verdict: one run each/);
});

describe('ratioVerdict: a driver against wrk, round by round', () => {
  test('every round kept at or above the target: met, the ratio is the median round', () => {
    // rounds: 90/100 = 0.9, 170/200 = 0.85, 120/100 = 1.2
    const v = ratioVerdict([90, 170, 120], [100, 200, 100], 0.8);
    expect(v.ratio).toBeCloseTo(0.9, 10);
    expect([v.low, v.high]).toEqual([0.85, 1.2]);
    expect(v.text).toBe('ratio 0.90 (rounds 0.85–1.20): target ≥ 0.8 met');
  });

  test('with 4 or more rounds the extreme round at each end does not decide', () => {
    // rounds 0.5 (a burst of other work), 0.9, 1.0, 1.1, 3.0: kept 0.9–1.1
    const v = ratioVerdict([50, 90, 100, 110, 300], [100, 100, 100, 100, 100], 0.8);
    expect(v.ratio).toBeCloseTo(1.0, 10);
    expect(v.text).toMatch(/^ratio 1\.00 \(rounds 0\.90–1\.10 without the lowest and highest\)/);
    expect(v.text).toMatch(/target ≥ 0\.8 met$/);
  });

  test('every round kept below the target: NOT met', () => {
    const v = ratioVerdict([30, 40, 35], [100, 100, 100], 0.8);
    expect(v.text).toBe('ratio 0.35 (rounds 0.30–0.40): target ≥ 0.8 NOT met');
  });

  test('rounds on both sides of the target: no verdict, even with the median above it', () => {
    // 0.7, 0.9, 1.0: median 0.9 would be "met" on the median alone
    const v = ratioVerdict([70, 90, 100], [100, 100, 100], 0.8);
    expect(v.ratio).toBeCloseTo(0.9, 10);
    expect(v.text).toMatch(/no verdict, the rounds straddle the 0\.8 target/);
    expect(v.text).not.toMatch(/met/);
  });

  test('pairs by round, not by sorted rates', () => {
    // wrk swung 50 → 100 between rounds and the driver with it: 1.0 every round. Medians
    // alone would also give 1.0, but a ratio of sorted lists would hide a round at 0.5.
    expect(ratioVerdict([50, 100], [50, 100], 0.8).text).toMatch(/rounds 1\.00–1\.00/);
    expect(ratioVerdict([100, 50], [50, 100], 0.8).text).toMatch(/rounds 0\.50–2\.00/);
  });

  test('one round cannot measure the noise; mismatched rounds are an error', () => {
    expect(ratioVerdict([90], [100], 0.8).text).toMatch(/no verdict, one round/);
    expect(() => ratioVerdict([90, 80], [100], 0.8)).toThrow(/one driver rate and one wrk rate/);
  });
});

describe('bench:fidelity pre/post ratio against a one-worker control', () => {
  test('close to the reference and a quiet control: met', () => {
    // |0.95 − 0.92| = 0.03, noise max |1.02 − 1|, |0.97 − 1| = 0.03: 0.06 ≤ 0.2
    expect(controlRatioVerdict([0.9, 0.95, 1.0], [1.02, 0.97], 0.92, 0.2)).toMatch(
      /median 0\.95 vs 0\.92 ± 0\.20, noise ± 0\.03 .*: met$/,
    );
  });

  test('far from the reference even after the noise: NOT met', () => {
    // |0.3 − 0.92| = 0.62, noise 0.1: 0.52 > 0.2
    expect(controlRatioVerdict([0.3, 0.3, 0.31], [1.1, 0.95], 0.92, 0.2)).toMatch(/NOT met$/);
  });

  test('a control as noisy as the machine here gives no verdict either way', () => {
    // noise max |0.74 − 1|, |2.91 − 1| = 1.91: neither 0.05 + 1.91 ≤ 0.2 nor 0.05 − 1.91 > 0.2
    const v = controlRatioVerdict([0.97], [0.74, 2.91], 0.92, 0.2);
    expect(v).toMatch(/noise ± 1\.91 .*no verdict/);
    expect(v).not.toMatch(/met/);
  });

  test('without control runs there is no noise measure and no verdict', () => {
    expect(controlRatioVerdict([0.92], [], 0.92, 0.2)).toMatch(/no verdict, no one-worker control/);
  });
});

describe('KeyErrors by split (keep-alive)', () => {
  test('a split is classed by the workers left with at most two connections', () => {
    expect(fewHeld([1, 1, 30, 1])).toBe(3);
    expect(fewHeld([8, 8, 9, 8])).toBe(0);
    expect(fewHeld([2, 3, 0, 28])).toBe(2);
  });

  test('runs are compared within the splits both sides reached; the others are named', () => {
    const engine = [
      { at1s: [1, 1, 30, 1], keyErrorsPer1000: 80 },
      { at1s: [6, 1, 1, 25], keyErrorsPer1000: 564 },
      { at1s: [9, 3, 1, 20], keyErrorsPer1000: 732 },
    ];
    const real = [
      { at1s: [1, 2, 1, 29], keyErrorsPer1000: 193 },
      { at1s: [1, 30, 1, 1], keyErrorsPer1000: 158 },
      { at1s: [8, 8, 8, 9], keyErrorsPer1000: 2.3 },
    ];
    const lines = keyErrorsBySplit(engine, real, 4);
    expect(lines).toHaveLength(2);
    // Three workers with few connections: the engine's 80 against the real 158 and 193.
    expect(lines[0]).toMatch(/^3 of 4 workers with at most 2 connections \(1 engine, 2 real\): /);
    expect(lines[0]).toMatch(/inside the real range NO, within 3× of 175\.50 yes: NOT met$/);
    expect(lines[1]).toBe(
      'splits reached by one side only, workers with at most 2 connections: 2 (engine 1), 1 (engine 1), 0 (real 1)',
    );
  });

  test('met when the engine lies inside the real runs of its split and within the factor', () => {
    const lines = keyErrorsBySplit(
      [{ at1s: [1, 1, 1, 30], keyErrorsPer1000: 60 }],
      [
        { at1s: [1, 1, 30, 1], keyErrorsPer1000: 40 },
        { at1s: [2, 1, 1, 29], keyErrorsPer1000: 93 },
      ],
      4,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\(1 engine, 2 real\): .*inside the real range yes, .* yes: met$/);
  });
});
