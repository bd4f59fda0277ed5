// Prometheus text of a real server's snapshot: the engine's series for the fields it has, scaled as
// the engine's; fields it does not have are absent, not 0.
import type { ServerSnapshot } from '../lab/server/snapshot';
import { snapshotMetricsText } from '../lab/server/snapshot-metrics';

const worker = (index: number, counters: Record<string, number>) => ({
  index,
  pid: 100 + index,
  up: index === 0,
  failed: false,
  restarts: 0,
  restartsByReason: { crash: 0, cycled: 0, clean: 0 },
  exits: { clean: 0, cycled: 0, eexist: 0, startup_failed: 0, crash: 0, signal: 0, oom: 0 },
  counters,
});

test('engine series for the fields present, none for the others', () => {
  const snap: ServerSnapshot = {
    name: 'n',
    engineVersion: 'nginx-1.22.1',
    port: 8080,
    metricsPort: 9080,
    stopping: false,
    takenAtMs: 0,
    config: {
      kind: 'nginx',
      name: 'n',
      host: '127.0.0.1',
      port: 8080,
      metricsPort: 9080,
      workers: 2,
    },
    workers: [
      worker(0, {
        requests: 5,
        responses_404: 2,
        nvcsw: 3,
        utime_us: 1_500_000,
        open_connections: 4,
      }),
      worker(1, { requests: 7 }),
    ],
  };
  const lines = snapshotMetricsText(snap).split('\n');
  expect(lines).toContain('forklab_requests_total{worker="0"} 5');
  expect(lines).toContain('forklab_requests_total{worker="1"} 7');
  expect(lines).toContain('forklab_responses_total{worker="0",status="404"} 2');
  expect(lines).toContain('forklab_context_switches_total{worker="0",kind="voluntary"} 3');
  expect(lines).toContain('forklab_cpu_seconds_total{worker="0",mode="user"} 1.5');
  expect(lines).toContain('forklab_open_connections{worker="0"} 4');
  expect(lines).toContain('# TYPE forklab_open_connections gauge');
  expect(lines).toContain('forklab_worker_up{worker="1"} 0');
  expect(
    lines.some((l) => l.startsWith('forklab_server_info{') && l.includes('kind="nginx"')),
  ).toBe(true);
  // Not measured: no series at all (a dashboard shows no data rather than a false 0).
  expect(lines.some((l) => l.startsWith('forklab_keyerrors_total'))).toBe(false);
  expect(lines.some((l) => l.startsWith('forklab_requests_total{worker="1",'))).toBe(false);
  expect(lines.some((l) => l.includes('forklab_context_switches_total{worker="1"'))).toBe(false);
});
