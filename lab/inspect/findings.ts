// Findings in plain words from the evidence: the mechanism the kernel shows and its consequence.
// `risk` is a set-up that misbehaves (shared instances), `cost` one that works but wastes
// (the accept herd), `info` what to expect.
import type { EpollInstance, Evidence, ListeningSocket } from './evidence';

export type Severity = 'risk' | 'cost' | 'info';

export interface Finding {
  severity: Severity;
  text: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function describePids(evidence: Evidence, pids: number[]): string {
  return pids
    .map((pid) => {
      const p = evidence.processes.find((x) => x.pid === pid);
      return p ? `${pid} (${p.name})` : String(pid);
    })
    .join(', ');
}

function sharedInstance(evidence: Evidence, x: EpollInstance): Finding[] {
  const sockets = x.watches.filter(
    (w) => w.kind === 'listening socket' || w.kind === 'tcp connection' || w.kind === 'socket',
  );
  const who = `epoll instance ${x.id} is shared by ${x.pids.length} processes (pids ${describePids(evidence, x.pids)})`;
  if (sockets.length === 0) {
    return [
      {
        severity: 'info',
        text: `${who}, inherited across fork, but watches no socket now: whatever one of them registers later is seen by all.`,
      },
    ];
  }
  const out: Finding[] = [
    {
      severity: 'risk',
      text:
        `${who}: it was created before fork and inherited. Workers forked from one parent give ` +
        `their connections the same fd numbers, so an event for one worker's connection can reach ` +
        `another — Tornado 4 raises KeyError at self._handlers[fd], asyncio skips the unknown fd and ` +
        `spins; level-triggered events are re-delivered until the owner reads them.`,
    },
  ];
  const edge = x.watches.filter((w) => w.kind === 'tcp connection' && w.trigger === 'edge');
  if (edge.length > 0) {
    out.push({
      severity: 'risk',
      text:
        `${plural(edge.length, 'edge-triggered connection')} in shared instance ${x.id}: a misrouted ` +
        `event is the only notification, the owner never hears of the data and the connection hangs.`,
    });
  }
  return out;
}

function listenerFindings(evidence: Evidence, l: ListeningSocket): Finding[] {
  const instances = [...new Set(l.watchedBy.map((w) => w.instance))];
  const n = instances.length;
  const plain = l.watchedBy.filter((w) => !w.exclusive).length;
  const out: Finding[] = [];
  if (n === 0) {
    out.push({
      severity: 'info',
      text: `listening socket ${l.endpoint} (inode ${l.inode}) is held by pids ${describePids(evidence, l.heldBy)} but watched by no epoll instance: it is accepted some other way (or not yet).`,
    });
  } else if (n === 1) {
    const x = evidence.instances.find((i) => i.id === instances[0])!;
    const inGroup = evidence.reuseportGroups.some((g) => g.inodes.includes(l.inode));
    if (x.pids.length === 1 && !inGroup) {
      out.push({
        severity: 'info',
        text: `listening socket ${l.endpoint} is watched by one epoll instance (${x.id}, pid ${describePids(evidence, x.pids)}): one process takes every new connection, no herd.`,
      });
    }
  } else if (plain === 0) {
    out.push({
      severity: 'info',
      text: `listening socket ${l.endpoint} is watched by ${n} epoll instances, all with EPOLLEXCLUSIVE: one wake-up per connection, no herd; expect the first idle worker to take most connections.`,
    });
  } else {
    const wakeups = plain + (plain < l.watchedBy.length ? 1 : 0);
    out.push({
      severity: 'cost',
      text:
        `listening socket ${l.endpoint} is watched by ${n} epoll instances, ${plain} without EPOLLEXCLUSIVE: ` +
        `up to ${wakeups} wake-ups per connection (accept thundering herd); the cost shows as ` +
        `voluntary context switches, far more than as accept EAGAIN.`,
    });
  }
  if (l.acceptQueue > 0) {
    // The kernel drops when sk_ack_backlog > sk_max_ack_backlog (sk_acceptq_is_full).
    const full = l.backlog !== null && l.acceptQueue > l.backlog;
    out.push({
      severity: full ? 'cost' : 'info',
      text: `listening socket ${l.endpoint}: ${plural(l.acceptQueue, 'connection')} waiting in the accept queue (backlog ${l.backlog ?? 'unknown'})${full ? ': the queue is full, new connections are dropped' : ''}.`,
    });
  }
  return out;
}

/** Every finding, risks first. */
export function findingsOf(evidence: Evidence): Finding[] {
  const out: Finding[] = [];
  for (const x of evidence.instances)
    if (x.pids.length > 1) out.push(...sharedInstance(evidence, x));
  // The lab's own ports (metrics, nginx's stub_status) are not under load: no findings of theirs.
  for (const l of evidence.listeners)
    if (l.role !== 'adapter') out.push(...listenerFindings(evidence, l));
  for (const g of evidence.reuseportGroups) {
    const members = evidence.listeners.filter((l) => g.inodes.includes(l.inode));
    const watchers = members.map((l) => new Set(l.watchedBy.map((w) => w.instance)).size);
    const each = watchers.every((n) => n === 1) ? ', each watched by one epoll instance' : '';
    out.push({
      severity: 'info',
      text: `SO_REUSEPORT group of ${g.inodes.length} listening sockets on ${g.endpoint}${each}: the kernel spreads new connections over them by hash, no herd between them.`,
    });
    const idle = members.filter((l) => l.watchedBy.length === 0);
    if (idle.length > 0) {
      out.push({
        severity: 'cost',
        text: `${plural(idle.length, 'socket')} of the SO_REUSEPORT group on ${g.endpoint} ${idle.length === 1 ? 'is' : 'are'} watched by no epoll instance: connections hashed to ${idle.length === 1 ? 'it' : 'them'} wait in ${idle.length === 1 ? 'its' : 'their'} accept queue unless something accepts there another way.`,
      });
    }
  }
  if (!evidence.sharingKnown) {
    out.push({
      severity: 'info',
      text: `could not tell whether processes share epoll instances (${evidence.kcmp.available ? evidence.unseen.join('; ') : `kcmp unavailable: ${evidence.kcmp.reason}`}); each epoll fd is listed as its own instance.`,
    });
  }
  const rank: Record<Severity, number> = { risk: 0, cost: 1, info: 2 };
  return out.sort((a, b) => rank[a.severity] - rank[b.severity]);
}

/** 2: could not inspect (sharing unknown); 1: a risk (or a cost with `strict`); 0: nothing risky. */
export function exitCodeOf(evidence: Evidence, findings: Finding[], strict = false): 0 | 1 | 2 {
  if (!evidence.sharingKnown) return 2;
  if (findings.some((f) => f.severity === 'risk' || (strict && f.severity === 'cost'))) return 1;
  return 0;
}
