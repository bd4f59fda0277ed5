// The command line (run and compare through lab/cli/args.ts, serve through the same tokenizer,
// lab/server/argv.ts, tested in server-config.test.ts): durations with units, short flags, "did you mean", one error prefix and exit
// code 2 for every usage error. Nothing here starts a server: every command line below has an
// error, and a command with an error starts nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../lab/cli';
import { parseFlags } from '../lab/cli/args';
import { parseDuration } from '../lab/scenario/duration';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s) },
    },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

describe('durations', () => {
  test('take ms, s and m; a bare number is seconds', () => {
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('2m')).toBe(120);
    expect(parseDuration('1.5m')).toBe(90);
    expect(parseDuration('20')).toBe(20);
    expect(parseDuration('3 s')).toBe(3);
    expect(parseDuration('3h')).toBeNull();
    expect(parseDuration('-1s')).toBeNull();
    expect(parseDuration('s')).toBeNull();
  });
});

describe('parseFlags', () => {
  const specs = [
    { name: 'duration', type: 'string' as const, short: 'd' },
    { name: 'list', type: 'boolean' as const },
  ];
  test('long and short forms, inline values, positionals', () => {
    const p = parseFlags(['compare', '-d', '3s', '--list'], specs);
    expect(p.errors).toEqual([]);
    expect(p.positionals).toEqual(['compare']);
    expect(p.values.get('duration')).toBe('3s');
    expect(p.values.get('list')).toBe(true);
    expect(parseFlags(['--duration=2m'], specs).values.get('duration')).toBe('2m');
  });

  test('an unknown flag gets a suggestion, and its value is not a positional', () => {
    const p = parseFlags(['compare', '--duraton', '5'], specs);
    expect(p.errors).toEqual(['--duraton: unknown flag; did you mean --duration?']);
    expect(p.positionals).toEqual(['compare']);
  });

  test('a flag given twice, or without its value, is an error', () => {
    expect(parseFlags(['-d', '1', '--duration', '2'], specs).errors).toEqual([
      '--duration: given twice; give it once',
    ]);
    expect(parseFlags(['--duration'], specs).errors).toEqual(['--duration: needs a value']);
    expect(parseFlags(['--list=yes'], specs).errors).toEqual(['--list: takes no value']);
  });

  test('a value never starts with --, but a negative number is a value', () => {
    const missing = parseFlags(['--duration', '--list'], specs);
    expect(missing.errors).toEqual(['--duration: needs a value']);
    expect(missing.values.get('list')).toBe(true);
    const negative = parseFlags(['-d', '-12', 'x'], specs);
    expect(negative.errors).toEqual([]);
    expect(negative.values.get('duration')).toBe('-12');
    expect(negative.positionals).toEqual(['x']);
  });
});

describe('forklab run', () => {
  test('a typo is named with a suggestion, once, and nothing starts: exit 2', async () => {
    const t = io();
    const code = await main(['run', 'compare', '-d', '3s', '--conections', '8'], {}, t.io);
    expect(code).toBe(2);
    expect(t.err()).toBe(
      'forklab run: --conections: unknown flag; did you mean --connections?\n' +
        'forklab run: 1 error; nothing was started (see forklab run --help)\n',
    );
  });

  test('durations with units reach the scenario in seconds; bad ones are named', async () => {
    const t = io();
    const code = await main(
      ['run', 'compare', '--duration', '2x', '-w', '0', '--warmup', '500ms', '-c', '4'],
      {},
      t.io,
    );
    expect(code).toBe(2);
    const lines = t.err().trimEnd().split('\n');
    expect(lines).toEqual([
      'forklab run: --duration: must be a duration such as 500ms, 30s or 2m (a bare number is seconds), got "2x"',
      expect.stringMatching(/^forklab run: --workers: must be an integer from 1 to \d+, got "0"/),
      'forklab run: --warmup: must be an integer from 0 to 600 seconds, got "500ms" (0.5 s)',
      'forklab run: 3 errors; nothing was started (see forklab run --help)',
    ]);
  });

  test("bad overrides are listed together with the scenario file's errors", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklab-bad-scenario-'));
    const file = path.join(dir, 'broken.ts');
    // A scenario file with two errors of its own: no load section, and a target without servers.
    writeFileSync(
      file,
      "exports.default = { name: 'broken', description: 'x', targets: [{ name: 'a' }] };\n",
    );
    try {
      const t = io();
      const code = await main(['run', file, '--duration', '2x', '-w', '0'], {}, t.io);
      expect(code).toBe(2);
      const lines = t.err().trimEnd().split('\n');
      const fileErrors = lines.filter((l) => l.includes('broken.ts: '));
      expect(fileErrors.length).toBeGreaterThanOrEqual(1);
      expect(lines).toContain(
        'forklab run: --duration: must be a duration such as 500ms, 30s or 2m (a bare number is seconds), got "2x"',
      );
      expect(
        lines.some((l) => /^forklab run: --workers: must be an integer from 1 to/.test(l)),
      ).toBe(true);
      const total = fileErrors.length + 2;
      expect(lines[lines.length - 1]).toBe(
        `forklab run: ${total} errors; nothing was started (see forklab run --help)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a second scenario name is an error of its own', async () => {
    const t = io();
    expect(await main(['run', 'compare', 'herd'], {}, t.io)).toBe(2);
    expect(t.err()).toContain('forklab run: herd: one scenario per run (already given: compare)');
  });
});

describe('forklab compare', () => {
  test('a run folder that is not there is a usage error: exit 2', async () => {
    const t = io();
    const code = await main(['compare', '/nonexistent/run-a', '/nonexistent/run-b'], {}, t.io);
    expect(code).toBe(2);
    expect(t.err()).toMatch(/^forklab compare: \/nonexistent\/run-a: not a run folder/);
  });

  test('an unknown flag gets a suggestion, with the one prefix: exit 2', async () => {
    const t = io();
    expect(await main(['compare', 'a', 'b', '--no-htm'], {}, t.io)).toBe(2);
    expect(t.err()).toBe(
      'forklab compare: --no-htm: unknown flag; did you mean --no-html?\n' +
        'forklab compare: 1 error; see forklab compare --help\n',
    );
  });
});
