// The labels every container the lab starts carries. Cleanup never relies on names: it filters on
// `forklab.managed=true` plus a session, run or owner label.
export const LABEL_MANAGED = 'forklab.managed';
export const LABEL_SESSION = 'forklab.session';
export const LABEL_RUN = 'forklab.run';
export const LABEL_SCENARIO = 'forklab.scenario';
export const LABEL_TARGET = 'forklab.target';
/** Pid of the lab process that owns the container (same host: the engine is local). */
export const LABEL_OWNER_PID = 'forklab.owner-pid';

export interface ServerLabels {
  session: string;
  runId: string;
  scenario: string;
  target: string;
}

export function serverLabels(l: ServerLabels): Record<string, string> {
  return {
    [LABEL_MANAGED]: 'true',
    [LABEL_SESSION]: l.session,
    [LABEL_RUN]: l.runId,
    [LABEL_SCENARIO]: l.scenario,
    [LABEL_TARGET]: l.target,
    [LABEL_OWNER_PID]: String(process.pid),
  };
}
/** What a container is for when it is not a server: `load-generator`, `clock-probe`. */
export const LABEL_ROLE = 'forklab.role';
