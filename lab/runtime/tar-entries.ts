// A tar stream made of an explicit list of entries: directories, symlinks, files copied from the
// host (under any name) and files with generated content. Both images are built from such lists:
// the Node.js base (`docker import`) and the server's build context (`docker build`).
//
// tar-fs only packs a directory tree as it is; with `entries: []` and `finalize: false` it hands
// back its (empty) tar-stream pack, which this module then fills entry by entry.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarFsPack } from 'tar-fs';

export type TarEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'file'; name: string; mode?: number; source: string }
  | { type: 'file'; name: string; mode?: number; content: string | Buffer };

/** Files up to this size are read in one go; bigger ones are streamed. */
const SMALL_FILE = 1024 * 1024;

/** Fixed so that the same inputs give the same layers. */
const MTIME = new Date(0);

/** Writes `entries` in order into a tar stream (owner root, fixed mtime) and ends it. */
export function packEntries(entries: readonly TarEntry[]): Readable {
  const pack = tarFsPack('/', { entries: [], finalize: false });
  void (async () => {
    for (const e of entries) {
      const name = e.name.replace(/^\/+/, '');
      const common = { name, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root' };
      if (e.type === 'dir') {
        await new Promise<void>((resolve, reject) =>
          pack.entry({ ...common, type: 'directory', mode: e.mode ?? 0o755 }, (err) =>
            err ? reject(err) : resolve(),
          ),
        );
      } else if (e.type === 'symlink') {
        await new Promise<void>((resolve, reject) =>
          pack.entry({ ...common, type: 'symlink', linkname: e.target, mode: 0o777 }, (err) =>
            err ? reject(err) : resolve(),
          ),
        );
      } else if ('content' in e || statSync(e.source).size <= SMALL_FILE) {
        const mode = 'content' in e ? e.mode : (e.mode ?? statSync(e.source).mode & 0o7777);
        const raw = 'content' in e ? e.content : readFileSync(e.source);
        const body = typeof raw === 'string' ? Buffer.from(raw) : raw;
        await new Promise<void>((resolve, reject) =>
          pack.entry(
            { ...common, type: 'file', mode: mode ?? 0o644, size: body.length },
            body,
            (err) => (err ? reject(err) : resolve()),
          ),
        );
      } else {
        const st = statSync(e.source);
        const done = new Promise<void>((resolve, reject) => {
          const sink = pack.entry(
            { ...common, type: 'file', mode: e.mode ?? st.mode & 0o7777, size: st.size },
            (err) => (err ? reject(err) : resolve()),
          );
          pipeline(createReadStream(e.source), sink).catch(reject);
        });
        await done;
      }
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  // tar-stream's pack is a streamx stream; dockerode and pipeline() get a Node.js one.
  return Readable.from(pack, { objectMode: false });
}
