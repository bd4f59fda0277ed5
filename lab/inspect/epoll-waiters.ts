// Which epoll fd each thread is blocked on right now, from /proc/<pid>/task/<tid>/syscall
// (`232 0x5 0x7ffd… …`: the syscall number, then its arguments; the first is the epoll fd).
// A snapshot: a busy thread shows `running` or another call.
import { readdir, readFile } from 'node:fs/promises';

/** epoll_wait, epoll_pwait and epoll_pwait2 per architecture (arch/<arch> syscall tables). */
const EPOLL_WAIT_SYSCALLS: Partial<Record<NodeJS.Architecture, readonly number[]>> = {
  x64: [232, 281, 441],
  arm64: [22, 441],
};

/** The epoll fd a /proc/.../syscall line is waiting on, or undefined. */
export function epollWaitFd(
  line: string,
  arch: NodeJS.Architecture = process.arch,
): number | undefined {
  const f = line.trim().split(' ');
  const nr = Number(f[0]);
  if (
    !Number.isInteger(nr) ||
    !(EPOLL_WAIT_SYSCALLS[arch] ?? []).includes(nr) ||
    f[1] === undefined
  ) {
    return undefined;
  }
  return parseInt(f[1], 16);
}

/** The epoll fds the threads of `pid` are blocked on (empty when unreadable or none). */
export async function readEpollWaits(pid: number, procRoot = '/proc'): Promise<number[]> {
  const fds = new Set<number>();
  let tids: string[];
  try {
    tids = await readdir(`${procRoot}/${pid}/task`);
  } catch {
    return [];
  }
  for (const tid of tids) {
    try {
      const fd = epollWaitFd(await readFile(`${procRoot}/${pid}/task/${tid}/syscall`, 'utf8'));
      if (fd !== undefined) fds.add(fd);
    } catch {
      // thread gone, or no permission: a snapshot can miss it
    }
  }
  return [...fds].sort((a, b) => a - b);
}
