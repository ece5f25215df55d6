#!/usr/bin/env node
// `npx oci-test-registry`: runs the compiled CLI (dist/ is built by `npm ci`
// through the prepare script, and shipped in the package).
import { main } from '../dist/cli.js';

await main(process.argv.slice(2));
