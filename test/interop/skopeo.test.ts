// Interop with a real client: skopeo (containers/image) pushes, pulls,
// inspects, mounts and deletes against the registry, and the test checks
// every digest and byte on both sides. Needs `skopeo` on PATH (or $SKOPEO);
// .ci/run installs it. Run with `npm run test:interop`.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { send, startFor } from '../helpers/http.js';
import { pushBlob, pushManifest } from '../helpers/push.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  blobsOf,
  buildImage,
  buildIndex,
  pseudoRandomBytes,
  readLayout,
  taggedEntry,
  writeLayout,
  type Image,
  type ImageIndex,
} from './layout.js';
import { startWire, type WireRecord } from './wire.js';
import { succeeded } from './client-run.js';
import { runSkopeo, tempDir as newTempDir, type Outcome } from './skopeo-run.js';

/** The `t` a tap test callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];


/** Runs skopeo and reports how it ended, so a test asserts the exit code and shows stderr when it is not 0. */
function skopeo(...args: string[]): Promise<Outcome> {
  return runSkopeo(args);
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A fresh directory under the system temp dir, removed when the test ends. */
function tempDir(t: Teardown): Promise<string> {
  return newTempDir(t, 'interop');
}

/** An image with a small text layer and a 3 MiB incompressible one, so pushes move real bytes. */
function sampleImage(name: string, architecture = 'amd64'): Image {
  return buildImage({
    architecture,
    layers: [
      [{ name: 'etc/' }, { name: 'etc/image-name', content: `${name} for linux/${architecture}\n` }],
      [{ name: 'opt/' }, { name: `opt/${name}.bin`, content: pseudoRandomBytes(3 * 1024 * 1024, `${name}/${architecture}`) }],
    ],
  });
}

function sampleIndex(name: string): ImageIndex {
  return buildIndex([sampleImage(name, 'amd64'), sampleImage(name, 'arm64')]);
}

/** The registry holds `content` under `name:tag`: same manifest bytes, digest and type, and every blob byte for byte. */
async function checkRegistryHolds(t: Test, url: string, name: string, tag: string, content: Image | ImageIndex): Promise<void> {
  const top = 'index' in content ? content.index : content.manifest;
  const reply = await send(url, 'GET', `/v2/${name}/manifests/${tag}`, { headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  t.equal(reply.status, 200, `GET ${name}:${tag} → 200`);
  t.equal(reply.headers['docker-content-digest'], top.descriptor.digest, `${name}:${tag} has the layout's digest`);
  t.equal(reply.headers['content-type'], top.descriptor.mediaType, `${name}:${tag} has the layout's media type`);
  t.ok(reply.body.equals(top.bytes), `${name}:${tag} manifest bytes are the layout's bytes`);
  for (const blob of blobsOf(content)) {
    if (blob === top) continue;
    const isManifest = blob.descriptor.mediaType === OCI_MANIFEST;
    const path = `/v2/${name}/${isManifest ? 'manifests' : 'blobs'}/${blob.descriptor.digest}`;
    const got = await send(url, 'GET', path, isManifest ? { headers: { Accept: OCI_MANIFEST } } : {});
    t.equal(got.status, 200, `GET ${path} → 200`);
    t.ok(got.body.equals(blob.bytes), `${path} is byte for byte the layout's ${blob.descriptor.mediaType}`);
  }
}

/** The layout copied back holds exactly the blobs of `content`, byte for byte, and names its top manifest `tag`. */
async function checkLayoutHolds(t: Test, dir: string, tag: string, content: Image | ImageIndex): Promise<void> {
  const layout = await readLayout(dir);
  const top = 'index' in content ? content.index : content.manifest;
  const entry = taggedEntry(layout, tag);
  t.equal(entry?.digest, top.descriptor.digest, `copied-back ${tag} has the original digest`);
  t.equal(entry?.mediaType, top.descriptor.mediaType, `copied-back ${tag} has the original media type`);
  t.equal(entry?.size, top.descriptor.size, `copied-back ${tag} has the original size`);
  const expected = blobsOf(content);
  t.same([...layout.blobs.keys()].sort(), [...new Set(expected.map((b) => b.descriptor.digest))].sort(), 'copied-back layout has exactly the original blobs');
  for (const blob of expected) {
    t.ok(layout.blobs.get(blob.descriptor.digest)?.equals(blob.bytes), `copied-back ${blob.descriptor.digest} is byte for byte the original`);
  }
}

/** Pushes an image over plain HTTP (no skopeo) under each of `references` (tags or its digest). */
async function pushOverHttp(url: string, name: string, image: Image, references: string[]): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(url, name, blob.bytes);
  for (const reference of references) {
    const pushed = await pushManifest(url, name, reference, image.manifest.bytes, OCI_MANIFEST);
    if (pushed.status !== 201) throw new Error(`manifest push answered ${pushed.status}: ${JSON.stringify(pushed.json)}`);
  }
}

t.test('skopeo is installed', async (t) => {
  const outcome = await skopeo('--version');
  succeeded(t, outcome, 'skopeo --version');
  t.match(outcome.stdout.toString('utf8'), /^skopeo version \d+\.\d+\.\d+/, 'prints its version');
});

t.test('an OCI layout image copies into the registry and back byte for byte', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const image = sampleImage('roundtrip');
  await writeLayout(join(dir, 'source'), { v1: image });
  const reference = `docker://${registry.host}/interop/roundtrip:v1`;

  const digestFile = join(dir, 'pushed-digest');
  const push = await skopeo('copy', '--dest-tls-verify=false', '--digestfile', digestFile, `oci:${join(dir, 'source')}:v1`, reference);
  if (!succeeded(t, push, 'skopeo copy oci: → docker://')) return;
  t.equal(await readFile(digestFile, 'utf8'), image.manifest.descriptor.digest, 'skopeo reports the layout manifest digest as pushed');
  await checkRegistryHolds(t, registry.url, 'interop/roundtrip', 'v1', image);

  const pull = await skopeo('copy', '--src-tls-verify=false', '--preserve-digests', reference, `oci:${join(dir, 'back')}:v1`);
  if (!succeeded(t, pull, 'skopeo copy docker:// → oci:')) return;
  await checkLayoutHolds(t, join(dir, 'back'), 'v1', image);
});

t.test('a two-platform image index copies with --all into the registry and back byte for byte', async (t) => {
  const registry = await startFor(t);
  const dir = await tempDir(t);
  const index = sampleIndex('multiarch');
  await writeLayout(join(dir, 'source'), { multi: index });
  const reference = `docker://${registry.host}/interop/multiarch:multi`;

  const digestFile = join(dir, 'pushed-digest');
  const push = await skopeo('copy', '--all', '--dest-tls-verify=false', '--digestfile', digestFile, `oci:${join(dir, 'source')}:multi`, reference);
  if (!succeeded(t, push, 'skopeo copy --all oci: → docker://')) return;
  t.equal(await readFile(digestFile, 'utf8'), index.index.descriptor.digest, 'skopeo reports the index digest as pushed');
  await checkRegistryHolds(t, registry.url, 'interop/multiarch', 'multi', index);
  const platforms = JSON.parse((await send(registry.url, 'GET', '/v2/interop/multiarch/manifests/multi')).body.toString('utf8')) as {
    manifests: { platform: { architecture: string; os: string } }[];
  };
  t.same(
    platforms.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
    ['linux/amd64', 'linux/arm64'],
    'the stored index lists both platforms',
  );

  const pull = await skopeo('copy', '--all', '--src-tls-verify=false', '--preserve-digests', reference, `oci:${join(dir, 'back')}:multi`);
  if (!succeeded(t, pull, 'skopeo copy --all docker:// → oci:')) return;
  await checkLayoutHolds(t, join(dir, 'back'), 'multi', index);
});

t.test('skopeo inspect reads digest, platform and layers of an image and of an index', async (t) => {
  const registry = await startFor(t);
  const image = sampleImage('inspected');
  await pushOverHttp(registry.url, 'interop/inspected', image, ['v1', 'latest']);
  const reference = `docker://${registry.host}/interop/inspected:v1`;

  const inspect = await skopeo('inspect', '--tls-verify=false', reference);
  if (succeeded(t, inspect, 'skopeo inspect')) {
    const output = JSON.parse(inspect.stdout.toString('utf8')) as Record<string, unknown>;
    t.equal(output.Name, `${registry.host}/interop/inspected`, 'Name');
    t.equal(output.Digest, image.manifest.descriptor.digest, 'Digest is the manifest digest');
    t.same(output.RepoTags, ['latest', 'v1'], 'RepoTags come from the tags list, in lexical order');
    t.equal(output.Architecture, 'amd64', 'Architecture comes from the config');
    t.equal(output.Os, 'linux', 'Os comes from the config');
    t.equal(output.Created, '2023-11-14T22:13:20Z', 'Created comes from the config');
    t.same(output.Layers, image.layers.map((l) => l.descriptor.digest), 'Layers lists the layer digests in order');
  }

  const raw = await skopeo('inspect', '--tls-verify=false', '--raw', reference);
  if (succeeded(t, raw, 'skopeo inspect --raw')) t.ok(raw.stdout.equals(image.manifest.bytes), '--raw prints the pushed manifest bytes');
  const config = await skopeo('inspect', '--tls-verify=false', '--config', '--raw', reference);
  if (succeeded(t, config, 'skopeo inspect --config --raw')) t.ok(config.stdout.equals(image.config.bytes), '--config --raw prints the config blob bytes');

  const index = sampleIndex('inspected-multi');
  for (const child of index.children) await pushOverHttp(registry.url, 'interop/inspected-multi', child, [child.manifest.descriptor.digest]);
  const pushed = await pushManifest(registry.url, 'interop/inspected-multi', 'multi', index.index.bytes, OCI_INDEX);
  t.equal(pushed.status, 201, 'index pushed over HTTP');
  for (const [position, architecture] of ['amd64', 'arm64'].entries()) {
    const child = index.children[position]!;
    const chosen = await skopeo('--override-arch', architecture, '--override-os', 'linux', 'inspect', '--tls-verify=false', `docker://${registry.host}/interop/inspected-multi:multi`);
    if (!succeeded(t, chosen, `skopeo --override-arch ${architecture} inspect of the index`)) continue;
    const output = JSON.parse(chosen.stdout.toString('utf8')) as Record<string, unknown>;
    t.equal(output.Digest, index.index.descriptor.digest, `${architecture}: Digest is the index digest`);
    t.equal(output.Architecture, architecture, `${architecture}: Architecture of the chosen child`);
    t.same(output.Layers, child.layers.map((l) => l.descriptor.digest), `${architecture}: Layers of the chosen child`);
  }
});

/** Requests recorded after `from`, with their URL parsed. */
function recordsSince(records: WireRecord[], from: number): (WireRecord & { path: string; query: URLSearchParams })[] {
  return records.slice(from).map((r) => {
    const parsed = new URL(r.url, 'http://wire.invalid');
    return { ...r, path: parsed.pathname, query: parsed.searchParams };
  });
}

t.test('skopeo copies between repositories by cross-repository mount, then deletes by digest', async (t) => {
  const registry = await startFor(t);
  // skopeo talks to the registry through a recording pass-through, so the
  // test sees whether layers were mounted rather than uploaded again.
  const wire = await startWire(registry.url);
  t.teardown(() => wire.close());
  const dir = await tempDir(t);
  const kept = sampleImage('mounted');
  const other = sampleImage('untouched');
  await writeLayout(join(dir, 'source'), { v1: kept, v2: other });

  // skopeo only tries a mount from repositories its blob-info cache has seen
  // the blob in, so the first push goes through the same host:port.
  for (const tag of ['v1', 'v2']) {
    const push = await skopeo('copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:${tag}`, `docker://${wire.host}/interop/source:${tag}`);
    if (!succeeded(t, push, `skopeo copy oci: → docker://…/interop/source:${tag}`)) return;
  }

  const before = wire.records.length;
  const copy = await skopeo(
    'copy',
    '--src-tls-verify=false',
    '--dest-tls-verify=false',
    `docker://${wire.host}/interop/source:v1`,
    `docker://${wire.host}/interop/target:v1`,
  );
  if (!succeeded(t, copy, 'skopeo copy docker:// → docker://')) return;
  const copyRecords = recordsSince(wire.records, before);
  for (const layer of kept.layers) {
    const digest = layer.descriptor.digest;
    const mounts = copyRecords.filter((r) => r.method === 'POST' && r.path === '/v2/interop/target/blobs/uploads/' && r.query.get('mount') === digest);
    t.same(
      mounts.map((r) => ({ from: r.query.get('from'), status: r.status, location: r.headers.location, digest: r.headers['docker-content-digest'] })),
      [{ from: 'interop/source', status: 201, location: `/v2/interop/target/blobs/${digest}`, digest }],
      `layer ${digest} is mounted from interop/source (201)`,
    );
    const uploads = copyRecords.filter((r) => r.method === 'PUT' && r.path.startsWith('/v2/interop/target/blobs/uploads/') && r.query.get('digest') === digest);
    t.equal(uploads.length, 0, `layer ${digest} is not uploaded again`);
  }
  await checkRegistryHolds(t, registry.url, 'interop/target', 'v1', kept);

  const beforeDelete = wire.records.length;
  const deleted = await skopeo('delete', '--tls-verify=false', `docker://${wire.host}/interop/source@${kept.manifest.descriptor.digest}`);
  if (!succeeded(t, deleted, 'skopeo delete docker://…@sha256:…')) return;
  t.same(
    recordsSince(wire.records, beforeDelete)
      .filter((r) => r.method === 'DELETE')
      .map((r) => `${r.method} ${r.path} ${r.status}`),
    [`DELETE /v2/interop/source/manifests/${kept.manifest.descriptor.digest} 202`],
    'skopeo deleted the manifest by digest and the registry answered 202',
  );

  const byDigest = await send(registry.url, 'GET', `/v2/interop/source/manifests/${kept.manifest.descriptor.digest}`);
  t.equal(byDigest.status, 404, 'the deleted manifest is gone by digest');
  t.equal(byDigest.json?.errors?.[0]?.code, 'MANIFEST_UNKNOWN', 'with MANIFEST_UNKNOWN');
  const byTag = await send(registry.url, 'GET', '/v2/interop/source/manifests/v1');
  t.equal(byTag.status, 404, 'its tag v1 is gone too');
  const tags = await send(registry.url, 'GET', '/v2/interop/source/tags/list');
  t.equal(tags.status, 200, 'tags list of the source still answers');
  t.same(tags.json, { name: 'interop/source', tags: ['v2'] }, 'the source tags list no longer lists v1, still lists v2');
  await checkRegistryHolds(t, registry.url, 'interop/source', 'v2', other);
  await checkRegistryHolds(t, registry.url, 'interop/target', 'v1', kept);
  const targetTags = await send(registry.url, 'GET', '/v2/interop/target/tags/list');
  t.same(targetTags.json, { name: 'interop/target', tags: ['v1'] }, 'the target still lists v1');
});
