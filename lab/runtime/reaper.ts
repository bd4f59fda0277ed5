// The lifeline that removes what a lab process leaves when it is killed outright (SIGKILL, OOM):
// one reaper process per lab process (reaper-process.ts), started on first use, detached in its
// own process group so that neither the lab's death nor a terminal's Ctrl-C takes it along. The
// lab holds the write end of the reaper's stdin; the kernel closes it when the lab dies, however
// it dies, and the reaper then removes the session's containers and the files it was told of.
// Local servers need none of this: each has a stdin lifeline of its own (local-runtime.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SESSION_ID } from './session';

let child: ChildProcess | null = null;
const sessionsSent = new Set<string>();

function reaper(): ChildProcess | null {
  if (child) return child;
  const script = path.join(__dirname, 'reaper-process.ts');
  // The reaper is TypeScript, like the lab: run it through tsx's loader, as bin/forklab.js does.
  const boot = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(script)});`;
  try {
    child = spawn(process.execPath, ['-e', boot], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  } catch {
    return null; // no reaper: an orderly stop still removes everything, and so does a later run
  }
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  // Neither the reaper nor its pipe keeps the lab alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return child;
}

function send(message: Record<string, unknown>): void {
  reaper()?.stdin?.write(JSON.stringify(message) + '\n');
}

/** An engine other than the default one: its address as DOCKER_HOST takes it, and TLS files. */
export interface ReapedEngine {
  address: string;
  tls?: { ca: string; cert: string; key: string };
}

/**
 * Have the containers of `session` removed when this process ends, whatever ends it: on the
 * default engine, or on `engine` (each engine of a run is told once).
 */
export function reapContainersOnExit(session: string = SESSION_ID, engine?: ReapedEngine): void {
  const key = engine ? `${session} ${engine.address}` : session;
  if (sessionsSent.has(key)) return;
  sessionsSent.add(key);
  send(engine ? { session, engine } : { session });
}

/** Have `file` removed when this process ends, unless forgotten first. */
export function reapFileOnExit(file: string): void {
  send({ file: path.resolve(file) });
}

/** `file` was removed by the lab itself: the reaper need not. */
export function forgetFile(file: string): void {
  if (child) send({ forget: path.resolve(file) });
}

/** The reaper's pid, or null when none was started (for tests). */
export function reaperPid(): number | null {
  return child?.pid ?? null;
}
