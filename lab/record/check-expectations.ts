// Checks a scenario's expectations against the derived figures of each cell's targets.
import { selectorMatches } from '../scenario/validate-scenario';
import type { Comparison, Expectation, ExpectationMetric } from '../scenario/scenario';
import type { CellRecord, DerivedFigures, ExpectationResult, TargetRecord } from './run-record';

/** The derived figure an expectation metric names. */
export function figureOf(d: DerivedFigures, metric: ExpectationMetric): number | null {
  switch (metric) {
    case 'acceptShareMaxMin':
      return d.acceptShare.maxMin;
    case 'acceptJain':
      return d.acceptShare.jain;
    case 'requestJain':
      return d.requestShare.jain;
    default: {
      const v = d[metric];
      return typeof v === 'number' ? v : null;
    }
  }
}

/** Whether `target` is selected by `selector`: a name, `*`, or `setting=value` on its server. */
export function selects(selector: string, target: TargetRecord): boolean {
  return selectorMatches(
    selector,
    target.name,
    target.server as unknown as Record<string, unknown>,
  );
}

export function compare(actual: number, op: Comparison, value: number): boolean {
  switch (op) {
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

export function checkExpectations(
  expectations: readonly Expectation[],
  cells: readonly CellRecord[],
): ExpectationResult[] {
  const out: ExpectationResult[] = [];
  for (const cell of cells) {
    for (const e of expectations) {
      for (const t of cell.targets.filter((x) => selects(e.target, x))) {
        const actual = figureOf(t.derived, e.metric);
        // Figures are never NaN (x/0 is Infinity, 0/0 is 0: see derive-figures.ts), so a plain
        // comparison is right for every value, Infinity included; a missing figure fails.
        const passed = actual !== null && !Number.isNaN(actual) && compare(actual, e.op, e.value);
        out.push({ ...e, cell: cell.id, checkedTarget: t.name, actual, passed });
      }
    }
  }
  return out;
}
