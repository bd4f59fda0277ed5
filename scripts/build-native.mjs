// Builds the C++ engine with node-gyp against the headers of the Node.js that runs this script
// (`<prefix>/include/node`), so no header download is ever needed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// `npm ci` and npx run the install script: skip the build when the addon is newer than every
// source, unless --force (npm run build:native) asks for a clean rebuild.
const addon = path.join(root, 'build', 'Release', 'forklab.node');
if (!process.argv.includes('--force') && existsSync(addon)) {
  const sources = [
    'binding.gyp',
    ...readdirSync(path.join(root, 'native')).map((f) => path.join('native', f)),
  ];
  const built = statSync(addon).mtimeMs;
  if (sources.every((f) => statSync(path.join(root, f)).mtimeMs < built)) {
    console.error('forklab: native engine is up to date (npm run build:native rebuilds it)');
    process.exit(0);
  }
}
const nodedir = path.resolve(process.execPath, '..', '..');
if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(
    `forklab: Node.js headers not found under ${nodedir}/include/node; install them (Debian: apt-get install nodejs-dev or libnode-dev)`,
  );
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
const res = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '-j', '2'], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(res.status ?? 1);
