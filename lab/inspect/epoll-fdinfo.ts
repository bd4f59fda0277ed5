// What one epoll instance watches, from /proc/<pid>/fdinfo/<epfd>: one `tfd:` line per registered
// file, written by the kernel's ep_show_fdinfo():
//   tfd:        5 events: 10000019 data:                5  pos:0 ino:5cf9bf sdev:8
// `events` is the registration's mask (hex), `ino` the watched file's inode (hex).

/** The bits of an epoll registration mask (include/uapi/linux/eventpoll.h). */
export const EPOLL_BITS: readonly (readonly [string, number])[] = [
  ['EPOLLIN', 0x1],
  ['EPOLLPRI', 0x2],
  ['EPOLLOUT', 0x4],
  ['EPOLLERR', 0x8],
  ['EPOLLHUP', 0x10],
  ['EPOLLRDNORM', 0x40],
  ['EPOLLRDBAND', 0x80],
  ['EPOLLWRNORM', 0x100],
  ['EPOLLWRBAND', 0x200],
  ['EPOLLMSG', 0x400],
  ['EPOLLRDHUP', 0x2000],
  ['EPOLLEXCLUSIVE', 0x10000000],
  ['EPOLLWAKEUP', 0x20000000],
  ['EPOLLONESHOT', 0x40000000],
  ['EPOLLET', 0x80000000],
];
export const EPOLLEXCLUSIVE = 0x10000000;
export const EPOLLONESHOT = 0x40000000;
export const EPOLLET = 0x80000000;

export interface EpollItem {
  /** The watched fd's number in the process that registered it. */
  tfd: number;
  /** The registration mask. */
  events: number;
  /** The watched file's inode. */
  ino: number;
}

/** Parses an eventpoll fdinfo file; lines that are not `tfd:` lines (pos, flags, mnt_id) are skipped. */
export function parseEpollFdinfo(text: string): EpollItem[] {
  const items: EpollItem[] = [];
  for (const line of text.split('\n')) {
    const m = /^tfd:\s*(\d+)\s+events:\s*([0-9a-f]+)\b.*?\bino:([0-9a-f]+)/.exec(line);
    if (m) items.push({ tfd: Number(m[1]), events: parseInt(m[2]!, 16), ino: parseInt(m[3]!, 16) });
  }
  return items;
}

/** The names of the bits set in a mask, e.g. `['EPOLLIN', 'EPOLLEXCLUSIVE']`; unknown bits as hex. */
export function epollFlagNames(events: number): string[] {
  const names: string[] = [];
  let rest = events >>> 0;
  for (const [name, bit] of EPOLL_BITS) {
    if ((events & bit) >>> 0 === bit) {
      names.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names;
}

export const hasBit = (events: number, bit: number): boolean => (events & bit) >>> 0 === bit;
