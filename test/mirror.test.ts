import t from 'tap';
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { startRegistry } from '../src/index.js';
import { send } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';
import { computeDigest } from '../src/oci/digest.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT = { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` };

/** An upstream with an image, a two-platform index and a referrer; the mirror in front of it is empty. */
async function pair(t: Tap.Test, upstreamOptions: Parameters<typeof startRegistry>[0] = {}, mirrorUpstream: Record<string, unknown> = {}) {
  const upstream = await startRegistry({ teardown: t, ...upstreamOptions });
  const image = await upstream.store.pushImage('team/app', { tag: 'v1', layers: ['layer one', 'layer two'] });
  const arm = await upstream.store.pushImage('team/app', { layers: ['arm layer'], platform: { architecture: 'arm64', os: 'linux' } });
  const index = await upstream.store.pushIndex('team/app', { tag: 'multi', manifests: [image, arm] });
  const sbom = await upstream.store.pushArtifact('team/app', { artifactType: 'application/spdx+json', blobs: ['{"sbom":1}'], subject: image.digest });
  const mirror = await startRegistry({ teardown: t, upstream: { url: upstream.url, ...mirrorUpstream } });
  return { upstream, mirror, image, arm, index, sbom };
}

/** Pulls an image the way a client does: manifest by reference, then config and layers by digest. */
async function pull(base: string, name: string, reference: string) {
  const manifest = await send(base, 'GET', `/v2/${name}/manifests/${reference}`, { headers: ACCEPT });
  if (manifest.status !== 200) return { manifest, blobs: [] };
  const body = manifest.json as { config: { digest: string }; layers: { digest: string }[] };
  const blobs = [];
  for (const { digest } of [body.config, ...body.layers]) blobs.push(await send(base, 'GET', `/v2/${name}/blobs/${digest}`));
  return { manifest, blobs };
}

t.test('a pull goes through the mirror once; the second is served from its cache', async (t) => {
  const { upstream, mirror, image } = await pair(t);
  const first = await pull(mirror.url, 'team/app', 'v1');
  t.equal(first.manifest.status, 200);
  t.equal(first.manifest.headers['docker-content-digest'], image.digest);
  t.same(first.manifest.body, image.bytes, 'the exact upstream bytes');
  t.equal(computeDigest(first.manifest.body), image.digest);
  for (const blob of first.blobs) {
    t.equal(blob.status, 200);
    t.equal(computeDigest(blob.body), blob.headers['docker-content-digest'], 'blob bytes match their digest');
  }
  t.same(first.blobs.map((b) => b.body.toString()).slice(1), ['layer one', 'layer two']);
  t.same(mirror.journal.filter({ route: 'blob' }).map((e) => e.upstream), ['miss', 'miss', 'miss']);

  // Second pull by digest: nothing reaches the upstream.
  const upstreamReads = upstream.journal.size;
  const second = await pull(mirror.url, 'team/app', image.digest);
  t.equal(second.manifest.status, 200);
  t.same(second.blobs.map((b) => b.status), [200, 200, 200]);
  t.equal(upstream.journal.size, upstreamReads, 'the upstream saw no request');
  for (const digest of [image.digest, ...second.blobs.map((b) => b.headers['docker-content-digest'] as string)]) {
    t.equal(upstream.journal.filter({ method: 'GET', digest }).length, 1, `upstream read ${digest} exactly once`);
  }
  t.same(mirror.journal.all().slice(-4).map((e) => e.upstream), ['hit', 'hit', 'hit', 'hit']);
  t.ok(await mirror.store.blob('team/app', second.blobs[1]!.headers['docker-content-digest'] as string), 'cached in the mirror store');
  t.ok(await mirror.store.manifest('team/app', 'v1'), 'the manifest and its tag are cached once its blobs are');
});

