/** Manifest media types this registry accepts (OCI image-spec, Docker Image Manifest V2 Schema 2). */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Docker schema 1: refused with a message that says so (deprecated, signed JWS). */
export const SCHEMA1_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/** Media types whose body is an image manifest (config + layers). */
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);

/** Media types whose body is an index (a list of manifests). */
export const INDEX_TYPES: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);

/**
 * Layers a registry need not hold: image-spec "non-distributable" layers and
 * Docker "foreign" layers are fetched from their `urls`, so a manifest may
 * name them without pushing them.
 */
export const FOREIGN_LAYER_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

/** image-spec "Guidance for an Empty Descriptor": the two-byte `{}` blob, which a manifest may name without pushing. */
export const EMPTY_DESCRIPTOR = {
  mediaType: MediaType.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;

/** Media type without parameters, lower-cased (spec: the registry SHOULD ignore Content-Type parameters). */
export function bareMediaType(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const semicolon = value.indexOf(';');
  const bare = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return bare === '' ? undefined : bare;
}
