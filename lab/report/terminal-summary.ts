// The end-of-run summary for a terminal: a string, at most 100 columns wide.
//
// One cell: the targets side by side (columns = targets, four per table; rows = the key figures
// with their units). A sweep (several cells): one compact table, rows = cell × target, columns =
// the matrix values and as many key figures as fit. Then the expectations (PASS/FAIL, with the
// reason of each failure) and the warnings. Colour only when asked (see `shouldUseColor`); the
// layout is the same with or without it.
//
// Figures come from the catalogue (lab/record/figures.ts): `inf` is a ratio over zero, `n/a` a
// figure that does not apply to the target's window (the reasons are listed under the table), a
// trailing `!` marks a value that failed an expectation.
import {
  FIGURES,
  figureDef,
  shownFigures,
  figureOf,
  formatFigure,
  type FigureDef,
  type FigureKey,
} from '../record/figures';
import type { CellRecord, ExpectationResult, RunRecord, TargetRecord } from '../record/run-record';
import { inspectionSummaryLines } from '../inspect/inspect-started-server';
import { verdictLines, verdicts } from './verdicts';
import { describeIsolation } from '../scenario/isolation';
import { describeEngine, kindOf, mixedKinds } from './format';

export const SUMMARY_WIDTH = 100;
const TARGETS_PER_TABLE = 4;

export interface SummaryOptions {
  color: boolean;
  /** Default 100. */
  width?: number;
}

/** Colour when the stream is a TTY, unless NO_COLOR is set or TERM=dumb; FORCE_COLOR forces it. */
export function shouldUseColor(
  stream: { isTTY?: boolean } = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '0') return true;
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}

type Paint = (code: string, s: string) => string;
const ansi: Paint = (code, s) => `\x1b[${code}m${s}\x1b[0m`;
const plain: Paint = (_code, s) => s;
const BOLD = '1';
const DIM = '2';
const RED = '31';
const GREEN = '32';
const YELLOW = '33';

/** The rows of the side-by-side table: every figure of the catalogue, in its order. */
export const SUMMARY_ROWS: readonly FigureDef[] = FIGURES;

/** Columns of the sweep table, most telling first; as many as fit are shown (the figures of
 * failed expectations first). */
const SWEEP_PRIORITY: readonly FigureKey[] = [
  'requestsPerSec',
  'voluntaryCsPerAccept',
  'keyErrorsPer1000',
  'acceptShareJain',
  'stuckConnectionsMax',
  'acceptEagainPerAccept',
  'voluntaryCsPerRequest',
  'workerRestarts',
  'clientTimeouts',
  'unknownFdPer1000',
  'acceptShareMaxMin',
  'cpuUsPerRequest',
  'eexistErrors',
];

/** A figure of a target as shown: its value in its unit, or `n/a`. */
function cellText(def: FigureDef, t: TargetRecord): string {
  return formatFigure(def.unit, figureOf(t, def.key as FigureKey).value);
}

/** `key: reason` for each figure that does not apply to a target, for the notes under a table. */
function naNotes(targets: readonly TargetRecord[], defs: readonly FigureDef[]): string[] {
  const byReason = new Map<string, { figures: string[]; targets: Set<string> }>();
  for (const def of defs) {
    for (const t of targets) {
      const { na } = figureOf(t, def.key as FigureKey);
      if (na === null) continue;
      const k = `${def.key}\u0000${na}`;
      const e = byReason.get(k) ?? {
        figures: [`${def.name}${def.unitText ? ` ${def.unitText}` : ''}`],
        targets: new Set<string>(),
      };
      e.targets.add(t.name);
      byReason.set(k, e);
    }
  }
  // One line per reason: the figures it covers and the targets it applies to.
  const lines = new Map<string, { figures: string[]; targets: string[] }>();
  for (const [k, e] of byReason) {
    const reason = k.split('\u0000')[1]!;
    const who = [...e.targets].join(', ');
    const key = `${reason}\u0000${who}`;
    const l = lines.get(key) ?? { figures: [], targets: [...e.targets] };
    l.figures.push(...e.figures);
    lines.set(key, l);
  }
  return [...lines.entries()].map(([k, l]) => {
    const reason = k.split('\u0000')[0]!;
    const all = l.targets.length === targets.length;
    return `n/a: ${l.figures.join(', ')}${all ? '' : ` (${l.targets.join(', ')})`} — ${reason}`;
  });
}

