// The set-up label every verdict, summary column and report heading starts with: it names the
// pace a target ran at, so a magnitude is never read without knowing whose speed produced it.
import { setupLabel } from '../lab/report/format';

test('an unpaced engine says so; a paced one names the framework whose costs it burned', () => {
  expect(setupLabel({ loopCreation: 'pre-fork', workers: 2, pace: 'native' })).toBe(
    'pre-fork, 2 workers, unpaced',
  );
  expect(setupLabel({ loopCreation: 'pre-fork', workers: 2, pace: 'tornado4' })).toBe(
    'pre-fork, 2 workers, paced as tornado4',
  );
  expect(
    setupLabel({ loopCreation: 'pre-fork', flavour: 'asyncio', workers: 1, pace: 'asyncio' }),
  ).toBe('pre-fork (asyncio), 1 worker, paced as asyncio');
});

test('a record without a pace (one written before the pace model) gets no pace words', () => {
  expect(setupLabel({ loopCreation: 'post-fork', workers: 4 })).toBe('post-fork, 4 workers');
});
