// The one command-line tokenizer of the lab: node:util parseArgs finds the flags (long, short,
// `--flag=value`, `--`), and this module gives each flag its value the lab's way — the next
// argument unless it starts with `--` (so `--name --workers 2` is a missing value, not a name
// "--workers"; a negative number is still a value). Commands (lab/cli, `forklab serve`) decide
// what is an error and how it reads; `closest` gives them "did you mean".
import { parseArgs } from 'node:util';

export interface ArgvFlag {
  kind: 'flag';
  /** The name parseArgs resolved (`duration` for `-d` when d is its short form). */
  name: string;
  /** As typed: `--duration`, `-d`. */
  raw: string;
  /** The inline value (`--flag=value`), or the next argument when the flag takes a value. */
  value: string | undefined;
  inline: boolean;
}

export type ArgvItem = ArgvFlag | { kind: 'positional'; value: string };

/**
 * Tokens of `argv` in order. `valued(name)` says whether a known flag takes a value; an unknown
 * flag takes the next argument as its value when that is not a flag, so that a typo's value is
 * not read as a positional argument.
 */
export function tokenizeArgv(
  argv: readonly string[],
  shorts: Record<string, string>,
  valued: (name: string, known: boolean) => boolean,
  known: (name: string) => boolean,
): ArgvItem[] {
  const options: Record<string, { type: 'boolean'; short?: string }> = {};
  for (const [short, name] of Object.entries(shorts)) options[name] = { type: 'boolean', short };
  // Every flag parsed as a boolean: values are taken below, from argv itself.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const out: ArgvItem[] = [];
  const consumed = new Set<number>();
  let terminated = false;
  for (const tok of tokens) {
    if (consumed.has(tok.index)) continue;
    if (tok.kind === 'option-terminator') {
      terminated = true;
      continue;
    }
    if (tok.kind === 'positional' || terminated) {
      out.push({ kind: 'positional', value: argv[tok.index]! });
      continue;
    }
    // A negative number where a value was expected was taken above; one on its own is a value too.
    if (/^-\d/.test(tok.rawName)) {
      out.push({ kind: 'positional', value: argv[tok.index]! });
      consumed.add(tok.index); // `-12` comes as two tokens of one argument
      continue;
    }
    const inline = tok.inlineValue === true;
    let value = inline ? tok.value : undefined;
    const isKnown = known(tok.name);
    if (!inline && valued(tok.name, isKnown)) {
      const next = argv[tok.index + 1];
      const looksValued = isKnown ? !next?.startsWith('--') : !next?.startsWith('-');
      if (next !== undefined && looksValued) {
        value = next;
        consumed.add(tok.index + 1);
      }
    }
    out.push({ kind: 'flag', name: tok.name, raw: tok.rawName, value, inline });
  }
  return out;
}

/** The closest of `candidates` to `word`, case-insensitive, within a third of its length in edits. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** Edits between two words (insert, delete, replace, swap of two neighbours). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
