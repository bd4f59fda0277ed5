// Findings for set-ups the real-process tests do not produce, on evidence written out by hand:
// a herd mixing exclusive and plain waiters, a full accept queue, a reuseport socket nobody
// watches, a shared instance that watches no socket yet.
import type { EpollInstance, Evidence, ListeningSocket } from '../lab/inspect/evidence';
import { exitCodeOf, findingsOf } from '../lab/inspect/findings';

const proc = (pid: number, ppid: number) => ({
  pid,
  ppid,
  name: 'srv',
  cmdline: 'srv',
  epollFds: [3],
  waitingOn: [],
});
const inst = (
  id: string,
  pids: number[],
  watches: EpollInstance['watches'] = [],
): EpollInstance => ({
  id,
  holders: pids.map((pid) => ({ pid, fd: 3 })),
  pids,
  waiters: [],
  watches,
});
const listener = (inode: number, over: Partial<ListeningSocket> = {}): ListeningSocket => ({
  inode,
  endpoint: '127.0.0.1:80',
  port: 80,
  backlog: 128,
  acceptQueue: 0,
  heldBy: [1],
  watchedBy: [],
  ...over,
});
const evidence = (over: Partial<Evidence>): Evidence => ({
  rootPid: 1,
  inspectedAt: '2026-01-01T00:00:00.000Z',
  processes: [proc(1, 0), proc(2, 1), proc(3, 1), proc(4, 1)],
  kcmp: { available: true },
  sharingKnown: true,
  instances: [],
  listeners: [],
  reuseportGroups: [],
  unseen: [],
  ...over,
});

describe('findings', () => {
  it('a herd with 2 plain waiters and 1 exclusive: up to 3 wake-ups (every plain one, one exclusive)', () => {
    const e = evidence({
      instances: [inst('E1', [2]), inst('E2', [3]), inst('E3', [4])],
      listeners: [
        listener(10, {
          watchedBy: [
            { instance: 'E1', exclusive: false, trigger: 'level' },
            { instance: 'E2', exclusive: false, trigger: 'level' },
            { instance: 'E3', exclusive: true, trigger: 'level' },
          ],
        }),
      ],
    });
    const f = findingsOf(e);
    expect(f).toEqual([
      {
        severity: 'cost',
        text: expect.stringMatching(
          /^listening socket 127.0.0.1:80 is watched by 3 epoll instances, 2 without EPOLLEXCLUSIVE: up to 3 wake-ups per connection/,
        ),
      },
    ]);
    expect(exitCodeOf(e, f)).toBe(0);
    expect(exitCodeOf(e, f, true)).toBe(1);
  });

  it('a full accept queue is a cost, a partly filled one information', () => {
    const watched = {
      watchedBy: [{ instance: 'E1', exclusive: false, trigger: 'level' as const }],
    };
    const full = findingsOf(
      evidence({
        instances: [inst('E1', [2])],
        listeners: [listener(10, { ...watched, acceptQueue: 129, backlog: 128 })],
      }),
    );
    expect(full.filter((x) => x.severity === 'cost').map((x) => x.text)).toEqual([
      'listening socket 127.0.0.1:80: 129 connections waiting in the accept queue (backlog 128): the queue is full, new connections are dropped.',
    ]);
    const some = findingsOf(
      evidence({
        instances: [inst('E1', [2])],
        listeners: [listener(10, { ...watched, acceptQueue: 1 })],
      }),
    );
    expect(some.map((x) => x.text)).toContain(
      'listening socket 127.0.0.1:80: 1 connection waiting in the accept queue (backlog 128).',
    );
  });

  it('a socket of a reuseport group that no instance watches is a cost', () => {
    const e = evidence({
      instances: [inst('E1', [2])],
      listeners: [
        listener(10, { watchedBy: [{ instance: 'E1', exclusive: false, trigger: 'level' }] }),
        listener(11),
      ],
      reuseportGroups: [{ endpoint: '127.0.0.1:80', inodes: [10, 11] }],
    });
    const costs = findingsOf(e).filter((x) => x.severity === 'cost');
    expect(costs).toHaveLength(1);
    expect(costs[0]!.text).toMatch(
      /^1 socket of the SO_REUSEPORT group on 127.0.0.1:80 is watched by no epoll instance/,
    );
  });

  it('a shared instance watching no socket is information, not a risk; unknown sharing exits 2', () => {
    const e = evidence({ instances: [inst('E1', [1, 2], [])] });
    const f = findingsOf(e);
    expect(f.map((x) => x.severity)).toEqual(['info']);
    expect(f[0]!.text).toMatch(/shared by 2 processes .*watches no socket now/);
    expect(exitCodeOf(e, f)).toBe(0);
    const blind = evidence({ sharingKnown: false, kcmp: { available: false, reason: 'no addon' } });
    expect(exitCodeOf(blind, findingsOf(blind))).toBe(2);
    expect(
      findingsOf(blind)
        .map((x) => x.text)
        .join(),
    ).toMatch(/kcmp unavailable: no addon/);
  });
});
