// 50 concurrent pushes of distinct images, then 50 concurrent pulls: every byte verified.
import t from 'tap';
import { send, sha256, startFor } from './helpers/http.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushManifest } from './helpers/push.js';
import { pseudoRandomBytes } from './helpers/bytes.js';

/** Deterministic pseudo-random bytes (no two images share a layer). */
const bytesFor = (seed: number, size: number): Buffer => pseudoRandomBytes(size, String(seed));

/** Pushes a blob in chunks of `chunk` bytes (POST, PATCH…, PUT) and returns its digest. */
async function pushChunked(url: string, name: string, bytes: Buffer, chunk: number): Promise<string> {
  const digest = sha256(bytes);
  let location = (await send(url, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location!;
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    const piece = bytes.subarray(offset, offset + chunk);
    const reply = await send(url, 'PATCH', location, {
      body: piece,
      headers: { 'Content-Range': `${offset}-${offset + piece.length - 1}`, 'Content-Type': 'application/octet-stream' },
    });
    if (reply.status !== 202) throw new Error(`PATCH answered ${reply.status}`);
    location = reply.headers.location!;
  }
  const done = await send(url, 'PUT', `${location}?digest=${digest}`);
  if (done.status !== 201) throw new Error(`PUT answered ${done.status}: ${done.body}`);
  return digest;
}

async function pushMonolithic(url: string, name: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const location = (await send(url, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location!;
  const done = await send(url, 'PUT', `${location}?digest=${digest}`, { body: bytes });
  if (done.status !== 201) throw new Error(`PUT answered ${done.status}`);
  return digest;
}

t.test('50 concurrent pushes then 50 concurrent pulls', async (t) => {
  const registry = await startFor(t);
  const images = Array.from({ length: 50 }, (_, i) => ({
    name: `concurrent/image-${i}`,
    config: Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: `image ${i}` })),
    layers: [bytesFor(i * 2, 1000 + i * 7919), bytesFor(i * 2 + 1, 64 * 1024 + i * 4099)],
    digest: '',
  }));

  await Promise.all(
    images.map(async (image, i) => {
      const { url } = registry;
      const configDigest = await pushMonolithic(url, image.name, image.config);
      const layerDigests = [
        await pushMonolithic(url, image.name, image.layers[0]!),
        // Odd images push their big layer in 16 KiB chunks, even ones in one PUT.
        i % 2 ? await pushChunked(url, image.name, image.layers[1]!, 16 * 1024) : await pushMonolithic(url, image.name, image.layers[1]!),
      ];
      const manifest = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: configDigest, size: image.config.length },
        layers: image.layers.map((layer, j) => ({ mediaType: OCI_LAYER, digest: layerDigests[j], size: layer.length })),
      };
      const pushed = await pushManifest(url, image.name, 'latest', manifest);
      if (pushed.status !== 201) throw new Error(`manifest push answered ${pushed.status}`);
      image.digest = pushed.digest;
    }),
  );

  const pulls = await Promise.all(
    images.map(async (image) => {
      const manifest = await send(registry.url, 'GET', `/v2/${image.name}/manifests/latest`);
      const parsed = JSON.parse(manifest.body.toString());
      const blobs = await Promise.all(
        [parsed.config, ...parsed.layers].map((d: { digest: string }) => send(registry.url, 'GET', `/v2/${image.name}/blobs/${d.digest}`)),
      );
      return { image, manifest, blobs };
    }),
  );

  let verified = 0;
  for (const { image, manifest, blobs } of pulls) {
    const expected = [image.config, ...image.layers];
    const ok =
      manifest.status === 200 &&
      sha256(manifest.body) === image.digest &&
      blobs.every((b, j) => b.status === 200 && b.body.equals(expected[j]!) && b.headers['docker-content-digest'] === sha256(expected[j]!));
    if (ok) verified++;
    else t.fail(`${image.name} did not round-trip`);
  }
  t.equal(verified, 50, 'all 50 images pulled back byte for byte');
  const catalog = await send(registry.url, 'GET', '/v2/_catalog');
  t.equal(catalog.json.repositories.length, 50);
});
