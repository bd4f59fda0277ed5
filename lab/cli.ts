// `forklab <command> [flags]`: finds the command in a small table and hands it the rest of argv.
// A command is one file in lab/cli/ (`<name>-command.ts`, exporting a Command) added to COMMANDS;
// it parses its flags with lab/cli/args.ts, so that every command reports usage errors alike.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CliIO, Command } from './cli/command';
import { compareCommand } from './cli/compare-command';
import { inspectCommand } from './cli/inspect-command';
import { runCommand } from './cli/run-command';
import { serveCommand } from './cli/serve-command';

export const COMMANDS: readonly Command[] = [
  runCommand,
  compareCommand,
  serveCommand,
  inspectCommand,
];

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function engineVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Engine } = require('./native/engine') as typeof import('./native/engine');
    return `engine ${Engine.version()}`;
  } catch {
    return 'engine not built: npm run build:native';
  }
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: forklab <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'forklab <command> --help shows the flags of a command; forklab --version the versions.',
    '',
  ].join('\n');
}

/** Runs `forklab <argv>`; resolves with the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIO = process,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`forklab ${packageVersion()} (${engineVersion()})\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(
      `forklab: unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see forklab --help)\n`,
    );
    return 2;
  }
  return command.run(rest, env, io);
}
