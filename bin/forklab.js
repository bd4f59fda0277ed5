#!/usr/bin/env node
// The `forklab` executable: runs the TypeScript CLI through tsx (no compile step).
'use strict';
require('tsx/cjs/api').register();
const { main } = require('../lab/cli.ts');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`forklab: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