t.test('a tag follows the upstream (HEAD) unless cache is pin', async (t) => {
  const { upstream, mirror } = await pair(t);
  await pull(mirror.url, 'team/app', 'v1');
  const moved = await upstream.store.pushImage('team/app', { tag: 'v1', layers: ['new layer'] });
  const again = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1', { headers: ACCEPT });
  t.equal(again.headers['docker-content-digest'], moved.digest, 'the moved tag is followed');
  const same = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1', { headers: ACCEPT });
  t.equal(same.status, 200);
  t.equal(mirror.journal.last()!.upstream, 'hit', 'the new manifest, held for its blobs, matches the upstream HEAD');
  t.equal(same.headers['docker-content-digest'], moved.digest);
  t.equal(upstream.journal.filter({ method: 'GET', route: 'manifest', reference: 'v1' }).length, 2, 'one GET per manifest the tag named; the rest were HEADs');

  const pinned = await pair(t, {}, { cache: 'pin' });
  await pull(pinned.mirror.url, 'team/app', 'v1');
  const old = pinned.image.digest;
  await pinned.upstream.store.pushImage('team/app', { tag: 'v1', layers: ['newer layer'] });
  const before = pinned.upstream.journal.size;
  const read = await send(pinned.mirror.url, 'GET', '/v2/team/app/manifests/v1', { headers: ACCEPT });
  t.equal(read.headers['docker-content-digest'], old, 'pinned: the cached tag');
  t.equal(pinned.upstream.journal.size, before, 'pinned: the upstream is not asked');
  t.equal(pinned.mirror.journal.last()!.upstream, 'hit');
});

t.test('an index, its children and referrers pull through; tags list is the upstream\'s', async (t) => {
  const { upstream, mirror, index, arm, sbom } = await pair(t);
  const idx = await send(mirror.url, 'GET', '/v2/team/app/manifests/multi', { headers: ACCEPT });
  t.equal(idx.status, 200);
  t.equal(idx.headers['docker-content-digest'], index.digest);
  const armPull = await pull(mirror.url, 'team/app', arm.digest);
  t.same(armPull.blobs.map((b) => b.status), [200, 200]);
  const art = await pull(mirror.url, 'team/app', sbom.digest);
  t.equal(art.manifest.headers['docker-content-digest'], sbom.digest);
  const tags = await send(mirror.url, 'GET', '/v2/team/app/tags/list');
  t.same(tags.json, { name: 'team/app', tags: ['multi', 'v1'] });
  t.equal(mirror.journal.last()!.upstream, 'miss');
  t.equal(mirror.journal.last()!.upstreamStatus, 200);
  // Re-reading the index by digest: held until its other child is cached, served without the upstream.
  const before = upstream.journal.size;
  const again = await send(mirror.url, 'GET', `/v2/team/app/manifests/${index.digest}`, { headers: ACCEPT });
  t.equal(again.status, 200);
  t.equal(upstream.journal.size, before);
  const missing = await send(mirror.url, 'GET', '/v2/team/app/manifests/nope', { headers: ACCEPT });
  assertError(t, missing, 404, 'MANIFEST_UNKNOWN');
  const unknownBlob = await send(mirror.url, 'GET', `/v2/team/app/blobs/sha256:${'0'.repeat(64)}`);
  assertError(t, unknownBlob, 404, 'BLOB_UNKNOWN');
});

t.test('an upstream in token mode: the mirror fetches and reuses a token per scope', async (t) => {
  const { upstream, mirror, image } = await pair(t, { auth: { token: { users: { ci: 'secret' } } } }, { username: 'ci', password: 'secret' });
  const first = await pull(mirror.url, 'team/app', 'v1');
  t.equal(first.manifest.headers['docker-content-digest'], image.digest);
  t.same(first.blobs.map((b) => b.status), [200, 200, 200]);
  t.equal(upstream.journal.filter({ route: 'token' }).length, 1, 'one token for the one scope');
  t.equal(upstream.journal.filter({ status: 401 }).length, 1, 'one challenge');

  const anonymous = await startRegistry({ teardown: t, upstream: { url: upstream.url } });
  const refused = await send(anonymous.url, 'GET', `/v2/team/app/manifests/${image.digest}`, { headers: ACCEPT });
  assertError(t, refused, 500, 'UNKNOWN');
  t.equal(anonymous.journal.last()!.upstream, 'error');
});

