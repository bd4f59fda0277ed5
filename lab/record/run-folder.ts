// The run folder: runs/<YYYYMMDD-HHMMSS>-<scenario>/ holding results.json (the RunRecord) and
// the views of it that lab/report renders (CSV, summary, report), handed in by the runner. Every
// file is written atomically (a temporary file in the same folder, fsync, rename), so a reader,
// or a run killed mid-write, never sees half a file; the runner rewrites the record after each
// cell, so an interrupted run keeps what it measured.
//
// Infinity (a ratio over zero, see derive-figures.ts) is written as the string "inf" (and
// -Infinity as "-inf"), the same spelling as in figures.csv and on screen; readRecord turns them
// back into numbers, so a record read back is the record written.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RUN_RECORD_SCHEMA, type RunRecord } from './run-record';

export const RESULTS_FILE = 'results.json';

/** The spelling of an infinite figure in every file and view. */
export const INFINITY_TEXT = 'inf';

/** JSON with ±Infinity as "inf" / "-inf" (JSON itself has no infinity). */
export function recordJson(value: unknown): string {
  return (
    JSON.stringify(
      value,
      (_k, v: unknown) =>
        v === Infinity ? INFINITY_TEXT : v === -Infinity ? `-${INFINITY_TEXT}` : v,
      2,
    ) + '\n'
  );
}

/** Parses JSON written by recordJson: "inf" / "-inf" become ±Infinity again. */
export function parseRecordJson(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) =>
    v === INFINITY_TEXT ? Infinity : v === `-${INFINITY_TEXT}` ? -Infinity : v,
  );
}

const two = (n: number) => String(n).padStart(2, '0');

/** `YYYYMMDD-HHMMSS` in local time. */
export function runStamp(d: Date): string {
  return (
    `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-` +
    `${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`
  );
}

/** A scenario name made safe for a folder name ([A-Za-z0-9._-], others → `-`). */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return s || 'run';
}

/**
 * Creates `<root>/<YYYYMMDD-HHMMSS>-<scenario>/` (local time) and returns its path. When that
 * folder exists (two runs in the same second), `-2`, `-3`, … is appended; mkdir is atomic, so two
 * processes never get the same folder.
 */
export async function createRunDir(
  root = 'runs',
  scenario: string,
  startedAt: Date = new Date(),
): Promise<string> {
  await mkdir(root, { recursive: true });
  const base = `${runStamp(startedAt)}-${safeName(scenario)}`;
  for (let n = 1; n < 10_000; n++) {
    const dir = path.join(root, n === 1 ? base : `${base}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`createRunDir: no free folder name for ${base} in ${root}`);
}

/** Writes `data` to `file` atomically: temporary file in the same folder, fsync, rename. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A file of the run folder other than the record: its name and its text. */
export type RunFolderFile = readonly [name: string, text: string];

/**
 * Writes the record (results.json) and then the given views of it into `dir`. Safe to call again
 * with a newer record (partial records of an interrupted run included). Returns the paths.
 */
export async function writeRecord(
  dir: string,
  record: RunRecord,
  views: readonly RunFolderFile[] = [],
): Promise<string[]> {
  const files: RunFolderFile[] = [[RESULTS_FILE, recordJson(record)], ...views];
  const written: string[] = [];
  // results.json first: it is the record; the rest are views of it.
  for (const [name, data] of files) {
    const file = path.join(dir, name);
    await writeFileAtomic(file, data);
    written.push(file);
  }
  return written;
}

/** Reads and checks `<dir>/results.json`; errors name the file and what is wrong. */
export async function readRecord(dir: string): Promise<RunRecord> {
  const file = path.join(dir, RESULTS_FILE);
  let record: RunRecord;
  try {
    record = parseRecordJson(await readFile(file, 'utf8')) as RunRecord;
  } catch (e) {
    throw new Error(`${file}: cannot read the run record (${(e as Error).message})`);
  }
  if (record?.schema !== RUN_RECORD_SCHEMA) {
    throw new Error(
      `${file}: schema ${JSON.stringify(record?.schema)}, expected ${RUN_RECORD_SCHEMA} (records of ` +
        'other schemas are read by the forklab version that wrote them)',
    );
  }
  return record;
}
