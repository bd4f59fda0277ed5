// `forklab compare <run> <run> [...]` (also `npm run compare -- …`): the same entry as lab/compare/cli.ts.
import { main } from '../compare/cli';
import type { Command } from './command';

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare runs (or --repeat groups) side by side; differences beyond noise are marked',
  run: (argv) => main(argv),
};
