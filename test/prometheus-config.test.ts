import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  PROMETHEUS_CONFIG,
  renderPrometheusConfig,
  writePrometheusConfig,
} from '../lab/prometheus/config';
import { PROMTOOL_BIN } from '../lab/prometheus/prometheus-process';

const run = promisify(execFile);

async function promtoolCheck(file: string): Promise<string> {
  if (!existsSync(PROMTOOL_BIN)) {
    throw new Error(
      `${PROMTOOL_BIN} missing: apt-get install -y prometheus (scripts/setup.sh does)`,
    );
  }
  const { stdout, stderr } = await run(PROMTOOL_BIN, ['check', 'config', file]);
  return stdout + stderr;
}

describe('prometheus/prometheus.yml', () => {
  test('promtool check config passes on the committed file', async () => {
    expect(await promtoolCheck(PROMETHEUS_CONFIG)).toMatch(/SUCCESS/);
  });

  test('scrapes every second from the file SD folder, exporters’ labels honoured', async () => {
    const text = await readFile(PROMETHEUS_CONFIG, 'utf8');
    expect(text).toMatch(/^\s+scrape_interval: 1s$/m);
    expect(text).toMatch(/^\s+honor_labels: true$/m);
    expect(text).toContain('file_sd_configs:');
    expect(text).toContain("- '../.stack/sd/forklab-*.json'");
  });

  test('rendered for a plain process: absolute SD glob, still valid', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'forklab-promcfg-'));
    try {
      const sd = path.join(tmp, 'my sd');
      const file = await writePrometheusConfig(path.join(tmp, 'prometheus.yml'), sd);
      const text = await readFile(file, 'utf8');
      expect(text).toContain(JSON.stringify(path.join(sd, 'forklab-*.json')));
      expect(text).not.toContain('../.stack/sd');
      expect(await promtoolCheck(file)).toMatch(/SUCCESS/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    expect(() => renderPrometheusConfig('global: {}\n', '/x')).toThrow(/file_sd glob/);
  });
});
