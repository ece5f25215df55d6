// registry.store seeding and reading helpers: pushImage, pushIndex,
// pushArtifact, seedBlob, seedManifest, getManifest, getBlob, listTags,
// listRepositories. Seeded content is served over HTTP byte for byte, and
// seeding refuses what an HTTP push refuses, with the same RegistryError.
import t from 'tap';
import { RegistryError, type PushEvent } from '../src/index.js';
import { send, sha256, startFor } from './helpers/http.js';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR as LAYER_TAR, OCI_MANIFEST } from './helpers/media-types.js';

const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256('{}'), size: 2 };

const descriptorOf = (mediaType: string, bytes: string | Buffer) => ({ mediaType, digest: sha256(bytes), size: Buffer.byteLength(bytes) });

t.test('pushImage with layers only: a minimal OCI image, tagged, served over HTTP byte for byte', async (t) => {
  const registry = await startFor(t);
  const image = await registry.store.pushImage('seed/app', { tag: 'v1', layers: ['layer one', Buffer.from('layer two')] });

  const layers = [descriptorOf(LAYER_TAR, 'layer one'), descriptorOf(LAYER_TAR, 'layer two')];
  const configBytes = JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } });
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptorOf(OCI_CONFIG, configBytes), layers };
  const bytes = Buffer.from(JSON.stringify(manifest));
  t.strictSame(image, {
    name: 'seed/app',
    digest: sha256(bytes),
    mediaType: OCI_MANIFEST,
    bytes,
    manifest,
    descriptor: { mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.length, platform: { architecture: 'amd64', os: 'linux' } },
  });

  const byTag = await send(registry.url, 'GET', '/v2/seed/app/manifests/v1');
  t.equal(byTag.status, 200);
  t.equal(byTag.headers['content-type'], OCI_MANIFEST);
  t.equal(byTag.headers['docker-content-digest'], image.digest);
  t.ok(byTag.body.equals(bytes), 'the manifest bytes are the ones returned');
  const config = await send(registry.url, 'GET', `/v2/seed/app/blobs/${manifest.config.digest}`);
  t.equal(config.body.toString(), configBytes, 'the config blob');
  t.equal((await send(registry.url, 'GET', `/v2/seed/app/blobs/${layers[1]!.digest}`)).body.toString(), 'layer two', 'a layer blob');
  t.strictSame((await send(registry.url, 'GET', '/v2/seed/app/tags/list')).json, { name: 'seed/app', tags: ['v1'] });
});

t.test('pushImage with platform, config, annotations and no tag', async (t) => {
  const registry = await startFor(t);
  const platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
  const defaults = await registry.store.pushImage('seed/options', { platform, layers: [new Uint8Array([1, 2, 3])] });
  const defaultConfig = JSON.stringify({ ...platform, config: {}, rootfs: { type: 'layers', diff_ids: [sha256(Buffer.from([1, 2, 3]))] } });
  t.strictSame(defaults.manifest.config, descriptorOf(OCI_CONFIG, defaultConfig), 'the default config names the platform');
  t.strictSame(defaults.descriptor.platform, platform);
  t.strictSame(await registry.store.listTags('seed/options'), [], 'no tag: reachable by digest only');
  t.equal((await send(registry.url, 'GET', `/v2/seed/options/manifests/${defaults.digest}`)).status, 200);

  const config = { architecture: 'amd64', os: 'linux', config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: [] } };
  const withConfig = await registry.store.pushImage('seed/options', { tag: 'configured', config, annotations: { 'org.example': 'yes' } });
  t.strictSame(withConfig.manifest, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptorOf(OCI_CONFIG, JSON.stringify(config)),
    layers: [],
    annotations: { 'org.example': 'yes' },
  });
  t.strictSame((await registry.store.getManifest('seed/options', 'configured'))?.annotations, { 'org.example': 'yes' });

  const exact = '{"architecture":"s390x","os":"linux"}';
  const withBytes = await registry.store.pushImage('seed/options', { tag: 'bytes', config: exact });
  t.strictSame(withBytes.manifest.config, descriptorOf(OCI_CONFIG, exact), 'config bytes are stored as given');
  t.equal((await registry.store.getBlob('seed/options', sha256(exact)))?.toString(), exact);
});

