// Opens a report (or comparison) page in headless Chromium and reads back what the page says
// about itself (see page.ts: data-render, per-chart data points and inked pixels, errors), plus
// every console line Chromium logged for the page. Optionally keeps a screenshot.
//
// No DevTools client is needed: `--dump-dom` prints the DOM after the page's scripts ran (with a
// virtual time budget for its timers), and `--enable-logging=stderr` prints the console. Each
// Chromium gets a fresh profile folder, removed afterwards; a Chromium that does not finish in
// time is killed (its whole process group, which this module started).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

/** The Chromium binary: $CHROMIUM, else the first of the usual paths that exists, else null. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env['CHROMIUM'],
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}

export interface ChartState {
  id: string;
  points: number;
  ink: number;
  series: number;
  length: number;
}

export interface PageCheck {
  /** `done`, `errors`, or null when the page script never finished. */
  render: string | null;
  errors: number;
  chartsExpected: number;
  chartsDrawn: number;
  chartsInked: number;
  charts: ChartState[];
  /** The page's own status line (lists the errors when there are any). */
  status: string;
  /** Console messages Chromium logged for the page. */
  console: string[];
  /** Page height in CSS px, as the page measured it. */
  height: number | null;
  /** The document's title after its scripts ran. */
  title: string;
  screenshot: string | null;
}

interface Ran {
  stdout: string;
  stderr: string;
}

function runChromium(bin: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`chromium did not finish within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`chromium exited with ${code}; stderr:\n${stderr}`));
    });
  });
}

async function withProfile<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'forklab-chromium-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z-]+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

const unescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** Reads the page's self-reported render state out of a dumped DOM. */
export function parseDumpedDom(dom: string): Omit<PageCheck, 'console' | 'screenshot'> {
  const body = attrs(/<body([^>]*)>/.exec(dom)?.[1] ?? '');
  const charts: ChartState[] = [];
  for (const m of dom.matchAll(/<div([^>]*\bdata-chart="[^"]*"[^>]*)>/g)) {
    const a = attrs(m[1]!);
    charts.push({
      id: unescape(a['data-chart'] ?? ''),
      points: Number(a['data-points'] ?? 0),
      ink: Number(a['data-ink'] ?? 0),
      series: Number(a['data-series'] ?? 0),
      length: Number(a['data-length'] ?? 0),
    });
  }
  const status = /<div id="render-status"[^>]*>([\s\S]*?)<\/div>/.exec(dom)?.[1] ?? '';
  return {
    render: body['data-render'] ?? null,
    errors: Number(body['data-errors'] ?? NaN),
    chartsExpected: Number(body['data-charts-expected'] ?? NaN),
    chartsDrawn: Number(body['data-charts-drawn'] ?? NaN),
    chartsInked: Number(body['data-charts-inked'] ?? NaN),
    charts,
    status: unescape(status),
    height: body['data-height'] ? Number(body['data-height']) : null,
    title: unescape(/<title>([\s\S]*?)<\/title>/.exec(dom)?.[1] ?? ''),
  };
}

export interface CheckOptions {
  /** Where to keep a PNG of the page (full height, up to `maxHeight`). */
  screenshot?: string;
  width?: number;
  maxHeight?: number;
  timeoutMs?: number;
  chromium?: string;
}

/** Opens `htmlFile` in headless Chromium; see PageCheck. */
export async function checkPage(htmlFile: string, o: CheckOptions = {}): Promise<PageCheck> {
  const bin = o.chromium ?? findChromium();
  if (!bin) throw new Error('no Chromium found (set CHROMIUM, or install the chromium package)');
  const url = pathToFileURL(path.resolve(htmlFile)).href;
  const timeout = o.timeoutMs ?? 60_000;
  const width = o.width ?? 1400;
  const dumped = await withProfile((dir) =>
    runChromium(
      bin,
      [
        ...CHROMIUM_FLAGS,
        `--user-data-dir=${dir}`,
        '--enable-logging=stderr',
        '--v=0',
        `--window-size=${width},1000`,
        '--virtual-time-budget=10000',
        '--dump-dom',
        url,
      ],
      timeout,
    ),
  );
  const state = parseDumpedDom(dumped.stdout);
  const consoleLines = dumped.stderr
    .split('\n')
    .filter((l) => /:CONSOLE[:(]/.test(l))
    .map((l) => l.trim());
  let screenshot: string | null = null;
  if (o.screenshot) {
    const height = Math.min(o.maxHeight ?? 12_000, Math.max(800, (state.height ?? 2000) + 40));
    const out = path.resolve(o.screenshot);
    await withProfile((dir) =>
      runChromium(
        bin,
        [
          ...CHROMIUM_FLAGS,
          `--user-data-dir=${dir}`,
          `--window-size=${width},${height}`,
          '--virtual-time-budget=10000',
          `--screenshot=${out}`,
          url,
        ],
        timeout,
      ),
    );
    screenshot = out;
  }
  return { ...state, console: consoleLines, screenshot };
}
