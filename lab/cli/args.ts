// Command-line flags of the forklab commands, tokenized by lab/server/argv.ts (node:util
// parseArgs), with what parseArgs leaves to the caller: every error at once, "did you mean" for an unknown flag,
// the value of an unknown flag not taken for a positional argument, a flag given twice, and a
// value that is another flag. Every usage error is printed with one prefix (`forklab <command>: `)
// and ends the command with exit code 2 (see usageFailure).
import { closest, tokenizeArgv } from '../server/argv';
import type { CliIO } from './command';

/** Exit code of every usage error (bad flags, bad values, missing runs). */
export const USAGE_EXIT = 2;

export interface FlagSpec {
  /** Long name without the dashes (`duration`). */
  name: string;
  type: 'string' | 'boolean';
  /** One letter (`d` for `-d`). */
  short?: string;
  /** A string flag whose value may be left out (then `true`). */
  optionalValue?: (next: string) => boolean;
}

export interface ParsedFlags {
  /** Flag name → its value (`true` for a boolean, or a string flag given without its value). */
  values: Map<string, string | true>;
  /** Flag name → how it was typed (`-d`, `--duration`), for messages. */
  typed: Map<string, string>;
  positionals: string[];
  errors: string[];
}

/** Errors of the command line: printed with the command's prefix, exit code 2. */
export class UsageError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(errors.join('; '));
  }
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const shorts = Object.fromEntries(
    specs.filter((s) => s.short).map((s) => [s.short!, s.name] as const),
  );
  const items = tokenizeArgv(
    argv,
    shorts,
    (name, known) => !known || byName.get(name)!.type === 'string',
    (name) => byName.has(name),
  );
  const out: ParsedFlags = { values: new Map(), typed: new Map(), positionals: [], errors: [] };
  const known = specs.map((s) => `--${s.name}`);
  for (let k = 0; k < items.length; k++) {
    const item = items[k]!;
    if (item.kind === 'positional') {
      out.positionals.push(item.value);
      continue;
    }
    const spec = byName.get(item.name);
    if (!spec) {
      const hint = item.raw.startsWith('--') ? closest(item.raw, known) : undefined;
      out.errors.push(`${item.raw}: unknown flag${hint ? `; did you mean ${hint}?` : ''}`);
      continue;
    }
    if (out.values.has(spec.name)) {
      out.errors.push(`${item.raw}: given twice; give it once`);
      continue;
    }
    let value: string | true;
    if (spec.optionalValue) {
      value = true;
      if (item.value !== undefined) {
        if (item.inline || spec.optionalValue(item.value)) value = item.value;
        else out.positionals.push(item.value); // not this flag's: a positional after it
      }
    } else if (spec.type === 'boolean') {
      if (item.inline) {
        out.errors.push(`${item.raw}: takes no value`);
        continue;
      }
      value = true;
    } else {
      if (item.value === undefined) {
        out.errors.push(`${item.raw}: needs a value`);
        continue;
      }
      value = item.value;
    }
    out.values.set(spec.name, value);
    out.typed.set(spec.name, item.raw);
  }
  return out;
}

/** Prints usage errors with the command's prefix and a last line on where help is; returns 2. */
export function usageFailure(
  io: CliIO,
  command: string,
  errors: readonly string[],
  tail = `see forklab ${command} --help`,
): number {
  for (const e of errors) io.stderr.write(`forklab ${command}: ${e}\n`);
  io.stderr.write(
    `forklab ${command}: ${errors.length} error${errors.length === 1 ? '' : 's'}; ${tail}\n`,
  );
  return USAGE_EXIT;
}
