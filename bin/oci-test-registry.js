#!/usr/bin/env node
// Loads the compiled CLI (built into dist/ by `npm ci` through the prepare script).
import '../dist/cli.js';
