// What a target declares about its kernel set-up, for the check of lab/inspect/check-declared.ts.
// The engine declares all of it. Real servers declare what their settings decide and nothing the
// engine's flags alone name:
// - tornado: its loop creation and worker count; it never uses EPOLLEXCLUSIVE or SO_REUSEPORT
//   (tornado.netutil.bind_sockets without reuse_port, asyncio's selector without flags);
// - nginx: its loop is created in each worker (post-fork) and `reuseport` gives one listening
//   socket per worker; EPOLLEXCLUSIVE is declared only where nginx's choice is fixed (one worker:
//   none; accept_mutex off without reuseport: every worker adds the socket with it); with
//   accept_mutex on the workers add and remove the socket as they take turns, so nothing is said;
// - command: nothing (the lab does not know how your server sets itself up).
import type { ResolvedTarget } from '../scenario/resolve-scenario';
import type { DeclaredSetup } from './check-declared';

/** The declared set-up of `t` (without its port), or null when it declares none. */
export function declaredSetup(t: ResolvedTarget): Omit<DeclaredSetup, 'port'> | null {
  switch (t.kind) {
    case 'engine':
      return t.server;
    case 'tornado':
      return {
        loopCreation: t.server.loopCreation as DeclaredSetup['loopCreation'],
        workers: t.server.workers as number,
        exclusive: false,
        reusePort: false,
      };
    case 'nginx': {
      const workers = t.server.workers as number;
      const reusePort = t.server.reuseport === true;
      const exclusive =
        workers === 1 ? false : !t.server.acceptMutex && !reusePort ? true : undefined;
      return { loopCreation: 'post-fork', workers, exclusive, reusePort };
    }
    case 'command':
      return null;
  }
}
