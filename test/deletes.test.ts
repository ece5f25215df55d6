// end-9 / end-10 deletes (spec "Content Management": "Deleting tags",
// "Deleting Manifests", "Deleting Blobs").
import t from 'tap';
import { send, sha256, sha512, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { OCI_MANIFEST, assertError, json, ociImageManifest, putManifest, type Asserts } from './helpers/fixtures.js';

const tagsOf = async (url: string, name: string): Promise<string[]> => (await send(url, 'GET', `/v2/${name}/tags/list`)).json?.tags;

/** Pushes an image manifest in `name` under every tag given; returns its digest and bytes. */
async function pushTagged(url: string, name: string, seed: string, tags: string[]): Promise<{ digest: string; bytes: Buffer; manifest: { config: { digest: string }; layers: { digest: string }[] } }> {
  const manifest = (await ociImageManifest(url, name, seed)) as { config: { digest: string }; layers: { digest: string }[] };
  const bytes = json(manifest);
  const digest = sha256(bytes);
  const reply = await putManifest(url, name, `${digest}${tags.length ? `?${tags.map((x) => `tag=${x}`).join('&')}` : ''}`, bytes, OCI_MANIFEST);
  if (reply.status !== 201) throw new Error(`push answered ${reply.status}: ${reply.body}`);
  return { digest, bytes, manifest };
}

/** spec end-9 / end-10: 202 Accepted, and nothing else: no body, no error envelope. */
function assertAccepted(t: Asserts, reply: Reply): void {
  t.equal(reply.status, 202, `202 Accepted (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.body.length, 0, '202: no body');
  t.equal(reply.headers['content-length'], '0', '202: Content-Length 0');
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0', '202: API version header');
}

t.test('DELETE a manifest by digest → 202; the manifest and all its tags are gone', async (t) => {
  const { url } = await startFor(t);
  const name = 'del/manifest';
  const doomed = await pushTagged(url, name, 'doomed', ['a', 'b', 'c']);
  const kept = await pushTagged(url, name, 'kept', ['d']);
  t.strictSame(await tagsOf(url, name), ['a', 'b', 'c', 'd']);

  const reply = await send(url, 'DELETE', `/v2/${name}/manifests/${doomed.digest}`);
  assertAccepted(t, reply);
  t.strictSame(await tagsOf(url, name), ['d'], 'its tags left tags/list');
  for (const reference of [doomed.digest, 'a', 'b', 'c']) {
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
    assertError(t, await send(url, 'HEAD', `/v2/${name}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN', true);
  }
  const survivor = await send(url, 'GET', `/v2/${name}/manifests/d`);
  t.equal(survivor.status, 200, 'the other manifest stays');
  t.ok(survivor.body.equals(kept.bytes));
  // Manifest deletion leaves blobs alone.
  t.equal((await send(url, 'GET', `/v2/${name}/blobs/${doomed.manifest.layers[0]!.digest}`)).status, 200, 'its layer is still there');
  // Deleting again: it is unknown now.
  assertError(t, await send(url, 'DELETE', `/v2/${name}/manifests/${doomed.digest}`), 404, 'MANIFEST_UNKNOWN');
  // And it can be pushed again.
  t.equal((await putManifest(url, name, 'a', doomed.bytes, OCI_MANIFEST)).status, 201);
  t.equal((await send(url, 'GET', `/v2/${name}/manifests/${doomed.digest}`)).status, 200, 'pushed again');
});

t.test('DELETE a manifest by sha512 digest', async (t) => {
  const { url } = await startFor(t);
  const name = 'del/sha512';
  const bytes = json(await ociImageManifest(url, name, 's512'));
  const digest = sha512(bytes);
  t.equal((await putManifest(url, name, `${digest}?tag=x`, bytes, OCI_MANIFEST)).status, 201);
  assertAccepted(t, await send(url, 'DELETE', `/v2/${name}/manifests/${digest}`));
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${digest}`), 404, 'MANIFEST_UNKNOWN');
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/x`), 404, 'MANIFEST_UNKNOWN');
});

