// `npm run compare -- <run> <run> [...] [options]`: the comparison table in the terminal, an HTML
// page (runs/compare-<time>.html unless --out), and optionally CSV and JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runStamp } from '../record/run-folder';
import { compareRuns, type GroupBy } from './compare';
import { loadRuns } from './load-runs';
import { comparisonCsv, comparisonJson, comparisonLines, renderComparisonHtml } from './render';

export const COMPARE_USAGE = `Usage: npm run compare -- <run> <run> [...] [options]

Runs are run folders, results.json files, group folders (sub-folders holding results.json) or
folder names under the runs folder. Runs of one --repeat group, and otherwise runs of the same
scenario, resolved configuration, commit, host and runtime, are repeats: one side, with median
and spread. A difference is marked real only when it exceeds the two sides' combined spread.

Options:
  --out FILE          the HTML page (default: <runs>/compare-<time>.html)
  --no-html           no HTML page
  --csv [FILE]        also write CSV (default: the HTML's path with .csv)
  --json [FILE]       also write JSON (default: the HTML's path with .json)
  --group-by MODE     auto (default, as above), config (by configuration alone, merging repeat
                      groups of one configuration) or each (one side per argument)
  --runs-dir DIR      where run names are looked up (default: runs)
  -h, --help          this text
`;

export interface CompareArgs {
  runs: string[];
  out: string | null;
  html: boolean;
  csv: string | true | null;
  json: string | true | null;
  groupBy: GroupBy;
  runsDir: string;
  help: boolean;
}

/** Parses argv; throws with every problem named. */
export function parseCompareArgs(argv: readonly string[]): CompareArgs {
  const a: CompareArgs = {
    runs: [],
    out: null,
    html: true,
    csv: null,
    json: null,
    groupBy: 'auto',
    runsDir: 'runs',
    help: false,
  };
  const errors: string[] = [];
  const value = (i: number, flag: string): string | undefined => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) {
      errors.push(`${flag} needs a value`);
      return undefined;
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    switch (flag) {
      case '-h':
      case '--help':
        a.help = true;
        break;
      case '--out': {
        const v = inline ?? value(i, flag);
        if (inline === undefined && v !== undefined) i++;
        if (v !== undefined) a.out = v;
        break;
      }
      case '--no-html':
        a.html = false;
        break;
      case '--csv':
      case '--json': {
        // An optional value: taken when inline, or when the next argument ends in the extension.
        const ext = flag === '--csv' ? '.csv' : '.json';
        let v: string | true = true;
        if (inline !== undefined) v = inline;
        else if (argv[i + 1]?.toLowerCase().endsWith(ext)) v = argv[++i]!;
        if (flag === '--csv') a.csv = v;
        else a.json = v;
        break;
      }
      case '--group-by': {
        const v = inline ?? value(i, flag);
        if (inline === undefined && v !== undefined) i++;
        if (v === 'auto' || v === 'config' || v === 'each') a.groupBy = v;
        else if (v !== undefined) {
          errors.push(`--group-by: auto, config or each, got ${JSON.stringify(v)}`);
        }
        break;
      }
      case '--runs-dir': {
        const v = inline ?? value(i, flag);
        if (inline === undefined && v !== undefined) i++;
        if (v !== undefined) a.runsDir = v;
        break;
      }
      default:
        if (arg.startsWith('-')) errors.push(`unknown option ${arg}`);
        else a.runs.push(arg);
    }
  }
  if (!a.help && a.runs.length === 0) errors.push('name at least one run (two to compare)');
  if (errors.length) throw new Error(errors.join('; '));
  return a;
}

export interface CompareOutcome {
  lines: string[];
  written: string[];
}

/** Runs the comparison and writes its files; resolves with the terminal lines and file paths. */
export async function compareCommand(
  a: CompareArgs,
  now: Date = new Date(),
): Promise<CompareOutcome> {
  const runs = await loadRuns(a.runs, a.runsDir);
  const c = compareRuns(runs, { groupBy: a.groupBy, now });
  const base = a.out ?? path.join(a.runsDir, `compare-${runStamp(now)}.html`);
  const stem = base.replace(/\.html?$/i, '');
  const written: string[] = [];
  const write = async (file: string, text: string) => {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(file, text);
    written.push(file);
  };
  if (a.html) await write(base, renderComparisonHtml(c, base));
  if (a.csv) await write(a.csv === true ? `${stem}.csv` : a.csv, comparisonCsv(c));
  if (a.json) await write(a.json === true ? `${stem}.json` : a.json, comparisonJson(c));
  return { lines: comparisonLines(c), written };
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: CompareArgs;
  try {
    args = parseCompareArgs(argv);
  } catch (e) {
    process.stderr.write(`compare: ${(e as Error).message}\n\n${COMPARE_USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(COMPARE_USAGE);
    return 0;
  }
  try {
    const out = await compareCommand(args);
    process.stdout.write(out.lines.join('\n') + '\n');
    for (const f of out.written) process.stderr.write(`compare: wrote ${f}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`compare: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
