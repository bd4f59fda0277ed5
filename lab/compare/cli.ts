// The programmatic entry of `forklab compare` (its flags are parsed in lab/cli/compare-command.ts):
// the comparison table for the terminal, an HTML page (runs/compare-<time>.html unless `out`), and
// optionally CSV and JSON.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runStamp } from '../record/run-folder';
import { compareRuns, type GroupBy } from './compare';
import { loadRuns } from './load-runs';
import { comparisonCsv, comparisonJson, comparisonLines, renderComparisonHtml } from './render';

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
