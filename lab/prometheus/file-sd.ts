// File-based service discovery for Prometheus: the lab tells Prometheus what to scrape by writing
// one JSON file per run, `<dir>/forklab-<runId>.json`, in the format of `file_sd_configs`:
//
//   [{ "targets": ["127.0.0.1:9080"], "labels": { "scenario": "compare", "run": "…", … } }, …]
//
// Prometheus (prometheus/prometheus.yml, job `forklab`) watches the folder and picks changes up
// within about 5 s (its discovery manager sends updates at most every 5 s). Files are replaced
// atomically (a temporary name that does not match `*.json`, then rename), so Prometheus never
// reads half a file. Removing the file stops the scrapes; the series go stale at once.
//
// The labels are attached to every series scraped from the address. The scrape job sets
// `honor_labels: true`, so a label the exporter itself sets wins over these: the client exporter
// serves series for several targets from one address, each with its own `target` label, and
// forklab_server_info carries its own `loop_creation`/`flavour` (equal to these).
//
// The label that tells server from client is `role`, not `kind`: forklab_context_switches_total
// has a `kind` label of its own (voluntary/involuntary), and with honor_labels it would hide ours.
// For the same reason what a server is (engine, tornado, nginx, command: the target's kind) is
// `server_kind`: a `kind` label would be on every series but that one, where a query such as
// `forklab_context_switches_total{kind="nginx"}` would find nothing.
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { forgetFile, reapFileOnExit } from '../runtime/reaper';
import { REPO_ROOT } from '../runtime/repo-paths';

/** Environment variable that moves the SD folder (the compose stack mounts the same one). */
export const SD_DIR_ENV = 'FORKLAB_SD_DIR';

/** Where SD files go: $FORKLAB_SD_DIR, or `.stack/sd` in the repository (gitignored). */
export function defaultSdDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[SD_DIR_ENV];
  return fromEnv ? path.resolve(fromEnv) : path.join(REPO_ROOT, '.stack', 'sd');
}

interface CommonLabels {
  scenario: string;
  run: string;
  /** `cell-0`, …; a scenario without a matrix has one cell. */
  cell: string;
  /** The server's name (container name or local --name), or the client exporter's name. */
  server: string;
}

/** A forklab server's supervisor (/metrics of `forklab serve`). */
export interface ServerSdLabels extends CommonLabels {
  role: 'server';
  /** The scenario's target name. */
  target: string;
  /** The target's kind: what serves (lab/scenario/target-kinds.ts). */
  server_kind: 'engine' | 'tornado' | 'nginx' | 'command';
  loop_creation: string;
  flavour: string;
}

/**
 * The lab's client exporter (client-exporter.ts). Its series carry their own `target` and `cell`
 * labels, which win over the ones here (honor_labels): one exporter serves every target.
 */
export interface ClientSdLabels extends CommonLabels {
  role: 'client';
  target?: string;
  loop_creation?: string;
  flavour?: string;
}

export type SdLabels = ServerSdLabels | ClientSdLabels;

export interface SdEntry {
  /** `127.0.0.1:<metricsPort>`: where Prometheus scrapes /metrics. */
  address: string;
  labels: SdLabels;
}

/** One target group of a file_sd file. */
export interface SdGroup {
  targets: string[];
  labels: Record<string, string>;
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ADDRESS = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/**
 * The file a run's targets go to. It names the lab process that owns it, so that a file left by a
 * lab that was killed outright can be told apart and swept (sweepStaleTargets).
 */
export function targetsFile(dir: string, runId: string, ownerPid = process.pid): string {
  if (!RUN_ID.test(runId)) {
    throw new Error(
      `file-sd: run id "${runId}" is not usable in a file name (letters, digits, . _ -)`,
    );
  }
  return path.join(dir, `forklab-${runId}.pid${ownerPid}.json`);
}

const OWNED_FILE = /^forklab-.+\.pid(\d+)\.json$/;

/**
 * Removes the SD files of lab processes that are gone (killed before they could unregister), so
 * that Prometheus stops scraping ports a later server may have taken. Returns the files removed.
 */
export async function sweepStaleTargets(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(OWNED_FILE.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || processAlive(pid)) continue;
    await rm(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** The file_sd groups for `entries` (one group per address), checked. */
export function sdGroups(entries: readonly SdEntry[]): SdGroup[] {
  const errors: string[] = [];
  const groups = entries.map((e, i) => {
    if (!ADDRESS.test(e.address))
      errors.push(`entry ${i}: address "${e.address}" is not host:port`);
    const labels: Record<string, string> = {};
    for (const [name, value] of Object.entries(e.labels)) {
      if (value === undefined || value === '') continue;
      if (!LABEL_NAME.test(name) || name.startsWith('__')) {
        errors.push(`entry ${i}: "${name}" is not a usable label name`);
      } else if (typeof value !== 'string') {
        errors.push(`entry ${i}: label ${name} must be a string, got ${typeof value}`);
      } else {
        labels[name] = value;
      }
    }
    return { targets: [e.address], labels };
  });
  if (errors.length) throw new Error(`file-sd: invalid entries:\n  ${errors.join('\n  ')}`);
  return groups;
}

/**
 * Writes (or replaces) the run's SD file with `entries`. Returns the file's path. Call it again
 * with the next cell's servers: the file always lists what should be scraped now.
 */
export async function writeTargets(
  dir: string,
  runId: string,
  entries: readonly SdEntry[],
): Promise<string> {
  const file = targetsFile(dir, runId);
  const body = JSON.stringify(sdGroups(entries), null, 2) + '\n';
  await mkdir(dir, { recursive: true, mode: 0o755 });
  // Hidden and not ending in .json: Prometheus's glob never sees it.
  const tmp = path.join(dir, `.forklab-${runId}.json.${process.pid}.tmp`);
  try {
    await writeFile(tmp, body, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // Removed by the reaper if this process is killed before it can remove the file itself.
  reapFileOnExit(file);
  return file;
}

/** Removes the run's SD file (no error when it is already gone). */
export async function removeTargets(dir: string, runId: string): Promise<void> {
  const file = targetsFile(dir, runId);
  await rm(file, { force: true });
  forgetFile(file);
}
