// Prometheus text for a real server's snapshot, in the engine's series (FIELD_METRICS): only the
// fields the snapshot has are exported, so a figure a server cannot measure is absent, not 0.
import { FIELD_METRICS } from './metrics';
import type { ServerSnapshot } from './snapshot';

const escape = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (labels: Record<string, string>): string =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;

export const SNAPSHOT_METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The exposition text of `snap`: one family per engine metric some worker has a field of. */
export function snapshotMetricsText(snap: ServerSnapshot): string {
  const families = new Map<string, { type: string; help: string; lines: string[] }>();
  const family = (name: string, type: string, help: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type, help, lines: [] }));
    return f;
  };
  for (const [field, m] of Object.entries(FIELD_METRICS)) {
    if (!m.metric || m.kind === 'internal') continue;
    for (const w of snap.workers) {
      const raw = w.counters[field];
      if (raw === undefined) continue;
      const value = raw * (m.scale ?? 1);
      const help = m.labels
        ? `${m.metric.replace(/^forklab_/, '').replace(/_/g, ' ')} by ${Object.keys(m.labels).join(', ')}`
        : m.meaning;
      family(m.metric, m.kind, help).lines.push(
        `${m.metric}${labelText({ worker: String(w.index), ...m.labels })} ${value}`,
      );
    }
  }
  const up = family('forklab_worker_up', 'gauge', 'worker process running (1) or not (0)');
  for (const w of snap.workers)
    up.lines.push(`forklab_worker_up{worker="${w.index}"} ${w.up ? 1 : 0}`);
  const c = snap.config;
  const info: Record<string, string> = {
    name: snap.name,
    kind: 'kind' in c ? String(c.kind) : 'engine',
    workers: String(c.workers),
    port: String(snap.port),
    engine_version: snap.engineVersion,
  };
  family('forklab_server_info', 'gauge', 'the configuration of this server, in labels').lines.push(
    `forklab_server_info${labelText(info)} 1`,
  );
  const out: string[] = [];
  for (const [name, f] of families) {
    out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.lines);
  }
  return out.join('\n') + '\n';
}
