// The small image shapes the benchmark pushes and the bare server answers
// with, shared so that both send and serve the same number of bytes.
// Plain JavaScript: the bare server runs it under plain `node`, no loader.
import { createHash } from 'node:crypto';

export const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_TYPE = 'application/vnd.oci.image.config.v1+json';
export const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';
/** What clients send when they fetch a manifest by tag (containerd, skopeo). */
export const ACCEPT = [
  MANIFEST_TYPE,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

export const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** An image of one config and one layer; `seed` makes both unique. */
export function smallImage(seed, layerBytes = 1024) {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [{ created_by: `oci-test-registry bench ${seed}` }],
  }));
  const layer = Buffer.alloc(layerBytes, 0x5a);
  layer.write(`bench layer ${seed}\n`);
  return withManifest(config, layer);
}

export function withManifest(config, layer) {
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: CONFIG_TYPE, digest: sha256(config), size: config.length },
    layers: [{ mediaType: LAYER_TYPE, digest: sha256(layer), size: layer.length }],
    annotations: { 'org.opencontainers.image.title': 'oci-test-registry bench image' },
  }));
  return { config, layer, manifest, configDigest: sha256(config), layerDigest: sha256(layer), manifestDigest: sha256(manifest) };
}

/** Tag number i, fixed width so that lexical order is numeric order (tags/list is sorted lexically). */
export const tagName = (i) => `t${String(i).padStart(6, '0')}`;
