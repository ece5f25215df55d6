// Profiles (README "Profiles"): named bundles of quirk switches that mimic a
// real registry, each quirk with its public source. The 'distribution'
// rows are what Debian's docker-registry 2.8.2 (distribution/distribution
// 2.8.2, in-memory storage, deletes enabled) answered to curl on loopback.
import t from 'tap';
import { send, sha256, startFor } from './helpers/http.js';
import { OCI_MANIFEST, pushBlob, pushImage } from './helpers/push.js';
import { EMPTY, json, putManifest } from './helpers/fixtures.js';
import { createRegistry, DEFAULT_OPTIONS } from '../src/index.js';
import { PROFILES } from '../src/control/profiles.js';

const OCTETS = { 'Content-Type': 'application/octet-stream' };

t.test('every quirk of a profile names its public source and changes a default', async (t) => {
  t.strictSame(Object.keys(PROFILES), ['distribution', 'ghcr']);
  for (const [name, profile] of Object.entries(PROFILES)) {
    t.ok(profile.description.length > 0, `${name}: has a description`);
    t.strictSame(Object.keys(profile.sources).sort(), Object.keys(profile.options).sort(), `${name}: one source per quirk`);
    for (const [option, source] of Object.entries(profile.sources)) {
      t.match(source, /https:\/\/\S+|seen against /, `${name}.${option}: ${source}`);
      t.not((profile.options as Record<string, unknown>)[option], (DEFAULT_OPTIONS as Record<string, unknown>)[option], `${name}.${option} differs from the default`);
    }
  }
  t.ok(Object.isFrozen(PROFILES), 'the table cannot be changed at run time');
});

t.test('the profile option fills in the quirks; explicit options win; an unknown profile is refused', async (t) => {
  for (const [name, profile] of Object.entries(PROFILES)) {
    const registry = createRegistry({ profile: name as keyof typeof PROFILES });
    t.teardown(() => registry.close());
    t.match(registry.options, { ...profile.options, profile: name }, `${name}: options in force`);
  }
  const overridden = createRegistry({ profile: 'distribution', referrers: true });
  t.teardown(() => overridden.close());
  t.equal(overridden.options.referrers, true, 'an explicit option overrides the profile');
  t.equal(overridden.options.mountWithoutFrom, false, 'the rest of the profile stays');
  const unset = createRegistry({ profile: 'ghcr', chunkMaxBytes: undefined });
  t.teardown(() => unset.close());
  t.equal(unset.options.chunkMaxBytes, 4 * 1024 * 1024, 'an option given as undefined does not undo the profile');
  t.throws(() => createRegistry({ profile: 'quay' as never }), { name: 'TypeError', message: 'option profile must be one of distribution, ghcr, got "quay"' });
});

