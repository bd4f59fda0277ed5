// Writes the dashboards as JSON (dashboards/forklab-main.json, dashboards/forklab-worker.json),
// the files Grafana provisions (dashboards/provisioning/dashboards/forklab.yml). The JSON is
// generated: edit the .ts files and run `npm run dashboards`; a test fails when the committed
// JSON differs from what the code produces. `--check` only compares (exit 1 on a difference).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mainDashboard } from './forklab-main';
import { workerDashboard } from './forklab-worker';

export const DASHBOARD_DIR = __dirname;

/** File name → dashboard JSON text, as committed. */
export function generatedDashboards(): Record<string, string> {
  const text = (d: unknown) => JSON.stringify(d, null, 2) + '\n';
  return {
    'forklab-main.json': text(mainDashboard()),
    'forklab-worker.json': text(workerDashboard()),
  };
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  let stale = 0;
  for (const [name, text] of Object.entries(generatedDashboards())) {
    const file = path.join(DASHBOARD_DIR, name);
    const current = await readFile(file, 'utf8').catch(() => null);
    if (current === text) {
      console.log(`dashboards: ${name} up to date`);
    } else if (check) {
      console.error(`dashboards: ${name} differs from the code: run npm run dashboards`);
      stale++;
    } else {
      await writeFile(file, text);
      console.log(`dashboards: wrote ${path.relative(process.cwd(), file)}`);
    }
  }
  return stale ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    },
  );
}
