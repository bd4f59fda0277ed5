// One `forklab <command>`: the CLI only parses arguments and calls the command's programmatic entry.
export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export interface Command {
  name: string;
  /** One line for `forklab --help`. */
  summary: string;
  /** Resolves with the process exit code (2 for usage errors). */
  run(argv: string[], env: NodeJS.ProcessEnv, io: CliIO): Promise<number>;
}
