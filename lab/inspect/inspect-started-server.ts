// The inspection a run makes of each server once it is ready: the evidence, the findings, and
// the contradictions with what the target declared (which stop the run).
import type { StartedServer } from '../runtime/runtime';
import { checkDeclared, type DeclaredSetup } from './check-declared';
import { containerPid } from './container-pid';
import type { Evidence } from './evidence';
import type { Finding } from './findings';
import { inspectTarget } from './inspect';

export interface ServerInspection {
  /** The server's name (container name or local process name). */
  server: string;
  /** The host pid inspected (a container's State.Pid), null when it could not be found. */
  pid: number | null;
  evidence: Evidence | null;
  findings: Finding[];
  /** Where the evidence contradicts the declared set-up; a run stops on any. */
  contradictions: string[];
  /** What kept the inspection from being complete (permission, kcmp, process gone). */
  unseen: string[];
}

/** The host pid of a started server: the local process, or the container's first process. */
export async function serverHostPid(
  server: Pick<StartedServer, 'kind' | 'id' | 'hostPid'>,
): Promise<number> {
  if (server.hostPid) return server.hostPid();
  if (server.kind === 'local') {
    const m = /^pid:(\d+)$/.exec(server.id);
    if (!m) throw new Error(`local server id ${JSON.stringify(server.id)} names no pid`);
    return Number(m[1]);
  }
  return containerPid(server.id);
}

/**
 * Inspects one ready server and checks it against its declared set-up. Never throws. Its port is
 * labelled `server`; the metrics port and the ports its ready line names as the adapter's
 * (nginx's stub_status) `adapter`.
 */
export async function inspectStartedServer(
  server: Pick<StartedServer, 'kind' | 'id' | 'name' | 'port' | 'hostPid'> &
    Partial<Pick<StartedServer, 'metricsPort' | 'ready'>>,
  /** What the target declares; null: nothing to check (a server of your own). */
  declared: Omit<DeclaredSetup, 'port'> | null,
): Promise<ServerInspection> {
  let pid: number | null = null;
  try {
    pid = await serverHostPid(server);
    const adapter = [
      ...(server.metricsPort !== undefined ? [server.metricsPort] : []),
      ...(server.ready?.adapterPorts ?? []),
    ];
    const r = await inspectTarget(pid, { ports: { server: [server.port], adapter } });
    return {
      server: server.name,
      pid,
      evidence: r.evidence,
      findings: r.findings,
      contradictions: declared ? checkDeclared(r.evidence, { ...declared, port: server.port }) : [],
      unseen: r.evidence.unseen,
    };
  } catch (err) {
    return {
      server: server.name,
      pid,
      evidence: null,
      findings: [],
      contradictions: [],
      unseen: [`could not inspect: ${(err as Error).message}`],
    };
  }
}

/** One line per contradiction, naming the target and server, for the error that stops a run. */
export function contradictionError(target: string, inspections: ServerInspection[]): string | null {
  const lines = inspections.flatMap((i) =>
    i.contradictions.map((c) => `target ${target}, ${i.server} (pid ${i.pid}): ${c}`),
  );
  return lines.length === 0
    ? null
    : `the kernel's evidence contradicts the declared set-up:\n  ${lines.join('\n  ')}\n` +
        `(forklab inspect <pid> shows the evidence; check the target's server settings)`;
}

/** Summary lines for people: each server's risks and costs, and what could not be seen. */
export function inspectionSummaryLines(
  target: string,
  inspections: readonly ServerInspection[],
): string[] {
  const out: string[] = [];
  for (const i of inspections) {
    const shown = i.findings.filter(
      (f) => f.severity !== 'info' || /EPOLLEXCLUSIVE|SO_REUSEPORT/.test(f.text),
    );
    const head = `${target} (${i.server}, pid ${i.pid ?? '?'})`;
    if (shown.length === 0 && i.unseen.length === 0) out.push(`${head}: nothing risky`);
    for (const f of shown) out.push(`${head}: ${f.severity}: ${f.text}`);
    for (const u of i.unseen) out.push(`${head}: not seen: ${u}`);
  }
  return out;
}
