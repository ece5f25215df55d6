// What every real-client interop test checks, whichever client pushed or
// pulled: the registry (or a layout the client wrote back) holds exactly the
// image the test made — its config byte for byte, each layer's uncompressed
// tar byte for byte (clients that store layers unpacked compress them again
// on push, so the compressed bytes and digests are the client's own), every
// blob's digest and size matching its descriptor — the tags listed exactly,
// and which layers a cross-repository copy mounted (read from the journal).
import type { Test } from 'tap';
import { gunzipSync } from 'node:zlib';
import type { RegistryOptions, RunningRegistry } from '../../src/index.js';
import { buildIndex, readLayout, sha256, taggedEntry, type Image, type ImageIndex } from './layout.js';
import { sampleImage } from './skopeo-run.js';

/** Login credentials the auth tests use, and the two auth modes every client is run in. */
export const USER = 'alice';
export const PASSWORD = 'alice-pass';
export const AUTH_MODES: [mode: 'basic' | 'token', auth: NonNullable<RegistryOptions['auth']>][] = [
  ['basic', { basic: { users: { [USER]: PASSWORD } } }],
  ['token', { token: { users: { [USER]: PASSWORD } } }],
];

/** amd64 and arm64 images (two layers each, one of 1 MiB) under one OCI index. */
export function sampleIndex(name: string): ImageIndex {
  return buildIndex([sampleImage(`${name}-amd64`, 'amd64'), sampleImage(`${name}-arm64`, 'arm64')]);
}

/** The uncompressed tar of one of the test's own (gzip'd) layers. */
export function layerTar(image: Image, position: number): Buffer {
  return gunzipSync(image.layers[position]!.bytes);
}

interface ManifestJson {
  mediaType?: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number; mediaType: string }[];
  manifests?: { digest: string; platform?: { os: string; architecture: string } }[];
}

/**
 * `manifestBytes` describe `image`: the same config bytes, and layers whose
 * uncompressed tars are the image's own, each blob matching its descriptor's
 * digest and size. `blobOf` reads a blob from wherever the client put it.
 */
async function checkImageContent(t: Test, what: string, manifestBytes: Buffer, blobOf: (digest: string) => Promise<Buffer | undefined>, image: Image): Promise<void> {
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as ManifestJson;
  t.equal(manifest.config.digest, image.config.descriptor.digest, `${what}: the config is the test's config`);
  const config = await blobOf(manifest.config.digest);
  t.ok(config?.equals(image.config.bytes), `${what}: config bytes are the test's bytes`);
  t.equal(manifest.layers.length, image.layers.length, `${what}: ${image.layers.length} layers`);
  for (const [position, layer] of manifest.layers.entries()) {
    const bytes = await blobOf(layer.digest);
    if (!t.ok(bytes, `${what}: layer ${position} (${layer.digest}) is there`)) continue;
    t.equal(sha256(bytes!), layer.digest, `${what}: layer ${position} bytes match its digest`);
    t.equal(bytes!.length, layer.size, `${what}: layer ${position} bytes match its size`);
    const tar = /gzip/.test(layer.mediaType) ? gunzipSync(bytes!) : bytes!;
    t.ok(tar.equals(layerTar(image, position)), `${what}: layer ${position} uncompressed is byte for byte the test's tar`);
  }
}

/** The registry holds `image` as `name:reference`; returns the stored manifest's digest. */
export async function checkPushedImage(t: Test, registry: RunningRegistry, name: string, reference: string, image: Image): Promise<string | undefined> {
  const stored = await registry.store.getManifest(name, reference);
  if (!t.ok(stored, `the registry holds ${name}:${reference}`)) return undefined;
  t.equal(stored!.kind, 'image', `${name}:${reference} is an image manifest`);
  await checkImageContent(t, `${name}:${reference}`, stored!.bytes, (digest) => registry.store.getBlob(name, digest), image);
  return stored!.digest;
}

/**
 * The registry holds `index` as `name:reference`: an index (OCI or Docker
 * list) of exactly the two platforms, each child holding its image. Returns
 * the index digest and the child digests by architecture.
 */
export async function checkPushedIndex(t: Test, registry: RunningRegistry, name: string, reference: string, index: ImageIndex): Promise<{ digest: string; children: Map<string, string> } | undefined> {
  const stored = await registry.store.getManifest(name, reference);
  if (!t.ok(stored, `the registry holds ${name}:${reference}`)) return undefined;
  t.equal(stored!.kind, 'index', `${name}:${reference} is an index`);
  const manifests = (JSON.parse(stored!.bytes.toString('utf8')) as ManifestJson).manifests ?? [];
  const wanted = index.children.map((child) => `linux/${JSON.parse(child.config.bytes.toString('utf8')).architecture as string}`);
  t.strictSame(manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`), wanted, `${name}:${reference} lists exactly ${wanted.join(' and ')}`);
  const children = new Map<string, string>();
  for (const [position, child] of index.children.entries()) {
    const entry = manifests[position];
    if (!entry) continue;
    children.set(entry.platform?.architecture ?? '', entry.digest);
    await checkPushedImage(t, registry, name, entry.digest, child);
  }
  return { digest: stored!.digest, children };
}

/** The tags of `name` are exactly `tags` (in list order). */
export async function checkTags(t: Test, registry: RunningRegistry, name: string, tags: string[]): Promise<void> {
  t.strictSame(await registry.store.listTags(name), tags, `${name} lists exactly the tags ${tags.join(', ')}`);
}

/**
 * An OCI layout a client wrote (pulled content written back out) holds
 * `image` under `tag`, or as its only entry; returns the manifest digest.
 */
export async function checkLayoutImage(t: Test, dir: string, tag: string | undefined, image: Image): Promise<string | undefined> {
  const layout = await readLayout(dir);
  const entry = tag === undefined ? layout.index.manifests[0] : taggedEntry(layout, tag);
  if (!t.ok(entry, `the written layout has ${tag ?? 'an entry'}`)) return undefined;
  const manifest = layout.blobs.get(entry!.digest);
  if (!t.ok(manifest, 'the written layout holds its manifest')) return undefined;
  await checkImageContent(t, `written ${tag ?? 'image'}`, manifest!, async (digest) => layout.blobs.get(digest), image);
  return entry!.digest;
}

/**
 * Each of `digests` was mounted into `to` from `from` (POST ?mount=&from=
 * answered 201), read from the journal since it was last cleared. Every
 * mode mounts, token mode included: the challenge names the source scope.
 */
export function checkMounted(t: Test, registry: RunningRegistry, to: string, from: string, digests: string[]): void {
  const mounted = registry.journal
    .filter({ method: 'POST', route: 'upload', name: to, status: 201 })
    .map((e) => new URL(e.path, 'http://journal.invalid').searchParams)
    .filter((query) => query.get('from') === from && query.has('mount'))
    .map((query) => query.get('mount'));
  const missing = digests.filter((digest) => !mounted.includes(digest));
  const journal = { journal: registry.journal.all().map((e) => `${e.method} ${e.path} ${e.status}`) };
  t.strictSame(missing, [], `every layer was mounted into ${to} from ${from} (201)`, journal);
}

/** Layer digests of `name:reference` as the registry stores it. */
export async function storedLayerDigests(registry: RunningRegistry, name: string, reference: string): Promise<string[]> {
  const stored = await registry.store.getManifest(name, reference);
  return stored ? (JSON.parse(stored.bytes.toString('utf8')) as { layers: { digest: string }[] }).layers.map((l) => l.digest) : [];
}
