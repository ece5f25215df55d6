// A real client against a misbehaving registry: skopeo (1.9.3, Debian's;
// containers/image underneath) pulls through blob redirects, and meets
// injected faults. What skopeo does on each fault was found by experiment
// and is asserted exactly (README "Fault injection", "What skopeo does"):
//
// - 503 on a blob GET or on a PATCH: no retry at all, even with
//   --retry-times; the copy fails (exit 1) after that one request.
// - 429 with Retry-After: containers/image waits Retry-After seconds and
//   repeats that one request; the copy succeeds without --retry-times.
// - connection closed before a response (EOF): the copy fails; with
//   --retry-times N skopeo starts the whole copy again, and succeeds.
// - connection closed mid-body: "unexpected EOF", the copy fails, even with
//   --retry-times (no resumed download in this version).
//
// Needs `skopeo` on PATH (or $SKOPEO); .ci/run installs it.
import t from 'tap';
import { join } from 'node:path';
import { send, startFor } from '../helpers/http.js';
import { pushBlob, pushManifest } from '../helpers/push.js';
import { OCI_MANIFEST, blobsOf, buildImage, pseudoRandomBytes, readLayout, taggedEntry, writeLayout, type Image } from './layout.js';
import { runSkopeo, sampleImage, tempDir as newTempDir, type Outcome } from './skopeo-run.js';
import type { RunningRegistry } from '../../src/index.js';

/** The `t` a tap test callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

function skopeo(...args: string[]): Promise<Outcome> {
  return runSkopeo(args);
}

function tempDir(t: Test): Promise<string> {
  return newTempDir(t, 'misbehave');
}

/** Pushes an image over plain HTTP, before any fault is set. */
async function pushOverHttp(url: string, name: string, image: Image, tag: string): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(url, name, blob.bytes);
  const pushed = await pushManifest(url, name, tag, image.manifest.bytes, OCI_MANIFEST);
  if (pushed.status !== 201) throw new Error(`manifest push answered ${pushed.status}`);
}

/** The pulled layout holds exactly the image, byte for byte. */
async function checkLayoutHolds(t: Test, dir: string, tag: string, image: Image): Promise<void> {
  const layout = await readLayout(dir);
  t.equal(taggedEntry(layout, tag)?.digest, image.manifest.descriptor.digest, 'the pulled manifest has the pushed digest');
  t.same([...layout.blobs.keys()].sort(), blobsOf(image).map((b) => b.descriptor.digest).sort(), 'the pulled layout has exactly the image blobs');
  for (const blob of blobsOf(image)) {
    t.ok(layout.blobs.get(blob.descriptor.digest)?.equals(blob.bytes), `${blob.descriptor.digest} is byte for byte the pushed blob`);
  }
}

const pull = (registry: RunningRegistry, name: string, dir: string, ...flags: string[]) =>
  skopeo('copy', ...flags, '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/${name}:v1`, `oci:${dir}:v1`);

t.test('skopeo pulls through blob redirects: every blob GET is a 307 to the signed URL, followed without credentials', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  const image = sampleImage('redirected');
  await pushOverHttp(registry.url, 'interop/redirected', image, 'v1');
  const dir = await tempDir(t);

  const outcome = await pull(registry, 'interop/redirected', join(dir, 'back'));
  if (!t.equal(outcome.code, 0, 'skopeo copy docker:// → oci: exits 0', { stderr: outcome.stderr })) return;
  await checkLayoutHolds(t, join(dir, 'back'), 'v1', image);

  const blobDigests = [image.config, ...image.layers].map((b) => b.descriptor.digest).sort();
  const asked = registry.journal.filter({ route: 'blob' });
  t.strictSame(asked.map((e) => `${e.method} ${e.status}`), blobDigests.map(() => 'GET 307'), 'each blob GET was answered 307');
  t.strictSame(asked.map((e) => e.reference).sort(), blobDigests, 'one per blob');
  const served = registry.journal.filter({ route: 'redirect' });
  t.strictSame(served.map((e) => `${e.method} ${e.status}`), blobDigests.map(() => 'GET 200'), 'skopeo followed each 307, and each signed URL served the blob');
  t.strictSame(served.map((e) => e.reference).sort(), blobDigests);
  for (const entry of served) {
    t.equal(entry.requestHeaders.host, `localhost:${registry.port}`, 'on the other loopback name');
    t.equal(entry.requestHeaders.authorization, undefined, 'without an Authorization header');
  }
});

