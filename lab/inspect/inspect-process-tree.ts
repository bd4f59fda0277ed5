// Gathers the evidence for a process tree: its processes, their epoll instances (told apart by
// kcmp), what each instance watches, and the listening sockets with their reuseport groups.
import { readFile } from 'node:fs/promises';
import { loadKcmp, type KcmpFile } from '../native/kcmp';
import {
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLONESHOT,
  epollFlagNames,
  hasBit,
  parseEpollFdinfo,
  type EpollItem,
} from './epoll-fdinfo';
import { readEpollWaits } from './epoll-waiters';
import { readListenBacklogs } from './listen-backlog';
import type {
  EpollInstance,
  Evidence,
  Holder,
  InspectedProcess,
  ListeningSocket,
  ReuseportGroup,
  SocketRole,
  Watch,
  WatchKind,
} from './evidence';
import { procErrorReason } from './inspect-error';
import { endpoint, parseNetTcp, TCP_LISTEN, type TcpSocket } from './net-tcp';
import { readProcFds, type ProcFd } from './proc-fds';
import { readProcessTree } from './process-tree';

export interface InspectOptions {
  procRoot?: string;
  /** The server's port(s) and the adapter's: labels the listening sockets (SocketRole). */
  ports?: { server?: readonly number[]; adapter?: readonly number[] };
  /** Defaults to the native addon's kcmp; tests may pass another. */
  kcmp?: KcmpFile | { unavailable: string };
}

/** Thrown when the root process itself cannot be inspected (exit code 2). */
export class CannotInspect extends Error {}

async function readTcpTables(
  pid: number,
  procRoot: string,
  unseen: string[],
): Promise<TcpSocket[]> {
  const out: TcpSocket[] = [];
  for (const [file, family] of [
    ['tcp', 4],
    ['tcp6', 6],
  ] as const) {
    try {
      out.push(...parseNetTcp(await readFile(`${procRoot}/${pid}/net/${file}`, 'utf8'), family));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // No IPv6 in the namespace: no tcp6 file, nothing to miss.
      if (!(file === 'tcp6' && code === 'ENOENT')) {
        unseen.push(`/proc/${pid}/net/${file}: ${procErrorReason(err)}`);
      }
    }
  }
  return out;
}

/**
 * Puts epoll fds into instances: two fds are one instance exactly when kcmp says `same`.
 * `failed` counts the comparisons the kernel refused, except for processes gone meanwhile.
 */
function groupInstances(
  fds: Holder[],
  kcmp: KcmpFile | undefined,
  unseen: string[],
): { groups: Holder[][]; failed: number } {
  const groups: Holder[][] = [];
  let failed = 0;
  for (const h of fds) {
    let home: Holder[] | undefined;
    if (kcmp) {
      for (const g of groups) {
        const r = kcmp(g[0]!.pid, h.pid, g[0]!.fd, h.fd);
        if (r === 'same') {
          home = g;
          break;
        }
        if (r !== 'different') {
          if (r.error !== 'ESRCH') failed++;
          unseen.push(
            `kcmp(${g[0]!.pid}, ${h.pid}, KCMP_FILE, ${g[0]!.fd}, ${h.fd}) failed: ${r.error}` +
              (r.error === 'ESRCH'
                ? ' (process gone)'
                : r.error === 'EPERM'
                  ? ' (needs root or CAP_SYS_PTRACE)'
                  : ''),
          );
        }
      }
    }
    if (home) home.push(h);
    else groups.push([h]);
  }
  return { groups, failed };
}

function watchKind(
  item: EpollItem,
  holders: Holder[],
  fdsByPid: Map<number, ProcFd[]>,
  byInode: Map<number, ProcFd>,
  tcp: Map<number, TcpSocket>,
): WatchKind {
  const sock = tcp.get(item.ino);
  if (sock) return sock.state === TCP_LISTEN ? 'listening socket' : 'tcp connection';
  const held = byInode.get(item.ino);
  if (held) return held.kind === 'socket' ? 'socket' : held.kind === 'pipe' ? 'pipe' : 'unknown';
  // Anonymous inodes (eventfd, timerfd, another epoll) all share one inode number: name them by
  // the fd the registering process has at that number.
  for (const h of holders) {
    const f = fdsByPid.get(h.pid)?.find((x) => x.fd === item.tfd);
    if (f && f.inode === undefined) {
      if (f.kind === 'file') return 'file';
      if (f.kind !== 'other' && f.kind !== 'socket' && f.kind !== 'pipe') return f.kind;
    }
  }
  return 'unknown';
}

function roleOf(port: number, ports: InspectOptions['ports']): { role?: SocketRole } {
  if (ports?.server?.includes(port)) return { role: 'server' };
  if (ports?.adapter?.includes(port)) return { role: 'adapter' };
  return {};
}

