// The dashboards as code: the committed JSON is what the code produces, every panel is complete
// (description, unit, datasource, queries), and the provisioning files agree with the compose
// stack. Whether the queries return real data is test/prometheus-dashboards.test.ts.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROVISIONED_DATASOURCE_UID } from '../dashboards/common';
import { DASHBOARD_DIR, generatedDashboards } from '../dashboards/generate';
import { panelQueries, panelsOf, substitute, variableQueries } from '../dashboards/promql';
import { REPO_ROOT } from '../lab/runtime/repo-paths';

const generated = generatedDashboards();
const boards = Object.entries(generated).map(([file, text]) => ({
  file,
  json: JSON.parse(text) as {
    uid: string;
    panels: Array<{
      id: number;
      type: string;
      title: string;
      description?: string;
      datasource?: { uid?: string };
      gridPos: { x: number; y: number; w: number; h: number };
      fieldConfig?: { defaults?: { unit?: string } };
      targets?: Array<{ refId?: string; expr?: string; datasource?: { uid?: string } }>;
    }>;
    templating: { list: Array<{ name: string; type: string }> };
  },
}));

describe('generated dashboards', () => {
  test.each(Object.keys(generated))('%s is committed as the code produces it', async (file) => {
    const committed = await readFile(path.join(DASHBOARD_DIR, file), 'utf8').catch(
      () => '(missing)',
    );
    if (committed !== generated[file]) {
      throw new Error(
        `dashboards/${file} differs from the code: run \`npm run dashboards\` and commit`,
      );
    }
  });

  test.each(boards)(
    '$file: every panel has a one-line description, a unit and queries',
    ({ json }) => {
      const panels = panelsOf(json) as (typeof json)['panels'];
      expect(panels.length).toBeGreaterThan(5);
      const problems: string[] = [];
      for (const p of panels) {
        const where = `${json.uid} "${p.title}"`;
        if (!p.description || p.description.includes('\n') || p.description.length < 40) {
          problems.push(`${where}: needs a one-line description (what it shows, which mechanism)`);
        }
        if (!p.fieldConfig?.defaults?.unit) problems.push(`${where}: no unit`);
        if (p.datasource?.uid !== '${datasource}')
          problems.push(`${where}: datasource is not $datasource`);
        const targets = p.targets ?? [];
        if (targets.length === 0) problems.push(`${where}: no queries`);
        const refIds = targets.map((t) => t.refId);
        if (new Set(refIds).size !== refIds.length) problems.push(`${where}: duplicate refIds`);
        for (const t of targets) {
          if (!t.expr) problems.push(`${where} ${t.refId}: no expr`);
          if (t.datasource?.uid !== '${datasource}')
            problems.push(`${where} ${t.refId}: datasource`);
        }
      }
      expect(problems).toEqual([]);
    },
  );

  test.each(boards)('$file: panel ids unique, grid within 24 columns, no overlaps', ({ json }) => {
    const ids = json.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of json.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const cell = `${x},${y}`;
          if (cells.has(cell)) throw new Error(`"${p.title}" overlaps another panel at ${cell}`);
          cells.add(cell);
        }
      }
    }
  });

  test.each(boards)(
    '$file: every variable a query uses is defined; rates use $__rate_interval',
    ({ json }) => {
      const defined = Object.fromEntries(json.templating.list.map((v) => [v.name, 'x']));
      for (const q of panelQueries(json)) {
        expect(() => substitute(q.expr, { vars: defined })).not.toThrow();
        // A fixed window would be wrong for either a 1 s scrape or a long time range.
        for (const m of q.expr.matchAll(/\b(rate|increase)\([^[]*\[([^\]]+)\]/g)) {
          expect(['$__rate_interval', '$__range']).toContain(m[2]);
        }
      }
      for (const v of variableQueries(json)) {
        expect(() => substitute(v.selector, { vars: defined })).not.toThrow();
      }
    },
  );

  test('main: the panels the issue asks for, each over all selected targets', () => {
    const main = boards.find((b) => b.file === 'forklab-main.json')!.json;
    const titles = panelsOf(main).map((p) => (p as { title: string }).title);
    for (const t of [
      'Requests/s',
      'KeyErrors/s',
      'KeyErrors per 1000 requests',
      'Unknown-fd events/s',
      'Spurious reads per request',
      'Accept EAGAIN/s',
      'Accept EAGAIN per accept',
      'Voluntary context switches per accepted connection',
      'Listening-socket events per accept',
      'Share of accepts per worker (time range)',
      'CPU per request',
      'Stuck connections',
      'Worker restarts',
      'Client latency p50 / p99',
      'Client errors and timeouts',
    ]) {
      expect(titles).toContain(t);
    }
    expect(main.templating.list.map((v) => v.name)).toEqual([
      'datasource',
      'scenario',
      'run',
      'cell',
      'target',
    ]);
    for (const q of panelQueries(main)) expect(q.expr).toContain('target=~"$target"');
  });

  test('substitute: builtins, plain, braced and formatted variables; unknown ones throw', () => {
    expect(
      substitute(
        'rate(x{run=~"$run", t="${target}", c=~"${cell:regex}", s="[[scenario]]"}[$__rate_interval]) $__range',
        {
          vars: { run: 'r1', target: 'pre-fork', cell: '.*', scenario: 's' },
          rateInterval: '5s',
          range: '30s',
        },
      ),
    ).toBe('rate(x{run=~"r1", t="pre-fork", c=~".*", s="s"}[5s]) 30s');
    expect(() => substitute('x{a="$tagret"}', { vars: {} })).toThrow(/\$tagret/);
  });
});

