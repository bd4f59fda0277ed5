// `forklab compare <run> <run> [...]` (also `npm run compare -- …`): parse, then call the
// programmatic entry (lab/compare/cli.ts `compareCommand`).
import { compareCommand as runComparison, type CompareArgs } from '../compare/cli';
import { RunNotFound } from '../compare/load-runs';
import { parseFlags, usageFailure, USAGE_EXIT, UsageError, type FlagSpec } from './args';
import type { Command } from './command';

export const COMPARE_USAGE = `Usage: forklab compare <run> <run> [...] [flags]
       npm run compare -- <run> <run> [...] [flags]

Runs are run folders, results.json files, group folders (sub-folders holding results.json) or
folder names under the runs folder. Runs of one --repeat group, and otherwise runs of the same
scenario, resolved configuration, commit, host and runtime, are repeats: one side, with median
and spread. A difference is marked real only when it exceeds the two sides' combined spread.
Figures that do not apply to a run (n/a) are left out. Exit code 2 for bad flags or a run that
cannot be found.

Flags:
  --out FILE          the HTML page (default: <runs>/compare-<time>.html)
  --no-html           no HTML page
  --csv [FILE]        also write CSV (default: the HTML's path with .csv)
  --json [FILE]       also write JSON (default: the HTML's path with .json)
  --group-by MODE     auto (default, as above), config (by configuration alone, merging repeat
                      groups of one configuration) or each (one side per argument)
  --runs-dir DIR      where run names are looked up (default: runs)
  -h, --help          this text
`;

const FLAGS: readonly FlagSpec[] = [
  { name: 'help', type: 'boolean', short: 'h' },
  { name: 'out', type: 'string' },
  { name: 'no-html', type: 'boolean' },
  { name: 'csv', type: 'string', optionalValue: (v) => v.toLowerCase().endsWith('.csv') },
  { name: 'json', type: 'string', optionalValue: (v) => v.toLowerCase().endsWith('.json') },
  { name: 'group-by', type: 'string' },
  { name: 'runs-dir', type: 'string' },
];

/** Parses argv; throws a UsageError naming every problem. */
export function parseCompareArgs(argv: readonly string[]): CompareArgs {
  const p = parseFlags(argv, FLAGS);
  const errors = [...p.errors];
  const str = (name: string) => {
    const v = p.values.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const a: CompareArgs = {
    runs: p.positionals,
    out: str('out') ?? null,
    html: !p.values.has('no-html'),
    csv: p.values.get('csv') ?? null,
    json: p.values.get('json') ?? null,
    groupBy: 'auto',
    runsDir: str('runs-dir') ?? 'runs',
    help: p.values.has('help'),
  };
  const g = str('group-by');
  if (g === 'auto' || g === 'config' || g === 'each') a.groupBy = g;
  else if (g !== undefined)
    errors.push(`--group-by: auto, config or each, got ${JSON.stringify(g)}`);
  if (!a.help && a.runs.length === 0) errors.push('name at least one run (two to compare)');
  if (errors.length) throw new UsageError(errors);
  return a;
}

export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare runs (or --repeat groups) side by side; differences beyond noise are marked',
  async run(argv, _env, io) {
    let args: CompareArgs;
    try {
      args = parseCompareArgs(argv);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      return usageFailure(io, 'compare', e.errors);
    }
    if (args.help) {
      io.stdout.write(COMPARE_USAGE);
      return 0;
    }
    try {
      const out = await runComparison(args);
      io.stdout.write(out.lines.join('\n') + '\n');
      for (const f of out.written) io.stderr.write(`forklab compare: wrote ${f}\n`);
      return 0;
    } catch (e) {
      io.stderr.write(`forklab compare: ${(e as Error).message}\n`);
      return e instanceof RunNotFound ? USAGE_EXIT : 1;
    }
  },
};