t.test('upstream down: 500 UNKNOWN for digests, 404 for an uncached tag, the cached copy when it has one', async (t) => {
  const { upstream, mirror, image } = await pair(t);
  await pull(mirror.url, 'team/app', 'v1');
  await upstream.close();
  const tag = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1', { headers: ACCEPT });
  t.equal(tag.status, 200, 'cached tag served when the upstream fails');
  t.equal(tag.headers['docker-content-digest'], image.digest);
  t.equal(mirror.journal.last()!.upstream, 'error');
  const other = await send(mirror.url, 'GET', '/v2/team/app/manifests/other', { headers: ACCEPT });
  assertError(t, other, 404, 'MANIFEST_UNKNOWN');
  const digest = await send(mirror.url, 'GET', `/v2/team/app/manifests/sha256:${'1'.repeat(64)}`, { headers: ACCEPT });
  assertError(t, digest, 500, 'UNKNOWN');
  t.match(digest.json.errors[0].message, /upstream .* failed/);
  const blob = await send(mirror.url, 'GET', `/v2/team/app/blobs/sha256:${'2'.repeat(64)}`);
  assertError(t, blob, 500, 'UNKNOWN');
  const tags = await send(mirror.url, 'GET', '/v2/team/app/tags/list');
  t.same(tags.json, { name: 'team/app', tags: ['v1'] }, 'tags list falls back to the cached tags');
});

t.test('upstream answering 5xx, and a silent upstream that times out', async (t) => {
  const { upstream, mirror } = await pair(t);
  upstream.faults.add({ match: { route: 'blob' }, action: { status: 503 } });
  const layer = (await pull(upstream.url, 'team/app', 'v1')).manifest.json.layers[0].digest;
  upstream.faults.clear();
  upstream.faults.add({ match: { route: 'blob' }, action: { status: 503 } });
  const reply = await send(mirror.url, 'GET', `/v2/team/app/blobs/${layer}`);
  assertError(t, reply, 500, 'UNKNOWN');
  t.equal(mirror.journal.last()!.upstreamStatus, 503);

  const silent = createServer(() => undefined);
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const stalled = await startRegistry({ teardown: t, upstream: { url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 200 } });
  const timedOut = await send(stalled.url, 'GET', `/v2/team/app/blobs/${layer}`);
  assertError(t, timedOut, 500, 'UNKNOWN');
  t.match(timedOut.json.errors[0].message, /sent nothing for 200 ms/);
});

t.test('a corrupt or truncated upstream blob never reaches the cache', async (t) => {
  const { upstream, mirror } = await pair(t);
  const claimed = computeDigest(Buffer.from('the real bytes'));
  await upstream.store.putBlob('team/app', { digest: claimed, size: 14, segments: [Buffer.from('forged bytes!!')] });
  const corrupt = send(mirror.url, 'GET', `/v2/team/app/blobs/${claimed}`);
  await t.rejects(corrupt, 'the client sees the response cut short');
  t.equal(await mirror.store.blob('team/app', claimed), undefined, 'nothing cached');
  const entry = await mirror.waitFor({ event: 'request', route: 'blob', digest: claimed });
  t.equal(entry.upstream, 'error');

  const layer = (await pull(upstream.url, 'team/app', 'v1')).manifest.json.layers[0].digest;
  upstream.faults.add({ match: { route: 'blob', reference: layer }, action: { truncate: 3 } });
  await t.rejects(send(mirror.url, 'GET', `/v2/team/app/blobs/${layer}`));
  t.equal(await mirror.store.blob('team/app', layer), undefined, 'a truncated body caches nothing');
});

