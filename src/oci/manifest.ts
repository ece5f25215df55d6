import { manifestInvalid } from './errors.js';
import { computeDigest, parseDigest, type DigestAlgorithm } from './digest.js';
import {
  EMPTY_DESCRIPTOR,
  FOREIGN_LAYER_TYPES,
  IMAGE_MANIFEST_TYPES,
  INDEX_TYPES,
  MediaType,
  SCHEMA1_MEDIA_TYPES,
} from './media-types.js';

/** An OCI content descriptor (image-spec descriptor.md), as far as the registry reads it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Record<string, unknown>;
}

/** A manifest or index that passed validation, ready for the store. */
export interface ParsedManifest {
  /** The exact pushed bytes (spec: the registry MUST store the exact byte representation). */
  bytes: Buffer;
  digest: string;
  /** The media type served back as Content-Type: the pushed Content-Type, else the body's `mediaType`. */
  mediaType: string;
  kind: 'image' | 'index';
  /**
   * Config and layers. Each must be linked in the repository with the size
   * it declares, except that an `optional` one (a foreign layer, the empty
   * descriptor) may be absent.
   */
  blobs: (Descriptor & { optional?: boolean })[];
  /** Manifests an index names, which must exist in the repository (sub-manifest validation). */
  manifests: Descriptor[];
  subject?: Descriptor;
  /** Spec "Listing Referrers": the manifest's artifactType, else (image manifests) the config media type. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

export type Json = Record<string, unknown>;

/** A JSON object (not an array, not null). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw manifestInvalid(`${where}.annotations must be an object of strings`);
  for (const key in value) {
    if (typeof value[key] !== 'string') throw manifestInvalid(`${where}.annotations must be an object of strings`);
  }
  return value as Record<string, string>;
}

function checkDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw manifestInvalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType, urls } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw manifestInvalid(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string') throw manifestInvalid(`${where}.digest must be a string`);
  try {
    parseDigest(digest);
  } catch (error) {
    throw manifestInvalid(`${where}.digest: ${(error as Error).message}`, { digest });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw manifestInvalid(`${where}.size must be a non-negative integer`);
  }
  if (artifactType !== undefined && typeof artifactType !== 'string') throw manifestInvalid(`${where}.artifactType must be a string`);
  if (urls !== undefined && (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))) {
    throw manifestInvalid(`${where}.urls must be an array of strings`);
  }
  checkAnnotations(value.annotations, where);
  // The parsed object itself, not a copy: it is the request's own, and
  // copying every descriptor was a fifth of a manifest's validation.
  return value as unknown as Descriptor;
}

function checkDescriptors(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw manifestInvalid(`${where} must be an array of descriptors`);
  return value.map((entry, i) => checkDescriptor(entry, `${where}[${i}]`));
}

/** The type a body declares, or infers from its shape when it declares none (image-spec allows an absent mediaType). */
function declaredType(body: Json, contentType: string | undefined): string {
  const { mediaType } = body;
  if (mediaType !== undefined && typeof mediaType !== 'string') throw manifestInvalid('mediaType must be a string');
  // spec "Pushing Manifests": if a manifest includes a mediaType field, the
  // Content-Type MUST be that value.
  if (mediaType !== undefined && contentType !== undefined && mediaType !== contentType) {
    throw manifestInvalid(`Content-Type ${contentType} does not match the manifest's mediaType ${mediaType}`, { contentType, mediaType });
  }
  const type = mediaType ?? contentType ?? (Array.isArray(body.manifests) ? MediaType.ociIndex : MediaType.ociManifest);
  if (SCHEMA1_MEDIA_TYPES.has(type) || body.schemaVersion === 1) {
    throw manifestInvalid('Docker schema 1 manifests are not supported: push schema 2 or OCI');
  }
  if (!IMAGE_MANIFEST_TYPES.has(type) && !INDEX_TYPES.has(type)) {
    throw manifestInvalid(`unsupported manifest media type ${JSON.stringify(type)}`, {
      mediaType: type,
      supported: [...IMAGE_MANIFEST_TYPES, ...INDEX_TYPES],
    });
  }
  return type;
}

/** Whether a registry (or a layout) need not hold this blob: a foreign / non-distributable layer, or the empty descriptor. */
export function isOptionalBlob(descriptor: Pick<Descriptor, 'mediaType' | 'digest'>): boolean {
  return FOREIGN_LAYER_TYPES.has(descriptor.mediaType) || descriptor.digest === EMPTY_DESCRIPTOR.digest;
}

/** Marks the optional blobs; the empty descriptor must have exactly its two bytes. */
function markOptional(descriptor: Descriptor): Descriptor & { optional?: boolean } {
  if (descriptor.digest === EMPTY_DESCRIPTOR.digest && descriptor.size !== EMPTY_DESCRIPTOR.size) {
    throw manifestInvalid(`the empty descriptor ${EMPTY_DESCRIPTOR.digest} has size ${EMPTY_DESCRIPTOR.size}, not ${descriptor.size}`);
  }
  return isOptionalBlob(descriptor) ? { ...descriptor, optional: true } : descriptor;
}

/**
 * Parses and validates pushed manifest bytes (spec "Pushing Manifests").
 * `contentType` is the request's Content-Type without parameters.
 * `algorithm` is the digest algorithm (that of the URL digest when pushed by digest).
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, algorithm: DigestAlgorithm = 'sha256'): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw manifestInvalid(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(body)) throw manifestInvalid('manifest must be a JSON object');
  const mediaType = declaredType(body, contentType);
  if (body.schemaVersion !== 2) throw manifestInvalid('schemaVersion must be 2');
  const annotations = checkAnnotations(body.annotations, 'manifest');
  const subject = body.subject === undefined ? undefined : checkDescriptor(body.subject, 'subject');
  if (body.artifactType !== undefined && typeof body.artifactType !== 'string') throw manifestInvalid('artifactType must be a string');
  const digest = computeDigest(bytes, algorithm);

  if (INDEX_TYPES.has(mediaType)) {
    if (body.config !== undefined || body.layers !== undefined) throw manifestInvalid(`an index (${mediaType}) has no config or layers`);
    const manifests = checkDescriptors(body.manifests, 'manifests');
    return {
      bytes, digest, mediaType, kind: 'index', blobs: [], manifests, subject, annotations,
      artifactType: (body.artifactType as string | undefined) || undefined,
    };
  }
  if (body.manifests !== undefined) throw manifestInvalid(`an image manifest (${mediaType}) has no manifests list`);
  const config = checkDescriptor(body.config, 'config');
  const layers = checkDescriptors(body.layers, 'layers');
  // spec "Listing Referrers": artifactType, else the config descriptor's mediaType.
  const artifactType = (body.artifactType as string | undefined) || config.mediaType;
  return {
    bytes, digest, mediaType, kind: 'image',
    blobs: [config, ...layers].map(markOptional),
    manifests: [], subject, annotations, artifactType,
  };
}
