// Run-to-run comparison: group run records into sides, line up their figures per cell and target,
// and call a difference real only when it exceeds run-to-run noise. Pure: records in, a
// Comparison out; the terminal table, HTML, CSV and JSON are views of it.
//
// Grouping (default `auto`): records the runner marks as repeats of one `--repeat N` run (the
// same `repeat.group`) form one side. Other records form one side when they have the same
// scenario, the same resolved configuration (description and expectations aside: they do not
// change what is measured) and the same environment (git commit and dirty flag, host, runtime):
// they are repeats of one measurement. So the same scenario on two commits, two hosts or with
// different overrides makes two sides. `config` groups by that rule alone (repeat groups of the
// same configuration merge); `each` makes every argument a side of its own (a group folder stays
// one side), for when the rules merge what should stay apart.
//
// Noise: with ≥ 2 runs on both sides, spread = half the range (max − min) / 2 of each side, and a
// difference is real when |median B − median A| > spread A + spread B. With two runs per side
// that is exactly "the two min..max ranges do not overlap". With one run on either side the
// noise is unknown and the difference is shown but not judged.
import type { CellRecord, RunRecord, TargetRecord } from '../record/run-record';
import {
  FIGURES,
  figureValue,
  matrixLabel,
  type FigureDef,
  type FigureUnit,
} from '../report/format';
import type { LoadedRun } from './load-runs';

export type GroupBy = 'auto' | 'config' | 'each';

export interface SideRun {
  name: string;
  dir: string;
  runId: string;
  startedAt: string;
  status: RunRecord['status'];
}

export interface Side {
  /** `A`, `B`, … */
  id: string;
  /** What sets this side apart from the others, in words (or the scenario's name). */
  label: string;
  scenario: string;
  gitCommit: string | null;
  gitDirty: boolean;
  host: string;
  runtime: string;
  runs: SideRun[];
}

export interface Stats {
  /** Runs with a value (the figure could be computed). */
  n: number;
  /** One per run of the side, null where the run has no value. */
  values: (number | null)[];
  median: number | null;
  min: number | null;
  max: number | null;
  /** Half the range: (max − min) / 2; null with fewer than 2 values. */
  spread: number | null;
}

/** real: beyond the combined spread; noise: within it; unknown: no repeats; same: equal medians. */
export type Verdict = 'real' | 'noise' | 'unknown' | 'same';

export interface Diff {
  /** median − baseline median. */
  delta: number | null;
  /** delta / |baseline median| in %; null when the baseline is 0 or unknown. */
  deltaPct: number | null;
  /** spread A + spread B, when both are known. */
  combinedSpread: number | null;
  verdict: Verdict;
  /** better/worse for figures with a direction, when the difference is real. */
  direction: 'better' | 'worse' | null;
}

export interface Row {
  /** Cell's matrix values (`workers=4`), '' without a matrix. */
  cell: string;
  target: string;
  figure: string;
  label: string;
  unit: FigureUnit;
  /** One per side. */
  stats: Stats[];
  /** One per side: the difference from side A (null for A itself or when either has no value). */
  diffs: (Diff | null)[];
}

export interface Comparison {
  createdAt: string;
  groupBy: GroupBy;
  /** The grouping and noise rules, in words, for every view to print. */
  rules: string[];
  sides: Side[];
  rows: Row[];
  notes: string[];
}

// ---- Grouping ---------------------------------------------------------------------------------

/** JSON with object keys sorted, so equal configurations give equal strings. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as Record<string, unknown>)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** What must be equal for two records to be repeats of one measurement. */
export function measurementOf(r: RunRecord): Record<string, unknown> {
  const {
    description: _d,
    expectations: _e,
    ...resolved
  } = (r.resolved ?? {}) as unknown as Record<string, unknown>;
  const e = r.environment ?? ({} as RunRecord['environment']);
  return {
    scenario: r.scenario,
    resolved,
    gitCommit: e.gitCommit ?? null,
    gitDirty: e.gitDirty ?? false,
    host: e.host ?? null,
    runtime: e.runtime ?? null,
  };
}

/** Flattens nested data into `path → value` (arrays by index), for describing differences. */
function flatten(v: unknown, prefix: string, out: Map<string, string>): void {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      // Targets by name rather than position, so `targets.server.server.workers` reads well.
      const key = Array.isArray(v)
        ? `${prefix}[${(x as { name?: string })?.name ?? k}]`
        : prefix
          ? `${prefix}.${k}`
          : k;
      flatten(x, key, out);
    }
  } else {
    out.set(prefix, JSON.stringify(v) ?? 'undefined');
  }
}

const sideId = (i: number) => (i < 26 ? String.fromCharCode(65 + i) : `S${i + 1}`);

