// bench/support/children.ts: a child started as a process group is stopped as a group, so that
// what its leader leaves behind when it dies is killed too.
import { readFileSync } from 'node:fs';
import { startChild, stopChild } from '../bench/support/children';

/** Alive and not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

async function orphanOfDeadLeader(
  group: boolean,
): Promise<{ orphan: number; stop: () => Promise<void> }> {
  let onPid: (pid: number) => void = () => {};
  const printed = new Promise<number>((r) => (onPid = r));
  // The leader starts a sleeper in the background, prints its pid and waits.
  const child = startChild('sh', '/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], {
    group,
    onLine: (line) => {
      if (/^\d+$/.test(line)) onPid(Number(line));
    },
  });
  const orphan = await printed;
  child.proc.kill('SIGKILL');
  await child.exited;
  return { orphan, stop: () => stopChild(child) };
}

test('group: stopping a child whose leader died kills what the leader left behind', async () => {
  const { orphan, stop } = await orphanOfDeadLeader(true);
  expect(running(orphan)).toBe(true);
  await stop();
  expect(await until(() => !running(orphan), 2000)).toBe(true);
}, 10_000);

test('without a group the leader’s orphan survives stopChild (what the group option is for)', async () => {
  const { orphan, stop } = await orphanOfDeadLeader(false);
  try {
    await stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(running(orphan)).toBe(true);
  } finally {
    process.kill(orphan, 'SIGKILL');
  }
}, 10_000);
