// The backlog each listening socket was given. /proc/net/tcp does not show it (its tx_queue column
// is the send queue); the sock_diag interface does, and `ss -ltne` prints it as Send-Q with the
// socket's inode. For a process in another network namespace, ss runs inside it (nsenter).
import { execFile } from 'node:child_process';
import { readlink } from 'node:fs/promises';

/** inode → backlog from `ss -Htlne` output (`LISTEN 0 128 127.0.0.1:80 0.0.0.0:* ino:1045 …`). */
export function parseSsListen(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const ino = /\bino:(\d+)/.exec(line);
    if (f[0] === 'LISTEN' && ino && /^\d+$/.test(f[2] ?? '')) out.set(Number(ino[1]), Number(f[2]));
  }
  return out;
}

const run = (file: string, args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(file, args, { timeout: 5000, maxBuffer: 16 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );

/** Backlogs of the listening sockets in `pid`'s network namespace, or why they are unknown. */
export async function readListenBacklogs(
  pid: number,
  procRoot = '/proc',
): Promise<Map<number, number> | { unavailable: string }> {
  try {
    const same =
      (await readlink(`${procRoot}/self/ns/net`)) === (await readlink(`${procRoot}/${pid}/ns/net`));
    const text = same
      ? await run('ss', ['-Htlne'])
      : await run('nsenter', [`--net=${procRoot}/${pid}/ns/net`, 'ss', '-Htlne']);
    return parseSsListen(text);
  } catch (err) {
    return { unavailable: `ss -ltne failed (${(err as Error).message.split('\n')[0]})` };
  }
}
