// `forklab serve [flags]`: parse flags and FORKLAB_* env vars, then run the server.
import { parseServeConfig, serveHelp } from '../server/config';
import { serve } from '../server/serve';
import type { Command } from './command';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'start a pre-forking epoll server (the C++ engine) and its metrics server',
  async run(argv, env, io) {
    const r = parseServeConfig(argv, env);
    if (r.help) {
      io.stdout.write(serveHelp());
      return 0;
    }
    if (r.errors) {
      for (const e of r.errors) io.stderr.write(`forklab serve: ${e}\n`);
      io.stderr.write(
        `forklab serve: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; see forklab serve --help\n`,
      );
      return 2;
    }
    return serve(r.config, io);
  },
};