t.test("profile 'distribution' answers as docker-registry 2.8.2 did", async (t) => {
  const registry = await startFor(t, { profile: 'distribution' });
  const { url } = registry;
  // Seeded, since this profile has no single-POST upload (the push helper's way).
  const image = await registry.store.pushImage('dist/a', { tag: 'v1', layers: ['layer of dist/a:v1'] });
  const layer = image.manifest.layers[0].digest as string;

  await t.test('GET /v2/<name>/referrers/<digest> → 404 (2.8.2: 404, text/plain "404 page not found")', async (t) => {
    t.equal((await send(url, 'GET', `/v2/dist/a/referrers/${image.digest}`)).status, 404);
    t.equal((await send(url, 'GET', `/v2/dist/nope/referrers/${image.digest}`)).status, 404);
  });

  await t.test('POST ?mount=<digest> without from, blob in another repository → 202 and a session (2.8.2: 202)', async (t) => {
    const reply = await send(url, 'POST', `/v2/dist/b/blobs/uploads/?mount=${layer}`);
    t.equal(reply.status, 202);
    t.match(String(reply.headers.location), /^\/v2\/dist\/b\/blobs\/uploads\/[0-9a-f-]{36}$/);
    t.equal(reply.headers.range, '0-0');
    t.equal((await send(url, 'HEAD', `/v2/dist/b/blobs/${layer}`)).status, 404, 'not mounted');
  });

  await t.test('POST ?mount=<digest>&from=<repo> → 201 (2.8.2: 201)', async (t) => {
    const reply = await send(url, 'POST', `/v2/dist/c/blobs/uploads/?mount=${layer}&from=dist/a`);
    t.equal(reply.status, 201);
    t.equal(reply.headers.location, `/v2/dist/c/blobs/${layer}`);
    t.equal(reply.headers['docker-content-digest'], layer);
  });

  await t.test('DELETE /v2/<name>/manifests/<tag> → 400 DIGEST_INVALID (2.8.2: 400 {"errors":[{"code":"DIGEST_INVALID",…}]})', async (t) => {
    for (const name of ['dist/a', 'dist/nope']) {
      const reply = await send(url, 'DELETE', `/v2/${name}/manifests/v1`);
      t.equal(reply.status, 400, `${name}: status`);
      t.equal(reply.headers['content-type'], 'application/json');
      t.equal(reply.json?.errors?.[0]?.code, 'DIGEST_INVALID', `${name}: code`);
    }
    t.equal((await send(url, 'GET', '/v2/dist/a/manifests/v1')).status, 200, 'the tag is still there');
  });

  await t.test('POST ?digest= with the blob → 202 and a session, nothing stored (2.8.2: 202, then HEAD 404)', async (t) => {
    const bytes = Buffer.from('single post body');
    const reply = await send(url, 'POST', `/v2/dist/a/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS });
    t.equal(reply.status, 202);
    t.equal(reply.headers.range, '0-0');
    t.equal((await send(url, 'HEAD', `/v2/dist/a/blobs/${sha256(bytes)}`)).status, 404);
  });

  await t.test('GET tags/list ignores n and last: every tag, no Link (2.8.2: the same four tags for every query)', async (t) => {
    for (const tag of ['v2', 'v3', 'v4']) {
      t.equal((await putManifest(url, 'dist/a', tag, image.bytes, OCI_MANIFEST)).status, 201);
    }
    for (const query of ['', '?n=1', '?n=2', '?last=v2', '?n=1&last=v2']) {
      const reply = await send(url, 'GET', `/v2/dist/a/tags/list${query}`);
      t.equal(reply.status, 200, `${query || '(no query)'}: status`);
      t.strictSame(reply.json, { name: 'dist/a', tags: ['v1', 'v2', 'v3', 'v4'] }, `${query || '(no query)'}: every tag`);
      t.equal(reply.headers.link, undefined, `${query || '(no query)'}: no Link`);
    }
  });

  await t.test('what 2.8.2 shares with the spec: PATCH 202, no OCI-Chunk-Min-Length, DELETE by digest 202', async (t) => {
    const opened = await send(url, 'POST', '/v2/dist/up/blobs/uploads/');
    t.equal(opened.status, 202);
    t.equal(opened.headers['oci-chunk-min-length'], undefined);
    const patched = await send(url, 'PATCH', String(opened.headers.location), { body: 'sixteen bytes!!!', headers: { ...OCTETS, 'Content-Range': '0-15' } });
    t.equal(patched.status, 202);
    t.equal(patched.headers.range, '0-15');
    t.equal((await send(url, 'DELETE', `/v2/dist/a/manifests/${image.digest}`)).status, 202);
  });
});

t.test("profile 'ghcr': no referrers API, no OCI-Subject, PATCH bodies over 4 MiB are 416", async (t) => {
  const { url } = await startFor(t, { profile: 'ghcr' });
  const image = await pushImage(url, 'ghcr/app', 'v1');
  t.equal((await send(url, 'GET', `/v2/ghcr/app/referrers/${image.digest}`)).status, 404, 'referrers: 404');

  await pushBlob(url, 'ghcr/app', '{}');
  const artifact = json({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.example.sbom',
    config: EMPTY,
    layers: [EMPTY],
    subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length },
  });
  const pushed = await putManifest(url, 'ghcr/app', sha256(artifact), artifact, OCI_MANIFEST);
  t.equal(pushed.status, 201, 'a manifest with a subject is taken');
  t.equal(pushed.headers['oci-subject'], undefined, 'without OCI-Subject, so clients fall back to the tag schema');

  const location = String((await send(url, 'POST', '/v2/ghcr/app/blobs/uploads/')).headers.location);
  const limit = 4 * 1024 * 1024;
  const over = await send(url, 'PATCH', location, { body: Buffer.alloc(limit + 1, 1), headers: { ...OCTETS, 'Content-Range': `0-${limit}` } });
  t.equal(over.status, 416, '4 MiB + 1 byte: 416');
  t.equal(over.json?.errors?.[0]?.code, 'BLOB_UPLOAD_INVALID');
  t.equal(over.headers.range, '0-0');
  const exact = await send(url, 'PATCH', location, { body: Buffer.alloc(limit, 1), headers: { ...OCTETS, 'Content-Range': `0-${limit - 1}` } });
  t.equal(exact.status, 202, '4 MiB: taken');
  t.equal(exact.headers.range, `0-${limit - 1}`);
});