t.test('pushing the same image twice gives the same digest', async (t) => {
  const registry = await startFor(t);
  const a = await registry.store.pushImage('seed/same', { tag: 'a', layers: ['x'] });
  const b = await registry.store.pushImage('seed/same', { tag: 'b', layers: ['x'] });
  t.equal(a.digest, b.digest);
  t.strictSame(await registry.store.listTags('seed/same'), ['a', 'b']);
});

t.test('pushIndex over images already in the repository', async (t) => {
  const registry = await startFor(t);
  const amd64 = await registry.store.pushImage('seed/multi', { layers: ['amd64 layer'] });
  const arm64 = await registry.store.pushImage('seed/multi', { layers: ['arm64 layer'], platform: { architecture: 'arm64', os: 'linux' } });
  const index = await registry.store.pushIndex('seed/multi', {
    tag: 'latest',
    manifests: [
      { digest: amd64.digest, platform: { architecture: 'amd64', os: 'linux' } },
      { digest: arm64.digest, platform: { architecture: 'arm64', os: 'linux' }, annotations: { 'org.example.flavour': 'arm' } },
    ],
    annotations: { 'org.example.index': 'yes' },
  });
  const expected = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: amd64.digest, size: amd64.bytes.length, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: OCI_MANIFEST, digest: arm64.digest, size: arm64.bytes.length, platform: { architecture: 'arm64', os: 'linux' }, annotations: { 'org.example.flavour': 'arm' } },
    ],
    annotations: { 'org.example.index': 'yes' },
  };
  t.strictSame(index.manifest, expected);
  t.equal(index.digest, sha256(JSON.stringify(expected)));
  t.equal(index.mediaType, OCI_INDEX);

  const reply = await send(registry.url, 'GET', '/v2/seed/multi/manifests/latest');
  t.equal(reply.status, 200);
  t.equal(reply.headers['content-type'], OCI_INDEX);
  t.ok(reply.body.equals(index.bytes));
  const stored = await registry.store.getManifest('seed/multi', 'latest');
  t.equal(stored?.kind, 'index');
  t.equal(stored?.digest, index.digest);

  const typed = await registry.store.pushIndex('seed/multi', { manifests: [{ digest: amd64.digest }], artifactType: 'application/vnd.example.bundle' });
  t.strictSame(typed.manifest, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: amd64.digest, size: amd64.bytes.length }],
    artifactType: 'application/vnd.example.bundle',
  });
});

t.test('a seeded index with a missing child fails as the same HTTP push fails: MANIFEST_BLOB_UNKNOWN, nothing stored', async (t) => {
  const registry = await startFor(t);
  const pushes: PushEvent[] = [];
  registry.events.on('push', (e) => pushes.push(e));
  const image = await registry.store.pushImage('seed/present', { tag: 'v1' });
  const missing = `sha256:${'a'.repeat(64)}`;

  const seeded = registry.store.pushIndex('seed/absent', { tag: 'latest', manifests: [{ digest: image.digest }] });
  await t.rejects(seeded, RegistryError);
  const error = (await seeded.catch((e: unknown) => e)) as RegistryError;
  t.equal(error.code, 'MANIFEST_BLOB_UNKNOWN');
  t.equal(error.status, 400);
  t.equal(error.message, `the manifest references manifests not in repository seed/absent: ${image.digest}`);

  const partly = (await registry.store.pushIndex('seed/present', { tag: 'latest', manifests: [{ digest: image.digest }, { digest: missing }] }).catch((e: unknown) => e)) as RegistryError;
  t.equal(partly.code, 'MANIFEST_BLOB_UNKNOWN');
  t.strictSame(partly.detail, { name: 'seed/present', missing: [{ digest: missing, mediaType: OCI_MANIFEST, size: 0 }] });

  // The same index over HTTP.
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length }] };
  const reply = await send(registry.url, 'PUT', '/v2/seed/absent/manifests/latest', { body: JSON.stringify(index), headers: { 'Content-Type': OCI_INDEX } });
  t.equal(reply.status, 400);
  t.equal(reply.json.errors[0].code, 'MANIFEST_BLOB_UNKNOWN');
  t.equal(reply.json.errors[0].message, error.message);

  t.strictSame(await registry.store.listRepositories(), ['seed/present'], 'no repository was created');
  t.strictSame(await registry.store.listTags('seed/present'), ['v1'], 'no tag was added');
  t.strictSame(pushes.map((e) => e.reference), ['v1'], 'no push event for a refused push');
});