t.test('DELETE a tag → 202; only that tag goes, the manifest stays by digest and other tags', async (t) => {
  const { url } = await startFor(t);
  const name = 'del/tag';
  const image = await pushTagged(url, name, 'tagged', ['keep', 'drop', 'also']);
  assertAccepted(t, await send(url, 'DELETE', `/v2/${name}/manifests/drop`));
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/drop`), 404, 'MANIFEST_UNKNOWN');
  t.strictSame(await tagsOf(url, name), ['also', 'keep']);
  for (const reference of [image.digest, 'keep', 'also']) {
    const reply = await send(url, 'GET', `/v2/${name}/manifests/${reference}`);
    t.equal(reply.status, 200, `${reference.slice(0, 20)} still resolves`);
    t.ok(reply.body.equals(image.bytes));
  }
  assertError(t, await send(url, 'DELETE', `/v2/${name}/manifests/drop`), 404, 'MANIFEST_UNKNOWN');
  // Deleting every tag leaves the manifest, untagged.
  assertAccepted(t, await send(url, 'DELETE', `/v2/${name}/manifests/keep`));
  assertAccepted(t, await send(url, 'DELETE', `/v2/${name}/manifests/also`));
  t.strictSame(await tagsOf(url, name), []);
  t.equal((await send(url, 'GET', `/v2/${name}/manifests/${image.digest}`)).status, 200);
});

t.test('DELETE a blob → 202; gone from this repository, still in others', async (t) => {
  const { url } = await startFor(t);
  const bytes = Buffer.from('a blob shared by two repositories');
  const digest = await pushBlob(url, 'del/blob-a', bytes);
  t.equal(await pushBlob(url, 'del/blob-b', bytes), digest);
  await pushBlob(url, 'del/blob-a', 'keeps del/blob-a alive');

  assertAccepted(t, await send(url, 'DELETE', `/v2/del/blob-a/blobs/${digest}`));
  assertError(t, await send(url, 'GET', `/v2/del/blob-a/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  assertError(t, await send(url, 'HEAD', `/v2/del/blob-a/blobs/${digest}`), 404, 'BLOB_UNKNOWN', true);
  const other = await send(url, 'GET', `/v2/del/blob-b/blobs/${digest}`);
  t.equal(other.status, 200, 'the other repository still has it');
  t.ok(other.body.equals(bytes), 'with the same bytes');
  t.equal(other.headers['docker-content-digest'], digest);
  assertError(t, await send(url, 'DELETE', `/v2/del/blob-a/blobs/${digest}`), 404, 'BLOB_UNKNOWN');

  // The last link going does not stop a new push of the same bytes.
  assertAccepted(t, await send(url, 'DELETE', `/v2/del/blob-b/blobs/${digest}`));
  assertError(t, await send(url, 'GET', `/v2/del/blob-b/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  t.equal(await pushBlob(url, 'del/blob-b', bytes), digest);
  t.ok((await send(url, 'GET', `/v2/del/blob-b/blobs/${digest}`)).body.equals(bytes), 'pushed again');
});

t.test('deleting what does not exist → 404 with the right code; malformed digests → 400', async (t) => {
  const { url } = await startFor(t);
  const name = 'del/unknown';
  await pushTagged(url, name, 'present', ['present']);
  const rows: { path: string; status: number; code: string | string[] }[] = [
    { path: `/v2/${name}/manifests/${sha256('no such manifest')}`, status: 404, code: 'MANIFEST_UNKNOWN' },
    { path: `/v2/${name}/manifests/absent`, status: 404, code: 'MANIFEST_UNKNOWN' },
    { path: `/v2/no/such/repo/manifests/${sha256('x')}`, status: 404, code: 'NAME_UNKNOWN' },
    { path: '/v2/no/such/repo/manifests/latest', status: 404, code: 'NAME_UNKNOWN' },
    { path: `/v2/${name}/blobs/${sha256('no such blob')}`, status: 404, code: 'BLOB_UNKNOWN' },
    // The spec names no code for a blob in an unknown repository; either is fair.
    { path: `/v2/no/such/repo/blobs/${sha256('x')}`, status: 404, code: ['BLOB_UNKNOWN', 'NAME_UNKNOWN'] },
    { path: `/v2/${name}/manifests/sha256:abc`, status: 400, code: 'DIGEST_INVALID' },
    { path: `/v2/${name}/blobs/sha256:abc`, status: 400, code: 'DIGEST_INVALID' },
    { path: `/v2/${name}/blobs/not-a-digest`, status: 400, code: 'DIGEST_INVALID' },
  ];
  for (const { path, status, code } of rows) {
    await t.test(`DELETE ${path.slice(0, 60)}`, async (t) => {
      assertError(t, await send(url, 'DELETE', path), status, code);
    });
  }
  t.strictSame(await tagsOf(url, name), ['present'], 'nothing else was touched');
});

t.test('option deletes: false → 405 UNSUPPORTED for manifests, tags and blobs; nothing deleted', async (t) => {
  const { url } = await startFor(t, { deletes: false });
  const name = 'del/disabled';
  const image = await pushTagged(url, name, 'protected', ['v1']);
  const blob = image.manifest.layers[0]!.digest;
  const rows = [
    { what: 'manifest by digest', path: `/v2/${name}/manifests/${image.digest}` },
    { what: 'tag', path: `/v2/${name}/manifests/v1` },
    { what: 'blob', path: `/v2/${name}/blobs/${blob}` },
  ];
  for (const { what, path } of rows) {
    await t.test(what, async (t) => {
      const reply = await send(url, 'DELETE', path);
      assertError(t, reply, 405, 'UNSUPPORTED');
      // RFC 9110 §15.5.6: a 405 carries Allow, which here leaves DELETE out.
      t.ok(typeof reply.headers.allow === 'string' && !/DELETE/.test(reply.headers.allow), `Allow without DELETE (${reply.headers.allow})`);
    });
  }
  t.equal((await send(url, 'GET', `/v2/${name}/manifests/${image.digest}`)).status, 200, 'manifest still there');
  t.equal((await send(url, 'GET', `/v2/${name}/manifests/v1`)).status, 200, 'tag still there');
  t.equal((await send(url, 'GET', `/v2/${name}/blobs/${blob}`)).status, 200, 'blob still there');
  t.strictSame(await tagsOf(url, name), ['v1']);
});
