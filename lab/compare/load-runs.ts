// Finds the run records named on the command line: a run folder (holding results.json), a
// results.json file, a group folder (sub-folders that hold results.json, e.g. the repeats of one
// `--repeat N` run), or a name under the runs folder.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readRecord, RESULTS_FILE } from '../record/run-folder';
import type { RunRecord } from '../record/run-record';

export { readRecord, RESULTS_FILE };

export interface LoadedRun {
  /** The run folder. */
  dir: string;
  /** The folder's name, for tables. */
  name: string;
  /** The argument it came from (a group folder gives several runs). */
  arg: string;
  record: RunRecord;
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** A run named on the command line that is not there (a usage error: exit code 2). */
export class RunNotFound extends Error {}

/** The run folders an argument names, or an error that says what was looked for. */
export async function resolveRunArg(arg: string, runsDir = 'runs'): Promise<string[]> {
  const candidates = [arg, path.join(runsDir, arg)];
  for (const c of candidates) {
    if ((await isFile(c)) && path.basename(c) === RESULTS_FILE) return [path.dirname(c)];
    if (!(await isDir(c))) continue;
    if (await isFile(path.join(c, RESULTS_FILE))) return [c];
    // A group folder: every sub-folder with a record, in name order (r1, r2, …).
    const subs = (await readdir(c, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => path.join(c, e.name))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    const runs: string[] = [];
    for (const s of subs) if (await isFile(path.join(s, RESULTS_FILE))) runs.push(s);
    if (runs.length > 0) return runs;
    throw new RunNotFound(`${arg}: no ${RESULTS_FILE} in ${c} nor in its sub-folders`);
  }
  throw new RunNotFound(
    `${arg}: not a run folder, a ${RESULTS_FILE}, or a name under ${runsDir}/ (looked for ${candidates.join(' and ')})`,
  );
}

/** Every run the arguments name, in argument order, each folder once. */
export async function loadRuns(args: readonly string[], runsDir = 'runs'): Promise<LoadedRun[]> {
  const out: LoadedRun[] = [];
  const seen = new Set<string>();
  for (const arg of args) {
    for (const dir of await resolveRunArg(arg, runsDir)) {
      const abs = path.resolve(dir);
      if (seen.has(abs)) continue;
      seen.add(abs);
      out.push({ dir: abs, name: path.basename(abs), arg, record: await readRecord(dir) });
    }
  }
  return out;
}
