// Temporary folders a test file makes (run folders, scenario files): removed after the file's
// tests, so that test runs do not pile them up in the machine's tmp. FORKLAB_KEEP_TEST_DIRS=1
// keeps them, to read a failed run's record.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];

// Imported at a test file's top level, so this hook is the file's own.
afterAll(() => {
  if (process.env.FORKLAB_KEEP_TEST_DIRS === '1') {
    if (made.length > 0)
      process.stderr.write(`kept (FORKLAB_KEEP_TEST_DIRS=1): ${made.join(' ')}\n`);
    return;
  }
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new folder under the machine's tmp, named `${prefix}XXXXXX`, removed after the file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
