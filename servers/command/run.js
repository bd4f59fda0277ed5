#!/usr/bin/env node
// Runs servers/command/main.ts through tsx (no compile step), like bin/forklab.js.
'use strict';
require('tsx/cjs/api').register();
const { commandMain } = require('./main.ts');

commandMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err && err.message ? err.message : err}\n`);
    process.exit(2);
  },
);
