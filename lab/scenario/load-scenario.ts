// Finds and loads scenario files: a name from scenarios/ (`compare`) or a path to a .ts file. A
// scenario file is TypeScript that default-exports defineScenario({...}); it is loaded with a plain
// require(), which works both under tsx (bin/forklab.js registers it) and under Jest (ts-jest
// transforms it), and its export is checked by validateScenario before anything starts.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Scenario } from './scenario';
import { closest, validateScenario } from './validate-scenario';

export const SCENARIOS_DIR = path.resolve(__dirname, '..', '..', 'scenarios');

/** The scenario run when none is named. */
export const DEFAULT_SCENARIO = 'compare';

export interface ScenarioListing {
  name: string;
  /** The first sentence of the description (or why the file does not load). */
  summary: string;
  file: string;
  /** Set when the file does not load or validate. */
  errors?: string[];
}

export type LoadResult =
  { ok: true; scenario: Scenario; file: string } | { ok: false; errors: string[] };

/** The names of the files in scenarios/, the default first, then alphabetical. */
export function scenarioNames(): string[] {
  const names = existsSync(SCENARIOS_DIR)
    ? readdirSync(SCENARIOS_DIR)
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
        .map((f) => f.slice(0, -3))
        .sort()
    : [];
  return [
    ...names.filter((n) => n === DEFAULT_SCENARIO),
    ...names.filter((n) => n !== DEFAULT_SCENARIO),
  ];
}

/** Every scenario in scenarios/ with the first sentence of its description. */
export function listScenarios(): ScenarioListing[] {
  return scenarioNames().map((name) => {
    const r = loadScenario(name);
    if (r.ok) return { name, summary: firstSentence(r.scenario.description), file: r.file };
    return {
      name,
      summary: `(does not load: ${r.errors[0]})`,
      file: path.join(SCENARIOS_DIR, `${name}.ts`),
      errors: r.errors,
    };
  });
}

/** The first sentence of a paragraph: up to a full stop followed by a capital letter, or all. */
export function firstSentence(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  const m = /^(.+?[.!?])(?= [A-Z`(])/.exec(t);
  return m ? m[1]! : t;
}

/** Loads a scenario by name (from scenarios/) or by path (a .ts file); returns it or every error. */
export function loadScenario(nameOrPath: string): LoadResult {
  const isPath =
    nameOrPath.includes('/') || nameOrPath.includes(path.sep) || nameOrPath.endsWith('.ts');
  let file: string;
  if (isPath) {
    file = path.resolve(nameOrPath);
    if (!file.endsWith('.ts')) {
      return { ok: false, errors: [`${nameOrPath}: a scenario file must be a .ts file`] };
    }
    if (!existsSync(file)) return { ok: false, errors: [`${nameOrPath}: no such file (${file})`] };
  } else {
    const names = scenarioNames();
    if (!names.includes(nameOrPath)) {
      const h = closest(nameOrPath, names);
      return {
        ok: false,
        errors: [
          `unknown scenario ${JSON.stringify(nameOrPath)}${h ? `; did you mean "${h}"?` : ''}; available: ${names.join(', ') || 'none'} (or give the path to a .ts file)`,
        ],
      };
    }
    file = path.join(SCENARIOS_DIR, `${nameOrPath}.ts`);
  }

  const shown = path.relative(process.cwd(), file) || file;
  let exported: unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as { default?: unknown };
    exported = mod.default;
  } catch (err) {
    return { ok: false, errors: [`${shown}: cannot load: ${(err as Error).message}`] };
  }
  if (exported === undefined) {
    return {
      ok: false,
      errors: [
        `${shown}: has no default export; end the file with export default defineScenario({ ... })`,
      ],
    };
  }
  const r = validateScenario(exported);
  if (!r.ok) return { ok: false, errors: r.errors.map((e) => `${shown}: ${e}`) };
  const base = path.basename(file, '.ts');
  if (r.scenario.name !== base) {
    return {
      ok: false,
      errors: [
        `${shown}: name: ${JSON.stringify(r.scenario.name)} must be the file name without .ts (${JSON.stringify(base)}), by which the scenario is run; rename one of them`,
      ],
    };
  }
  return { ok: true, scenario: r.scenario, file };
}
