// Pushing content over HTTP the way a client does, for tests that need some
// content in place before they check the rule they are about.
import { send, sha256 } from './http.js';

import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from './media-types.js';

export { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  [key: string]: unknown;
}

/** Single-POST push (end-4b); throws unless the registry answers 201. */
export async function pushBlob(url: string, name: string, bytes: Buffer | string): Promise<string> {
  const body = Buffer.from(bytes);
  const digest = sha256(body);
  const reply = await send(url, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, {
    body,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (reply.status !== 201) throw new Error(`blob push answered ${reply.status}: ${reply.body}`);
  return digest;
}

export async function pushManifest(url: string, name: string, reference: string, manifest: object | Buffer, mediaType?: string): Promise<{ digest: string; status: number; headers: Record<string, unknown>; json: any }> {
  const body = Buffer.isBuffer(manifest) ? manifest : Buffer.from(JSON.stringify(manifest));
  const type = mediaType ?? (Buffer.isBuffer(manifest) ? OCI_MANIFEST : ((manifest as { mediaType?: string }).mediaType ?? OCI_MANIFEST));
  const reply = await send(url, 'PUT', `/v2/${name}/manifests/${reference}`, { body, headers: { 'Content-Type': type } });
  return { digest: sha256(body), status: reply.status, headers: reply.headers, json: reply.json };
}

export interface Image {
  digest: string;
  bytes: Buffer;
  manifest: Record<string, unknown>;
  config: Descriptor;
  layers: Descriptor[];
}

/** Pushes config + layers + an OCI image manifest under `reference`; throws unless every step succeeds. */
export async function pushImage(
  url: string,
  name: string,
  reference: string,
  options: { layers?: (Buffer | string)[]; config?: object; extra?: Record<string, unknown> } = {},
): Promise<Image> {
  const configBytes = Buffer.from(JSON.stringify(options.config ?? { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config: Descriptor = { mediaType: OCI_CONFIG, digest: await pushBlob(url, name, configBytes), size: configBytes.length };
  const layers: Descriptor[] = [];
  for (const layer of options.layers ?? [`layer of ${name}:${reference}`]) {
    const bytes = Buffer.from(layer);
    layers.push({ mediaType: OCI_LAYER, digest: await pushBlob(url, name, bytes), size: bytes.length });
  }
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, ...options.extra };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const pushed = await pushManifest(url, name, reference, bytes, OCI_MANIFEST);
  if (pushed.status !== 201) throw new Error(`manifest push answered ${pushed.status}: ${JSON.stringify(pushed.json)}`);
  return { digest: pushed.digest, bytes, manifest, config, layers };
}
