// kcmp(KCMP_FILE) from the native addon: whether two fds of two processes are one open file.
// Node has no syscall binding; the addon exports one small function (native/kcmp.cc).
import { constants } from 'node:os';
import path from 'node:path';

/** `same`/`different`, or why the kernel would not say (errno name, e.g. EPERM, ESRCH, ENOSYS). */
export type KcmpResult = 'same' | 'different' | { error: string };

export type KcmpFile = (pid1: number, pid2: number, fd1: number, fd2: number) => KcmpResult;

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n, name]),
);

/** The kcmp function, or why it is unavailable (the addon is not built or predates kcmp). */
export function loadKcmp(): KcmpFile | { unavailable: string } {
  const file = path.resolve(__dirname, '..', '..', 'build', 'Release', 'forklab.node');
  let native: ((a: number, b: number, c: number, d: number) => number) | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    native = (require(file) as { kcmpFile?: typeof native }).kcmpFile;
  } catch (err) {
    return { unavailable: `the native addon did not load (${(err as Error).message})` };
  }
  if (typeof native !== 'function') {
    return { unavailable: 'the native addon has no kcmpFile; rebuild it: npm run build:native' };
  }
  const kcmp = native;
  return (pid1, pid2, fd1, fd2) => {
    const r = kcmp(pid1, pid2, fd1, fd2);
    if (r === 0) return 'same';
    if (r > 0) return 'different';
    return { error: ERRNO_NAMES.get(-r) ?? `errno ${-r}` };
  };
}