function clip(s: string, w: number): string {
  return s.length <= w ? s : s.slice(0, Math.max(0, w - 1)) + '…';
}
const padL = (s: string, w: number) => ' '.repeat(Math.max(0, w - s.length)) + s;
const padR = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));

/** Word-wraps `text` to `width`, continuation lines indented by `indent`. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const room = width - (lines.length === 0 ? 0 : indent.length);
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line || lines.length === 0) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l));
}

function failedSet(record: RunRecord): Set<string> {
  const s = new Set<string>();
  for (const e of record.expectations) {
    if (!e.passed) s.add(`${e.cell}\u0000${e.checkedTarget}\u0000${e.metric}`);
  }
  return s;
}

function durationOf(record: RunRecord): string {
  const ms = Date.parse(record.endedAt) - Date.parse(record.startedAt);
  if (!Number.isFinite(ms) || ms < 0) return '';
  return ms < 60_000
    ? `${(ms / 1000).toFixed(1)} s`
    : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function header(record: RunRecord, paint: Paint, width: number): string[] {
  const statusCode =
    record.status === 'completed' ? GREEN : record.status === 'interrupted' ? YELLOW : RED;
  const dur = durationOf(record);
  const lines = [
    `${paint(BOLD, `forklab run ${record.runId}`)} · scenario ${record.scenario} · ` +
      `${paint(statusCode, record.status.toUpperCase())}${dur ? ` · ${dur}` : ''}`,
  ];
  const e = record.environment;
  if (e) {
    const git = e.gitCommit
      ? ` · git ${e.gitCommit.slice(0, 10)}${e.gitDirty ? ' (dirty)' : ''}`
      : '';
    lines.push(
      paint(
        DIM,
        clip(
          `${e.runtime} runtime · kernel ${e.kernel} · ${e.cpus} CPUs · node ${e.node}${git}`,
          width,
        ),
      ),
    );
    for (const engine of e.engines ?? [])
      lines.push(
        ...wrap(`engine ${describeEngine(engine)}`, width, '  ').map((l) => paint(DIM, l)),
      );
  }
  if (record.resolved?.isolation) {
    lines.push(
      ...wrap(`isolation ${describeIsolation(record.resolved.isolation)}`, width, '  ').map((l) =>
        paint(DIM, l),
      ),
    );
  }
  if (record.error) {
    lines.push(...wrap(`error: ${record.error}`, width, '  ').map((l) => paint(RED, l)));
  }
  return lines;
}

function matrixLabel(cell: CellRecord): string {
  const parts = Object.entries(cell.matrix).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? parts.join(' ') : '';
}

/** Side-by-side tables of one cell, TARGETS_PER_TABLE targets each. */
function cellTables(record: RunRecord, cell: CellRecord, paint: Paint, width: number): string[] {
  const failed = failedSet(record);
  const out: string[] = [];
  const labelW = Math.max(...SUMMARY_ROWS.map((r) => r.name.length));
  const unitW = Math.max(...SUMMARY_ROWS.map((r) => r.unitText.length));
  const m = matrixLabel(cell);
  if (m || record.cells.length > 1)
    out.push(paint(BOLD, clip(`${cell.id}${m ? `  ${m}` : ''}`, width)));
  if (cell.interrupted) {
    out.push(
      ...wrap(
        `${cell.id} INTERRUPTED: counters and samples up to the signal, load cut short, no drain`,
        width,
        '  ',
      ).map((l) => paint(YELLOW, l)),
    );
  }
  for (let start = 0; start < cell.targets.length; start += TARGETS_PER_TABLE) {
    const targets = cell.targets.slice(start, start + TARGETS_PER_TABLE);
    const colW = Math.max(
      8,
      Math.min(18, Math.floor((width - labelW - unitW - 1) / Math.max(1, targets.length)) - 1),
    );
    if (start > 0) out.push('');
    out.push(
      paint(
        BOLD,
        padR('', labelW) +
          ' ' +
          padR('', unitW) +
          targets.map((t) => ' ' + padL(clip(t.name, colW), colW)).join(''),
      ),
    );
    // Model and real side by side: each column says what ran.
    if (mixedKinds(cell.targets))
      out.push(
        paint(
          DIM,
          padR('', labelW) +
            ' ' +
            padR('', unitW) +
            targets.map((t) => ' ' + padL(clip(kindOf(t), colW), colW)).join(''),
        ),
      );
    const rows = shownFigures(SUMMARY_ROWS, targets);
    for (const row of rows) {
      let line = padR(row.name, labelW) + ' ' + paint(DIM, padR(row.unitText, unitW));
      for (const t of targets) {
        let text = cellText(row, t);
        const bad = failed.has(`${cell.id}\u0000${t.name}\u0000${row.key}`);
        if (bad) text += '!';
        const padded = padL(clip(text, colW), colW);
        line += ' ' + (bad ? paint(RED, padded) : padded);
      }
      out.push(line);
    }
    for (const note of naNotes(targets, rows)) {
      out.push(...wrap(note, width, '      ').map((l) => paint(DIM, l)));
    }
  }
  return out;
}

