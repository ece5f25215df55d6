// The CLI's bundle runs from V8's code cache (bin/code-cache.cjs): the cache
// `npm run build` writes is one V8 accepts and holds what a start runs, and a
// cache older than its bundle is never offered (V8 checks a cached script's
// source only by its length).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFile, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Script } from 'node:vm';

interface CodeCache {
  compile(bundle: string, cachedData?: Buffer): Script;
  freshCache(bundle: string): Buffer | undefined;
  loadCli(bundle?: string): { main: (...args: unknown[]) => unknown } | undefined;
  writeCache(bundle?: string): void;
  writeTrainedCache(bundle?: string): Promise<void>;
}

const CODE_CACHE = fileURLToPath(new URL('../bin/code-cache.cjs', import.meta.url));
const codeCache = createRequire(import.meta.url)(CODE_CACHE) as CodeCache;
const BUNDLE = fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url));
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

/** A bundle in the form the build writes: code inside the function node wraps a CommonJS module in. */
function bundleOf(code: string): string {
  return `${WRAPPER}${code}\n})\n`;
}

t.test('the build writes a cache of the CLI bundle that V8 accepts', async (t) => {
  const cache = codeCache.freshCache(BUNDLE);
  t.ok(cache && cache.length > 0, 'dist/bundle/cli.cjs.cache is there and not older than the bundle');
  const script = codeCache.compile(BUNDLE, cache);
  t.equal(script.cachedDataRejected, false, 'V8 took the cached code');
  t.ok((await stat(BUNDLE)).size > 0);
});

t.test('the build trains the cache on a start of the CLI: more compiled code, nothing printed, the environment\'s flags left out', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'code-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'cli.cjs');
  await copyFile(BUNDLE, bundle);
  codeCache.writeCache(bundle);
  const topLevel = (await stat(`${bundle}.cache`)).size;
  // With TLS from the environment the start would answer over https, and the training's GET /v2/ over http would fail.
  const training = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(CODE_CACHE)}).writeTrainedCache(${JSON.stringify(bundle)}).then(() => process.exit(0))`], {
    encoding: 'utf8',
    env: { ...process.env, OCI_TEST_REGISTRY_TLS: 'true', PORT: '1' },
  });
  t.equal(training.status, 0, 'the training start answered GET /v2/ with 200', { stderr: training.stderr });
  t.equal(training.stdout, '', 'the ready line is kept off stdout');
  const trained = await readFile(`${bundle}.cache`);
  t.equal(codeCache.compile(bundle, trained).cachedDataRejected, false, 'V8 takes the trained cache');
  t.ok(trained.length > topLevel * 1.2, `it holds the functions a start runs (${trained.length} bytes, ${topLevel} for the top level alone)`);
});

t.test('the bundle is the function node wraps a module in, strict from its first line, so the loader compiles the file as read', async (t) => {
  const text = await readFile(BUNDLE, 'latin1');
  // Wrapping it in the loader made a second copy of the source in V8's young
  // generation, and a scavenge before the ready line (see code-cache.cjs).
  // 'use strict' first: after any other statement it is no directive, and the bundle's functions run sloppy.
  t.ok(text.startsWith(`${WRAPPER}'use strict';`), `the bundle opens the wrapper, then 'use strict' (${JSON.stringify(text.slice(0, 80))})`);
  t.ok(text.endsWith('\n})\n'), 'and closes it');
});

t.test('the loader calls the bundle with exports, require, module, __filename and __dirname', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'code-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'cli.cjs');
  await writeFile(bundle, bundleOf("'use strict'; module.exports.main = () => ({ fs: typeof require('node:fs').readFileSync, filename: __filename, dirname: __dirname, exported: exports === module.exports, strict: this === undefined });"));
  t.strictSame(codeCache.loadCli(bundle)?.main(), { fs: 'function', filename: bundle, dirname: dir, exported: true, strict: true });
});

t.test('the bundle is ASCII, so V8 holds its source as a one-byte string and the loader may read it as latin1', async (t) => {
  // esbuild escapes non-ASCII code but keeps class members' JSDoc comments
  // as written: one "→" in such a comment turned the whole source into a
  // two-byte string, ~1 ms more per CLI start (40 starts of each).
  const text = (await readFile(BUNDLE)).toString('latin1');
  const lines = text.split('\n');
  const offending = lines.flatMap((line, i) => (/[^\x00-\x7f]/.test(line) ? [`line ${i + 1}: ${line.trim().slice(0, 80)}`] : []));
  t.strictSame(offending, [], 'no character outside ASCII (write "->" or "..." in comments that esbuild keeps)');
});

t.test('a cache older than its bundle is not offered, so an edited bundle runs its own code', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'code-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'cli.cjs');
  await writeFile(bundle, bundleOf("exports.main = () => 'one';"));
  codeCache.writeCache(bundle);
  t.equal(codeCache.compile(bundle, codeCache.freshCache(bundle)).cachedDataRejected, false, 'the cache of this bundle is accepted');
  t.equal(codeCache.loadCli(bundle)?.main(), 'one');

  // The same length, other code, written after the cache.
  await writeFile(bundle, bundleOf("exports.main = () => 'two';"));
  const later = new Date(Date.now() + 60_000);
  await utimes(bundle, later, later);
  t.equal(codeCache.freshCache(bundle), undefined, 'the stale cache is not offered');
  t.equal(codeCache.loadCli(bundle)?.main(), 'two', 'the edited bundle runs its own code');
});

t.test('without a bundle (dist/ built by tsc alone) the loader says so, and the bin falls back to dist/cli.js', async (t) => {
  t.equal(codeCache.loadCli(join(tmpdir(), 'no-such-dir', 'cli.cjs')), undefined);
});