/** Inspects `rootPid` and every process under it. Throws CannotInspect when the root is unreadable. */
export async function inspectProcessTree(
  rootPid: number,
  options: InspectOptions = {},
): Promise<Evidence> {
  const procRoot = options.procRoot ?? '/proc';
  const unseen: string[] = [];
  const tree = await readProcessTree(rootPid, procRoot);
  if (!tree)
    throw new CannotInspect(`process ${rootPid}: process gone (no ${procRoot}/${rootPid})`);

  const loaded = options.kcmp ?? loadKcmp();
  const kcmp = typeof loaded === 'function' ? loaded : undefined;

  const processes: InspectedProcess[] = [];
  const fdsByPid = new Map<number, ProcFd[]>();
  let unreadable = 0;
  for (const p of tree) {
    const entry: InspectedProcess = { ...p, epollFds: [], waitingOn: [] };
    try {
      const fds = await readProcFds(p.pid, procRoot);
      fdsByPid.set(p.pid, fds);
      entry.epollFds = fds.filter((f) => f.kind === 'eventpoll').map((f) => f.fd);
      entry.waitingOn = await readEpollWaits(p.pid, procRoot);
    } catch (err) {
      entry.unseen = `fd table: ${procErrorReason(err)}`;
      unseen.push(`process ${p.pid} (${p.name}): ${entry.unseen}`);
      if (p.pid === rootPid) throw new CannotInspect(`process ${rootPid}: ${entry.unseen}`);
      if (procErrorReason(err) !== 'process gone') unreadable++;
    }
    processes.push(entry);
  }

  const byInode = new Map<number, ProcFd>();
  for (const fds of fdsByPid.values())
    for (const f of fds) if (f.inode !== undefined) byInode.set(f.inode, f);
  const tcpAll = await readTcpTables(rootPid, procRoot, unseen);
  const tcp = new Map(tcpAll.map((s) => [s.inode, s]));

  const epfds = processes.flatMap((p) => p.epollFds.map((fd) => ({ pid: p.pid, fd })));
  const kcmpState: Evidence['kcmp'] = kcmp
    ? { available: true }
    : { available: false, reason: (loaded as { unavailable: string }).unavailable };
  if (!kcmp && new Set(epfds.map((h) => h.pid)).size > 1) {
    unseen.push(
      `whether processes share epoll instances: kcmp unavailable (${kcmpState.available ? '' : kcmpState.reason})`,
    );
  }
  const { groups, failed } = groupInstances(epfds, kcmp, unseen);
  // Unknown when a process's fds could not be read, or when kcmp could not compare them.
  const sharingKnown =
    unreadable === 0 &&
    (new Set(epfds.map((h) => h.pid)).size <= 1 || (kcmp !== undefined && failed === 0));

  const instances: EpollInstance[] = [];
  for (const [i, holders] of groups.entries()) {
    let items: EpollItem[] | undefined;
    for (const h of holders) {
      try {
        items = parseEpollFdinfo(await readFile(`${procRoot}/${h.pid}/fdinfo/${h.fd}`, 'utf8'));
        break;
      } catch (err) {
        unseen.push(`what epoll fd ${h.fd} of process ${h.pid} watches: ${procErrorReason(err)}`);
      }
    }
    const sortedItems = [...(items ?? [])].sort((a, b) => a.tfd - b.tfd);
    const watches: Watch[] = sortedItems.map((item) => {
      const sock = tcp.get(item.ino);
      const w: Watch = {
        tfd: item.tfd,
        kind: watchKind(item, holders, fdsByPid, byInode, tcp),
        events: (item.events >>> 0).toString(16),
        flags: epollFlagNames(item.events),
        trigger: hasBit(item.events, EPOLLET) ? 'edge' : 'level',
        exclusive: hasBit(item.events, EPOLLEXCLUSIVE),
        oneshot: hasBit(item.events, EPOLLONESHOT),
        ino: item.ino,
      };
      if (sock) {
        w.local = endpoint(sock);
        if (sock.state !== TCP_LISTEN) w.remote = sock.remote;
      }
      return w;
    });
    const pids = [...new Set(holders.map((h) => h.pid))];
    const waiters = processes
      .filter((p) => holders.some((h) => h.pid === p.pid && p.waitingOn.includes(h.fd)))
      .map((p) => p.pid);
    instances.push({ id: `E${i + 1}`, holders, pids, waiters, watches });
  }

  const heldInodes = new Map<number, number[]>();
  for (const [pid, fds] of fdsByPid) {
    for (const f of fds) {
      if (f.kind !== 'socket' || f.inode === undefined) continue;
      const held = heldInodes.get(f.inode) ?? [];
      if (!held.includes(pid)) held.push(pid);
      heldInodes.set(f.inode, held);
    }
  }
  const listeners: ListeningSocket[] = tcpAll
    .filter((s) => s.state === TCP_LISTEN && heldInodes.has(s.inode))
    .map((s) => ({
      inode: s.inode,
      endpoint: endpoint(s),
      port: s.port,
      ...roleOf(s.port, options.ports),
      backlog: null,
      acceptQueue: s.rxQueue,
      heldBy: heldInodes.get(s.inode)!,
      watchedBy: instances.flatMap((x) =>
        x.watches
          .filter((w) => w.ino === s.inode)
          .map((w) => ({ instance: x.id, exclusive: w.exclusive, trigger: w.trigger })),
      ),
    }));

  const backlogs =
    listeners.length > 0 ? await readListenBacklogs(rootPid, procRoot) : new Map<number, number>();
  if (backlogs instanceof Map) {
    for (const l of listeners) l.backlog = backlogs.get(l.inode) ?? null;
  } else {
    unseen.push(`listening sockets' backlogs: ${backlogs.unavailable}`);
  }

  const reuseportGroups: ReuseportGroup[] = [];
  // An adapter's port is one socket of the lab's; never a group of the server's.
  for (const ep of new Set(listeners.filter((l) => l.role !== 'adapter').map((l) => l.endpoint))) {
    const inodes = tcpAll
      .filter((s) => s.state === TCP_LISTEN && endpoint(s) === ep)
      .map((s) => s.inode);
    if (inodes.length > 1) reuseportGroups.push({ endpoint: ep, inodes });
  }

  return {
    rootPid,
    inspectedAt: new Date().toISOString(),
    processes,
    kcmp: kcmpState,
    sharingKnown,
    instances,
    listeners,
    reuseportGroups,
    unseen,
  };
}
