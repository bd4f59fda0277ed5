// Whether a run's load can be trusted, from the record alone: was the load generator saturated
// (then the client, not the server, set the rate), did the servers' workers outnumber the CPUs
// they ran on (then each target measured the share of the CPUs it got), and was latency corrected
// for coordinated omission. The verdicts (terminal summary and report) show these in words.
import type { DriverUsage } from '../load/driver-usage';
import { SATURATED_LOOP_P99_MS, SATURATED_UTILIZATION } from '../load/driver-usage';
import type { CellRecord, RunRecord, TargetRecord } from '../record/run-record';
import { parseCpuList } from '../scenario/isolation';
import { fmtNum } from './format';

const pct = (x: number): string => `${Math.round(x * 100)} %`;

/** Why a recorded driver usage counts as saturated and what would not have been; null if not. */
export function saturationText(u: DriverUsage): string | null {
  if (!u.saturated) return null;
  const reasons: string[] = [];
  if (u.utilization >= SATURATED_UTILIZATION) {
    const loops = u.threads === 1 ? 'its loop' : `its ${u.threads} loops`;
    reasons.push(
      `${loops} had work ${pct(u.utilization)} of the time (on ${fmtNum(u.cpuCores)} of a CPU)`,
    );
  }
  if (u.loopDelayMs && u.loopDelayMs.p99 >= SATURATED_LOOP_P99_MS) {
    reasons.push(`its event loop ran ${fmtNum(u.loopDelayMs.p99)} ms late (p99)`);
  }
  // A record that says saturated for a reason these thresholds no longer name: say so plainly.
  if (reasons.length === 0) reasons.push('it recorded itself as saturated');
  const instead =
    u.driver === 'native'
      ? `more threads for the native driver (load.driverThreads, --driver-threads; it ran ${u.threads}) would have spread the work`
      : 'the native driver (load.driver "native", --driver native) would not have been saturated: ' +
        'its epoll threads need a fraction of the CPU per response (npm run bench:driver)';
  return (
    `the load generator (${u.generator}, driver ${u.driver}) was saturated: ${reasons.join(' and ')} ` +
    `— the client, not the server, set this rate; ${instead}`
  );
}

/** Targets whose servers ran at the same time on the same CPUs (see cpuGroups). */
export interface CpuGroup {
  targets: TargetRecord[];
  /** CPUs available to them. */
  cpus: number;
  /** How the CPUs were known (`the machine's 2 CPUs`, `CPU set 0-1`). */
  cpusFrom: string;
  /** The load generators ran on these CPUs too. */
  withDrivers: boolean;
}

/** Server workers of a target: workers per server × its servers. */
export function targetWorkers(t: TargetRecord): number {
  const perServer = t.server?.workers ?? 0;
  const servers = Math.max(1, t.containers?.length ?? 1);
  return perServer > 0 ? perServer * servers : (t.workers?.length ?? 0);
}

/**
 * The groups of targets of a cell that ran at once on shared CPUs, from the recorded isolation:
 * `concurrent` (or none recorded): every target together on all of the machine's CPUs;
 * `sequential`: each target alone on them; `pinned`: the targets of one CPU set together on it.
 */
export function cpuGroups(record: RunRecord, cell: CellRecord): CpuGroup[] {
  const cpus = record.environment?.cpus ?? 0;
  if (cell.targets.length === 0 || cpus <= 0) return [];
  const machine = `the machine's ${cpus} CPUs`;
  const iso = record.resolved?.isolation;
  if (iso?.mode === 'sequential') {
    return cell.targets.map((t) => ({ targets: [t], cpus, cpusFrom: machine, withDrivers: true }));
  }
  if (iso?.mode === 'pinned') {
    const driverCpus = iso.drivers === undefined ? null : parseCpuList(iso.drivers);
    const bySet = new Map<string, TargetRecord[]>();
    for (const t of cell.targets) {
      const set = t.cpus ?? iso.targets[t.name];
      if (set === undefined) continue;
      bySet.set(set, [...(bySet.get(set) ?? []), t]);
    }
    return [...bySet].map(([set, targets]) => {
      const list = parseCpuList(set) ?? [];
      return {
        targets,
        cpus: list.length,
        cpusFrom: `CPU set ${set} (${list.length} CPU${list.length === 1 ? '' : 's'})`,
        withDrivers: driverCpus === null || driverCpus.some((c) => list.includes(c)),
      };
    });
  }
  return [{ targets: cell.targets, cpus, cpusFrom: machine, withDrivers: true }];
}

/** A warning for each group whose workers outnumber its CPUs; [] when none does. */
export function oversubscriptionTexts(record: RunRecord, cell: CellRecord): string[] {
  const out: string[] = [];
  for (const g of cpuGroups(record, cell)) {
    const workers = g.targets.reduce((a, t) => a + targetWorkers(t), 0);
    if (workers <= g.cpus) continue;
    const who =
      g.targets.length === 1
        ? `target ${g.targets[0]!.name}`
        : `targets ${g.targets.map((t) => `${t.name} (${targetWorkers(t)})`).join(', ')}, running at once,`;
    const other =
      g.targets.length > 1
        ? ' and the targets took CPU from each other: each measured the share it got, not what it can do alone; isolation "sequential" runs one target at a time, "pinned" gives each its own CPUs'
        : '';
    out.push(
      `${workers} server workers of ${who} outnumbered ${g.cpusFrom}${g.withDrivers ? ', which the load generator shared too' : ''}: workers waited for a CPU${other}`,
    );
  }
  return out;
}

/** How the latency of a target was timed, when a rate was set; null without a rate or a flag. */
export function latencyTimingText(record: RunRecord, t: TargetRecord): string | null {
  const rate = record.resolved?.load?.rate;
  const corrected = t.client?.latencyCorrected;
  if (rate === undefined || corrected === undefined) return null;
  return corrected
    ? `latency corrected for coordinated omission: each request timed from when the rate of ${fmtNum(rate)} requests/s had it due, so a stalled server is charged for the requests the client could not send (as wrk2 does)`
    : `latency not corrected for coordinated omission: each request timed from when it was written, so requests a stalled server kept the client from sending are missing from it (the native driver, --driver native, times from the rate's schedule)`;
}
