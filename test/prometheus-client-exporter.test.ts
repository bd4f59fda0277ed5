import {
  startClientExporter,
  type ClientExporter,
  type ClientFigures,
} from '../lab/prometheus/client-exporter';

const figures = (over: Partial<ClientFigures> = {}): ClientFigures => ({
  sent: 120,
  responses: 110,
  status2xx: 100,
  statusOther: 10,
  errors: 3,
  timeouts: 7,
  requestsPerSec: 55.5,
  latencyMs: { p50: 1.5, p90: 4, p99: 12.25 },
  ...over,
});

/** The value of one series in exposition text, found by its exact label set. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('client exporter', () => {
  let ex: ClientExporter;
  beforeEach(async () => {
    ex = await startClientExporter();
  });
  afterEach(async () => {
    await ex.close();
  });

  test('serves the figures per target and cell on 127.0.0.1:<free port>', async () => {
    expect(ex.host).toBe('127.0.0.1');
    expect(ex.port).toBeGreaterThan(0);
    expect(ex.address).toBe(`127.0.0.1:${ex.port}`);
    ex.update('pre-fork', 'cell-0', figures());
    ex.update(
      'post-fork',
      'cell-0',
      figures({ sent: 5, latencyMs: null, statusClasses: { '2xx': 4, '5xx': 1 } }),
    );
    const res = await fetch(ex.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    const pre = 'target="pre-fork",cell="cell-0"';
    expect(value(text, `forklab_client_requests_total{${pre}}`)).toBe(120);
    expect(value(text, `forklab_client_responses_total{${pre},status_class="2xx"}`)).toBe(100);
    expect(value(text, `forklab_client_responses_total{${pre},status_class="other"}`)).toBe(10);
    expect(value(text, `forklab_client_errors_total{${pre}}`)).toBe(3);
    expect(value(text, `forklab_client_timeouts_total{${pre}}`)).toBe(7);
    expect(value(text, `forklab_client_requests_per_second{${pre}}`)).toBe(55.5);
    expect(value(text, `forklab_client_latency_ms{${pre},quantile="0.5"}`)).toBe(1.5);
    expect(value(text, `forklab_client_latency_ms{${pre},quantile="0.9"}`)).toBe(4);
    expect(value(text, `forklab_client_latency_ms{${pre},quantile="0.99"}`)).toBe(12.25);
    const post = 'target="post-fork",cell="cell-0"';
    expect(value(text, `forklab_client_requests_total{${post}}`)).toBe(5);
    expect(value(text, `forklab_client_responses_total{${post},status_class="5xx"}`)).toBe(1);
    // No latency yet: no latency series (rather than a misleading 0).
    expect(text).not.toContain(`forklab_client_latency_ms{${post}`);
    expect(text).toMatch(/# TYPE forklab_client_requests_total counter/);
    expect(text).toMatch(/# TYPE forklab_client_latency_ms gauge/);
  });

  test('later updates replace the figures; remove drops a target; /healthz and 404', async () => {
    ex.update('pre-fork', 'cell-0', figures());
    ex.update('pre-fork', 'cell-0', figures({ sent: 200 }));
    ex.update('pre-fork', 'cell-1', figures({ sent: 1 }));
    let text = await (await fetch(ex.url)).text();
    expect(value(text, 'forklab_client_requests_total{target="pre-fork",cell="cell-0"}')).toBe(200);
    ex.remove('pre-fork', 'cell-0');
    text = await (await fetch(ex.url)).text();
    expect(text).not.toContain('cell="cell-0"');
    expect(value(text, 'forklab_client_requests_total{target="pre-fork",cell="cell-1"}')).toBe(1);
    ex.remove();
    text = await (await fetch(ex.url)).text();
    expect(text).not.toContain('target="pre-fork"');
    expect((await fetch(`http://${ex.address}/healthz`)).status).toBe(200);
    expect((await fetch(`http://${ex.address}/nope`)).status).toBe(404);
  });

  test('close() frees the port and can be called twice', async () => {
    const port = ex.port;
    await ex.close();
    await ex.close();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
