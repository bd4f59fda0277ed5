// Why a file under /proc could not be read, in words: the process is gone, or we may not look.
export type Unseen = 'process gone' | 'permission denied' | string;

/** Turns an fs error from /proc into the reason a person can act on. */
export function procErrorReason(err: unknown): Unseen {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return 'process gone';
  if (code === 'EACCES' || code === 'EPERM') {
    return 'permission denied (run as root or with CAP_SYS_PTRACE)';
  }
  return (err as Error).message;
}
