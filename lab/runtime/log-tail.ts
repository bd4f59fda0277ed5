// Reading a server's log file: its last lines (for error messages) and its FORKLAB_READY line.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { findReadyLine, type ReadyLine } from '../server/ready-line';

/** The last `lines` lines of `file` (reads at most the last 64 KiB); [] when it does not exist. */
export function tailLines(file: string, lines = 20): string[] {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    if (len < size) all.shift(); // probably cut in the middle
    return all.slice(-lines);
  } finally {
    closeSync(fd);
  }
}

/** The FORKLAB_READY line's JSON in `file`, if it is there (first 256 KiB). */
export function readReadyLine(file: string): ReadyLine | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(256 * 1024);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return findReadyLine(buf.subarray(0, n).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** Formats log lines for an error message. */
export function formatLogLines(name: string, lines: readonly string[]): string {
  if (lines.length === 0) return `(${name} wrote no log lines)`;
  return `last ${lines.length} log lines of ${name}:\n${lines.map((l) => `  | ${l}`).join('\n')}`;
}
