// The server image `forklab-server:<hash12>`: what `forklab serve` needs to run, built through
// the engine's API (legacy builder, no BuildKit) from a tar context assembled in-process. The hash
// covers the Dockerfile, the base and every file of the context, so the image is rebuilt exactly
// when one of them changed and reused otherwise.
//
// Two sources:
//  - `local` (default; works with no registry): FROM the imported Node.js base
//    (node-base-image.ts), copying the repository's addon and production node_modules.
//  - `registry` (FORKLAB_IMAGE_SOURCE=registry): docker/Dockerfile, multi-stage from the official
//    node:20 images; compiles the addon with `npm ci` in a build stage.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { hashEntries } from './content-hash';
import { followProgress, imageExists } from './docker-progress';
import { LABEL_MANAGED } from './labels';
import { ensureNodeBaseImage, type BuiltImage } from './node-base-image';
import { packEntries, type TarEntry } from './tar-entries';
import { ADDON_PATH, REPO_ROOT } from './repo-paths';

export const SERVER_REPOSITORY = 'forklab-server';
export type ImageSource = 'local' | 'registry';

const LOCAL_DOCKERFILE = 'docker/server-local.Dockerfile';
const REGISTRY_DOCKERFILE = 'docker/Dockerfile';

export interface ServerImageOptions {
  /** Default: FORKLAB_IMAGE_SOURCE, else `local`. */
  source?: ImageSource;
  repoRoot?: string;
  /** Progress lines of the build (the `stream` field of the engine's answer). */
  onProgress?: (line: string) => void;
}

export interface ServerImage extends BuiltImage {
  source: ImageSource;
  /** The base it was built on (local source only). */
  base?: BuiltImage;
  /** Files in the build context. */
  files: number;
}

export function imageSourceFromEnv(env: NodeJS.ProcessEnv = process.env): ImageSource {
  const v = env.FORKLAB_IMAGE_SOURCE;
  if (v === undefined || v === '' || v === 'local') return 'local';
  if (v === 'registry') return 'registry';
  throw new Error(`forklab: FORKLAB_IMAGE_SOURCE must be "local" or "registry", not "${v}"`);
}

/** Files and symlinks under `rel` (relative to root), as context entries under `prefix`. */
function walk(
  root: string,
  rel: string,
  prefix: string,
  out: TarEntry[],
  skip: (rel: string) => boolean,
): void {
  const abs = path.join(root, rel);
  const st = lstatSync(abs);
  if (skip(rel)) return;
  if (st.isSymbolicLink()) {
    out.push({ type: 'symlink', name: path.posix.join(prefix, rel), target: readlinkSync(abs) });
  } else if (st.isDirectory()) {
    out.push({ type: 'dir', name: path.posix.join(prefix, rel), mode: 0o755 });
    for (const name of readdirSync(abs).sort())
      walk(root, path.posix.join(rel, name), prefix, out, skip);
  } else if (st.isFile()) {
    // Readable by the unprivileged user whatever the checkout's umask was.
    const mode = st.mode & 0o111 ? 0o755 : 0o644;
    out.push({ type: 'file', name: path.posix.join(prefix, rel), mode, source: abs });
  }
}

interface LockPackage {
  dev?: boolean;
  link?: boolean;
}

/**
 * The installed packages a production install would have: node_modules/.package-lock.json (what
 * npm actually installed) or package-lock.json, minus the ones flagged `dev`.
 */
export function productionPackages(repoRoot: string): string[] {
  const lockFile = [
    path.join(repoRoot, 'node_modules', '.package-lock.json'),
    path.join(repoRoot, 'package-lock.json'),
  ].find((f) => existsSync(f));
  if (!lockFile) throw new Error(`forklab: no package-lock.json in ${repoRoot}`);
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as {
    packages?: Record<string, LockPackage>;
  };
  return Object.entries(lock.packages ?? {})
    .filter(([key, p]) => key.startsWith('node_modules/') && !p.dev && !p.link)
    .map(([key]) => key)
    .filter((key) => existsSync(path.join(repoRoot, key)))
    .sort();
}

/**
 * Files of packages that Node.js never loads: type declarations, documentation and the
 * prebuilt addons for the Bare runtime (tar-fs's optional bare-* packages). About a quarter of the
 * files and 11 MB less to send, hash and copy.
 */
const NOT_AT_RUNTIME = /\.(d\.[cm]?ts|md|markdown|bare)$/i;

/**
 * The context of docker/server-local.Dockerfile: `deps/` (the addon and the production
 * node_modules: a layer the builder reuses while they are unchanged) and `app/` (the code).
 */
export function localContextEntries(repoRoot: string): TarEntry[] {
  if (!existsSync(path.join(repoRoot, ADDON_PATH))) {
    throw new Error(
      `forklab: ${ADDON_PATH} is missing; build the native engine first (npm run build:native)`,
    );
  }
  const noSkip = (): boolean => false;
  const out: TarEntry[] = [{ type: 'dir', name: 'deps', mode: 0o755 }];
  out.push(
    { type: 'dir', name: 'deps/build', mode: 0o755 },
    { type: 'dir', name: 'deps/build/Release', mode: 0o755 },
  );
  walk(repoRoot, ADDON_PATH, 'deps', out, noSkip);
  out.push({ type: 'dir', name: 'deps/node_modules', mode: 0o755 });
  const made = new Set<string>(['node_modules']);
  for (const pkg of productionPackages(repoRoot)) {
    // Parent directories of scoped and nested packages (node_modules/@scope, a/node_modules).
    const parts = pkg.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!made.has(dir)) {
        made.add(dir);
        out.push({ type: 'dir', name: `deps/${dir}`, mode: 0o755 });
      }
    }
    made.add(pkg);
    // Nested node_modules are packages of their own, listed (or not, when dev-only) in the lock.
    walk(
      repoRoot,
      pkg,
      'deps',
      out,
      (rel) => rel === `${pkg}/node_modules` || NOT_AT_RUNTIME.test(rel),
    );
  }

  out.push({ type: 'dir', name: 'app', mode: 0o755 });
  for (const f of ['package.json', 'tsconfig.json']) {
    if (existsSync(path.join(repoRoot, f))) walk(repoRoot, f, 'app', out, noSkip);
  }
  // servers/: the adapters of real servers (nginx's runs in forklab-nginx, on this image's /app).
  for (const d of ['bin', 'lab', 'scenarios', 'servers']) {
    if (existsSync(path.join(repoRoot, d))) walk(repoRoot, d, 'app', out, noSkip);
  }
  return out;
}

