// Whether the evidence contradicts what an engine target declared: a run stops on any of these,
// because its figures would then be measuring a different set-up from the one it names.
import type { EngineConfig } from '../native/engine';
import type { Evidence } from './evidence';

/**
 * The declared set-up and the port it serves on (its metrics server is not checked). `exclusive`
 * left undefined declares nothing about EPOLLEXCLUSIVE (a real server that decides it at run time).
 */
export type DeclaredSetup = Pick<
  EngineConfig,
  'loopCreation' | 'workers' | 'reusePort' | 'port'
> & {
  exclusive: boolean | undefined;
};

/** Every contradiction, in words naming the declaration and what the kernel shows; empty if none. */
export function checkDeclared(evidence: Evidence, declared: DeclaredSetup): string[] {
  const out: string[] = [];
  const shared = evidence.instances.filter((x) => x.pids.length > 1);
  if (!evidence.sharingKnown) {
    // Nothing to say about loopCreation: the caller reports evidence.unseen.
  } else if (declared.loopCreation === 'post-fork' && shared.length > 0) {
    out.push(
      `declared post-fork, but ${shared.map((x) => `epoll instance ${x.id} is shared by pids ${x.pids.join(', ')}`).join('; ')}`,
    );
  } else if (declared.loopCreation !== 'post-fork' && shared.length === 0) {
    // Workers can be fewer than declared (pre-fork-late with on-eexist=fail loses them at
    // start-up), so one shared instance is what a pre-fork set-up must show.
    out.push(
      `declared ${declared.loopCreation}, but no epoll instance is shared between the supervisor and its workers`,
    );
  }
  const listeners = evidence.listeners.filter((l) => l.port === declared.port);
  const watched = listeners.flatMap((l) => l.watchedBy.map((w) => ({ l, w })));
  if (declared.exclusive === undefined) {
    // Nothing declared about EPOLLEXCLUSIVE.
  } else if (declared.exclusive) {
    const plain = watched.filter(({ w }) => !w.exclusive);
    if (plain.length > 0 || watched.length === 0) {
      out.push(
        `declared exclusive, but ${watched.length === 0 ? 'no epoll instance watches a listening socket' : plain.map(({ l, w }) => `${l.endpoint} is watched by ${w.instance} without EPOLLEXCLUSIVE`).join('; ')}`,
      );
    }
  } else {
    const excl = watched.filter(({ w }) => w.exclusive);
    if (excl.length > 0) {
      out.push(
        `declared without exclusive, but ${excl.map(({ l, w }) => `${l.endpoint} is watched by ${w.instance} with EPOLLEXCLUSIVE`).join('; ')}`,
      );
    }
  }
  const endpoints = [...new Set(listeners.map((l) => l.endpoint))];
  for (const ep of endpoints) {
    const n = listeners.filter((l) => l.endpoint === ep).length;
    if (declared.reusePort && n !== declared.workers) {
      out.push(
        `declared reusePort with ${declared.workers} workers, but ${n} listening socket${n === 1 ? '' : 's'} on ${ep}`,
      );
    }
    if (!declared.reusePort && n > 1) {
      out.push(`declared without reusePort, but ${n} listening sockets on ${ep}`);
    }
  }
  if (listeners.length === 0) {
    out.push(`no listening TCP socket on port ${declared.port} is held by the target`);
  }
  return out;
}