/** The sweep table: rows = cell × target, columns = matrix values and the figures that fit. */
function sweepTable(record: RunRecord, paint: Paint, width: number): string[] {
  const failed = failedSet(record);
  const keys = [...new Set(record.cells.flatMap((c) => Object.keys(c.matrix)))];
  const cellW = Math.max(4, ...record.cells.map((c) => c.id.length));
  const keyW = keys.map((k) =>
    Math.min(16, Math.max(k.length, ...record.cells.map((c) => String(c.matrix[k] ?? '').length))),
  );
  // Model and real side by side: each row says what ran.
  const mixed = record.cells.some((c) => mixedKinds(c.targets));
  const targetW = Math.min(
    mixed ? 26 : 14,
    Math.max(
      6,
      ...record.cells.flatMap((c) =>
        c.targets.map((t) => t.name.length + (mixed ? kindOf(t).length + 3 : 0)),
      ),
    ),
  );
  const figW = 9;
  const fixed = cellW + keyW.reduce((a, w) => a + w + 1, 0) + 1 + targetW;
  const fit = Math.max(1, Math.floor((width - fixed) / (figW + 1)));
  const bySort = SWEEP_PRIORITY.map((k) => figureDef(k)!);
  const failedMetrics = new Set<string>(
    record.expectations.filter((e) => !e.passed).map((e) => e.metric),
  );
  const wanted = [...bySort.filter((r) => failedMetrics.has(r.key)), ...bySort];
  const chosen = new Set([...new Set(wanted)].slice(0, fit));
  const rows = bySort.filter((r) => chosen.has(r));
  const head =
    padR('cell', cellW) +
    keys.map((k, i) => ' ' + padR(clip(k, keyW[i]!), keyW[i]!)).join('') +
    ' ' +
    padR('target', targetW) +
    rows.map((r) => ' ' + padL(r.short, figW)).join('');
  const out = [paint(BOLD, head)];
  for (const cell of record.cells) {
    for (const t of cell.targets) {
      let line =
        padR(cell.id, cellW) +
        keys
          .map((k, i) => ' ' + padR(clip(String(cell.matrix[k] ?? ''), keyW[i]!), keyW[i]!))
          .join('') +
        ' ' +
        padR(clip(mixed ? `${t.name} (${kindOf(t)})` : t.name, targetW), targetW);
      for (const r of rows) {
        let text = cellText(r, t);
        const bad = failed.has(`${cell.id}\u0000${t.name}\u0000${r.key}`);
        if (bad) text += '!';
        const c = padL(clip(text, figW), figW);
        line += ' ' + (bad ? paint(RED, c) : c);
      }
      out.push(line);
    }
  }
  const legend = rows
    .map((r) => `${r.short} = ${r.name}${r.unitText ? ` ${r.unitText}` : ''}`)
    .join('; ');
  out.push(...wrap(legend, width, '').map((l) => paint(DIM, l)));
  out.push(
    paint(
      DIM,
      'n/a: the figure does not apply (reasons in report.html); every figure of every cell: figures.csv',
    ),
  );
  return out;
}