/** What docker/Dockerfile copies: sources only, the addon and node_modules are built inside. */
export function registryContextEntries(repoRoot: string): TarEntry[] {
  const out: TarEntry[] = [];
  const noSkip = (): boolean => false;
  for (const f of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'binding.gyp',
    REGISTRY_DOCKERFILE,
  ]) {
    if (existsSync(path.join(repoRoot, f))) {
      if (f.includes('/')) out.push({ type: 'dir', name: path.posix.dirname(f), mode: 0o755 });
      walk(repoRoot, f, '', out, noSkip);
    }
  }
  for (const d of ['bin', 'lab', 'native', 'scripts', 'patches', 'scenarios', 'servers']) {
    if (existsSync(path.join(repoRoot, d))) walk(repoRoot, d, '', out, noSkip);
  }
  return out;
}

/** Returns the tag of the server image, building it first when no image has that tag. */
export async function ensureServerImage(
  docker: Docker,
  opts: ServerImageOptions = {},
): Promise<ServerImage> {
  const t0 = performance.now();
  const source = opts.source ?? imageSourceFromEnv();
  const repoRoot = opts.repoRoot ?? REPO_ROOT;

  let base: BuiltImage | undefined;
  let entries: TarEntry[];
  let dockerfile: string;
  const buildargs: Record<string, string> = {};
  if (source === 'local') {
    base = await ensureNodeBaseImage(docker, {
      alsoLibrariesOf: [path.join(repoRoot, ADDON_PATH)],
    });
    entries = localContextEntries(repoRoot);
    entries.push({
      type: 'file',
      name: 'Dockerfile',
      content: readFileSync(path.join(repoRoot, LOCAL_DOCKERFILE)),
    });
    dockerfile = 'Dockerfile';
    buildargs.BASE_IMAGE = base.tag;
  } else {
    entries = registryContextEntries(repoRoot);
    dockerfile = REGISTRY_DOCKERFILE;
  }
  const hash = await hashEntries(entries, `server/${source}/${base?.tag ?? ''}`);
  const tag = `${SERVER_REPOSITORY}:${hash.slice(0, 12)}`;
  if (await imageExists(docker, tag)) {
    return { tag, built: false, ms: performance.now() - t0, source, base, files: entries.length };
  }

  const answer = await docker.buildImage(packEntries(entries), {
    t: tag,
    dockerfile,
    buildargs,
    // docker/server-local.Dockerfile has its labels (one step fewer); docker/Dockerfile gets them here.
    labels:
      source === 'registry' ? { [LABEL_MANAGED]: 'true', 'forklab.image-source': source } : {},
    rm: true,
    forcerm: true,
    // The classic builder: BuildKit (version 2) is not installed everywhere.
    version: '1',
  });
  try {
    await followProgress(docker, answer, (e) => {
      if (e.stream && opts.onProgress) opts.onProgress(e.stream.trimEnd());
    });
  } catch (err) {
    const hint =
      source === 'registry'
        ? ' (FORKLAB_IMAGE_SOURCE=registry pulls node:20 images; without a registry leave it unset to build on a base assembled from this machine)'
        : '';
    throw new Error(
      `forklab: building ${tag} from ${source === 'registry' ? REGISTRY_DOCKERFILE : LOCAL_DOCKERFILE} failed${hint}: ${(err as Error).message}`,
    );
  }
  if (!(await imageExists(docker, tag)))
    throw new Error(`forklab: the build finished but ${tag} is missing`);
  return { tag, built: true, ms: performance.now() - t0, source, base, files: entries.length };
}

/**
 * Untags server images other than `keepTag` created more than `olderThanMs` ago (each code change
 * makes a new tag; they share the base and dependency layers, so each costs little, but they pile
 * up). Images still used by a container are kept (the engine refuses), and so are recent ones:
 * another lab process may be about to start containers from one.
 */
export function removeStaleServerImages(
  docker: Docker,
  keepTag: string,
  olderThanMs = 60 * 60 * 1000,
): Promise<string[]> {
  return removeStaleImages(docker, SERVER_REPOSITORY, keepTag, olderThanMs);
}

/**
 * The same for any repository of the lab's whose tags are content hashes (forklab-nginx, which
 * holds a copy of the lab's code and is rebuilt with every change of it).
 */
export async function removeStaleImages(
  docker: Docker,
  repository: string,
  keepTag: string,
  olderThanMs = 60 * 60 * 1000,
): Promise<string[]> {
  const images = await docker.listImages({ filters: { reference: [repository] } });
  const cutoff = (Date.now() - olderThanMs) / 1000;
  const removed: string[] = [];
  for (const img of images) {
    if (img.Created > cutoff) continue;
    for (const tag of img.RepoTags ?? []) {
      if (tag === keepTag || !tag.startsWith(`${repository}:`)) continue;
      try {
        await docker.getImage(tag).remove();
        removed.push(tag);
      } catch {
        // in use, or already gone
      }
    }
  }
  return removed;
}
