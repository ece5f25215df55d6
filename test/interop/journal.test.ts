// The journal seen through a real client: skopeo copies an OCI layout into
// the registry (and back), and the test reads the requests it made from
// registry.journal, with no proxy in between. What is asserted exactly is
// what skopeo 1.9.3 (containers/image 5.23, Debian's package) sends every
// time:
//   GET /v2/ first;
//   per layer: HEAD (404) twice — once to try reusing it, once more in
//   PutBlob — then a session: POST (202), one PATCH with the whole blob (202),
//   PUT ?digest= (201);
//   the config after every layer: one HEAD (404), then the same session;
//   the manifest PUT by tag last.
// Needs `skopeo` on PATH (or $SKOPEO). Run with `npm run test:interop`.
import t from 'tap';
import { join } from 'node:path';
import type { JournalEntry } from '../../src/index.js';
import { startFor } from '../helpers/http.js';
import { OCI_MANIFEST, buildImage, pseudoRandomBytes, writeLayout, type Blob, type Image } from './layout.js';
import { runSkopeo, tempDir as newTempDir, type Outcome } from './skopeo-run.js';

/** Runs skopeo; resolves with its exit code and stderr instead of throwing. */
function skopeo(...args: string[]): Promise<Outcome> {
  return runSkopeo(args);
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

function tempDir(t: Teardown): Promise<string> {
  return newTempDir(t, 'journal');
}

/** An image whose layers are `sizes` bytes of incompressible content each. */
function imageOf(name: string, sizes: number[]): Image {
  return buildImage({ layers: sizes.map((size, i) => [{ name: `opt/${name}-${i}.bin`, content: pseudoRandomBytes(size, `${name}/${i}`) }]) });
}

const digestOf = (blob: Blob) => blob.descriptor.digest;

/** method, route, reference, status and digest of an entry on one line (the upload id read from the POST's Location). */
function line(e: JournalEntry): string {
  return [e.method, e.route ?? '-', e.reference || '-', e.status, e.digest ?? '-'].join(' ');
}

function count(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

/** The upload id a POST's `Location` names. */
function uploadId(post: JournalEntry | undefined): string {
  return String(post?.responseHeaders.location ?? '').split('/').pop() ?? '';
}

t.test('a one-layer push is exactly the sequence skopeo sends, and a second push only checks blobs', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const image = imageOf('single', [200_000]);
  await writeLayout(join(dir, 'source'), { v1: image });
  const [layer] = image.layers;
  const manifest = digestOf(image.manifest);
  const pushed = registry.waitFor({ event: 'push', name: 'interop/journal', reference: 'v1' }, { timeoutMs: 120_000 });

  const copy = await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, `docker://${registry.host}/interop/journal:v1`);
  if (!t.equal(copy.code, 0, 'skopeo copy exits 0', { stderr: copy.stderr })) return;
  t.strictSame(await pushed, { name: 'interop/journal', reference: 'v1', digest: manifest, mediaType: OCI_MANIFEST, tags: ['v1'] }, 'waitFor saw the push');

  const entries = registry.journal.all();
  const posts = entries.filter((e) => e.method === 'POST');
  const [layerUpload, configUpload] = posts.map(uploadId);
  t.strictSame(entries.map(line), [
    'GET base - 200 -',
    `HEAD blob ${digestOf(layer!)} 404 ${digestOf(layer!)}`,
    `HEAD blob ${digestOf(layer!)} 404 ${digestOf(layer!)}`,
    'POST upload - 202 -',
    `PATCH upload ${layerUpload} 202 -`,
    `PUT upload ${layerUpload} 201 ${digestOf(layer!)}`,
    `HEAD blob ${digestOf(image.config)} 404 ${digestOf(image.config)}`,
    'POST upload - 202 -',
    `PATCH upload ${configUpload} 202 -`,
    `PUT upload ${configUpload} 201 ${digestOf(image.config)}`,
    `PUT manifest v1 201 ${manifest}`,
  ]);
  t.strictSame([...new Set(entries.slice(1).map((e) => e.name))], ['interop/journal'], 'every request but the first names the repository');
  t.strictSame(registry.journal.filter({ method: 'PATCH' }).map((e) => e.bytesIn), [layer!.bytes.length, image.config.bytes.length], 'each PATCH carries one whole blob');
  t.strictSame(registry.journal.filter({ route: 'upload', method: 'PUT' }).map((e) => e.bytesIn), [0, 0], 'the PUT that closes a session carries no bytes');
  const put = registry.journal.last()!;
  t.equal(put.bytesIn, image.manifest.bytes.length, 'the manifest PUT carries the manifest');
  t.equal(put.requestHeaders['content-type'], OCI_MANIFEST);
  t.match(put.requestHeaders['user-agent'], /^skopeo\//);

  // The same image again: every blob is found with one HEAD, nothing is uploaded.
  registry.journal.clear();
  const again = await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, `docker://${registry.host}/interop/journal:v1`);
  if (!t.equal(again.code, 0, 'second skopeo copy exits 0', { stderr: again.stderr })) return;
  t.strictSame(registry.journal.all().map(line), [
    'GET base - 200 -',
    `HEAD blob ${digestOf(layer!)} 200 ${digestOf(layer!)}`,
    `HEAD blob ${digestOf(image.config)} 200 ${digestOf(image.config)}`,
    `PUT manifest v1 201 ${manifest}`,
  ]);
  t.equal(registry.journal.filter({ route: 'upload' }).length, 0, 'no upload at all');
});