t.test('a blob larger than maxBlobBytes and a redirect loop are refused', async (t) => {
  const { upstream } = await pair(t);
  const layer = (await pull(upstream.url, 'team/app', 'v1')).manifest.json.layers[0].digest;
  const small = await startRegistry({ teardown: t, maxBlobBytes: 4, upstream: { url: upstream.url } });
  const big = await send(small.url, 'GET', `/v2/team/app/blobs/${layer}`);
  assertError(t, big, 500, 'UNKNOWN');
  t.match(big.json.errors[0].message, /maxBlobBytes/);

  const looping = createServer((req, res) => {
    res.writeHead(307, { Location: req.url! });
    res.end();
  });
  looping.listen(0, '127.0.0.1');
  await once(looping, 'listening');
  t.teardown(() => looping.close());
  const loop = await startRegistry({ teardown: t, upstream: { url: `http://127.0.0.1:${(looping.address() as AddressInfo).port}`, maxRedirects: 3 } });
  const reply = await send(loop.url, 'GET', `/v2/team/app/blobs/${layer}`);
  assertError(t, reply, 500, 'UNKNOWN');
  t.match(reply.json.errors[0].message, /redirected more than 3 times/);
});

t.test('blobs redirected to storage are followed without Authorization', async (t) => {
  const { upstream, image } = await pair(t, { blobRedirect: true, auth: { basic: { users: { ci: 'pw' } } } });
  const mirror = await startRegistry({ teardown: t, upstream: { url: upstream.url, username: 'ci', password: 'pw' } });
  const pulled = await pull(mirror.url, 'team/app', image.digest);
  t.same(pulled.blobs.map((b) => b.status), [200, 200, 200], 'the signed URL refuses Authorization, so none was sent');
  t.ok(upstream.journal.filter({ route: 'redirect' }).every((e) => e.requestHeaders.authorization === undefined));
});

t.test('?ns= routes to the upstreams entry; an unknown ns is 404', async (t) => {
  const { upstream, image } = await pair(t);
  const mirror = await startRegistry({ teardown: t, upstreams: { 'docker.io': { url: upstream.url } } });
  const routed = await send(mirror.url, 'GET', `/v2/team/app/manifests/v1?ns=docker.io`, { headers: ACCEPT });
  t.equal(routed.headers['docker-content-digest'], image.digest);
  const blob = await send(mirror.url, 'GET', `/v2/team/app/blobs/${image.manifest.config && (image.manifest.config as { digest: string }).digest}?ns=docker.io`);
  t.equal(blob.status, 200);
  const unknown = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1?ns=quay.io', { headers: ACCEPT });
  assertError(t, unknown, 404, 'MANIFEST_UNKNOWN');
  t.equal(upstream.journal.filter({ route: 'manifest', reference: 'v1' }).length, 1, 'the unknown ns never reached an upstream');
  const plain = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1', { headers: ACCEPT });
  t.equal(plain.status, 404, 'without ns and with no default upstream only the local store answers (the manifest is held for its blobs)');
});

t.test('readOnly: pushes and deletes are 405 UNSUPPORTED; writes stay local otherwise', async (t) => {
  const { upstream } = await pair(t, {}, { readOnly: true });
  const mirror = await startRegistry({ teardown: t, upstream: { url: upstream.url, readOnly: true } });
  const post = await send(mirror.url, 'POST', '/v2/team/app/blobs/uploads/');
  assertError(t, post, 405, 'UNSUPPORTED');
  const del = await send(mirror.url, 'DELETE', '/v2/team/app/manifests/v1');
  assertError(t, del, 405, 'UNSUPPORTED');
  const writable = await startRegistry({ teardown: t, upstream: { url: upstream.url } });
  const pushed = await send(writable.url, 'POST', `/v2/local/app/blobs/uploads/?digest=${computeDigest(Buffer.from('x'))}`, { body: 'x', headers: { 'Content-Type': 'application/octet-stream' } });
  t.equal(pushed.status, 201);
  t.equal(await upstream.store.blob('local/app', computeDigest(Buffer.from('x'))), undefined, 'the push stayed local');
});

t.test('options are checked', async (t) => {
  t.rejects(startRegistry({ upstream: { url: 'ftp://x' } }), /option upstream: url must be an http/);
  t.rejects(startRegistry({ upstream: { url: 'http://x', cache: 'yes' as never } }), /cache must be/);
  t.rejects(startRegistry({ upstreams: { 'docker.io': { url: 'http://x', extra: 1 } as never } }), /upstreams\["docker.io"\] has no field extra/);
});
