// Shared by the verdicts, the HTML report and the comparison: number formatting, HTML escaping,
// labels of cells and set-ups. The figures themselves, their formats and when they apply are the
// catalogue's (lab/record/figures.ts); a figure that does not apply is null here, shown `n/a`.
import { figureOf, formatFigure, type FigureDef, type FigureKey } from '../record/figures';
import type { EngineRecord } from '../record/run-record';
import type { ServeConfig } from '../server/config';

export { FIGURES, type FigureDef, type FigureUnit } from '../record/figures';

/** A derived figure as shown: null when there is nothing to show (n/a). */
export type Figure = number | null;

/** A plain number or null (NaN, missing, or not a number). */
export function num(v: unknown): Figure {
  if (typeof v !== 'number' || Number.isNaN(v)) return null;
  return v;
}

/** A number for people: few digits, thousands separated, `inf` and `n/a` spelled out. */
export function fmtNum(v: Figure | undefined): string {
  return formatFigure('ratio', v);
}

/** A fraction (0..1) as a percentage. */
export function fmtPct(fraction: Figure | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return 'n/a';
  return `${fmtNum(fraction * 100)} %`;
}

/** HTML text and attribute escaping (quotes included). */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * JSON safe inside `<script type="application/json">`: no `<` (so no `</script>` or `<!--`),
 * and no U+2028/2029. JSON.parse reads it back unchanged.
 */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** `workers=4 trigger=edge`, or '' for a cell without a matrix. */
export function matrixLabel(matrix: Record<string, unknown> | null | undefined): string {
  if (!matrix) return '';
  return Object.entries(matrix)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

type ServerLike = Partial<Omit<ServeConfig, 'port' | 'metricsPort'>>;

/**
 * The set-up in the words of the story: `pre-fork`, `pre-fork (asyncio)`,
 * `post-fork + EPOLLEXCLUSIVE`, `pre-fork, edge-triggered`, with the worker count and the pace
 * (`unpaced`, `paced as tornado4`).
 */
export function setupLabel(
  server: ServerLike | null | undefined,
  /** The target's kind: given, the label names it (a cell with real servers beside the model). */
  kind?: string,
): string {
  const s = server ?? {};
  const r = s as Record<string, unknown>;
  const n = (w: unknown) => (typeof w === 'number' ? `, ${w} worker${w === 1 ? '' : 's'}` : '');
  switch (kind) {
    case undefined:
      break;
    case 'engine':
      return `engine model: ${setupLabel(server)}`;
    case 'tornado':
      return `Tornado: ${String(r.loopCreation ?? 'post-fork')}${n(r.workers)}`;
    case 'nginx': {
      const how = r.reuseport
        ? 'reuseport'
        : r.acceptMutex
          ? 'accept_mutex on'
          : 'accept_mutex off (EPOLLEXCLUSIVE)';
      return `nginx: ${how}${r.multiAccept ? ', multi_accept' : ''}${n(r.workers)}`;
    }
    default:
      return `${kind}${n(r.workers)}`;
  }
  let label = s.loopCreation ?? 'post-fork';
  if (s.flavour === 'asyncio') label += ' (asyncio)';
  if (s.exclusive) label += ' + EPOLLEXCLUSIVE';
  if (s.reusePort) label += ' + SO_REUSEPORT';
  if (s.loopCreation === 'pre-fork-late') label += `, on-eexist ${s.onEexist ?? 'fail'}`;
  if (s.trigger === 'edge') label += ', edge-triggered';
  if (s.workers !== undefined) label += `, ${s.workers} worker${s.workers === 1 ? '' : 's'}`;
  // The pace model (lab/server/pace.ts): the engine at its own speed magnifies the mechanism; paced,
  // it spends the CPU the framework spends, so its magnitudes are the framework's.
  if (s.pace !== undefined) label += s.pace === 'native' ? ', unpaced' : `, paced as ${s.pace}`;
  return label;
}

/** A target's kind; records older than target kinds ran the engine only. */
export function kindOf(t: { kind?: string }): string {
  return t.kind ?? 'engine';
}

/** Whether targets of more than one kind sit side by side (model and real): labels name kinds. */
export function mixedKinds(targets: readonly { kind?: string }[]): boolean {
  return new Set(targets.map(kindOf)).size > 1 || targets.some((t) => kindOf(t) !== 'engine');
}

/** setupLabel of a target in its cell, naming its kind where the cell has real servers. */
export function targetSetupLabel(
  t: { kind?: string; server?: ServerLike | null },
  cellTargets: readonly { kind?: string }[],
): string {
  return setupLabel(t.server, mixedKinds(cellTargets) ? kindOf(t) : undefined);
}

/** A figure's value as shown in a table cell, in its unit; `n/a` for null. */
export function fmtFigure(def: Pick<FigureDef, 'unit'>, v: Figure | undefined): string {
  return formatFigure(def.unit, v);
}

/** A figure of a recorded target: its value, null when it does not apply (see figureOf). */
export function figureValue(
  t: Parameters<typeof figureOf>[0],
  def: Pick<FigureDef, 'key'>,
): Figure {
  return figureOf(t, def.key as FigureKey).value;
}

/**
 * One Docker engine of a placed run, for the environment section: what ran on it, its clock
 * against the lab's, and the images moved to it.
 */
export function describeEngine(e: EngineRecord): string {
  const roles = e.roles.length > 0 ? e.roles.join(', ') : 'nothing placed';
  const clock =
    e.clockOffsetMs === null
      ? 'clock offset not measured'
      : `clock offset ${e.clockOffsetMs >= 0 ? '+' : ''}${e.clockOffsetMs.toFixed(3)} ms (±${((e.clockRttMs ?? 0) / 2).toFixed(3)} ms, best of ${e.clockSamples})`;
  const moved = e.images
    .filter((i) => i.moved)
    .map(
      (i) => `${i.tag} moved in ${(i.ms / 1000).toFixed(1)} s (${(i.bytes / 1e6).toFixed(0)} MB)`,
    );
  return `${e.name} ${e.address} (Docker ${e.version}): ${roles}; ${clock}${moved.length > 0 ? `; ${moved.join(', ')}` : ''}`;
}
