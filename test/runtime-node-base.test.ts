// What goes into the no-registry Node.js base image (no engine needed): the node binary, every
// library ldd lists for it and for the addon, the loader, a minimal /etc and a sticky /tmp.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { nodeBaseEntries, sharedLibraries, SERVER_UID } from '../lab/runtime/node-base-image';
import { productionPackages } from '../lab/runtime/server-image';
import { ADDON_PATH, REPO_ROOT } from '../lab/runtime/repo-paths';

const addon = path.join(REPO_ROOT, ADDON_PATH);

test('ldd libraries of node include libc and the dynamic loader', async () => {
  const libs = await sharedLibraries(process.execPath);
  expect(libs.some((l) => /\/libc\.so\.6$/.test(l))).toBe(true);
  expect(libs.some((l) => /ld-linux.*\.so/.test(l))).toBe(true);
});

test('the base holds node, the libraries of node and the addon, /etc/passwd and /tmp', async () => {
  expect(existsSync(addon)).toBe(true);
  const entries = await nodeBaseEntries({ alsoLibrariesOf: [addon] });
  const byName = new Map(entries.map((e) => [e.name, e]));
  // What a path is in the image, following the image's own symlinks (/lib → usr/lib …).
  const resolve = (p: string, hops = 0): string | undefined => {
    expect(hops).toBeLessThan(20);
    const parts = p.split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = path.posix.join(cur, parts[i]!);
      const e = byName.get(next);
      if (!e) return undefined;
      if (e.type === 'symlink') {
        const target = path.posix.resolve(cur, e.target);
        return resolve(path.posix.join(target, ...parts.slice(i + 1)), hops + 1);
      }
      cur = next;
    }
    return byName.get(cur)?.type === 'file' ? cur : undefined;
  };
  for (const lib of [
    ...(await sharedLibraries(process.execPath)),
    ...(await sharedLibraries(addon)),
  ]) {
    expect([lib, resolve(lib)]).toEqual([lib, expect.any(String)]); // a file at the path the loader uses
  }
  expect(resolve('/usr/local/bin/node')).toBeDefined();
  const passwd = entries.find((e) => e.name === '/etc/passwd');
  expect(passwd && 'content' in passwd ? String(passwd.content) : '').toContain(
    `:${SERVER_UID}:${SERVER_UID}:`,
  );
  expect(entries.find((e) => e.name === '/tmp')).toEqual({
    type: 'dir',
    name: '/tmp',
    mode: 0o1777,
  });
  // Every entry's parent directory comes before it.
  const seen = new Set<string>(['/']);
  for (const e of entries) {
    expect(seen).toContain(path.posix.dirname(e.name));
    seen.add(e.name);
  }
});

test('production packages leave the dev tools out', () => {
  const pkgs = productionPackages(REPO_ROOT);
  expect(pkgs).toEqual(expect.arrayContaining(['node_modules/tsx', 'node_modules/dockerode']));
  expect(pkgs).not.toContain('node_modules/typescript');
  expect(pkgs).not.toContain('node_modules/jest');
});
