/**
 * oci-test-registry: an in-memory OCI / Docker registry for tests.
 * Everything public is exported from here and only here.
 */
export { startRegistry, createRegistry } from './registry.js';
export type { Registry, RunningRegistry } from './registry.js';
export { DEFAULT_OPTIONS } from './options.js';
export type { RegistryOptions, ResolvedOptions } from './options.js';
export type { RequestRecord } from './http/record.js';
export { RegistryError, ERROR_CODES } from './oci/errors.js';
export type { ErrorCode, RegistryErrorInit } from './oci/errors.js';
export { MemoryStore } from './store/memory.js';
export type { MemoryStoreOptions } from './store/memory.js';
export type {
  Store,
  StoredBlob,
  StoredManifest,
  ReferrerDescriptor,
  Page,
  PageRequest,
  ManifestPut,
  StorageUsage,
  BlobContent,
  UploadSession,
} from './store/store.js';
export { computeDigest, parseDigest } from './oci/digest.js';
export type { DigestAlgorithm, ParsedDigest } from './oci/digest.js';
export { parseManifest } from './oci/manifest.js';
export type { Descriptor, ParsedManifest } from './oci/manifest.js';
export { MediaType } from './oci/media-types.js';