describe('Grafana provisioning and the compose stack', () => {
  const read = (p: string) => readFile(path.join(REPO_ROOT, p), 'utf8');

  test('datasource: the uid the dashboards default to, 1 s scrape interval, URL from compose', async () => {
    const ds = await read('dashboards/provisioning/datasources/prometheus.yml');
    expect(ds).toContain(`uid: ${PROVISIONED_DATASOURCE_UID}`);
    expect(ds).toMatch(/timeInterval: 1s/);
    expect(ds).toContain('url: $FORKLAB_PROMETHEUS_URL');
    const compose = await read('docker-compose.yml');
    expect(compose).toContain(
      'FORKLAB_PROMETHEUS_URL: http://127.0.0.1:${FORKLAB_PROMETHEUS_PORT:-9090}',
    );
  });

  test('dashboards provider reads the folder compose mounts the generated JSON at', async () => {
    const provider = await read('dashboards/provisioning/dashboards/forklab.yml');
    const dir = /path: (\S+)/.exec(provider)?.[1];
    expect(dir).toBe('/etc/forklab/dashboards');
    const compose = await read('docker-compose.yml');
    expect(compose).toContain(`- ./dashboards:${dir}:ro`);
    expect(compose).toContain(
      '- ./dashboards/provisioning/datasources:/etc/grafana/provisioning/datasources:ro',
    );
    expect(compose).toContain(
      '- ./dashboards/provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro',
    );
  });

  test('compose: host networking, SD folder mounted where the config looks, no password in the file', async () => {
    const compose = await read('docker-compose.yml');
    expect(compose.match(/network_mode: host/g)).toHaveLength(2);
    expect(compose).toContain(
      '- ./prometheus/prometheus.yml:/etc/forklab/prometheus/prometheus.yml:ro',
    );
    // prometheus.yml looks in ../.stack/sd relative to itself.
    expect(compose).toContain('- ${FORKLAB_SD_DIR:-./.stack/sd}:/etc/forklab/.stack/sd:ro');
    expect(compose).toMatch(/GF_SECURITY_ADMIN_PASSWORD: \$\{GF_SECURITY_ADMIN_PASSWORD:\?/);
    expect(compose).not.toMatch(/PASSWORD: ['"]?(?!\$\{)\S/);
    expect(compose).toMatch(/GF_AUTH_ANONYMOUS_ENABLED: 'true'/);
    expect(compose).toMatch(/GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer/);
  });
});
