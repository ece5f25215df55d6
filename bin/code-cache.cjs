'use strict';
// Runs the CLI's bundle (dist/bundle/cli.cjs, made by `npm run build` with
// esbuild, tsx's own) from V8's code cache (dist/bundle/cli.cjs.cache, made
// by the same build: `node bin/code-cache.cjs --write`).
//
// Why: a CI job waits for the registry's first answer. Loading ~40 ES
// modules one by one, then compiling them, cost as much as node's own
// start; one CommonJS file whose compiled code V8 reads back from the cache
// costs a few milliseconds. Node 22 does this itself (module.enableCompileCache);
// Node 20, which we support, does not.
//
// V8 rejects a cache made by another V8 version or with other flags (then the
// bundle is compiled as usual), but it checks the source only by its length:
// a cache older than its bundle is therefore never offered.
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'bundle', 'cli.cjs');

/** The bundle, compiled as node compiles a CommonJS module, with `cachedData` when it is usable. */
function compile(bundle, cachedData) {
  const source = readFileSync(bundle, 'utf8');
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  return new Script(wrapped, { filename: bundle, cachedData });
}

function run(script, bundle) {
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return module.exports;
}

/** The cache of `bundle`, unless it is missing or older than the bundle. */
function freshCache(bundle) {
  try {
    if (statSync(`${bundle}.cache`).mtimeMs < statSync(bundle).mtimeMs) return undefined;
    return readFileSync(`${bundle}.cache`);
  } catch {
    return undefined;
  }
}

/** The bundle's exports (the CLI's `main`); undefined when there is no bundle (dist/ built by tsc alone). */
function loadCli(bundle = BUNDLE) {
  try {
    statSync(bundle);
  } catch {
    return undefined;
  }
  return run(compile(bundle, freshCache(bundle)), bundle);
}

/** Compiles and evaluates the bundle (its top level only: nothing runs), then writes what V8 compiled. */
function writeCache(bundle = BUNDLE) {
  const script = compile(bundle, undefined);
  run(script, bundle);
  writeFileSync(`${bundle}.cache`, script.createCachedData());
}

module.exports = { compile, freshCache, loadCli, writeCache };

if (require.main === module && process.argv[2] === '--write') writeCache();
