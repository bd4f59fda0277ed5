// Command-line flags of the forklab commands, parsed by node:util parseArgs (its tokens), with
// what parseArgs leaves to the caller: every error at once, "did you mean" for an unknown flag,
// the value of an unknown flag not taken for a positional argument, a flag given twice, and a
// value that is another flag. Every usage error is printed with one prefix (`forklab <command>: `)
// and ends the command with exit code 2 (see usageFailure).
import { parseArgs } from 'node:util';
import { closest } from '../scenario/validate-scenario';
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
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const s of specs) {
    // Optional-value flags are parsed as booleans, their value picked up below.
    options[s.name] = {
      type: s.optionalValue ? 'boolean' : s.type,
      ...(s.short ? { short: s.short } : {}),
    };
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const out: ParsedFlags = { values: new Map(), typed: new Map(), positionals: [], errors: [] };
  const known = specs.map((s) => `--${s.name}`);
  const skip = new Set<number>();
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k]!;
    if (tok.kind === 'option-terminator') continue;
    if (tok.kind === 'positional') {
      if (!skip.has(tok.index)) out.positionals.push(tok.value);
      continue;
    }
    const spec = specs.find((s) => s.name === tok.name);
    if (!spec) {
      const flag = tok.rawName.startsWith('--') ? tok.rawName : tok.rawName;
      const hint = tok.rawName.startsWith('--') ? closest(tok.rawName, known) : undefined;
      out.errors.push(`${flag}: unknown flag${hint ? `; did you mean ${hint}?` : ''}`);
      // Its value, if it has one, is not a positional argument of its own.
      const next = tokens[k + 1];
      if (tok.inlineValue === undefined && next?.kind === 'positional') skip.add(next.index);
      continue;
    }
    if (out.values.has(spec.name)) {
      out.errors.push(`${tok.rawName}: given twice; give it once`);
      continue;
    }
    let value: string | true;
    if (spec.optionalValue) {
      const next = tokens[k + 1];
      value = true;
      if (next?.kind === 'positional' && spec.optionalValue(next.value)) {
        value = next.value;
        skip.add(next.index);
      }
    } else if (spec.type === 'boolean') {
      if (tok.inlineValue) {
        out.errors.push(`${tok.rawName}: takes no value`);
        continue;
      }
      value = true;
    } else {
      const v = tok.value;
      if (v === undefined || (!tok.inlineValue && v.startsWith('--'))) {
        out.errors.push(`${tok.rawName}: needs a value`);
        continue;
      }
      value = v;
    }
    out.values.set(spec.name, value);
    out.typed.set(spec.name, tok.rawName);
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
