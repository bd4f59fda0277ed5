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

/** Exit codes of every command (the README lists them). */
export const EXIT = {
  /** Done, every expectation held. */
  ok: 0,
  /** An expectation failed, or the run failed. */
  failed: 1,
  /** Bad input: nothing was started. */
  usage: 2,
  /** The Docker engine did not answer (and the command needs it): nothing was started. */
  noDocker: 3,
  /** Interrupted by SIGINT or SIGTERM. */
  interrupted: 130,
} as const;
