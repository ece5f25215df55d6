import { computeDigest } from '../oci/digest.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { EMPTY_DESCRIPTOR, MediaType } from '../oci/media-types.js';
import { checkName, checkTag } from '../oci/reference.js';
import type { BlobContent, ManifestPut, Page, PageRequest, ReferrerDescriptor, StorageUsage, Store, StoreObserver, StoredBlob, StoredManifest } from './store.js';
import type { UploadSession } from './upload.js';
import type { DigestAlgorithm } from '../oci/digest.js';
import type { ParsedManifest } from '../oci/manifest.js';

/** Bytes as a test writes them: a Buffer, any Uint8Array, or a string (UTF-8). */
export type Bytes = Uint8Array | string;

/** image-spec "platform" of an index entry, and the config fields it comes from. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface ImageInput {
  /** Tag to point at the manifest; without one the image is reachable by digest only. */
  tag?: string;
  /** Layer contents, stored as uncompressed tar layers (`application/vnd.oci.image.layer.v1.tar`). Default: none. */
  layers?: Bytes[];
  /** The config: an object (serialised), or exact bytes. Default: a minimal OCI config for `platform` with the layers' diff_ids. */
  config?: object | Bytes;
  /** Default `{ architecture: 'amd64', os: 'linux' }`. */
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface IndexInput {
  tag?: string;
  /**
   * Manifests already in the repository: by digest (media type and size are
   * looked up), or what pushImage returned (its platform is used).
   */
  manifests: ({ digest: string; platform?: Platform; annotations?: Record<string, string> } | SeededManifest)[];
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface ArtifactInput {
  tag?: string;
  artifactType: string;
  /** The manifest this artifact refers to: a digest in the repository, or a whole descriptor (it need not exist). */
  subject?: string | Descriptor;
  /** Blob contents, or contents with a media type (default `application/octet-stream`). Default: the empty descriptor. */
  blobs?: (Bytes | { data: Bytes; mediaType: string })[];
  annotations?: Record<string, string>;
}

/** What a seeding push stored. */
export interface SeededManifest {
  name: string;
  digest: string;
  mediaType: string;
  /** The exact stored bytes. */
  bytes: Buffer;
  /** The manifest, parsed. */
  manifest: Record<string, any>;
  /** A descriptor of it, ready for an index or a subject (with `platform` for an image). */
  descriptor: Descriptor & { platform?: Platform };
}

/** Refuses what no HTTP client could push: a bad repository name or tag (400, as over HTTP). */
function checkTarget(name: string, tag: string | undefined): void {
  checkName(name);
  if (tag !== undefined) checkTag(tag);
}

const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

function toBuffer(bytes: Bytes): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
}

/**
 * The Store contract, plus seeding and reading helpers built only on it, so
 * a test can set up content in one line and every seeded manifest passes the
 * same validation as an HTTP push. A store extends this and implements the
 * primitives.
 */
export abstract class SeedableStore implements Store {
  /** Told of every committed content change; the registry sets it (its `events`). */
  protected observer: StoreObserver | undefined;

  /** Reports content changes to `observer` from now on. */
  observe(observer: StoreObserver): void {
    this.observer = observer;
  }

  abstract repositories(page?: PageRequest): Promise<Page>;
  abstract hasRepository(name: string): Promise<boolean>;
  abstract createRepository(name: string): Promise<void>;
  abstract blob(name: string, digest: string): Promise<StoredBlob | undefined>;
  abstract putBlob(name: string, content: BlobContent): Promise<StoredBlob>;
  abstract deleteBlob(name: string, digest: string): Promise<boolean>;
  abstract mountBlob(name: string, digest: string, from?: string | ((repository: string) => boolean)): Promise<StoredBlob | undefined>;
  abstract manifest(name: string, reference: string): Promise<StoredManifest | undefined>;
  abstract putManifest(name: string, manifest: ParsedManifest, tags: string[]): Promise<ManifestPut>;
  abstract deleteManifest(name: string, digest: string): Promise<boolean>;
  abstract deleteTag(name: string, tag: string): Promise<boolean>;
  abstract tags(name: string, page?: PageRequest): Promise<Page | undefined>;
  abstract contents(name: string): Promise<{ manifests: string[]; blobs: string[] } | undefined>;
  abstract referrers(name: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]>;
  abstract startUpload(name: string, algorithm: DigestAlgorithm): Promise<UploadSession>;
  abstract upload(name: string, id: string): Promise<UploadSession>;
  abstract completeUpload(session: UploadSession, digest: string): Promise<StoredBlob>;
  abstract cancelUpload(name: string, id: string): Promise<void>;
  abstract expireUploads(idleMs: number): Promise<number>;
  abstract usage(): Promise<StorageUsage>;
  abstract clear(): Promise<void>;

