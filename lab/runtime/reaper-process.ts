// The reaper process (the lab side is reaper.ts): started detached by a lab process, in its own
// process group, with a pipe from the lab as its stdin. It reads what it is to remove, one JSON
// line each, and waits. When the pipe closes — the lab exited, however it died, SIGKILL included
// — it removes every container labelled with the lab's session and the files it was given, then
// exits. The manner of testcontainers' Ryuk, as a process on the same host instead of a container.
//
// Lines: {"session": "<id>"}   remove the containers labelled with this session at the end;
//        {"session": "<id>", "engine": {"address": "unix:///…", "tls"?: {…}}}  the same on
//                              another engine;
//        {"file": "/path"}     remove this file at the end;
//        {"forget": "/path"}   the lab removed it itself.
import { rm } from 'node:fs/promises';
import Docker from 'dockerode';
import { dockerFor } from './engine-set';
import { LABEL_MANAGED, LABEL_SESSION } from './labels';
import type { ReapedEngine } from './reaper';

/** Each Docker request may take this long (a hung engine must not keep the reaper forever). */
const DOCKER_TIMEOUT_MS = 15_000;

const SESSION = /^[\w.-]+$/;

/** Session → engines to clean (null: the default engine). */
const sessions = new Map<string, Map<string, ReapedEngine | null>>();
const files = new Set<string>();
let buffered = '';
let reaping = false;

function take(line: string): void {
  if (!line.trim()) return;
  try {
    const m = JSON.parse(line) as {
      session?: string;
      engine?: ReapedEngine;
      file?: string;
      forget?: string;
    };
    if (typeof m.session === 'string' && SESSION.test(m.session)) {
      const engines = sessions.get(m.session) ?? new Map<string, ReapedEngine | null>();
      sessions.set(m.session, engines);
      if (m.engine && typeof m.engine.address === 'string') engines.set(m.engine.address, m.engine);
      else engines.set('', null);
    }
    if (typeof m.file === 'string') files.add(m.file);
    if (typeof m.forget === 'string') files.delete(m.forget);
  } catch {
    // Not ours: ignored (the lab writes only whole JSON lines).
  }
}

async function removeContainers(session: string, engine: ReapedEngine | null): Promise<void> {
  const docker = engine
    ? dockerFor(engine.address, engine.tls, { timeout: DOCKER_TIMEOUT_MS })
    : new Docker({ timeout: DOCKER_TIMEOUT_MS });
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_SESSION}=${session}`] },
  });
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined),
    ),
  );
}

async function reap(): Promise<void> {
  if (reaping) return;
  reaping = true;
  take(buffered);
  const work: Promise<unknown>[] = [...files].map((f) => rm(f, { force: true }));
  for (const [s, engines] of sessions)
    for (const e of engines.values()) work.push(removeContainers(s, e));
  await Promise.allSettled(work);
  process.exit(0);
}

// A terminal's Ctrl-C or hang-up is for the lab; the reaper goes when the lab has gone.
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const l of lines) take(l);
});
process.stdin.on('end', () => void reap());
process.stdin.on('close', () => void reap());
process.stdin.on('error', () => void reap());
