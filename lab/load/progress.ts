// Progress of the running load on stderr. On a terminal: one bar per target, redrawn in place at
// most 10 times a second. Otherwise (a log, CI): one plain line per target every few seconds.
// The render functions return strings; LoadProgressView only decides when to write them.
import type { LoadProgress } from './load-stats';

export interface TargetProgress {
  name: string;
  progress: LoadProgress | undefined;
}

/** 1234 → "1234", 12345 → "12.3k", 1234567 → "1.23M". */
export function compact(n: number): string {
  const a = Math.abs(n);
  if (a < 10_000) return String(Math.round(n));
  if (a < 1_000_000) return `${(n / 1000).toFixed(a < 100_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(a < 10_000_000 ? 2 : 1)}M`;
}

function counts(p: LoadProgress): string {
  const rate = p.elapsedSec > 0 ? p.responses / p.elapsedSec : 0;
  const parts = [`${compact(p.responses)} resp`, `${compact(rate)}/s`];
  if (p.errors > 0) parts.push(`${compact(p.errors)} err`);
  if (p.timeouts > 0) parts.push(`${compact(p.timeouts)} t/o`);
  return parts.join('  ');
}

/** `name [=====     ]  3.2/10 s  45.1k resp  14.1k/s  2 err`, cut to `columns`. */
export function renderBar(
  t: TargetProgress,
  phase: string,
  durationSec: number,
  nameWidth: number,
  columns = 80,
): string {
  const p = t.progress;
  const elapsed = Math.min(p?.elapsedSec ?? 0, durationSec);
  const width = 20;
  const filled = durationSec > 0 ? Math.round((elapsed / durationSec) * width) : width;
  const bar = `[${'='.repeat(filled)}${' '.repeat(width - filled)}]`;
  const time = `${elapsed.toFixed(1)}/${durationSec} s`;
  const line = `${t.name.padEnd(nameWidth)} ${phase} ${bar} ${time.padStart(10)}  ${
    p ? counts(p) : 'starting'
  }`;
  return line.length > columns ? line.slice(0, Math.max(0, columns - 1)) + '…' : line;
}

/** `[load 3.0/10 s] name: 45123 responses (15041/s), 0 errors, 0 timeouts, 45130 sent`. */
export function renderPlain(t: TargetProgress, phase: string, durationSec: number): string {
  const p = t.progress;
  if (!p) return `[${phase} 0.0/${durationSec} s] ${t.name}: starting`;
  const rate = p.elapsedSec > 0 ? Math.round(p.responses / p.elapsedSec) : 0;
  return (
    `[${phase} ${Math.min(p.elapsedSec, durationSec).toFixed(1)}/${durationSec} s] ${t.name}: ` +
    `${p.responses} responses (${rate}/s), ${p.errors} errors, ${p.timeouts} timeouts, ` +
    `${p.sent} sent`
  );
}

/** The whole TTY frame: one bar per target. */
export function renderFrame(
  targets: TargetProgress[],
  phase: string,
  durationSec: number,
  columns = 80,
): string[] {
  const nameWidth = Math.max(0, ...targets.map((t) => t.name.length));
  return targets.map((t) => renderBar(t, phase, durationSec, nameWidth, columns));
}

export interface ProgressLineInput {
  phase: string;
  durationSec: number;
  /** Target name → its latest progress (insertion order is display order). */
  targets: ReadonlyMap<string, LoadProgress>;
  columns?: number;
}

/**
 * All targets on one line: `load [=====     ] 3.2/10 s  a: 45.1k resp  14.1k/s │ b: …`, cut to
 * `columns` and padded to them, so that `\r` + line overwrites the previous one cleanly.
 */
export function renderProgress(i: ProgressLineInput): string {
  const columns = i.columns ?? 80;
  const elapsed = Math.min(
    i.durationSec,
    Math.max(0, ...[...i.targets.values()].map((p) => p.elapsedSec)),
  );
  const width = 10;
  const filled = i.durationSec > 0 ? Math.round((elapsed / i.durationSec) * width) : width;
  const head = `${i.phase} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${elapsed.toFixed(1)}/${i.durationSec} s`;
  const parts = [...i.targets].map(([name, p]) => `${name}: ${counts(p)}`);
  const line = [head, ...parts].join('  │ ');
  if (line.length >= columns) return line.slice(0, Math.max(0, columns - 2)) + '…';
  return line.padEnd(columns - 1);
}

export interface ProgressViewOptions {
  stream?: NodeJS.WriteStream;
  /** Target names, in display order. */
  targets: string[];
  phase: 'warmup' | 'load';
  durationSec: number;
  /** Overrides stream.isTTY (tests). */
  tty?: boolean;
  /** TTY redraw interval, ≥ 100 ms (at most 10 frames a second). */
  redrawMs?: number;
  /** Non-TTY: a plain line per target this often. */
  plainEveryMs?: number;
}

/** Writes progress to stderr (or `stream`); call update() from onProgress and done() at the end. */
export class LoadProgressView {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly state = new Map<string, LoadProgress | undefined>();
  private readonly timer: NodeJS.Timeout;
  private drawnLines = 0;
  private dirty = true;
  private closed = false;

  constructor(private readonly o: ProgressViewOptions) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? this.stream.isTTY === true;
    for (const name of o.targets) this.state.set(name, undefined);
    const every = this.tty ? Math.max(100, o.redrawMs ?? 100) : (o.plainEveryMs ?? 5000);
    this.timer = setInterval(() => this.draw(), every);
    this.timer.unref();
    if (this.tty) this.draw();
  }

  update(target: string, p: LoadProgress): void {
    this.state.set(target, p);
    this.dirty = true;
  }

  /** Draws the last state once more (TTY) and stops. */
  done(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    if (this.tty) {
      this.dirty = true;
      this.draw();
    }
    this.closed = true;
  }

  private targets(): TargetProgress[] {
    return [...this.state].map(([name, progress]) => ({ name, progress }));
  }

  private draw(): void {
    if (this.closed) return;
    const { phase, durationSec } = this.o;
    if (!this.tty) {
      for (const t of this.targets()) this.stream.write(`${renderPlain(t, phase, durationSec)}\n`);
      return;
    }
    if (!this.dirty) return;
    this.dirty = false;
    const lines = renderFrame(this.targets(), phase, durationSec, this.stream.columns || 80);
    const up = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    this.stream.write(up + lines.map((l) => `\r\x1b[2K${l}\n`).join(''));
    this.drawnLines = lines.length;
  }
}
