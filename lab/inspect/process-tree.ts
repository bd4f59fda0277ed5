// The processes under a pid, from /proc/<pid>/stat: pid, parent, name. Threads are not processes
// here: they share their process's fd table, so they hold the same epoll instances.
import { readdir, readFile } from 'node:fs/promises';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** `comm`, the short name the kernel keeps (e.g. `nginx`, `node`). */
  name: string;
  /** The command line, arguments joined by spaces (empty for kernel threads or when unreadable). */
  cmdline: string;
}

/** pid, ppid and comm from a /proc/<pid>/stat line (comm may hold spaces and parentheses). */
export function parseStat(text: string): { pid: number; ppid: number; name: string } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  return {
    pid: Number(text.slice(0, open).trim()),
    ppid: Number(rest[1]),
    name: text.slice(open + 1, close),
  };
}

async function readEntry(pid: number, procRoot: string): Promise<ProcessEntry | undefined> {
  try {
    const stat = parseStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8'));
    let cmdline = '';
    try {
      cmdline = (await readFile(`${procRoot}/${pid}/cmdline`, 'utf8'))
        .replace(/\0+$/, '')
        .replace(/\0/g, ' ');
    } catch {
      // gone meanwhile: the stat line is enough
    }
    return { ...stat, cmdline: cmdline.length > 200 ? `${cmdline.slice(0, 199)}…` : cmdline };
  } catch {
    return undefined;
  }
}

/** `root` and every descendant, parents before children; undefined when `root` does not exist. */
export async function readProcessTree(
  root: number,
  procRoot = '/proc',
): Promise<ProcessEntry[] | undefined> {
  const top = await readEntry(root, procRoot);
  if (!top) return undefined;
  const all: ProcessEntry[] = [];
  for (const name of await readdir(procRoot)) {
    if (!/^\d+$/.test(name) || Number(name) === root) continue;
    const e = await readEntry(Number(name), procRoot);
    if (e) all.push(e);
  }
  const children = new Map<number, ProcessEntry[]>();
  for (const e of all) children.set(e.ppid, [...(children.get(e.ppid) ?? []), e]);
  const out: ProcessEntry[] = [];
  const queue = [top];
  while (queue.length > 0) {
    const e = queue.shift()!;
    out.push(e);
    queue.push(...(children.get(e.pid) ?? []).sort((a, b) => a.pid - b.pid));
  }
  return out;
}
