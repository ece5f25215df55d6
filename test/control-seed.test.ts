// POST /_oci-test-registry/seed (README "Control endpoint"): the Node
// seeding API over HTTP. The answer is what store.pushImage / pushIndex /
// pushArtifact / seedBlob return for the same input (bytes as base64); a bad
// body is a 400 naming the field, and the store is left exactly as it was.
import t from 'tap';
import { createRegistry } from '../src/index.js';
import { send, sha256, startFor } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';

const SEED = '/_oci-test-registry/seed';
const JSON_TYPE = { 'Content-Type': 'application/json' };

const seed = (url: string, body: unknown) => send(url, 'POST', SEED, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: JSON_TYPE });

/** What the Node API answers for the same input, as JSON travels (bytes as base64). */
function asJson(value: any): unknown {
  return JSON.parse(JSON.stringify({ ...value, ...(Buffer.isBuffer(value.bytes) ? { bytes: { base64: value.bytes.toString('base64') } } : {}) }));
}

t.test('image, index, artifact and blob: 201 with what the Node API returns, and the content is served', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  // The same calls on a registry of its own, through the Node API.
  const node = createRegistry();
  t.teardown(() => node.close());
  const binary = Buffer.from([0, 1, 2, 253, 254, 255]);

  const imageInput = { tag: 'v1', layers: ['text layer', { base64: binary.toString('base64') }], platform: { architecture: 'arm64', os: 'linux', variant: 'v8' }, annotations: { 'org.example': 'yes' } };
  const image = await seed(url, { image: { name: 'seed/app', ...imageInput } });
  t.equal(image.status, 201, image.body.toString());
  t.equal(image.headers['content-type'], 'application/json');
  const expected = await node.store.pushImage('seed/app', { ...imageInput, layers: ['text layer', binary] });
  t.strictSame(image.json, asJson(expected), 'the same result object as store.pushImage');
  t.equal(Buffer.from(image.json.bytes.base64, 'base64').toString(), expected.bytes.toString());
  const served = await send(url, 'GET', '/v2/seed/app/manifests/v1');
  t.equal(served.status, 200);
  t.strictSame(served.body, expected.bytes, 'the manifest is served byte for byte');
  t.strictSame((await send(url, 'GET', `/v2/seed/app/blobs/${sha256(binary)}`)).body, binary, 'a base64 layer is stored as its exact bytes');

  const config = await seed(url, { image: { name: 'seed/app', config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } } } });
  t.equal(config.status, 201);
  const exactConfig = await seed(url, { image: { name: 'seed/app', config: { base64: Buffer.from('{"exact":true}').toString('base64') } } });
  t.equal(exactConfig.status, 201);
  t.equal(exactConfig.json.manifest.config.digest, sha256('{"exact":true}'), 'a {base64} config is its exact bytes');

  const indexInput = { tag: 'multi', manifests: [{ digest: image.json.digest, platform: { architecture: 'arm64', os: 'linux' } }], annotations: { a: 'b' } };
  const index = await seed(url, { index: { name: 'seed/app', ...indexInput } });
  t.equal(index.status, 201, index.body.toString());
  t.strictSame(index.json, asJson(await node.store.pushIndex('seed/app', indexInput)), 'the same result object as store.pushIndex');

  const artifactInput = { artifactType: 'application/spdx+json', subject: index.json.digest, blobs: ['plain', { data: '{"spdxVersion":"SPDX-2.3"}', mediaType: 'application/spdx+json' }] };
  const artifact = await seed(url, { artifact: { name: 'seed/app', ...artifactInput } });
  t.equal(artifact.status, 201, artifact.body.toString());
  t.strictSame(artifact.json, asJson(await node.store.pushArtifact('seed/app', artifactInput)), 'the same result object as store.pushArtifact');
  const referrers = await send(url, 'GET', `/v2/seed/app/referrers/${index.json.digest}`);
  t.strictSame(referrers.json.manifests.map((m: any) => m.digest), [artifact.json.digest], 'the artifact refers to its subject');

  const blob = await seed(url, { blob: { name: 'seed/blobs', data: { base64: binary.toString('base64') }, mediaType: 'application/x-example' } });
  t.equal(blob.status, 201);
  t.strictSame(blob.json, await node.store.seedBlob('seed/blobs', binary, 'application/x-example'), 'the descriptor store.seedBlob returns');
  t.strictSame((await send(url, 'GET', `/v2/seed/blobs/blobs/${sha256(binary)}`)).body, binary);

  const pushes: string[] = [];
  registry.events.on('push', (e) => pushes.push(`${e.name}:${e.reference}`));
  await seed(url, { image: { name: 'seed/events', tag: 'v2' } });
  t.strictSame(pushes, ['seed/events:v2'], 'a seed emits the same push event as store.pushImage');
});