t.test('pushArtifact: an artifact with a subject, listed by the referrers API', async (t) => {
  const registry = await startFor(t);
  const image = await registry.store.pushImage('seed/signed', { tag: 'v1' });
  const signature = await registry.store.pushArtifact('seed/signed', {
    artifactType: 'application/vnd.example.signature',
    subject: image.digest,
    blobs: [{ data: 'signature bytes', mediaType: 'application/vnd.example.signature.v1' }, 'raw bytes'],
    annotations: { 'org.example.signer': 'ci' },
  });
  t.strictSame(signature.manifest, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: 'application/vnd.example.signature',
    config: EMPTY,
    layers: [descriptorOf('application/vnd.example.signature.v1', 'signature bytes'), descriptorOf('application/octet-stream', 'raw bytes')],
    subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length },
    annotations: { 'org.example.signer': 'ci' },
  });
  const stored = await registry.store.getManifest('seed/signed', signature.digest);
  t.equal(stored?.subject, image.digest);
  t.equal(stored?.artifactType, 'application/vnd.example.signature');

  const referrers = await send(registry.url, 'GET', `/v2/seed/signed/referrers/${image.digest}`);
  t.equal(referrers.status, 200);
  t.strictSame(referrers.json, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ mediaType: OCI_MANIFEST, digest: signature.digest, size: signature.bytes.length, artifactType: 'application/vnd.example.signature', annotations: { 'org.example.signer': 'ci' } }],
  });

  const bare = await registry.store.pushArtifact('seed/signed', { tag: 'sbom', artifactType: 'application/vnd.example.sbom' });
  t.strictSame(bare.manifest, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sbom', config: EMPTY, layers: [EMPTY] }, 'no blobs: the empty descriptor');
  t.equal((await registry.store.getBlob('seed/signed', EMPTY.digest))?.toString(), '{}', 'the empty blob is stored');

  const elsewhere = { mediaType: OCI_MANIFEST, digest: `sha256:${'b'.repeat(64)}`, size: 123 };
  const dangling = await registry.store.pushArtifact('seed/signed', { artifactType: 'application/vnd.example.note', subject: elsewhere });
  t.strictSame(dangling.manifest.subject, elsewhere, 'a subject descriptor is used as given (it need not exist)');
});

t.test('getManifest, getBlob, listTags and listRepositories read without HTTP', async (t) => {
  const registry = await startFor(t);
  for (const tag of ['b', 'A', 'a', '10', '9']) await registry.store.pushImage('seed/read', { tag, layers: [`layer ${tag}`] });
  await registry.store.pushImage('seed/another', { tag: 'v1' });
  await registry.store.seedBlob('seed/blob-only', 'bytes');

  t.strictSame(await registry.store.listTags('seed/read'), ['10', '9', 'A', 'a', 'b'], 'lexical order, case-insensitive');
  t.strictSame(await registry.store.listTags('seed/unknown'), []);
  t.strictSame(await registry.store.listRepositories(), ['seed/another', 'seed/blob-only', 'seed/read']);

  const byTag = await registry.store.getManifest('seed/read', 'a');
  t.equal(byTag?.kind, 'image');
  t.equal(byTag?.mediaType, OCI_MANIFEST);
  t.equal(byTag?.digest, sha256(byTag!.bytes));
  t.equal((await registry.store.getManifest('seed/read', byTag!.digest))?.digest, byTag?.digest, 'by digest');
  t.equal(await registry.store.getManifest('seed/read', 'nope'), undefined);
  t.equal(await registry.store.getManifest('seed/unknown', 'a'), undefined);

  t.equal((await registry.store.getBlob('seed/read', sha256('layer a')))?.toString(), 'layer a');
  t.equal(await registry.store.getBlob('seed/another', sha256('layer a')), undefined, 'a blob is read only from a repository it is linked in');
  t.equal(await registry.store.getBlob('seed/read', sha256('never stored')), undefined);
});

