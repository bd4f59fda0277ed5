// Builds the C++ engine with node-gyp against the headers of the Node.js that runs this script
// (`<prefix>/include/node`), so no header download is ever needed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const nodedir = path.resolve(process.execPath, '..', '..');
if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`forklab: Node.js headers not found under ${nodedir}/include/node; install them (Debian: apt-get install nodejs-dev or libnode-dev)`);
  process.exit(1);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  // npm ships node-gyp; npm_config_node_gyp points at it during lifecycle scripts.
  gyp = process.env.npm_config_node_gyp;
}
if (!gyp) {
  console.error('forklab: node-gyp not found; run this through npm (npm run build:native)');
  process.exit(1);
}
const res = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '-j', '2'], { stdio: 'inherit' });
process.exit(res.status ?? 1);
