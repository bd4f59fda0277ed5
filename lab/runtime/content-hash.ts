// Content hashes of image inputs: the tag of an image is the hash of what went into it, so an
// image is rebuilt exactly when one of its inputs changed.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { TarEntry } from './tar-entries';

/** Files up to this size are read in one go (much faster than a stream for thousands of them). */
const SMALL_FILE = 4 * 1024 * 1024;

export async function hashFile(file: string, size = statSync(file).size): Promise<string> {
  if (size <= SMALL_FILE) return sha(readFileSync(file));
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** Hash of a list of tar entries: names, types, modes, link targets and file contents. */
export async function hashEntries(
  entries: readonly TarEntry[],
  salt: string,
  concurrency = 8,
): Promise<string> {
  const parts: string[] = new Array<string>(entries.length);
  let next = 0;
  async function work(): Promise<void> {
    while (next < entries.length) {
      const i = next++;
      const e = entries[i]!;
      if (e.type === 'dir') parts[i] = `d ${e.name} ${e.mode ?? 0o755}`;
      else if (e.type === 'symlink') parts[i] = `l ${e.name} ${e.target}`;
      else if ('content' in e) parts[i] = `f ${e.name} ${e.mode ?? ''} ${sha(e.content)}`;
      else {
        const st = statSync(e.source);
        parts[i] = `f ${e.name} ${e.mode ?? st.mode & 0o7777} ${await hashFile(e.source, st.size)}`;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, work));
  const h: Hash = createHash('sha256').update(salt);
  for (const p of parts) h.update(p).update('\n');
  return h.digest('hex');
}

function sha(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}
