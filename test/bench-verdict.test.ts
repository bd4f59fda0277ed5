// bench:driver's sampler-cost verdict: given only when the difference is outside the noise.
import { samplingVerdict } from '../bench/support/verdict';

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
