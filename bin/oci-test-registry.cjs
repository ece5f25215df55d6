#!/usr/bin/env node
'use strict';
// `npx oci-test-registry`: the CLI from dist/bundle/ (see code-cache.cjs for
// why a bundle and a code cache), or from dist/cli.js where only tsc built dist/.
const cli = require('./code-cache.cjs').loadCli();
const argv = process.argv.slice(2);
if (cli) cli.main(argv);
else import('../dist/cli.js').then((module) => module.main(argv));
