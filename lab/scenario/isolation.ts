// How a scenario's targets share the machine (`isolation`, discriminated by `mode`):
//  - concurrent (default): every target of a cell under load at once, on every CPU, with the
//    load generators beside them — the targets take CPU from each other;
//  - pinned: each target's servers on a CPU set of their own (Docker HostConfig.CpusetCpus; local
//    processes started through `taskset -c`), and the load generators on theirs (`drivers`);
//  - sequential: one target at a time under the same load (its own warm-up, snapshots and
//    drain), for a fair throughput comparison on a small machine.
import { readFileSync } from 'node:fs';

export const ISOLATION_MODES = ['concurrent', 'pinned', 'sequential'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];

export type IsolationSpec =
  | { mode: 'concurrent' }
  | { mode: 'sequential' }
  | {
      mode: 'pinned';
      /** Target name → CPU list (`taskset -c` syntax: "0", "0-1", "0,2"). Every target needs one. */
      targets: Record<string, string>;
      /** CPU list of the load generators (each runs as a process of its own); default: any CPU. */
      drivers?: string;
    };

export const DEFAULT_ISOLATION: IsolationSpec = { mode: 'concurrent' };

const CPU_LIST_RE = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;
/** Linux's default CONFIG_NR_CPUS ceiling; a list naming more is a typo. */
const MAX_CPU = 8191;

/** The CPUs of a list such as "0-2,5", ascending; null when it is not one. */
export function parseCpuList(text: string): number[] | null {
  if (!CPU_LIST_RE.test(text)) return null;
  const cpus = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    const hi = b ?? a;
    if (hi < a || hi > MAX_CPU) return null;
    for (let c = a; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((x, y) => x - y);
}

/** A CPU list as the kernel writes it (Cpus_allowed_list): ranges joined by commas. */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const show = (v: unknown): string => (v === undefined ? 'missing' : `got ${JSON.stringify(v)}`);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every problem with `isolation` (each with its field), given the scenario's target names (null
 * when the targets themselves are invalid: their names are not checked then).
 */
export function isolationErrors(x: unknown, targetNames: readonly string[] | null): string[] {
  if (x === undefined) return [];
  const errors: string[] = [];
  const modes = ISOLATION_MODES.map((m) => JSON.stringify(m)).join(', ');
  if (!isRecord(x)) {
    return [
      `isolation: must be an object { mode: ${modes.replace(/, /g, ' | ')} } (pinned also takes targets: { <target>: "<cpus>" } and drivers: "<cpus>"), ${show(x)}`,
    ];
  }
  if (!(ISOLATION_MODES as readonly unknown[]).includes(x.mode)) {
    errors.push(`isolation.mode: must be one of ${modes}, ${show(x.mode)}`);
    return errors;
  }
  const allowed = x.mode === 'pinned' ? ['mode', 'targets', 'drivers'] : ['mode'];
  for (const k of Object.keys(x)) {
    if (!allowed.includes(k)) {
      errors.push(
        `isolation.${k}: unknown key for mode "${String(x.mode)}"${k === 'targets' || k === 'drivers' ? ' (only pinned takes CPU sets)' : ''}; remove it`,
      );
    }
  }
  if (x.mode !== 'pinned') return errors;
  const cpuListError = (field: string, v: unknown): void => {
    if (typeof v !== 'string' || parseCpuList(v) === null) {
      errors.push(
        `${field}: must be a CPU list as taskset -c takes it ("0", "0-1", "0,2"; ascending ranges), ${show(v)}`,
      );
    }
  };
  if (!isRecord(x.targets)) {
    errors.push(
      `isolation.targets: pinned needs a CPU list per target, e.g. { "post-fork": "0", "pre-fork": "1" }, ${show(x.targets)}`,
    );
  } else {
    for (const [name, v] of Object.entries(x.targets)) {
      if (targetNames && !targetNames.includes(name)) {
        errors.push(
          `isolation.targets.${name}: no target has this name; the targets are ${targetNames.map((n) => JSON.stringify(n)).join(', ')}`,
        );
      }
      cpuListError(`isolation.targets.${name}`, v);
    }
    for (const name of targetNames ?? []) {
      if (!(name in x.targets)) {
        errors.push(
          `isolation.targets.${name}: missing; pinned gives every target a CPU set (e.g. "${name}": "0")`,
        );
      }
    }
  }
  if (x.drivers !== undefined) cpuListError('isolation.drivers', x.drivers);
  return errors;
}

/** The CPUs this process may run on (its Cpus_allowed_list), or null where /proc cannot tell. */
export function allowedCpus(statusText?: string): number[] | null {
  let text = statusText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(text);
  return m ? parseCpuList(m[1]!) : null;
}

/**
 * The CPU sets of a pinned isolation that name CPUs this machine does not give the lab: each
 * with its field. Checked when a run starts, before anything is started.
 */
export function unavailableCpuErrors(iso: IsolationSpec, allowed: readonly number[]): string[] {
  if (iso.mode !== 'pinned') return [];
  const errors: string[] = [];
  const check = (field: string, list: string): void => {
    const missing = (parseCpuList(list) ?? []).filter((c) => !allowed.includes(c));
    if (missing.length > 0) {
      errors.push(
        `${field}: CPU ${formatCpuList(missing)} is not available here (the lab may run on CPUs ${formatCpuList(allowed)})`,
      );
    }
  };
  for (const [name, list] of Object.entries(iso.targets)) check(`isolation.targets.${name}`, list);
  if (iso.drivers !== undefined) check('isolation.drivers', iso.drivers);
  return errors;
}

/** In words, for the summary and the report. */
export function describeIsolation(iso: IsolationSpec | undefined): string {
  const i = iso ?? DEFAULT_ISOLATION;
  switch (i.mode) {
    case 'concurrent':
      return 'concurrent: every target under load at once, sharing every CPU with the load generators';
    case 'sequential':
      return 'sequential: one target at a time under the same load';
    case 'pinned':
      return `pinned: ${Object.entries(i.targets)
        .map(([t, c]) => `${t} on CPUs ${c}`)
        .join(
          ', ',
        )}; load generators on ${i.drivers === undefined ? 'any CPU' : `CPUs ${i.drivers}`}`;
  }
}