/** Groups runs into sides (see the header), keeping the order in which sides first appear. */
export function groupRuns(runs: readonly LoadedRun[], groupBy: GroupBy = 'auto'): Side[] {
  const groups: { key: string; runs: LoadedRun[] }[] = [];
  for (const run of runs) {
    const group = run.record.repeat?.group;
    const key =
      groupBy === 'each'
        ? `arg:${run.arg}`
        : groupBy === 'auto' && group
          ? `repeat:${group}`
          : `config:${canonical(measurementOf(run.record))}`;
    const g = groups.find((x) => x.key === key);
    if (g) g.runs.push(run);
    else groups.push({ key, runs: [run] });
  }
  // Labels: the measurement fields that differ between sides.
  const flats = groups.map((g) => {
    const m = new Map<string, string>();
    flatten(measurementOf(g.runs[0]!.record), '', m);
    return m;
  });
  const allKeys = [...new Set(flats.flatMap((f) => [...f.keys()]))];
  const differing = allKeys.filter((k) => new Set(flats.map((f) => f.get(k))).size > 1);
  const sides = groups.map((g, i) => {
    const r = g.runs[0]!.record;
    const e = r.environment ?? ({} as RunRecord['environment']);
    const parts = differing
      .map((k) => {
        const v = flats[i]!.get(k);
        const name = k.replace(/^resolved\./, '').replace(/^targets\[([^\]]*)\]\.server\./, '$1.');
        if (k === 'gitCommit') return `commit ${v ? JSON.parse(v)?.slice?.(0, 10) : 'unknown'}`;
        return v === undefined ? `${name} unset` : `${name}=${v.replace(/^"(.*)"$/, '$1')}`;
      })
      .slice(0, 6);
    return {
      id: sideId(i),
      label: parts.length ? parts.join(', ') : r.scenario,
      scenario: r.scenario,
      gitCommit: e.gitCommit ?? null,
      gitDirty: e.gitDirty ?? false,
      host: e.host ?? '',
      runtime: e.runtime ?? '',
      runs: g.runs.map((x) => ({
        name: x.name,
        dir: x.dir,
        runId: x.record.runId,
        startedAt: x.record.startedAt,
        status: x.record.status,
      })),
    };
  });
  // Sides the configuration does not tell apart (--group-by each): name them by their runs.
  for (const side of sides) {
    if (sides.filter((x) => x.label === side.label).length > 1) {
      const first = side.runs[0]!.name;
      side.label = `${side.label} (${first}${side.runs.length > 1 ? ` +${side.runs.length - 1}` : ''})`;
    }
  }
  return sides;
}

// ---- Statistics -------------------------------------------------------------------------------

