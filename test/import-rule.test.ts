// The stage rule, checked on the sources: lab/ has one folder a stage, and the stages that
// produce a run record (load, sample, record) never import the runner (lab/run) or a view of the
// record (lab/report, lab/compare), nor does anything below them. Every import form is scanned:
// `import … from`, `export … from`, `import('…')` and `require('…')`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const LAB = path.resolve(__dirname, '..', 'lab');

/** Module specifiers a TypeScript source imports, in every form. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

/** The lab/ folder (stage) a relative import from `file` lands in, or null outside lab/. */
function stageOf(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = path.resolve(path.dirname(file), spec);
  const rel = path.relative(LAB, target);
  if (rel.startsWith('..')) return null;
  const parts = rel.split(path.sep);
  return parts.length === 1 ? '(lab)' : parts[0]!;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** stage → the stages it must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  scenario: ['run', 'report', 'compare', 'cli', 'prometheus', 'load', 'sample'],
  runtime: ['run', 'report', 'compare', 'cli', 'record'],
  server: ['run', 'report', 'compare', 'cli', 'record', 'scenario'],
  native: ['run', 'report', 'compare', 'cli', 'record', 'scenario'],
  load: ['run', 'report', 'compare', 'cli', 'prometheus'],
  sample: ['run', 'report', 'compare', 'cli', 'prometheus'],
  record: ['run', 'report', 'compare', 'cli', 'prometheus'],
  report: ['run', 'compare', 'cli'],
  compare: ['run', 'cli'],
};

function violations(files: readonly string[], read: (f: string) => string): string[] {
  const out: string[] = [];
  for (const file of files) {
    const stage = path.relative(LAB, file).split(path.sep)[0]!;
    const banned = FORBIDDEN[stage] ?? [];
    for (const spec of specifiers(read(file))) {
      const to = stageOf(file, spec);
      if (to !== null && banned.includes(to)) {
        out.push(`${path.relative(LAB, file)} imports ${spec} (lab/${to})`);
      }
    }
  }
  return out;
}

describe('the stage import rule', () => {
  it('finds every import form, so that a violation cannot hide', () => {
    const file = path.join(LAB, 'record', 'example.ts');
    const src = [
      "import { a } from '../run/run-scenario';",
      "import type { B } from '../report/verdicts';",
      "export { c } from '../compare/compare';",
      "const d = require('../cli/command');",
      "const e = await import('../run/environment');",
      "import '../report/page';",
      "import { ok } from './run-record';",
      "import { fine } from '../scenario/scenario';",
    ].join('\n');
    expect(violations([file], () => src)).toEqual([
      'record/example.ts imports ../run/run-scenario (lab/run)',
      'record/example.ts imports ../report/verdicts (lab/report)',
      'record/example.ts imports ../compare/compare (lab/compare)',
      'record/example.ts imports ../report/page (lab/report)',
      'record/example.ts imports ../run/environment (lab/run)',
      'record/example.ts imports ../cli/command (lab/cli)',
    ]);
  });

  it('holds for every source under lab/', () => {
    const files = sources(LAB);
    expect(files.some((f) => f.includes(`${path.sep}record${path.sep}`))).toBe(true);
    expect(violations(files, (f) => readFileSync(f, 'utf8'))).toEqual([]);
  });

  it('keeps the record types, figures and run folder in lab/record', () => {
    const record = sources(path.join(LAB, 'record')).map((f) => path.basename(f));
    expect(record).toEqual(
      expect.arrayContaining([
        'run-record.ts',
        'derive-figures.ts',
        'figures.ts',
        'check-expectations.ts',
        'run-folder.ts',
      ]),
    );
    // No view of a record outside lab/report and lab/compare.
    const views = ['terminal-summary.ts', 'csv-export.ts', 'html-report.ts', 'verdicts.ts'];
    for (const f of sources(LAB)) {
      if (views.includes(path.basename(f))) {
        expect(path.relative(LAB, f).split(path.sep)[0]).toMatch(/^(report|compare)$/);
      }
    }
  });
});
