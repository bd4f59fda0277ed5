// The /proc parsers against text in the kernel's own formats (ep_show_fdinfo, tcp4_seq_show,
// ss), and kcmp against fds whose sameness this test arranges itself.
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { epollFlagNames, parseEpollFdinfo } from '../lab/inspect/epoll-fdinfo';
import { epollWaitFd } from '../lab/inspect/epoll-waiters';
import { parseSsListen } from '../lab/inspect/listen-backlog';
import { decodeAddress, parseNetTcp } from '../lab/inspect/net-tcp';
import { classifyFdTarget } from '../lab/inspect/proc-fds';
import { parseStat } from '../lab/inspect/process-tree';
import { loadKcmp, type KcmpFile } from '../lab/native/kcmp';

describe('epoll fdinfo', () => {
  // As printed by fs/eventpoll.c: "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x".
  const text = [
    'pos:\t0',
    'flags:\t02',
    'mnt_id:\t15',
    'ino:\t1057',
    'tfd:        5 events: 10000019 data:                5  pos:0 ino:1d5f9 sdev:8',
    'tfd:       12 events: 80002019 data:       7f00000000  pos:0 ino:2a sdev:9',
    '',
  ].join('\n');

  it('reads every watched fd with its mask and inode', () => {
    expect(parseEpollFdinfo(text)).toEqual([
      { tfd: 5, events: 0x10000019, ino: 0x1d5f9 },
      { tfd: 12, events: 0x80002019, ino: 0x2a },
    ]);
  });

  it('names the bits: EPOLLEXCLUSIVE is 1<<28, EPOLLET 1<<31', () => {
    expect(epollFlagNames(0x10000019)).toEqual([
      'EPOLLIN',
      'EPOLLERR',
      'EPOLLHUP',
      'EPOLLEXCLUSIVE',
    ]);
    expect(epollFlagNames(0x80002019)).toEqual([
      'EPOLLIN',
      'EPOLLERR',
      'EPOLLHUP',
      'EPOLLRDHUP',
      'EPOLLET',
    ]);
    expect(epollFlagNames(0x40000001 | 0x800000)).toEqual(['EPOLLIN', 'EPOLLONESHOT', '0x800000']);
  });
});

describe('/proc/net/tcp', () => {
  it('decodes addresses written word by word in host order', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('00000000')).toBe('0.0.0.0');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:7f00:1');
  });

  it('reads listening sockets with their accept queue, and connections with their peer', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 59183 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000010 00:00000000 00000000     0        0 59190 1 0000000000000000 20 4 30 10 -1',
    ].join('\n');
    expect(parseNetTcp(text, 4)).toEqual([
      {
        inode: 59183,
        family: 4,
        address: '127.0.0.1',
        port: 8080,
        remote: '0.0.0.0:0',
        state: 0x0a,
        txQueue: 0,
        rxQueue: 3,
      },
      {
        inode: 59190,
        family: 4,
        address: '127.0.0.1',
        port: 8080,
        remote: '127.0.0.1:54321',
        state: 1,
        txQueue: 0,
        rxQueue: 16,
      },
    ]);
  });

  it('reads the backlog from ss (Send-Q of a listening socket)', () => {
    const text =
      'LISTEN 0      128    127.0.0.1:33319 0.0.0.0:* ino:46324 sk:2 cgroup:/ <->\nLISTEN 2 511 [::]:80 [::]:* ino:7 sk:3\n';
    expect([...parseSsListen(text)]).toEqual([
      [46324, 128],
      [7, 511],
    ]);
  });
});

describe('/proc/<pid> entries', () => {
  it('classifies fd links', () => {
    expect(classifyFdTarget('socket:[5918]')).toEqual({ kind: 'socket', inode: 5918 });
    expect(classifyFdTarget('pipe:[77]')).toEqual({ kind: 'pipe', inode: 77 });
    expect(classifyFdTarget('anon_inode:[eventpoll]')).toEqual({ kind: 'eventpoll' });
    expect(classifyFdTarget('anon_inode:[eventfd]')).toEqual({ kind: 'eventfd' });
    expect(classifyFdTarget('/dev/null')).toEqual({ kind: 'file' });
  });

  it('reads a stat line whose name holds spaces and parentheses', () => {
    expect(parseStat('4242 (my (odd) name) S 17 4242 4242 0 -1')).toEqual({
      pid: 4242,
      ppid: 17,
      name: 'my (odd) name',
    });
  });

  it('reads the epoll fd a thread waits on (x86-64: 232 epoll_wait, 281 epoll_pwait)', () => {
    expect(epollWaitFd('232 0x5 0x7ffd 0x400 0xffffffff 0x0 0x0 0x7ffd 0x7f', 'x64')).toBe(5);
    expect(epollWaitFd('281 0xe 0x7ffd 0x400 0xffffffff 0x0 0x8 0x7ffd 0x7f', 'x64')).toBe(14);
    expect(epollWaitFd('7 0x5 0x1 0x0 0x0 0x0 0x0 0x7ffd 0x7f', 'x64')).toBeUndefined();
    expect(epollWaitFd('running', 'x64')).toBeUndefined();
  });
});

describe('kcmp(KCMP_FILE)', () => {
  let kcmp: KcmpFile;
  beforeAll(() => {
    const k = loadKcmp();
    if (typeof k !== 'function') throw new Error(`kcmp unavailable: ${k.unavailable}`);
    kcmp = k;
  });

  it('one fd is the same file as itself; two opens of one path are two files', () => {
    const file = path.join(tmpdir(), `forklab-kcmp-${process.pid}`);
    const a = openSync(file, 'w');
    const b = openSync(file, 'r');
    try {
      expect(kcmp(process.pid, process.pid, a, a)).toBe('same');
      expect(kcmp(process.pid, process.pid, a, b)).toBe('different');
      expect(kcmp(process.pid, process.pid, a, 1000)).toEqual({ error: 'EBADF' });
    } finally {
      closeSync(a);
      closeSync(b);
      rmSync(file);
    }
  });

  it("a child's inherited fd is the same file as the parent's; a gone pid is ESRCH", async () => {
    const file = path.join(tmpdir(), `forklab-kcmp-child-${process.pid}`);
    const fd = openSync(file, 'w');
    const child = spawn('sleep', ['10'], { stdio: ['ignore', fd, 'ignore'] });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(kcmp(process.pid, child.pid!, fd, 1)).toBe('same');
      expect(kcmp(process.pid, child.pid!, fd, 0)).toBe('different');
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      closeSync(fd);
      rmSync(file);
    }
    expect(kcmp(process.pid, child.pid!, 0, 0)).toEqual({ error: 'ESRCH' });
  });
});
