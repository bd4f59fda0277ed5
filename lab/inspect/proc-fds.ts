// A process's open files as /proc/<pid>/fd shows them: `socket:[123]`, `anon_inode:[eventpoll]`, …
import { readdir, readlink } from 'node:fs/promises';

export type FdKind =
  'eventpoll' | 'socket' | 'pipe' | 'eventfd' | 'timerfd' | 'signalfd' | 'file' | 'other';

export interface ProcFd {
  fd: number;
  /** The link as the kernel shows it, e.g. `socket:[5918]`. */
  target: string;
  kind: FdKind;
  /** For sockets and pipes: the inode in the link (matches /proc/net/tcp and fdinfo `ino:`). */
  inode?: number;
}

const ANON_KINDS: Record<string, FdKind> = {
  eventpoll: 'eventpoll',
  eventfd: 'eventfd',
  timerfd: 'timerfd',
  signalfd: 'signalfd',
};

/** Classifies one /proc/<pid>/fd link target. */
export function classifyFdTarget(target: string): { kind: FdKind; inode?: number } {
  const typed = /^(socket|pipe):\[(\d+)\]$/.exec(target);
  if (typed) return { kind: typed[1] as 'socket' | 'pipe', inode: Number(typed[2]) };
  const anon = /^anon_inode:\[?([a-z_]+)\]?$/.exec(target);
  if (anon) return { kind: ANON_KINDS[anon[1]!] ?? 'other' };
  if (target.startsWith('/')) return { kind: 'file' };
  return { kind: 'other' };
}

/** Every open fd of `pid`; fds closed while we read are skipped. Throws when the table is unreadable. */
export async function readProcFds(pid: number, procRoot = '/proc'): Promise<ProcFd[]> {
  const names = await readdir(`${procRoot}/${pid}/fd`);
  const out: ProcFd[] = [];
  for (const name of names) {
    let target: string;
    try {
      target = await readlink(`${procRoot}/${pid}/fd/${name}`);
    } catch {
      continue;
    }
    out.push({ fd: Number(name), target, ...classifyFdTarget(target) });
  }
  return out.sort((a, b) => a.fd - b.fd);
}
