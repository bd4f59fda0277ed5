// The Node.js base image for machines that cannot pull from a registry: the host's own `node`
// binary, the shared libraries `ldd` lists for it and for the native addon (libstdc++ …), the
// dynamic loader, a minimal /etc and a /tmp, packed into a tar in-process and loaded with
// `docker import`. Tagged `forklab-node-base:<hash12>` where the hash covers every byte that goes
// in, so it is assembled once per Node.js/libc version and reused after that.
import { execFile } from 'node:child_process';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { hashEntries } from './content-hash';
import { followProgress, imageExists } from './docker-progress';
import { LABEL_MANAGED } from './labels';
import { packEntries, type TarEntry } from './tar-entries';

const execFileP = promisify(execFile);

export const NODE_BASE_REPOSITORY = 'forklab-node-base';
/** The unprivileged user the servers run as (also written to the base's /etc/passwd). */
export const SERVER_UID = 10001;
/** Bump when the layout below changes, so old bases are not reused. */
const LAYOUT_VERSION = 'node-base/1';

export interface NodeBaseOptions {
  /** The Node.js binary to ship; default: the one running this process. */
  nodeBinary?: string;
  /** More ELF files whose libraries the image needs (the addon: build/Release/forklab.node). */
  alsoLibrariesOf?: string[];
}

export interface BuiltImage {
  tag: string;
  /** False when an image with this tag already existed and was reused. */
  built: boolean;
  /** Time spent hashing and (when built) building, in ms. */
  ms: number;
}

/** The libraries `ldd` lists for `file` (absolute paths as the loader finds them, loader included). */
export async function sharedLibraries(file: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await execFileP('ldd', [file]));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: string | number };
    if (e.code === 'ENOENT') throw new Error('forklab: `ldd` not found (Debian: package libc-bin)');
    // A static executable: ldd exits 1 with "not a dynamic executable".
    if (/not a dynamic executable|statically linked/.test(`${e.stdout}${e.stderr}`)) return [];
    throw new Error(`forklab: ldd ${file} failed: ${e.stderr ?? String(err)}`);
  }
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    if (/=>\s*not found/.test(line))
      throw new Error(`forklab: ${file} needs a library ldd cannot find: ${line.trim()}`);
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/**
 * Entries that recreate `hostPath` in the image exactly as the host resolves it: every symlink
 * along the way becomes the same symlink (so /lib64 → usr/lib64 on a merged-/usr system works),
 * directories become directories and the final file is copied.
 */
function hostPathEntries(hostPath: string, out: Map<string, TarEntry>): void {
  const parts = path.resolve(hostPath).split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(cur, parts[i]!);
    const st = lstatSync(next);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(next);
      if (!out.has(next)) out.set(next, { type: 'symlink', name: next, target });
      const resolved = realpathSync(next);
      hostPathEntries(resolved, out);
      cur = resolved;
    } else if (st.isDirectory()) {
      if (!out.has(next)) out.set(next, { type: 'dir', name: next, mode: 0o755 });
      cur = next;
    } else if (st.isFile() && i === parts.length - 1) {
      if (!out.has(next))
        out.set(next, { type: 'file', name: next, mode: st.mode & 0o755, source: next });
    } else {
      throw new Error(`forklab: ${next} is neither a file, a directory nor a symlink`);
    }
  }
}

const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\nforklab:x:${SERVER_UID}:${SERVER_UID}:forklab:/tmp:/sbin/nologin\n`;
const GROUP = `root:x:0:\nforklab:x:${SERVER_UID}:\n`;
const NSSWITCH = 'passwd: files\ngroup: files\nhosts: files dns\n';

/** Everything that goes into the base, in tar order (directories before their contents). */
export async function nodeBaseEntries(opts: NodeBaseOptions = {}): Promise<TarEntry[]> {
  const nodeBinary = realpathSync(opts.nodeBinary ?? process.execPath);
  const elves = [nodeBinary, ...(opts.alsoLibrariesOf ?? [])];
  const files = new Set<string>([nodeBinary]);
  for (const elf of elves) for (const lib of await sharedLibraries(elf)) files.add(lib);

  const map = new Map<string, TarEntry>();
  for (const f of [...files].sort()) hostPathEntries(f, map);
  // `node` on the default PATH whatever directory the host keeps it in.
  if (!map.has('/usr/local/bin/node')) {
    hostPathEntries('/usr', map);
    map.set('/usr/local', { type: 'dir', name: '/usr/local' });
    map.set('/usr/local/bin', { type: 'dir', name: '/usr/local/bin' });
    map.set('/usr/local/bin/node', {
      type: 'symlink',
      name: '/usr/local/bin/node',
      target: nodeBinary,
    });
  }
  const generated: TarEntry[] = [
    { type: 'dir', name: '/etc' },
    { type: 'file', name: '/etc/passwd', content: PASSWD },
    { type: 'file', name: '/etc/group', content: GROUP },
    { type: 'file', name: '/etc/nsswitch.conf', content: NSSWITCH },
    { type: 'dir', name: '/tmp', mode: 0o1777 },
    { type: 'dir', name: '/root', mode: 0o700 },
  ];
  // Shortest paths first puts every directory before what it holds.
  const host = [...map.values()].sort(
    (a, b) => depth(a.name) - depth(b.name) || a.name.localeCompare(b.name),
  );
  return [...generated, ...host];
}

function depth(p: string): number {
  return p.split('/').length;
}

/** Returns the tag of the base image, importing it first when no image has that tag. */
export async function ensureNodeBaseImage(
  docker: Docker,
  opts: NodeBaseOptions = {},
): Promise<BuiltImage> {
  const t0 = performance.now();
  const entries = await nodeBaseEntries(opts);
  const hash = await hashEntries(entries, LAYOUT_VERSION);
  const tag = `${NODE_BASE_REPOSITORY}:${hash.slice(0, 12)}`;
  if (await imageExists(docker, tag)) return { tag, built: false, ms: performance.now() - t0 };

  const [repo, version] = tag.split(':') as [string, string];
  const answer = await docker.importImage(packEntries(entries), {
    repo,
    tag: version,
    changes: ['ENV PATH=/usr/local/bin:/usr/bin:/bin', `LABEL ${LABEL_MANAGED}=true`],
  });
  await followProgress(docker, answer);
  if (!(await imageExists(docker, tag)))
    throw new Error(`forklab: docker import finished but ${tag} is missing`);
  return { tag, built: true, ms: performance.now() - t0 };
}