t.test('a bad body: 400 naming the field, and nothing is stored', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url, store } = registry;
  const base = await store.pushImage('seed/base', { tag: 'v1', layers: ['base'] });
  const before = { usage: await store.usage(), repositories: await store.listRepositories(), tags: await store.listTags('seed/base') };
  let changes = 0;
  for (const kind of ['push', 'upload', 'delete'] as const) registry.events.on(kind, () => changes++);
  const absent = `sha256:${'0'.repeat(64)}`;

  const rows: { body: unknown; status?: number; code?: string; field: string }[] = [
    { body: 'not json', field: '' },
    { body: [], field: '' },
    { body: {}, field: '' },
    { body: { image: { name: 'a' }, blob: { name: 'a', data: 'x' } }, field: '' },
    { body: { manifest: {} }, field: '' },
    { body: { image: 'x' }, field: 'image' },
    { body: { image: { tag: 'v1' } }, field: 'image.name' },
    { body: { image: { name: 'Upper/Case' } }, code: 'NAME_INVALID', field: 'image.name' },
    { body: { image: { name: 'seed/new', tag: 'bad tag!' } }, code: 'MANIFEST_INVALID', field: 'image.tag' },
    { body: { image: { name: 'seed/new', layers: 'one' } }, field: 'image.layers' },
    { body: { image: { name: 'seed/new', layers: ['fine', 42] } }, field: 'image.layers[1]' },
    { body: { image: { name: 'seed/new', layers: ['fine', { base64: 'not base64!' }] } }, field: 'image.layers[1].base64' },
    { body: { image: { name: 'seed/new', layers: ['fine'], platform: { os: 'linux' } } }, field: 'image.platform.architecture' },
    { body: { image: { name: 'seed/new', layers: ['fine'], annotations: { a: 1 } } }, field: 'image.annotations' },
    { body: { image: { name: 'seed/new', layers: ['fine'], layer: ['typo'] } }, field: 'image.layer' },
    { body: { index: { name: 'seed/new', manifests: [{ digest: 'sha256:short' }] } }, code: 'DIGEST_INVALID', field: 'index.manifests[0].digest' },
    { body: { index: { name: 'seed/new', manifests: [{ digest: base.digest, platform: 'linux' }] } }, field: 'index.manifests[0].platform' },
    { body: { index: { name: 'seed/new' } }, field: 'index.manifests' },
    { body: { artifact: { name: 'seed/new', blobs: ['x'] } }, field: 'artifact.artifactType' },
    { body: { artifact: { name: 'seed/new', artifactType: 'a/b', blobs: ['x'], subject: { mediaType: 'a/b', digest: absent, size: -1 } } }, field: 'artifact.subject.size' },
    { body: { artifact: { name: 'seed/new', artifactType: 'a/b', blobs: ['x'], subject: 'nope' } }, code: 'DIGEST_INVALID', field: 'artifact.subject' },
    { body: { artifact: { name: 'seed/new', artifactType: 'a/b', blobs: [{ data: 'x' }] } }, field: 'artifact.blobs[0].mediaType' },
    { body: { blob: { name: 'seed/new' } }, field: 'blob.data' },
    { body: { blob: { name: 'seed/new', data: 'x', mediaType: '' } }, field: 'blob.mediaType' },
  ];
  for (const row of rows) {
    const label = JSON.stringify(row.body).slice(0, 120);
    const reply = await seed(url, row.body);
    assertError(t, reply, row.status ?? 400, row.code ?? 'UNSUPPORTED');
    const error = reply.json?.errors?.[0];
    if (row.field) {
      t.ok(String(error?.message).startsWith(`${row.field}`), `${label}: the message names ${row.field} (${error?.message})`);
      t.equal(error?.detail?.field, row.field, `${label}: detail.field`);
    } else t.match(error?.message, /JSON|exactly one of image, index, artifact, blob/, `${label}: ${error?.message}`);
  }

  // Valid in shape, refused by the store as over the Node API (and as an HTTP push would be), before anything is written.
  const unknownChild = await seed(url, { index: { name: 'seed/base', tag: 'v2', manifests: [{ digest: absent }] } });
  assertError(t, unknownChild, 400, 'MANIFEST_BLOB_UNKNOWN');

  t.strictSame({ usage: await store.usage(), repositories: await store.listRepositories(), tags: await store.listTags('seed/base') }, before, 'the store is unchanged');
  t.equal(changes, 0, 'no push, upload or delete event');
});
