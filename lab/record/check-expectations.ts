// Checks a scenario's expectations against the derived figures of each cell's targets.
import { selectorMatches } from '../scenario/validate-scenario';
import type { Comparison, Expectation } from '../scenario/scenario';
import { figureOf } from './figures';
import type { CellRecord, ExpectationResult, TargetRecord } from './run-record';

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
        const { value: actual, na } = figureOf(t, e.metric);
        // Figures are never NaN (x/0 is Infinity, 0/0 is 0: see figures.ts), so a plain
        // comparison is right for every value, Infinity included; a figure that does not apply
        // to this target's window fails, with the reason.
        const passed = actual !== null && compare(actual, e.op, e.value);
        out.push({
          ...e,
          cell: cell.id,
          checkedTarget: t.name,
          actual,
          passed,
          ...(na !== null ? { notApplicable: na } : {}),
        });
      }
    }
  }
  return out;
}
