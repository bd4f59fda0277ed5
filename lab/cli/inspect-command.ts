// `forklab inspect <pid> | --container <id|name> [--port N] [--adapter-port N]… [--json] [--strict]`:
// parses, then calls inspectTarget.
import { parseArgs } from 'node:util';
import { containerPid } from '../inspect/container-pid';
import { CannotInspect, inspectTarget } from '../inspect/inspect';
import { renderText } from '../inspect/render-text';
import type { Command } from './command';

const HELP = `Usage: forklab inspect <pid> [--port N] [--adapter-port N]… [--json] [--strict]
       forklab inspect --container <id|name> [--port N] [--adapter-port N]… [--json] [--strict]

Shows what the kernel says about a pre-forking server, without touching its code: the process
tree under <pid>, each process's epoll instances (which are shared across processes, told apart
by kcmp), what each instance watches and how (level/edge, EPOLLEXCLUSIVE, oneshot), the listening
sockets with their backlog, accept queue and SO_REUSEPORT groups, and findings in plain words.
Needs root or CAP_SYS_PTRACE to read other processes' fd tables and to use kcmp.

  --container <id|name>  inspect a Docker container's processes (its State.Pid and children)
  --port N               the server's port: its listening sockets are labelled [server]
  --adapter-port N       a port of a helper beside the server, not under load (a metrics port,
                         nginx's stub_status): labelled [adapter], left out of the findings and
                         of SO_REUSEPORT groups; repeat for several
  --json                 print the evidence and findings as JSON
  --strict               exit 1 on costs too (the accept herd), not only on risks
  -h, --help             this text

Exit code: 0 nothing risky found, 1 a risky set-up (a shared epoll instance), 2 could not inspect
(bad arguments, process gone, no permission, kcmp unavailable).
`;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: "show a running server's epoll instances and listening sockets as the kernel sees them",
  async run(argv, _env, io) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          container: { type: 'string' },
          port: { type: 'string' },
          'adapter-port': { type: 'string', multiple: true },
          json: { type: 'boolean', default: false },
          strict: { type: 'boolean', default: false },
          help: { type: 'boolean', short: 'h', default: false },
        },
      });
    } catch (err) {
      io.stderr.write(`forklab inspect: ${(err as Error).message}; see forklab inspect --help\n`);
      return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(HELP);
      return 0;
    }
    const given = positionals.length + (values.container === undefined ? 0 : 1);
    if (given !== 1) {
      io.stderr.write(
        'forklab inspect: give exactly one target, a pid or --container <id|name>; see forklab inspect --help\n',
      );
      return 2;
    }
    const ports: { server?: number[]; adapter?: number[] } = {};
    for (const [flag, raw] of [
      ['--port', values.port === undefined ? [] : [values.port]],
      ['--adapter-port', values['adapter-port'] ?? []],
    ] as const) {
      for (const v of raw) {
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
          io.stderr.write(
            `forklab inspect: ${flag}: must be a port from 1 to 65535, got ${JSON.stringify(v)}\n`,
          );
          return 2;
        }
        (ports[flag === '--port' ? 'server' : 'adapter'] ??= []).push(Number(v));
      }
    }
    let pid: number;
    try {
      if (values.container !== undefined) {
        pid = await containerPid(values.container);
      } else {
        const arg = positionals[0]!;
        if (!/^[1-9]\d*$/.test(arg)) {
          io.stderr.write(
            `forklab inspect: pid must be a positive integer, got ${JSON.stringify(arg)}\n`,
          );
          return 2;
        }
        pid = Number(arg);
      }
      const r = await inspectTarget(pid, { strict: values.strict, ports });
      io.stdout.write(
        values.json
          ? `${JSON.stringify({ ...r.evidence, findings: r.findings, exitCode: r.exitCode }, null, 2)}\n`
          : renderText(r.evidence, r.findings),
      );
      return r.exitCode;
    } catch (err) {
      if (!(err instanceof CannotInspect) && !(err instanceof Error)) throw err;
      io.stderr.write(`forklab inspect: ${(err as Error).message}\n`);
      return 2;
    }
  },
};
