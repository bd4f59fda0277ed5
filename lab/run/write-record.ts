// The run folder: runs/<YYYYMMDD-HHMMSS>-<scenario>/ holding results.json (the RunRecord), the
// CSV views and a plain-text summary. Every file is written atomically (a temporary file in the
// same folder, fsync, rename), so a reader, or a run killed mid-write, never sees half a file;
// the runner rewrites the record after each cell, so an interrupted run keeps what it measured.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { figuresCsv, samplesCsv, workerSamplesCsv } from './csv-export';
import type { RunRecord } from './run-record';
import { renderSummary } from './terminal-summary';

export const RESULTS_FILE = 'results.json';
export const FIGURES_CSV = 'figures.csv';
export const SAMPLES_CSV = 'samples.csv';
export const WORKER_SAMPLES_CSV = 'worker-samples.csv';
export const SUMMARY_FILE = 'summary.txt';

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

/**
 * Writes the record and its views into `dir`: results.json (JSON; Infinity becomes null, see
 * derive-figures.ts), figures.csv, samples.csv, worker-samples.csv and summary.txt. Safe to call
 * again with a newer record (partial records of an interrupted run included). Returns the paths.
 */
export async function writeRecord(dir: string, record: RunRecord): Promise<string[]> {
  const files: [string, string][] = [
    [RESULTS_FILE, JSON.stringify(record, null, 2) + '\n'],
    [FIGURES_CSV, figuresCsv(record)],
    [SAMPLES_CSV, samplesCsv(record)],
    [WORKER_SAMPLES_CSV, workerSamplesCsv(record)],
    [SUMMARY_FILE, renderSummary(record, { color: false })],
  ];
  const written: string[] = [];
  // results.json first: it is the record; the rest are views of it.
  for (const [name, data] of files) {
    const file = path.join(dir, name);
    await writeFileAtomic(file, data);
    written.push(file);
  }
  return written;
}