t.test('a three-layer push: each blob its own HEADs and session, the config after the layers, the manifest last', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const image = imageOf('layers', [1_000, 300_000, 2 * 1024 * 1024]);
  await writeLayout(join(dir, 'source'), { v1: image });
  const copy = await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, `docker://${registry.host}/interop/layers:v1`);
  if (!t.equal(copy.code, 0, 'skopeo copy exits 0', { stderr: copy.stderr })) return;

  const entries = registry.journal.all();
  t.equal(line(entries[0]!), 'GET base - 200 -', 'first: the API version check');
  t.equal(line(entries.at(-1)!), `PUT manifest v1 201 ${digestOf(image.manifest)}`, 'last: the manifest, by tag');
  t.strictSame(
    Object.entries(count(entries.map((e) => `${e.method} ${e.route} ${e.status}`))).map(([key, n]) => `${key} ×${n}`).sort(),
    ['GET base 200 ×1', 'HEAD blob 404 ×7', 'PATCH upload 202 ×4', 'POST upload 202 ×4', 'PUT manifest 201 ×1', 'PUT upload 201 ×4'],
    'nothing but these requests, each answered as expected',
  );

  // Layers may be sent in any order (or at once); each blob's own requests are in a fixed order.
  const position = (e: JournalEntry) => entries.indexOf(e);
  const sessions = new Map(entries.filter((e) => e.method === 'POST').map((post) => [uploadId(post), post]));
  const closeOf = new Map(entries.filter((e) => e.route === 'upload' && e.method === 'PUT').map((put) => [put.digest!, put]));
  for (const [what, blob, heads] of [...image.layers.map((l, i) => [`layer ${i}`, l, 2] as const), ['config', image.config, 1] as const]) {
    const digest = digestOf(blob);
    const put = closeOf.get(digest);
    if (!t.ok(put, `${what} was uploaded`)) continue;
    const post = sessions.get(put!.reference!);
    const ofSession = entries.filter((e) => e === post || (e.route === 'upload' && e.reference === put!.reference));
    t.strictSame(ofSession.map((e) => `${e.method} ${e.status}`), ['POST 202', 'PATCH 202', 'PUT 201'], `${what}: POST, PATCH, PUT in one session`);
    t.equal(ofSession[1]!.bytesIn, blob.bytes.length, `${what}: the PATCH carries the whole blob`);
    const checks = registry.journal.filter({ method: 'HEAD', route: 'blob', reference: digest });
    t.equal(checks.length, heads, `${what}: ${heads} HEAD${heads > 1 ? 's' : ''}, answered 404`);
    t.ok(checks.every((head) => position(head) < position(post!)), `${what}: checked before its upload started`);
  }
  const configPut = position(closeOf.get(digestOf(image.config))!);
  t.ok(image.layers.every((l) => position(closeOf.get(digestOf(l))!) < configPut), 'the config is uploaded after every layer');
});

t.test('a pull: the manifest by tag, then each blob once', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const image = imageOf('pulled', [50_000]);
  await registry.store.seedBlob('interop/pulled', image.layers[0]!.bytes, image.layers[0]!.descriptor.mediaType);
  await registry.store.seedBlob('interop/pulled', image.config.bytes, image.config.descriptor.mediaType);
  await registry.store.seedManifest('interop/pulled', JSON.parse(image.manifest.bytes.toString('utf8')), 'v1');

  const copy = await skopeo('copy', '--src-tls-verify=false', `docker://${registry.host}/interop/pulled:v1`, `oci:${join(dir, 'back')}:v1`);
  if (!t.equal(copy.code, 0, 'skopeo copy exits 0', { stderr: copy.stderr })) return;
  const entries = registry.journal.all();
  t.strictSame(entries.slice(0, 2).map(line), ['GET base - 200 -', `GET manifest v1 200 ${digestOf(image.manifest)}`]);
  t.match(entries[1]!.requestHeaders.accept, OCI_MANIFEST, 'the manifest GET accepts OCI manifests');
  t.strictSame(
    entries.slice(2).map((e) => `${e.method} ${e.route} ${e.status} ${e.digest} ${e.bytesOut}`).sort(),
    [image.config, image.layers[0]!].map((b) => `GET blob 200 ${digestOf(b)} ${b.bytes.length}`).sort(),
    'each blob fetched once, whole',
  );
});
