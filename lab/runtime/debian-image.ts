// Real Debian images of the real servers, built on this machine with no registry:
//
// - `forklab-debian:<hash12>`: a minimal bookworm root holding Debian's python3-tornado and
//   nginx-light, built by `mmdebstrap` from this machine's own apt sources (the files in
//   /etc/apt/sources.list.d/, passed as they are: no mirror is named anywhere in the lab) and loaded
//   with `docker import`. mmdebstrap's output is not byte-for-byte reproducible, so the tag hashes
//   its inputs: the suite, the packages, the sources' contents and the versions apt would install
//   now (`apt-cache policy`). Built once per machine (about a minute), reused after that.
// - `forklab-tornado:<hash12>`: that root plus servers/tornado/ (the app), built through the
//   engine's API; the hash covers the base and every file of the app.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { hashEntries } from './content-hash';
import { followProgress, imageExists } from './docker-progress';
import { LABEL_MANAGED } from './labels';
import type { BuiltImage } from './node-base-image';
import { REPO_ROOT } from './repo-paths';
import { packEntries, type TarEntry } from './tar-entries';

const execFileP = promisify(execFile);

export const DEBIAN_REPOSITORY = 'forklab-debian';
export const TORNADO_REPOSITORY = 'forklab-tornado';
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_PACKAGES = ['python3-tornado', 'nginx-light'] as const;
export const APT_SOURCES_DIR = '/etc/apt/sources.list.d';
/** Where the app lives in forklab-tornado images. */
export const TORNADO_APP_DIR = '/opt/forklab/tornado';
/** Bump when the way the root is built changes, so old images are not reused. */
const LAYOUT_VERSION = 'debian/1';
/** mmdebstrap took 48 s on an idle machine here and 8 min on a busy one (2 cores shared). */
const MMDEBSTRAP_TIMEOUT_MS = 20 * 60_000;

export interface DebianImageOptions {
  /** Default /etc/apt/sources.list.d. */
  sourcesDir?: string;
  onProgress?: (line: string) => void;
}

/** The apt source files mmdebstrap is given: every *.sources and *.list, sorted by name. */
export function aptSourceFiles(dir = APT_SOURCES_DIR): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  const files = names
    .filter((n) => n.endsWith('.sources') || n.endsWith('.list'))
    .sort()
    .map((n) => path.join(dir, n));
  if (files.length === 0)
    throw new Error(
      `forklab: no apt sources in ${dir} (*.sources or *.list): the Debian image is built from this machine's apt sources`,
    );
  return files;
}

/** The version apt would install of each package now (`apt-cache policy`, Candidate). */
export async function candidateVersions(
  packages: readonly string[],
): Promise<Record<string, string>> {
  const { stdout } = await execFileP('apt-cache', ['policy', ...packages]);
  const out: Record<string, string> = {};
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) current = pkg[1];
    const cand = /^\s+Candidate:\s*(\S+)/.exec(line);
    if (cand && current) out[current] = cand[1]!;
  }
  for (const p of packages) {
    if (!out[p] || out[p] === '(none)')
      throw new Error(`forklab: apt has no candidate for ${p} (run apt-get update)`);
  }
  return out;
}

/** The tag of the Debian root for these sources and the versions apt offers now. */
export async function debianImageTag(sourcesDir = APT_SOURCES_DIR): Promise<string> {
  const h = createHash('sha256').update(`${LAYOUT_VERSION}\n${DEBIAN_SUITE}\n`);
  for (const f of aptSourceFiles(sourcesDir)) h.update(`${f}\n`).update(readFileSync(f));
  const versions = await candidateVersions(DEBIAN_PACKAGES);
  for (const p of DEBIAN_PACKAGES) h.update(`\n${p}=${versions[p]}`);
  return `${DEBIAN_REPOSITORY}:${h.digest('hex').slice(0, 12)}`;
}