t.test('a single 503 on a blob GET: skopeo does not retry, not even with --retry-times; the copy fails', async (t) => {
  const registry = await startFor(t);
  const image = sampleImage('blob-503');
  await pushOverHttp(registry.url, 'interop/blob-503', image, 'v1');
  const layer = image.layers[1]!.descriptor.digest;
  const dir = await tempDir(t);

  for (const flags of [[], ['--retry-times', '3']]) {
    await t.test(flags.length ? flags.join(' ') : 'no flags', async (t) => {
      registry.journal.clear();
      const fault = registry.faults.add({ match: { method: 'GET', route: 'blob', reference: layer }, action: { status: 503 } });
      const outcome = await pull(registry, 'interop/blob-503', join(dir, `back${flags.length}`), ...flags);
      t.equal(outcome.code, 1, 'exit 1', { stderr: outcome.stderr });
      t.match(outcome.stderr, `level=fatal msg="reading blob ${layer}: Error fetching blob: invalid status code from registry 503 (Service Unavailable)"`);
      t.notMatch(outcome.stderr, /retrying/, 'no retry is announced');
      t.equal(fault.hits, 1);
      t.strictSame(registry.journal.filter({ route: 'blob', reference: layer }).map((e) => `${e.method} ${e.status}`), ['GET 503'], 'the blob was asked for once: no retry');
    });
  }
  const clean = await pull(registry, 'interop/blob-503', join(dir, 'clean'));
  t.equal(clean.code, 0, 'with the rule used up, the next copy succeeds', { stderr: clean.stderr });
  await checkLayoutHolds(t, join(dir, 'clean'), 'v1', image);
});

t.test('a single 503 on a PATCH: skopeo does not retry, not even with --retry-times; the push fails', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const image = buildImage({ layers: [[{ name: 'data.bin', content: pseudoRandomBytes(200_000, 'patch-503') }]] });
  await writeLayout(join(dir, 'source'), { v1: image });
  const destination = `docker://${registry.host}/interop/patch-503:v1`;

  for (const flags of [[], ['--retry-times', '3']]) {
    await t.test(flags.length ? flags.join(' ') : 'no flags', async (t) => {
      registry.journal.clear();
      const fault = registry.faults.add({ match: { method: 'PATCH' }, action: { status: 503 } });
      const outcome = await skopeo('copy', ...flags, '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, destination);
      t.equal(outcome.code, 1, 'exit 1', { stderr: outcome.stderr });
      t.match(outcome.stderr, 'level=fatal msg="writing blob: uploading layer chunked: received unexpected HTTP status: 503 Service Unavailable"');
      t.notMatch(outcome.stderr, /retrying/, 'no retry is announced');
      t.equal(fault.hits, 1);
      t.strictSame(registry.journal.filter({ method: 'PATCH' }).map((e) => e.status), [503], 'one PATCH, no retry');
      t.equal((await send(registry.url, 'GET', '/v2/interop/patch-503/manifests/v1')).status, 404, 'nothing was tagged');
    });
  }
  const clean = await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, destination);
  t.equal(clean.code, 0, 'with the rule used up, the push succeeds', { stderr: clean.stderr });
  const stored = await send(registry.url, 'GET', '/v2/interop/patch-503/manifests/v1');
  t.equal(stored.headers['docker-content-digest'], image.manifest.descriptor.digest);
});