t.test('seedBlob and seedManifest: the building blocks, validated like an HTTP push', async (t) => {
  const registry = await startFor(t);
  const blob = await registry.store.seedBlob('seed/raw', 'config', OCI_CONFIG);
  t.strictSame(blob, descriptorOf(OCI_CONFIG, 'config'));
  t.strictSame(await registry.store.seedBlob('seed/raw', new Uint8Array([0])), descriptorOf('application/octet-stream', Buffer.from([0])), 'default media type');

  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: blob, layers: [] };
  const seeded = await registry.store.seedManifest('seed/raw', manifest, 'v1');
  t.equal(seeded.digest, sha256(JSON.stringify(manifest)));
  t.strictSame(seeded.descriptor, { mediaType: OCI_MANIFEST, digest: seeded.digest, size: seeded.bytes.length });

  const unknownBlob = { ...manifest, layers: [descriptorOf(LAYER_TAR, 'never seeded')] };
  await t.rejects(registry.store.seedManifest('seed/raw', unknownBlob), { code: 'MANIFEST_BLOB_UNKNOWN', status: 400, message: `the manifest references blobs not in repository seed/raw: ${sha256('never seeded')}` });
  const wrongSize = { ...manifest, config: { ...blob, size: 7 } };
  await t.rejects(registry.store.seedManifest('seed/raw', wrongSize), { code: 'MANIFEST_INVALID', status: 400, message: `blob ${blob.digest} has size 6, but the manifest says 7` });
  const http = await send(registry.url, 'PUT', '/v2/seed/raw/manifests/v2', { body: JSON.stringify(wrongSize), headers: { 'Content-Type': OCI_MANIFEST } });
  t.equal(http.json.errors[0].code, 'MANIFEST_INVALID', 'HTTP refuses it with the same code');
  await t.rejects(registry.store.seedManifest('seed/raw', { schemaVersion: 2, mediaType: 'text/plain' }), { code: 'MANIFEST_INVALID' });
  t.strictSame(await registry.store.listTags('seed/raw'), ['v1']);
});

// --- Known bug: this test describes the documented behaviour and fails today. ---

t.test('seeding refuses a repository name or a tag that HTTP refuses', async (t) => {
  // Over HTTP: 400 NAME_INVALID for the name, 400 MANIFEST_INVALID for the tag.
  const registry = await startFor(t);
  t.equal((await send(registry.url, 'PUT', '/v2/Bad%20Name/manifests/v1', { body: '{}', headers: { 'Content-Type': OCI_MANIFEST } })).json.errors[0].code, 'NAME_INVALID');
  t.equal((await send(registry.url, 'PUT', '/v2/seed/tags/manifests/bad:tag!', { body: '{}', headers: { 'Content-Type': OCI_MANIFEST } })).status, 400);

  await t.rejects(registry.store.pushImage('Bad Name', { tag: 'v1' }), { name: 'RegistryError', code: 'NAME_INVALID', status: 400 });
  await t.rejects(registry.store.pushImage('seed/tags', { tag: 'not a tag' }), { name: 'RegistryError', code: 'MANIFEST_INVALID', status: 400 });
  await t.rejects(registry.store.pushImage('seed/tags', { tag: 'x'.repeat(129) }), { name: 'RegistryError', code: 'MANIFEST_INVALID', status: 400 });
  await t.rejects(registry.store.seedBlob('UPPER/case', 'bytes'), { name: 'RegistryError', code: 'NAME_INVALID', status: 400 });
  t.strictSame(await registry.store.listRepositories(), [], 'no unreachable repository is left in the catalog');
});
