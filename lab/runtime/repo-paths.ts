// Where things are in the checkout the lab runs from.
import path from 'node:path';

/** The repository root (lab/runtime/../..). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** The native engine, built by node-gyp (npm run build:native). */
export const ADDON_PATH = 'build/Release/forklab.node';
/** The CLI whose `serve` command the runtimes start. */
export const CLI_PATH = 'bin/forklab.js';
