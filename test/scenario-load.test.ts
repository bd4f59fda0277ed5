import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_SCENARIO,
  firstSentence,
  listScenarios,
  loadScenario,
} from '../lab/scenario/load-scenario';

const SCENARIO_MODULE = path.resolve(__dirname, '..', 'lab', 'scenario', 'scenario');
/** Every .ts file in scenarios/, the default (compare) first, then the others alphabetically. */
const FILES = readdirSync(path.resolve(__dirname, '..', 'scenarios'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.replace(/\.ts$/, ''));
const ALL = ['compare', ...FILES.filter((n) => n !== 'compare').sort()];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'forklab-scenario-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeScenario(file: string, body: string): string {
  const p = path.join(dir, file);
  writeFileSync(
    p,
    `import { defineScenario } from ${JSON.stringify(SCENARIO_MODULE)};\n\nexport default defineScenario(${body});\n`,
  );
  return p;
}

describe('listScenarios', () => {
  test('lists every file of scenarios/, the default first, each with the first sentence of its description', () => {
    const list = listScenarios();
    expect(list.map((s) => s.name)).toEqual(ALL);
    // The engine's scenarios and those with real servers beside it.
    for (const name of ['herd', 'keyerror', 'real-tornado', 'nginx-herd'])
      expect(list.map((s) => s.name)).toContain(name);
    expect(DEFAULT_SCENARIO).toBe('compare');
    for (const s of list) {
      expect(s.errors).toBeUndefined();
      expect(s.summary).toMatch(/^[A-Z].*\.$/);
      expect(s.summary.length).toBeLessThan(200);
      expect(s.file).toBe(path.resolve(__dirname, '..', 'scenarios', `${s.name}.ts`));
    }
  });

  test('firstSentence stops at a full stop followed by a capital', () => {
    expect(firstSentence('One, e.g. two.  Three.')).toBe('One, e.g. two.');
    expect(firstSentence('  No full stop ')).toBe('No full stop');
    expect(firstSentence('Version 4.5 here. Next.')).toBe('Version 4.5 here.');
  });
});

describe('loadScenario', () => {
  test('by name', () => {
    const r = loadScenario('herd');
    expect(r.ok && [r.scenario.name, r.scenario.kind, r.file]).toEqual([
      'herd',
      'scenario',
      path.resolve(__dirname, '..', 'scenarios', 'herd.ts'),
    ]);
  });

  test('an unknown name lists the available ones', () => {
    expect(loadScenario('hred')).toEqual({
      ok: false,
      errors: [
        `unknown scenario "hred"; did you mean "herd"?; available: ${ALL.join(', ')} (or give the path to a .ts file)`,
      ],
    });
    const r = loadScenario('nothing-like-it');
    expect(r.ok ? '' : r.errors[0]).toBe(
      `unknown scenario "nothing-like-it"; available: ${ALL.join(', ')} (or give the path to a .ts file)`,
    );
  });

  test('a .ts file by path, importing defineScenario by absolute path', () => {
    const file = writeScenario(
      'my-probe.ts',
      `{
  name: 'my-probe',
  description: 'A probe written by a test. It checks loading by path.',
  targets: [{ name: 'one', server: { workers: 1 } }],
  load: { mode: 'churn', connections: 2, durationSec: 1 },
  expectations: [{ target: 'one', metric: 'clientErrors', op: '==', value: 0 }],
}`,
    );
    const r = loadScenario(file);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.file).toBe(file);
    expect(r.scenario).toMatchObject({
      kind: 'scenario',
      name: 'my-probe',
      targets: [{ name: 'one', server: { workers: 1 } }],
    });
  });

  test('a file that does not validate: every error, prefixed with the file', () => {
    const file = writeScenario(
      'bad-probe.ts',
      `{
  name: 'bad-probe',
  description: 'Broken.',
  targets: [{ name: 'one', sever: {} }],
  load: { mode: 'churn', connections: 0, durationSec: 1 },
} as never`,
    );
    const r = loadScenario(file);
    const shown = path.relative(process.cwd(), file);
    expect(r.ok ? [] : r.errors).toEqual([
      `${shown}: targets[0].sever: unknown key; did you mean "server"?`,
      expect.stringMatching(
        new RegExp(
          `^${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: targets\\[0\\]\\.server: must be an object`,
        ),
      ),
      `${shown}: load.connections: must be an integer from 1 to 1000, got 0`,
    ]);
  });

  test('the name must be the file name; missing files, non-.ts files, no default export', () => {
    const file = writeScenario(
      'renamed.ts',
      `{ name: 'original', description: 'D.', targets: [{ name: 'a', server: {} }], load: { mode: 'churn', connections: 1, durationSec: 1 } }`,
    );
    const shown = path.relative(process.cwd(), file);
    expect(loadScenario(file)).toEqual({
      ok: false,
      errors: [
        `${shown}: name: "original" must be the file name without .ts ("renamed"), by which the scenario is run; rename one of them`,
      ],
    });
    const missing = path.join(dir, 'missing.ts');
    expect(loadScenario(missing)).toEqual({
      ok: false,
      errors: [`${missing}: no such file (${missing})`],
    });
    expect(loadScenario('./scenarios/compare.js')).toEqual({
      ok: false,
      errors: ['./scenarios/compare.js: a scenario file must be a .ts file'],
    });
    const noDefault = path.join(dir, 'no-default.ts');
    writeFileSync(noDefault, 'export const x = 1;\n');
    const r = loadScenario(noDefault);
    expect(r.ok ? '' : r.errors[0]).toMatch(
      /no-default\.ts: has no default export; end the file with export default defineScenario/,
    );
  });
});
