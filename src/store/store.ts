import type { DigestAlgorithm } from '../oci/digest.js';
import type { Descriptor, ParsedManifest } from '../oci/manifest.js';
import type { BlobContent, UploadSession } from './upload.js';

export type { BlobContent, UploadSession } from './upload.js';

/** A blob as stored: immutable segments, safe to stream after the lock is released. */
export interface StoredBlob {
  digest: string;
  size: number;
  segments: readonly Buffer[];
}

/** A manifest as stored: the exact pushed bytes and what the registry read from them. */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  kind: 'image' | 'index';
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A referrers-list entry (spec "Listing Referrers"). */
export type ReferrerDescriptor = Pick<Descriptor, 'mediaType' | 'digest' | 'size' | 'artifactType' | 'annotations'>;

/** A page request: at most `n` entries strictly after `last` in list order (spec "Listing Tags"). */
export interface PageRequest {
  n?: number;
  last?: string;
}

/** A page of a sorted list; `more` tells whether entries remain after it. */
export interface Page {
  items: string[];
  more: boolean;
}

/** Result of a manifest push. */
export interface ManifestPut {
  manifest: StoredManifest;
  /** Tags that now point at the manifest. */
  tags: string[];
}

/** What the store holds: a report for `usage()` and the health route. */
export interface StorageUsage {
  /** Bytes of blobs and manifests stored. */
  storedBytes: number;
  /** Bytes held by upload sessions not yet completed. */
  uploadBytes: number;
  uploads: number;
  repositories: number;
  blobs: number;
}

/**
 * The storage seam. It knows nothing of HTTP: it speaks repositories,
 * digests, tags and upload sessions, and throws {@link RegistryError} with the
 * spec's codes. Every method is async so another backend can sit behind it.
 */
export interface Store {
  /** Repository names in lexical order, paged. */
  repositories(page?: PageRequest): Promise<Page>;
  hasRepository(name: string): Promise<boolean>;
  /**
   * Makes `name` exist while empty (listed, `hasRepository` true) until
   * clear(): what a registry that refuses pushes to unknown repositories
   * (`createOnPush: false`) needs before a push.
   */
  createRepository(name: string): Promise<void>;

  /** A blob linked into `name`, or undefined. */
  blob(name: string, digest: string): Promise<StoredBlob | undefined>;
  /** Stores verified bytes and links them into `name`. */
  putBlob(name: string, content: BlobContent): Promise<StoredBlob>;
  /** Unlinks a blob from `name`; false when it was not linked. */
  deleteBlob(name: string, digest: string): Promise<boolean>;
  /**
   * Links a blob that another repository holds into `name`: from `from`;
   * from any repository `from` accepts when it is a function; from any
   * repository at all when it is undefined. Undefined when not found.
   */
  mountBlob(name: string, digest: string, from?: string | ((repository: string) => boolean)): Promise<StoredBlob | undefined>;

  /** A manifest by tag or digest, or undefined. */
  manifest(name: string, reference: string): Promise<StoredManifest | undefined>;
  /** Validates references against the repository and stores the manifest, pointing `tags` at it. */
  putManifest(name: string, manifest: ParsedManifest, tags: string[]): Promise<ManifestPut>;
  /** Removes a manifest, the tags that point at it and its referrers entry; false when unknown. */
  deleteManifest(name: string, digest: string): Promise<boolean>;
  /** Removes one tag (not the manifest); false when unknown. */
  deleteTag(name: string, tag: string): Promise<boolean>;
  /** Tags of a repository in lexical order, paged; undefined when the repository is unknown. */
  tags(name: string, page?: PageRequest): Promise<Page | undefined>;
  /** Digests of every manifest and every linked blob of a repository (undefined when unknown), e.g. for a full export. */
  contents(name: string): Promise<{ manifests: string[]; blobs: string[] } | undefined>;
  /** Manifests in `name` whose subject is `digest`, optionally only those of one artifactType. */
  referrers(name: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]>;

  /** Opens an upload session in `name`. */
  startUpload(name: string, algorithm: DigestAlgorithm): Promise<UploadSession>;
  /** An open upload session of `name`; throws BLOB_UPLOAD_UNKNOWN otherwise. */
  upload(name: string, id: string): Promise<UploadSession>;
  /** Closes a session whose bytes were verified as `digest`, storing and linking the blob. */
  completeUpload(session: UploadSession, digest: string): Promise<StoredBlob>;
  /** Cancels a session and frees its bytes; throws BLOB_UPLOAD_UNKNOWN when unknown. */
  cancelUpload(name: string, id: string): Promise<void>;
  /** Cancels sessions idle for longer than `idleMs`; returns how many. */
  expireUploads(idleMs: number): Promise<number>;

  usage(): Promise<StorageUsage>;
  /** Forgets all content and upload sessions. */
  clear(): Promise<void>;
}

/**
 * Told of each content change after it is committed; the registry turns
 * these into its `push`, `delete` and `upload` events.
 */
export interface StoreObserver {
  push(event: { name: string; reference: string; digest: string; mediaType: string; tags: string[]; subject?: string }): void;
  delete(event: { name: string; kind: 'manifest' | 'tag' | 'blob'; reference: string }): void;
  upload(event: { name: string; digest: string; size: number; mounted: boolean }): void;
}
