// Where OOM kills are counted: fake /proc and /sys trees for each kind of machine.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cgroupPaths, oomKillCounter } from '../lab/server/oom-kills';

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'forklab-oom-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(file: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), text);
}

const VMSTAT = 'nr_free_pages 1000\noom_kill 5\nnr_zone_active_file 2\n';

test('/proc/self/cgroup: the v2 path and the v1 memory line (also among other controllers)', () => {
  expect(cgroupPaths('0::/system.slice/x.scope\n')).toEqual({ v2: '/system.slice/x.scope' });
  expect(cgroupPaths('12:pids:/a\n4:cpu,memory:/docker/abc\n0::/\n')).toEqual({
    v1Memory: '/docker/abc',
    v2: '/',
  });
});

test('cgroup v1: oom_kill of memory.oom_control in the process group', () => {
  put('proc/self/cgroup', '4:memory:/docker/abc\n0::/\n');
  put(
    'sys/fs/cgroup/memory/docker/abc/memory.oom_control',
    'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n',
  );
  put('sys/fs/cgroup/memory/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 99\n');
  put('proc/vmstat', VMSTAT);
  expect(oomKillCounter(root).read()).toEqual([
    { count: 3, source: `${root}/sys/fs/cgroup/memory/docker/abc/memory.oom_control oom_kill` },
    { count: 5, source: '/proc/vmstat oom_kill (whole machine)' },
  ]);
});

test('cgroup v1 in a container without a cgroup namespace: the mount root is its own group', () => {
  put('proc/self/cgroup', '4:memory:/docker/abc\n');
  put('sys/fs/cgroup/memory/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
  expect(oomKillCounter(root).read()).toEqual([
    { count: 2, source: `${root}/sys/fs/cgroup/memory/memory.oom_control oom_kill` },
  ]);
});

test('cgroup v1 on a kernel without oom_kill: memory.failcnt, said to be limit hits', () => {
  put('proc/self/cgroup', '4:memory:/\n');
  put('sys/fs/cgroup/memory/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\n');
  put('sys/fs/cgroup/memory/memory.failcnt', '17\n');
  const [r] = oomKillCounter(root).read();
  expect(r?.count).toBe(17);
  expect(r?.source).toContain('memory.failcnt (memory limit hits');
});

test('cgroup v2: oom_kill of memory.events', () => {
  put('proc/self/cgroup', '0::/lab\n');
  put('sys/fs/cgroup/cgroup.controllers', 'cpu memory pids\n');
  put(
    'sys/fs/cgroup/lab/memory.events',
    'low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n',
  );
  put('proc/vmstat', VMSTAT);
  expect(oomKillCounter(root).read()).toEqual([
    { count: 1, source: `${root}/sys/fs/cgroup/lab/memory.events oom_kill` },
    { count: 5, source: '/proc/vmstat oom_kill (whole machine)' },
  ]);
});

test('no memory cgroup: the whole machine (/proc/vmstat) only; nothing at all: none', () => {
  put('proc/self/cgroup', '0::/\n');
  put('proc/vmstat', VMSTAT);
  expect(oomKillCounter(root).read()).toEqual([
    { count: 5, source: '/proc/vmstat oom_kill (whole machine)' },
  ]);
  rmSync(path.join(root, 'proc/vmstat'));
  expect(oomKillCounter(root).read()).toEqual([]);
});

test('read fresh on every call', () => {
  put('proc/self/cgroup', '0::/\n');
  put('proc/vmstat', VMSTAT);
  const c = oomKillCounter(root);
  expect(c.read()[0]?.count).toBe(5);
  put('proc/vmstat', VMSTAT.replace('oom_kill 5', 'oom_kill 6'));
  expect(c.read()[0]?.count).toBe(6);
});