  /** Stores bytes as a blob of `name` and returns its descriptor. */
  async seedBlob(name: string, bytes: Bytes, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    checkTarget(name, undefined);
    const buffer = toBuffer(bytes);
    const digest = computeDigest(buffer);
    await this.putBlob(name, { digest, size: buffer.length, segments: [buffer] });
    return { mediaType, digest, size: buffer.length };
  }

  /** Serialises, validates (as an HTTP push would) and stores a manifest. */
  async seedManifest(name: string, manifest: Record<string, unknown>, tag?: string): Promise<SeededManifest> {
    checkTarget(name, tag);
    const bytes = Buffer.from(JSON.stringify(manifest));
    const parsed = parseManifest(bytes, manifest.mediaType as string | undefined);
    await this.putManifest(name, parsed, tag === undefined ? [] : [tag]);
    const { mediaType, digest } = parsed;
    return { name, digest, mediaType, bytes, manifest, descriptor: { mediaType, digest, size: bytes.length } };
  }

  /** Pushes config, layers and an OCI image manifest in one call. */
  async pushImage(name: string, input: ImageInput = {}): Promise<SeededManifest> {
    checkTarget(name, input.tag);
    const platform = input.platform ?? { architecture: 'amd64', os: 'linux' };
    const layerBytes = (input.layers ?? []).map(toBuffer);
    const layers = await Promise.all(layerBytes.map((bytes) => this.seedBlob(name, bytes, LAYER_TAR)));
    const configValue =
      input.config === undefined
        ? { ...platform, config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }
        : input.config;
    const configBytes = typeof configValue === 'string' || configValue instanceof Uint8Array ? configValue : JSON.stringify(configValue);
    const config = await this.seedBlob(name, configBytes, 'application/vnd.oci.image.config.v1+json');
    const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers };
    if (input.annotations) manifest.annotations = input.annotations;
    const seeded = await this.seedManifest(name, manifest, input.tag);
    seeded.descriptor.platform = { ...platform };
    return seeded;
  }

  /** Pushes an OCI image index over manifests already in the repository. */
  async pushIndex(name: string, input: IndexInput): Promise<SeededManifest> {
    checkTarget(name, input.tag);
    const manifests = await Promise.all(
      input.manifests.map(async (entry) => {
        const { digest, platform, annotations } = 'descriptor' in entry ? { ...entry.descriptor, annotations: undefined } : entry;
        const child = await this.manifest(name, digest);
        // A missing child is described as an image manifest of size 0, so the
        // store's sub-manifest validation refuses it exactly as over HTTP.
        const descriptor: Descriptor = { mediaType: child?.mediaType ?? MediaType.ociManifest, digest, size: child?.bytes.length ?? 0 };
        if (platform) descriptor.platform = { ...platform };
        if (annotations) descriptor.annotations = annotations;
        return descriptor;
      }),
    );
    const index: Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    if (input.artifactType) index.artifactType = input.artifactType;
    if (input.annotations) index.annotations = input.annotations;
    return this.seedManifest(name, index, input.tag);
  }

  /** Pushes an artifact (image-spec "artifacts": empty config, `artifactType`), optionally referring to a subject. */
  async pushArtifact(name: string, input: ArtifactInput): Promise<SeededManifest> {
    checkTarget(name, input.tag);
    await this.seedBlob(name, '{}', EMPTY_DESCRIPTOR.mediaType);
    const blobs = input.blobs ?? [];
    const layers = blobs.length === 0
      ? [{ ...EMPTY_DESCRIPTOR }]
      : await Promise.all(blobs.map((blob) => (typeof blob === 'object' && 'data' in blob ? this.seedBlob(name, blob.data, blob.mediaType) : this.seedBlob(name, blob))));
    const manifest: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: input.artifactType,
      config: { ...EMPTY_DESCRIPTOR },
      layers,
    };
    if (input.subject !== undefined) {
      if (typeof input.subject === 'string') {
        const subject = await this.manifest(name, input.subject);
        manifest.subject = { mediaType: subject?.mediaType ?? MediaType.ociManifest, digest: input.subject, size: subject?.bytes.length ?? 0 };
      } else manifest.subject = input.subject;
    }
    if (input.annotations) manifest.annotations = input.annotations;
    return this.seedManifest(name, manifest, input.tag);
  }

  /** A manifest by tag or digest, as stored. */
  getManifest(name: string, reference: string): Promise<StoredManifest | undefined> {
    return this.manifest(name, reference);
  }

  /** A blob's bytes in one Buffer (a copy), or undefined when not linked in `name`. */
  async getBlob(name: string, digest: string): Promise<Buffer | undefined> {
    const blob = await this.blob(name, digest);
    return blob && Buffer.concat(blob.segments as Buffer[], blob.size);
  }

  /** Every tag of a repository in list order; [] when it is unknown. */
  async listTags(name: string): Promise<string[]> {
    return (await this.tags(name))?.items ?? [];
  }

  /** Every repository in list order. */
  async listRepositories(): Promise<string[]> {
    return (await this.repositories()).items;
  }
}
