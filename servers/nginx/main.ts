// nginx as a forklab server: starts Debian's nginx with a config generated from the flags, and
// serves its figures in the engine's shape on the metrics port (/snapshot.json, /metrics,
// /healthz), with the generic per-worker probes of lab/sample/proc-probe.ts. Prints the
// FORKLAB_READY line once nginx serves; stops nginx on SIGTERM/SIGINT, or when its stdin closes
// with FORKLAB_LIFELINE=stdin.
//
//   node servers/nginx/run.js --port P --metrics-port M --workers N [--accept-mutex on|off]
//     [--reuseport] [--multi-accept] [--backlog N] [--prefix DIR] [--name NAME] [--host ADDR]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openConnections, probeProcess } from '../../lab/sample/proc-probe';
import { startMetricsServer } from '../../lab/server/metrics-server';
import { NginxAdapter } from '../../lab/server/nginx-adapter';
import { formatReadyLine } from '../../lab/server/ready-line';
import { validateNginxSettings, type NginxSettings } from '../../lab/server/nginx-config';
import {
  SNAPSHOT_METRICS_CONTENT_TYPE,
  snapshotMetricsText,
} from '../../lab/server/snapshot-metrics';

export interface NginxMainOptions {
  name: string;
  host: string;
  port: number;
  metricsPort: number;
  prefix?: string;
  settings: NginxSettings;
}

export function parseNginxArgs(argv: readonly string[]): NginxMainOptions {
  const o: NginxMainOptions = {
    name: 'nginx',
    host: '127.0.0.1',
    port: 8080,
    metricsPort: 9080,
    settings: {},
  };
  const errors: string[] = [];
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !/^\d+$/.test(v) || n > 65535) {
      errors.push(`${flag}: needs an integer from 0 to 65535, got ${JSON.stringify(v)}`);
      return 0;
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--name':
        o.name = next() ?? '';
        break;
      case '--host':
        o.host = next() ?? '';
        break;
      case '--port':
        o.port = int(flag, next());
        break;
      case '--metrics-port':
        o.metricsPort = int(flag, next());
        break;
      case '--workers':
        o.settings.workers = int(flag, next());
        break;
      case '--backlog':
        o.settings.backlog = int(flag, next());
        break;
      case '--accept-mutex': {
        const v = next();
        if (v !== 'on' && v !== 'off') errors.push(`--accept-mutex: on or off, got ${v}`);
        o.settings.acceptMutex = v === 'on';
        break;
      }
      case '--reuseport':
        o.settings.reuseport = true;
        break;
      case '--multi-accept':
        o.settings.multiAccept = true;
        break;
      case '--prefix':
        o.prefix = next();
        break;
      default:
        errors.push(`${flag}: unknown flag`);
    }
  }
  errors.push(...validateNginxSettings(o.settings, 'flags').map((e) => e.replace(/^flags\./, '')));
  if (o.port === 0) errors.push('--port: nginx needs a fixed port (0 is not supported)');
  if (errors.length > 0) throw new Error(`forklab nginx: ${errors.join('; ')}`);
  return o;
}

export async function nginxMain(argv: readonly string[]): Promise<number> {
  const o = parseNginxArgs(argv);
  const prefix = o.prefix ?? mkdtempSync(path.join(os.tmpdir(), 'forklab-nginx-'));
  const adapter = await NginxAdapter.start({
    ...o,
    prefix,
    probe: async (pid, port) => {
      const p = await probeProcess(pid);
      if (!p) return null;
      const open = await openConnections(pid, port);
      const { pid: _pid, ...fields } = p;
      return open === null ? fields : { ...fields, open_connections: open };
    },
  });
  let server;
  try {
    server = await startMetricsServer(o.host, o.metricsPort, {
      metrics: async () => ({
        contentType: SNAPSHOT_METRICS_CONTENT_TYPE,
        body: snapshotMetricsText(await adapter.snapshot()),
      }),
      health: () => adapter.health(),
      snapshot: () => adapter.snapshot(),
    });
  } catch (err) {
    await adapter.stop();
    throw err;
  }
  process.stdout.write(
    `${formatReadyLine({ port: o.port, metricsPort: server.port, pids: adapter.pids, adapterPorts: [adapter.statusPort] })}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
    if (process.env.FORKLAB_LIFELINE === 'stdin') {
      process.stdin.on('data', () => undefined);
      process.stdin.once('end', resolve);
      process.stdin.once('close', resolve);
    }
  });
  await adapter.stop();
  await server.close();
  return 0;
}
