// `forklab serve` as a process: starts the supervisor, announces readiness (one FORKLAB_READY line on
// stdout, a human line on stderr), and turns SIGTERM/SIGINT into a clean stop. A second signal kills
// the workers with SIGKILL and exits at once. Never leaves a worker behind when the process exits.
import type { ServeConfig } from './config';
import { formatReadyLine } from './ready-line';
import { describePace } from './pace';
import { resolveServePace, startSupervisor, type Supervisor } from './supervisor';

export interface ServeIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export { READY_PREFIX, formatReadyLine, parseReadyLine, type ReadyLine } from './ready-line';

const url = (host: string, port: number, path = '/'): string =>
  `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;

/** Runs until stopped by a signal; resolves with the exit code. */
export async function serve(config: ServeConfig, io: ServeIO = process): Promise<number> {
  const log = (line: string): void => void io.stderr.write(line + '\n');
  let sup: Supervisor | undefined;
  let signals = 0;
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));

  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log(`forklab: got ${signal}; stopping the workers (send it again to kill them at once)`);
      // A signal during start-up stops the supervisor as soon as it exists (see below).
      sup?.stop().then(
        () => {
          log('forklab: stopped; every worker reaped');
          resolveDone(0);
        },
        (err: unknown) => {
          log(`forklab: stopping failed: ${(err as Error).message}`);
          resolveDone(1);
        },
      );
      return;
    }
    log(`forklab: got ${signal} again; killing the workers`);
    sup?.killNow();
    process.exit(1);
  };
  // Whatever ends this process (an uncaught error included), no worker outlives it.
  const onExit = (): void => sup?.killNow();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('exit', onExit);
  const cleanup = (): void => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };

  try {
    sup = await startSupervisor(config, { log });
  } catch (err) {
    cleanup();
    process.off('exit', onExit);
    log(`forklab serve: cannot start: ${(err as Error).message}`);
    return 1;
  }

  io.stdout.write(
    formatReadyLine({ port: sup.port, metricsPort: sup.metricsPort, pids: sup.pids() }) + '\n',
  );
  const c = sup.config;
  log(
    `forklab: ${c.name} serving on ${url(c.host, sup.port)} with ${c.workers} worker${c.workers === 1 ? '' : 's'} ` +
      `(pids ${sup.pids().join(', ')}; loop creation ${c.loopCreation}, ${c.flavour}, ${c.trigger}-triggered` +
      `${c.exclusive ? ', EPOLLEXCLUSIVE' : ''}${c.reusePort ? ', SO_REUSEPORT' : ''}; engine ${sup.engineVersion}; ` +
      `pace ${describePace(resolveServePace(c))}); ` +
      `metrics on ${url(c.metricsHost, sup.metricsPort, '/metrics')}`,
  );

  // FORKLAB_LIFELINE=stdin (set by the lab's local runtime): the lab holds our stdin open; when it
  // closes, the lab is gone (even if it was SIGKILLed), so stop as on SIGTERM and leave nothing.
  if (process.env.FORKLAB_LIFELINE === 'stdin') {
    const lost = (): void => {
      if (signals === 0) {
        log('forklab: the lab that started this server is gone (stdin closed)');
        onSignal('SIGTERM');
      }
    };
    process.stdin.on('end', lost).on('error', lost).resume();
  }

  if (signals > 0)
    void sup.stop().then(
      () => resolveDone(0),
      () => resolveDone(1),
    );
  const code = await done;
  cleanup();
  process.off('exit', onExit);
  return code;
}