t.test('429 with Retry-After on a blob GET: skopeo waits that long, repeats the request, and the copy succeeds', async (t) => {
  const registry = await startFor(t);
  const image = sampleImage('blob-429');
  await pushOverHttp(registry.url, 'interop/blob-429', image, 'v1');
  const layer = image.layers[1]!.descriptor.digest;
  const dir = await tempDir(t);
  registry.journal.clear();
  registry.faults.add({ match: { method: 'GET', route: 'blob', reference: layer }, action: { rateLimit: { retryAfterSeconds: 1 } } });

  const outcome = await pull(registry, 'interop/blob-429', join(dir, 'back'), '--debug');
  t.equal(outcome.code, 0, 'exit 0', { stderr: outcome.stderr.slice(-2000) });
  t.match(outcome.stderr, `msg="Detected 'Retry-After' header \\"1\\""`);
  t.match(outcome.stderr, `msg="Too many requests to ${registry.url}/v2/interop/blob-429/blobs/${layer}: sleeping for 1.000000 seconds before next attempt"`);
  const asked = registry.journal.filter({ route: 'blob', reference: layer });
  t.strictSame(asked.map((e) => e.status), [429, 200], 'the same GET again after the 429');
  const waited = asked[1]!.at - asked[0]!.at;
  t.ok(waited >= 1000, `the retry came ${waited} ms later: at least Retry-After`);
  await checkLayoutHolds(t, join(dir, 'back'), 'v1', image);
});

t.test('a connection closed before the response: the copy fails; --retry-times 1 runs the whole copy again', async (t) => {
  const registry = await startFor(t);
  const image = sampleImage('blob-eof');
  await pushOverHttp(registry.url, 'interop/blob-eof', image, 'v1');
  const layer = image.layers[1]!.descriptor.digest;
  const dir = await tempDir(t);
  const rule = { match: { method: 'GET', route: 'blob' as const, reference: layer }, action: { drop: 'before-response' as const } };

  registry.faults.add(rule);
  const failed = await pull(registry, 'interop/blob-eof', join(dir, 'failed'));
  t.equal(failed.code, 1, 'without --retry-times: exit 1', { stderr: failed.stderr });
  t.match(failed.stderr, `level=fatal msg="reading blob ${layer}: Get \\"${registry.url}/v2/interop/blob-eof/blobs/${layer}\\": EOF"`);

  registry.journal.clear();
  registry.faults.add(rule);
  const retried = await pull(registry, 'interop/blob-eof', join(dir, 'back'), '--retry-times', '1');
  t.equal(retried.code, 0, 'with --retry-times 1: exit 0', { stderr: retried.stderr });
  t.match(retried.stderr, `level=warning msg="Failed, retrying in 1s ... (1/1). Error: reading blob ${layer}: Get \\"${registry.url}/v2/interop/blob-eof/blobs/${layer}\\": EOF"`);
  t.strictSame(registry.journal.filter({ route: 'base' }).length, 2, 'the whole copy started again (GET /v2/ twice)');
  t.strictSame(registry.journal.filter({ route: 'manifest' }).map((e) => e.status), [200, 200], 'the manifest was read again');
  t.strictSame(registry.journal.filter({ route: 'blob', reference: layer }).map((e) => e.completed), [false, true], 'the dropped GET, then a whole one');
  await checkLayoutHolds(t, join(dir, 'back'), 'v1', image);
});

t.test('a response cut mid-body: skopeo fails with unexpected EOF, even with --retry-times', async (t) => {
  const registry = await startFor(t);
  const image = sampleImage('blob-cut');
  await pushOverHttp(registry.url, 'interop/blob-cut', image, 'v1');
  const layer = image.layers[1]!.descriptor.digest;
  const dir = await tempDir(t);
  registry.journal.clear();
  registry.faults.add({ match: { method: 'GET', route: 'blob', reference: layer }, action: { drop: 'mid-body' } });

  const outcome = await pull(registry, 'interop/blob-cut', join(dir, 'back'), '--retry-times', '1');
  t.equal(outcome.code, 1, 'exit 1', { stderr: outcome.stderr });
  t.match(outcome.stderr, 'level=fatal msg="writing blob: happened during read: unexpected EOF"');
  t.notMatch(outcome.stderr, /retrying/, 'no retry');
  const asked = registry.journal.filter({ route: 'blob', reference: layer });
  t.strictSame(asked.map((e) => [e.status, e.completed, e.bytesOut]), [[200, false, Math.floor(image.layers[1]!.bytes.length / 2)]], 'one GET, cut after half the layer');
});
