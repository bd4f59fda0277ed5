// The programmatic entry of `forklab inspect`: evidence, findings and the exit code for a pid.
import type { Evidence } from './evidence';
import { exitCodeOf, findingsOf, type Finding } from './findings';
import { CannotInspect, inspectProcessTree, type InspectOptions } from './inspect-process-tree';

export interface Inspection {
  evidence: Evidence;
  findings: Finding[];
  /** 0: nothing risky; 1: a risky set-up (or a cost with `strict`); 2: could not inspect. */
  exitCode: 0 | 1 | 2;
}

export { CannotInspect };
export type { Evidence, Finding };

/** Inspects the process tree under `pid`. Throws CannotInspect when `pid` cannot be read at all. */
export async function inspectTarget(
  pid: number,
  options: InspectOptions & { strict?: boolean } = {},
): Promise<Inspection> {
  const evidence = await inspectProcessTree(pid, options);
  const findings = findingsOf(evidence);
  return { evidence, findings, exitCode: exitCodeOf(evidence, findings, options.strict) };
}
