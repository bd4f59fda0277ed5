#!/usr/bin/env node
// Runs servers/nginx/main.ts through tsx (no compile step), like bin/forklab.js.
'use strict';
require('tsx/cjs/api').register();
const { nginxMain } = require('./main.ts');

nginxMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err && err.message ? err.message : err}\n`);
    process.exit(2);
  },
);
