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
//
// The bundle file is already the function node wraps a CommonJS module in:
// the build has esbuild write `(function (exports, require, module,
// __filename, __dirname) {` before the code and `})` after it, so the file is
// compiled as read. Wrapping it here made a second copy of its 370 KB of
// source in V8's young generation; with the first it filled that generation
// while the server began to listen, and the scavenge that followed cost
// 2.7-3.1 ms before the ready line (`node --trace-gc`: one scavenge before
// the ready line at every start, none without the copy).
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const BUNDLE = join(__dirname, '..', 'dist', 'bundle', 'cli.cjs');

/**
 * The bundle (a function of exports, require, module, __filename and
 * __dirname), compiled with `cachedData` when it is usable. Read as latin1:
 * the bundle is ASCII (test/code-cache.test.ts), so it decodes the same,
 * and node's UTF-8 read touched 65 more fresh pages (304 for 239), each a
 * page fault, which on the bench's VM cost 13-14 us apiece.
 */
function compile(bundle, cachedData) {
  return new Script(readFileSync(bundle, 'latin1'), { filename: bundle, cachedData });
}

function run(script, bundle) {
  const module = { exports: {} };
  // This module's own require: the bundle requires only node's builtins
  // (esbuild bundled everything else), which any require resolves, and
  // createRequire(bundle) allocated enough to bring that scavenge back.
  script.runInThisContext()(module.exports, require, module, bundle, dirname(bundle));
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

/**
 * Like writeCache, after a start of the CLI: `--port 0 --host 127.0.0.1`
 * up to its ready line, then one `GET /v2/`. V8 compiles a function on its
 * first call, so a cache of the top level alone leaves every start to
 * compile what it runs (the options, the registry, listen, the first
 * request); this cache holds them too. Alternating 100 starts of each,
 * three times: 1.4-2.3 ms less to the ready line and 2.3-2.8 ms less to the
 * first 200, for a cache of 201 KB instead of 144 (reading the larger cache
 * is included). The ready line is kept off stdout and the environment's
 * flags out of the start, so the build prints nothing and always trains the
 * same start; the caller exits (the registry is still listening).
 */
function writeTrainedCache(bundle = BUNDLE) {
  const script = compile(bundle, undefined);
  const cli = run(script, bundle);
  for (const name of Object.keys(process.env)) if (name === 'PORT' || name.startsWith('OCI_TEST_REGISTRY_')) delete process.env[name];
  return new Promise((resolve, reject) => {
    const write = process.stdout.write;
    process.stdout.write = (chunk) => {
      process.stdout.write = write;
      const url = /http:\/\/\S+/.exec(String(chunk))?.[0];
      if (!url) {
        reject(new Error(`no URL in the CLI's ready line: ${String(chunk)}`));
        return true;
      }
      require('node:http')
        .get(new URL('/v2/', url), (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`GET /v2/ answered ${res.statusCode}`));
            writeFileSync(`${bundle}.cache`, script.createCachedData());
            resolve();
          });
        })
        .on('error', reject);
      return true;
    };
    Promise.resolve(cli.main(['--port', '0', '--host', '127.0.0.1'])).catch(reject);
  });
}

module.exports = { compile, freshCache, loadCli, writeCache, writeTrainedCache };

if (require.main === module && process.argv[2] === '--write') {
  writeTrainedCache().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`code-cache: ${error.message}\n`);
      process.exit(1);
    },
  );
}