/** Returns the tag of the Debian root, building and importing it first when it is missing. */
export async function ensureDebianImage(
  docker: Docker,
  opts: DebianImageOptions = {},
): Promise<BuiltImage> {
  const t0 = performance.now();
  const sourcesDir = opts.sourcesDir ?? APT_SOURCES_DIR;
  const tag = await debianImageTag(sourcesDir);
  if (await imageExists(docker, tag)) return { tag, built: false, ms: performance.now() - t0 };

  const dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-debian-'));
  try {
    const tar = path.join(dir, 'root.tar');
    opts.onProgress?.(`forklab: building ${tag} with mmdebstrap (about a minute, once)`);
    try {
      await execFileP(
        'mmdebstrap',
        [
          '--variant=apt',
          '--format=tar',
          `--include=${DEBIAN_PACKAGES.join(',')}`,
          DEBIAN_SUITE,
          tar,
          ...aptSourceFiles(sourcesDir),
        ],
        { timeout: MMDEBSTRAP_TIMEOUT_MS, maxBuffer: 16 << 20 },
      );
    } catch (err) {
      const e = err as { code?: string; stderr?: string; killed?: boolean };
      if (e.code === 'ENOENT')
        throw new Error('forklab: mmdebstrap not found (Debian: apt-get install mmdebstrap)');
      const why = e.killed
        ? `timed out after ${MMDEBSTRAP_TIMEOUT_MS / 1000} s`
        : (e.stderr ?? '').trim().split('\n').slice(-5).join(' | ');
      throw new Error(`forklab: mmdebstrap failed building ${tag}: ${why}`);
    }
    const [repo, version] = tag.split(':') as [string, string];
    const answer = await docker.importImage(createReadStream(tar), {
      repo,
      tag: version,
      changes: [
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `LABEL ${LABEL_MANAGED}=true`,
      ],
    });
    await followProgress(docker, answer);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!(await imageExists(docker, tag)))
    throw new Error(`forklab: docker import finished but ${tag} is missing`);
  return { tag, built: true, ms: performance.now() - t0 };
}

/** The build context of the Tornado image: a Dockerfile and servers/tornado/*.py. */
export function tornadoContextEntries(baseTag: string, repoRoot = REPO_ROOT): TarEntry[] {
  const appDir = path.join(repoRoot, 'servers', 'tornado');
  const files = readdirSync(appDir)
    .filter((n) => n.endsWith('.py'))
    .sort();
  const dockerfile = [
    `FROM ${baseTag}`,
    `COPY tornado ${TORNADO_APP_DIR}`,
    `LABEL ${LABEL_MANAGED}=true`,
    `ENTRYPOINT ["/usr/bin/python3", "${TORNADO_APP_DIR}/app.py"]`,
    '',
  ].join('\n');
  return [
    { type: 'file', name: 'Dockerfile', content: dockerfile },
    { type: 'dir', name: 'tornado', mode: 0o755 },
    ...files.map((n): TarEntry => ({
      type: 'file',
      name: `tornado/${n}`,
      mode: 0o644,
      source: path.join(appDir, n),
    })),
  ];
}

/** The Tornado image (Debian root + the app), built when missing. */
export async function ensureTornadoImage(
  docker: Docker,
  opts: DebianImageOptions & { repoRoot?: string } = {},
): Promise<BuiltImage & { base: BuiltImage }> {
  const t0 = performance.now();
  const base = await ensureDebianImage(docker, opts);
  const entries = tornadoContextEntries(base.tag, opts.repoRoot);
  const hash = await hashEntries(entries, `tornado/${base.tag}`);
  const tag = `${TORNADO_REPOSITORY}:${hash.slice(0, 12)}`;
  if (await imageExists(docker, tag))
    return { tag, built: false, ms: performance.now() - t0, base };
  const answer = await docker.buildImage(packEntries(entries), {
    t: tag,
    rm: true,
    forcerm: true,
    version: '1',
  });
  await followProgress(docker, answer, (e) => {
    if (e.stream && opts.onProgress) opts.onProgress(e.stream.trimEnd());
  });
  if (!(await imageExists(docker, tag)))
    throw new Error(`forklab: the build finished but ${tag} is missing`);
  return { tag, built: true, ms: performance.now() - t0, base };
}
