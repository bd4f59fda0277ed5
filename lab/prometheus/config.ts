// The Prometheus configuration of the lab: prometheus/prometheus.yml, as the compose stack uses
// it, or rendered for a plain `prometheus` process with an absolute file SD path (the committed
// file points at ../.stack/sd relative to itself, which is right inside the container and for the
// default folder, but not when $FORKLAB_SD_DIR moves it or the file is copied elsewhere).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from '../runtime/repo-paths';

/** The committed configuration. */
export const PROMETHEUS_CONFIG = path.join(REPO_ROOT, 'prometheus', 'prometheus.yml');

/** The file_sd glob in the committed configuration (quoted or not). */
const SD_GLOB = /(['"]?)\.\.\/\.stack\/sd\/forklab-\*\.json\1/;

/** The committed configuration with its file SD glob pointing at `sdDir` (absolute). */
export function renderPrometheusConfig(template: string, sdDir: string): string {
  if (!SD_GLOB.test(template)) {
    throw new Error(
      `prometheus config: the file_sd glob '../.stack/sd/forklab-*.json' is not in the template`,
    );
  }
  const glob = path.join(path.resolve(sdDir), 'forklab-*.json');
  return template.replace(SD_GLOB, () => JSON.stringify(glob));
}

/**
 * Writes the rendered configuration to `file` and returns its path. Also makes the SD folder:
 * Prometheus watches it only if it exists when Prometheus starts (otherwise only the periodic
 * refresh_interval rereads it).
 */
export async function writePrometheusConfig(file: string, sdDir: string): Promise<string> {
  const template = await readFile(PROMETHEUS_CONFIG, 'utf8');
  await mkdir(path.dirname(file), { recursive: true });
  await mkdir(sdDir, { recursive: true, mode: 0o755 });
  await writeFile(file, renderPrometheusConfig(template, sdDir));
  return file;
}
