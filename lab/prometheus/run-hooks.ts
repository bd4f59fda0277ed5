// The runner's Prometheus hooks (RunOptions.hooks of lab/run/run-scenario.ts): register each
// cell's servers and the client exporter in file SD, feed the exporter from the load's progress,
// and unregister at the end. The types here are structural (what the hooks read), so that
// `hooks: prometheusRunHooks({...})` fits RunHooks without this module importing the runner.
import { type ClientExporter, type ClientFigures } from './client-exporter';
import {
  defaultSdDir,
  removeTargets,
  sweepStaleTargets,
  writeTargets,
  type SdEntry,
  type ServerSdLabels,
} from './file-sd';
import { instantQuery } from './prometheus-process';

/** What the hooks read of a started server (lab/runtime/runtime.ts StartedServer). */
export interface ServerLike {
  readonly name: string;
  readonly metricsPort: number;
  readonly host?: string;
}

/** What the hooks read of a cell (lab/scenario/resolve-scenario.ts ResolvedCell). */
export interface CellLike {
  id: string;
  /** `kind` absent: engine. A real target's settings may lack the engine's fields. */
  targets: ReadonlyArray<{
    name: string;
    kind?: ServerSdLabels['server_kind'];
    server: { loopCreation?: unknown; flavour?: unknown };
  }>;
}

/** The load's cumulative progress (lab/load LoadProgress; the optional fields when it has them). */
export interface ProgressLike {
  sent: number;
  responses: number;
  errors: number;
  timeouts: number;
  elapsedSec: number;
  status2xx?: number;
  statusOther?: number;
  latencyMs?: { p50: number; p90: number; p99: number } | null;
}

export interface PrometheusRunHooksOptions {
  /** Default: $FORKLAB_SD_DIR or .stack/sd. */
  sdDir?: string;
  /** The client exporter to register and feed; none: only the servers are registered. */
  exporter?: ClientExporter;
  /**
   * A Prometheus to wait for: serversStarted returns once it scrapes every new server (up == 1),
   * so the dashboards show the whole run, warm-up included (file SD takes up to ~5 s).
   */
  prometheusUrl?: string;
  /** Longest wait for that first scrape; default 15000 ms (then it only logs). */
  firstScrapeTimeoutMs?: number;
  /** Wait before unregistering a cell's servers, for a last scrape; default 1100 ms. */
  finalScrapeMs?: number;
  log?: (line: string) => void;
}

export interface PrometheusRunHooks {
  serversStarted(run: {
    runId: string;
    scenario: string;
    cell: CellLike;
    servers: ReadonlyMap<string, readonly ServerLike[]>;
  }): Promise<void>;
  clientProgress(target: string, cell: string, p: ProgressLike): void;
  serversStopping(run: { runId: string; cell: { id: string } }): Promise<void>;
  runEnded(run: { runId: string }): Promise<void>;
}

type Counts = Omit<ClientFigures, 'requestsPerSec' | 'latencyMs' | 'statusClasses'>;
const zero = (): Counts => ({
  sent: 0,
  responses: 0,
  status2xx: 0,
  statusOther: 0,
  errors: 0,
  timeouts: 0,
});
const counts = (p: ProgressLike): Counts => ({
  sent: p.sent,
  responses: p.responses,
  status2xx: p.status2xx ?? p.responses,
  statusOther: p.statusOther ?? 0,
  errors: p.errors,
  timeouts: p.timeouts,
});
const add = (a: Counts, b: Counts): Counts => ({
  sent: a.sent + b.sent,
  responses: a.responses + b.responses,
  status2xx: a.status2xx + b.status2xx,
  statusOther: a.statusOther + b.statusOther,
  errors: a.errors + b.errors,
  timeouts: a.timeouts + b.timeouts,
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function prometheusRunHooks(o: PrometheusRunHooksOptions = {}): PrometheusRunHooks {
  const dir = o.sdDir ?? defaultSdDir();
  const log = o.log ?? ((l: string) => void process.stderr.write(l + '\n'));
  let scenario = '';
  /**
   * Per target and cell: the previous progress (for an instantaneous rate) and what earlier phases
   * added up to. Each phase (warm-up, load) starts its progress from zero; the exported counters
   * go on from where the previous phase ended.
   */
  const last = new Map<string, { p: ProgressLike; base: Counts; rate: number }>();
  const clientEntry = (runId: string, cell: string): SdEntry[] =>
    o.exporter
      ? [
          {
            address: o.exporter.address,
            labels: {
              role: 'client',
              scenario,
              run: runId,
              cell,
              server: `forklab-${runId}-client`,
            },
          },
        ]
      : [];

  return {
    async serversStarted({ runId, scenario: name, cell, servers }) {
      scenario = name;
      // Files of labs killed before they could unregister would have Prometheus scrape ports
      // that a server of this run may now hold.
      for (const f of await sweepStaleTargets(dir))
        log(`forklab: removed stale file SD entry ${f}`);
      const entries: SdEntry[] = [];
      for (const t of cell.targets) {
        for (const s of servers.get(t.name) ?? []) {
          entries.push({
            address: `${s.host ?? '127.0.0.1'}:${s.metricsPort}`,
            labels: {
              role: 'server',
              scenario,
              run: runId,
              cell: cell.id,
              target: t.name,
              server_kind: t.kind ?? 'engine',
              loop_creation: String(t.server.loopCreation ?? 'n/a'),
              flavour: String(t.server.flavour ?? t.kind ?? 'n/a'),
              server: s.name,
            },
          });
        }
      }
      await writeTargets(dir, runId, [...entries, ...clientEntry(runId, cell.id)]);
      if (!o.prometheusUrl) return;
      const want = entries.length + (o.exporter ? 1 : 0);
      const timeout = o.firstScrapeTimeoutMs ?? 15_000;
      const deadline = Date.now() + timeout;
      for (;;) {
        const up = await instantQuery(
          o.prometheusUrl,
          `up{run="${runId}", cell="${cell.id}"} == 1 or up{run="${runId}", role="client"} == 1`,
        ).catch(() => []);
        if (up.length >= want) return;
        if (Date.now() > deadline) {
          log(
            `forklab: Prometheus did not scrape all ${want} targets within ${timeout} ms; going on`,
          );
          return;
        }
        await sleep(250);
      }
    },

    clientProgress(target, cell, p) {
      if (!o.exporter) return;
      const key = `${cell}\u0000${target}`;
      const prev = last.get(key);
      const newPhase = !!prev && (p.elapsedSec < prev.p.elapsedSec || p.sent < prev.p.sent);
      const base = !prev ? zero() : newPhase ? add(prev.base, counts(prev.p)) : prev.base;
      const from = prev && !newPhase ? prev.p : undefined;
      const dt = p.elapsedSec - (from?.elapsedSec ?? 0);
      const rate = dt > 0 ? (p.responses - (from?.responses ?? 0)) / dt : (prev?.rate ?? 0);
      last.set(key, { p, base, rate });
      const total = add(base, counts(p));
      o.exporter.update(target, cell, {
        ...total,
        requestsPerSec: Math.max(0, rate),
        latencyMs: p.latencyMs ?? null,
      });
    },

    async serversStopping({ runId, cell }) {
      await sleep(o.finalScrapeMs ?? 1100);
      // The client's figures of this cell stay until the run ends; its servers go now.
      await writeTargets(dir, runId, clientEntry(runId, cell.id));
    },

    async runEnded({ runId }) {
      await removeTargets(dir, runId);
      last.clear();
      // The exporter serves the next run (--repeat) too: nothing of this run may show there.
      o.exporter?.remove();
    },
  };
}