export function median(sorted: readonly number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function statsOf(values: readonly (number | null)[]): Stats {
  const xs = values.filter((v): v is number => v !== null && !Number.isNaN(v));
  const sorted = [...xs].sort((a, b) => a - b);
  const min = sorted.length ? sorted[0]! : null;
  const max = sorted.length ? sorted[sorted.length - 1]! : null;
  let spread: number | null = null;
  if (sorted.length >= 2 && min !== null && max !== null) {
    spread = min === max ? 0 : (max - min) / 2; // ∞ − finite = ∞: unbounded noise
  }
  let med = median(sorted);
  // The median of [∞, ∞] is NaN by arithmetic ((∞ + ∞)/2 is fine, but ∞ − ∞ is not): keep ∞.
  if (med !== null && Number.isNaN(med)) med = Infinity;
  return { n: sorted.length, values: [...values], median: med, min, max, spread };
}

/** The difference of `b` from the baseline `a`, judged against their combined spread. */
export function diffOf(a: Stats, b: Stats, def?: Pick<FigureDef, 'better'>): Diff | null {
  if (a.median === null || b.median === null) return null;
  const equal = a.median === b.median;
  const delta = equal ? 0 : b.median - a.median;
  const deltaPct =
    a.median !== 0 && Number.isFinite(a.median) && Number.isFinite(delta)
      ? (delta / Math.abs(a.median)) * 100
      : null;
  const combinedSpread = a.spread !== null && b.spread !== null ? a.spread + b.spread : null;
  let verdict: Verdict;
  if (equal) verdict = 'same';
  else if (combinedSpread === null) verdict = 'unknown';
  // Relative slack so that ranges that only touch (equal in floating point) are not "real".
  else verdict = Math.abs(delta) > combinedSpread * (1 + 1e-9) + 1e-12 ? 'real' : 'noise';
  let direction: Diff['direction'] = null;
  if (verdict === 'real' && def?.better) {
    const up = delta > 0;
    direction = (def.better === 'higher') === up ? 'better' : 'worse';
  }
  return { delta, deltaPct, combinedSpread, verdict, direction };
}

// ---- Lining up ---------------------------------------------------------------------------------

interface Slot {
  cell: string;
  target: string;
}

function cellsOf(r: RunRecord): { label: string; cell: CellRecord }[] {
  return (r.cells ?? []).map((cell) => ({ label: matrixLabel(cell.matrix), cell }));
}

function findTarget(r: RunRecord, slot: Slot): TargetRecord | undefined {
  return cellsOf(r)
    .find((c) => c.label === slot.cell)
    ?.cell.targets.find((t) => t.name === slot.target);
}

export const RULES = {
  auto: 'runs of one --repeat group are one side; other runs are grouped by scenario, resolved configuration (description and expectations aside), git commit and dirty flag, host and runtime; the first side is the baseline',
  config:
    'runs are grouped into sides by scenario, resolved configuration (description and expectations aside), git commit and dirty flag, host and runtime; the first side is the baseline',
  each: 'every argument is one side (a group folder is one side); the first side is the baseline',
  noise:
    'a difference is real when |median − baseline median| > spread + baseline spread, spread = (max − min) / 2 of a side’s runs (with 2 runs per side: the ranges do not overlap); with one run on either side: no repeat, noise unknown',
};

/** Compares the sides figure by figure; rows follow the first appearance of cell and target. */
export function compareRuns(
  runs: readonly LoadedRun[],
  opts: { groupBy?: GroupBy; now?: Date } = {},
): Comparison {
  const groupBy = opts.groupBy ?? 'auto';
  const sides = groupRuns(runs, groupBy);
  const recordsOf = (s: Side) => s.runs.map((sr) => runs.find((r) => r.dir === sr.dir)!.record);

  const slots: Slot[] = [];
  for (const s of sides) {
    for (const r of recordsOf(s)) {
      for (const { label, cell } of cellsOf(r)) {
        for (const t of cell.targets) {
          if (!slots.some((x) => x.cell === label && x.target === t.name)) {
            slots.push({ cell: label, target: t.name });
          }
        }
      }
    }
  }

  const rows: Row[] = [];
  for (const slot of slots) {
    for (const def of FIGURES) {
      const stats = sides.map((s) =>
        statsOf(
          recordsOf(s).map((r) => {
            const t = findTarget(r, slot);
            // A figure that does not apply to a run has no value there: it is left out.
            return t ? figureValue(t, def) : null;
          }),
        ),
      );
      // A figure that applies to no run of any side (n/a everywhere) is left out altogether.
      if (stats.every((st) => st.n === 0)) continue;
      const base = stats[0]!;
      rows.push({
        cell: slot.cell,
        target: slot.target,
        figure: def.key,
        label: def.label,
        unit: def.unit,
        stats,
        diffs: stats.map((st, i) => (i === 0 ? null : diffOf(base, st, def))),
      });
    }
  }

  const notes: string[] = [];
  if (sides.length < 2) {
    notes.push(
      'only one side: every run belongs to the same measurement, so there is nothing to compare it with (the spread shows the run-to-run noise)',
    );
  }
  const single = sides.filter((s) => s.runs.length < 2).map((s) => s.id);
  if (single.length) {
    notes.push(
      `no repeat on side ${single.join(', ')}: noise unknown, differences shown but not judged`,
    );
  }
  for (const s of sides) {
    const repeat = recordsOf(s)[0]?.repeat;
    if (groupBy === 'auto' && repeat && s.runs.length < repeat.count) {
      notes.push(
        `side ${s.id}: ${s.runs.length} of the ${repeat.count} runs of its --repeat group given`,
      );
    }
    const bad = s.runs.filter((r) => r.status !== 'completed');
    if (bad.length) {
      notes.push(
        `side ${s.id}: ${bad.map((r) => `${r.name} ${r.status}`).join(', ')} — its figures cover only the cells that completed`,
      );
    }
  }
  const missing = slots.filter((slot) =>
    sides.some((s) => recordsOf(s).every((r) => !findTarget(r, slot))),
  );
  if (missing.length) {
    notes.push(
      `not on every side: ${missing.map((m) => (m.cell ? `${m.target} [${m.cell}]` : m.target)).join(', ')} (targets are matched by name, cells by matrix values)`,
    );
  }
  return {
    createdAt: (opts.now ?? new Date()).toISOString(),
    groupBy,
    rules: [RULES[groupBy], RULES.noise],
    sides,
    rows,
    notes,
  };
}

/** Whether a row has anything to show: some side has a non-zero value. */
export function rowHasData(r: Row): boolean {
  return r.stats.some((s) => s.values.some((v) => v !== null && v !== 0));
}