function formatActual(e: ExpectationResult): string {
  if (e.notApplicable) return `n/a (${e.notApplicable})`;
  return formatFigure(figureDef(e.metric)?.unit ?? 'ratio', e.actual);
}

function expectations(record: RunRecord, paint: Paint, width: number): string[] {
  const list = record.expectations;
  if (list.length === 0) return [];
  const failedN = list.filter((e) => !e.passed).length;
  const multiCell = record.cells.length > 1;
  const out = [paint(BOLD, `Expectations: ${list.length - failedN} passed, ${failedN} failed`)];
  for (const e of list) {
    const mark = e.passed ? paint(GREEN, 'PASS') : paint(RED, 'FAIL');
    // A selector (`exclusive=true`, `*`) can pick the same target for two expectations: name it.
    const target =
      e.target === e.checkedTarget ? e.checkedTarget : `${e.checkedTarget} (${e.target})`;
    const where = multiCell ? `${e.cell} ${target}` : target;
    const text =
      `${where}: ${e.metric} ${e.op} ${e.value}, actual ${formatActual(e)}` +
      (!e.passed && e.why ? ` (${e.why})` : '');
    const lines = wrap(text, width - 8, '      ');
    out.push(`  ${mark}  ${lines[0]}`, ...lines.slice(1).map((l) => '  ' + l));
  }
  return out;
}

function warnings(record: RunRecord, paint: Paint, width: number): string[] {
  if (record.warnings.length === 0) return [];
  const out = [paint(BOLD, `Warnings (${record.warnings.length})`)];
  for (const w of record.warnings) {
    const lines = wrap(w, width - 4, '    ');
    out.push(
      paint(YELLOW, `  ! ${lines[0]}`),
      ...lines.slice(1).map((l) => paint(YELLOW, '  ' + l)),
    );
  }
  return out;
}

export function renderSummary(record: RunRecord, opts: SummaryOptions): string {
  const paint = opts.color ? ansi : plain;
  const width = opts.width ?? SUMMARY_WIDTH;
  const sections: string[][] = [header(record, paint, width)];
  const cells = record.cells.filter((c) => c.targets.length > 0);
  if (cells.length === 0) {
    sections.push(['no cell completed: no figures']);
  } else if (record.cells.length === 1) {
    sections.push(cellTables(record, cells[0]!, paint, width));
  } else {
    sections.push(sweepTable({ ...record, cells }, paint, width));
  }
  sections.push(
    findings(record, paint, width),
    kernelEvidence(record, paint, width),
    expectations(record, paint, width),
    warnings(record, paint, width),
  );
  return (
    sections
      .filter((s) => s.length > 0)
      .map((s) => s.join('\n'))
      .join('\n\n') + '\n'
  );
}

/** What the kernel showed of each server's set-up once it was ready (lab/inspect). */
function kernelEvidence(record: RunRecord, paint: Paint, width: number): string[] {
  const lines = record.cells.flatMap((c) =>
    c.targets.flatMap((t) =>
      inspectionSummaryLines(
        record.cells.length > 1 ? `${c.id} ${t.name}` : t.name,
        t.inspection ?? [],
      ),
    ),
  );
  if (lines.length === 0) return [];
  const out = [paint(BOLD, 'Kernel evidence (forklab inspect)')];
  for (const l of lines) {
    const w = wrap(l, width - 2, '    ');
    out.push('  ' + w[0], ...w.slice(1).map((x) => '  ' + x));
  }
  return out;
}

/** The verdicts in plain words, one per finding (lab/report/verdicts.ts), wrapped to width. */
function findings(record: RunRecord, paint: Paint, width: number): string[] {
  const lines = verdictLines(verdicts(record));
  if (lines.length === 0) return [];
  const out = [paint(BOLD, 'Verdicts')];
  for (const l of lines) {
    const w = wrap(l, width - 2, '       ');
    out.push('  ' + w[0], ...w.slice(1).map((x) => '  ' + x));
  }
  return out;
}
