// bench:driver's sampler-cost verdict: given only when the difference is outside the noise.
import { ratioVerdict, samplingVerdict } from '../bench/support/verdict';

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

describe('bench:fidelity pre/post ratio against a one-worker control', () => {
  test('close to the reference and a quiet control: met', () => {
    // |0.95 − 0.92| = 0.03, noise max |1.02 − 1|, |0.97 − 1| = 0.03: 0.06 ≤ 0.2
    expect(ratioVerdict([0.9, 0.95, 1.0], [1.02, 0.97], 0.92, 0.2)).toMatch(
      /median 0\.95 vs 0\.92 ± 0\.20, noise ± 0\.03 .*: met$/,
    );
  });

  test('far from the reference even after the noise: NOT met', () => {
    // |0.3 − 0.92| = 0.62, noise 0.1: 0.52 > 0.2
    expect(ratioVerdict([0.3, 0.3, 0.31], [1.1, 0.95], 0.92, 0.2)).toMatch(/NOT met$/);
  });

  test('a control as noisy as the machine here gives no verdict either way', () => {
    // noise max |0.74 − 1|, |2.91 − 1| = 1.91: neither 0.05 + 1.91 ≤ 0.2 nor 0.05 − 1.91 > 0.2
    const v = ratioVerdict([0.97], [0.74, 2.91], 0.92, 0.2);
    expect(v).toMatch(/noise ± 1\.91 .*no verdict/);
    expect(v).not.toMatch(/met/);
  });

  test('without control runs there is no noise measure and no verdict', () => {
    expect(ratioVerdict([0.92], [], 0.92, 0.2)).toMatch(/no verdict, no one-worker control/);
  });
});
