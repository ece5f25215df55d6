import { RegistryError, manifestInvalid, uploadUnknown } from '../oci/errors.js';
import type { DigestAlgorithm } from '../oci/digest.js';
import type { Descriptor, ParsedManifest } from '../oci/manifest.js';
import { RwLock } from './rwlock.js';
import { SortedSet } from './sorted.js';
import { UploadSession, type BlobContent, type UploadQuota } from './upload.js';
import { SeedableStore } from './seeding.js';
import { checkName } from '../oci/reference.js';
import type {
  ManifestPut,
  Page,
  PageRequest,
  ReferrerDescriptor,
  StorageUsage,
  Store,
  StoredBlob,
  StoredManifest,
} from './store.js';

export interface MemoryStoreOptions {
  /** Refuse pushes that would hold more than this many bytes (blobs, manifests and open uploads). Default: no limit. */
  maxStorageBytes?: number;
  /** Refuse an upload that grows past this many bytes. Default: no limit. */
  maxBlobBytes?: number;
  /** Refuse to open more upload sessions than this at once. Default: no limit. */
  maxUploads?: number;
}

interface BlobRecord extends StoredBlob {
  /** How many repositories link this blob; its bytes are freed at zero. */
  links: number;
}

interface Repository {
  blobs: Set<string>;
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
  sortedTags: SortedSet;
  /** subject digest → digests of manifests in this repository whose `subject` it is. */
  referrers: Map<string, Set<string>>;
}

/**
 * The in-memory store (DESIGN.md "Data model"). Blobs are held once per
 * registry and linked into repositories; manifests live in repository →
 * reference maps; tags point at digests. Every operation on content runs
 * under one read/write lock; upload-session bookkeeping (start, look-up,
 * cancel, expiry) is synchronous and touches only the sessions map.
 */
export class MemoryStore extends SeedableStore implements Store {
  readonly #lock = new RwLock();
  readonly #blobs = new Map<string, BlobRecord>();
  readonly #repositories = new Map<string, Repository>();
  readonly #names = new SortedSet();
  /** Repositories made by createRepository: they exist while empty. */
  readonly #created = new Set<string>();
  readonly #uploads = new Map<string, UploadSession>();
  readonly #maxStorageBytes: number;
  readonly #maxUploads: number;
  #storedBytes = 0;
  #uploadBytes = 0;
  readonly #quota: UploadQuota;

  constructor(options: MemoryStoreOptions = {}) {
    super();
    this.#maxStorageBytes = options.maxStorageBytes ?? Infinity;
    this.#maxUploads = options.maxUploads ?? Infinity;
    this.#quota = {
      take: (bytes) => {
        this.#checkQuota(bytes);
        this.#uploadBytes += bytes;
      },
      give: (bytes) => {
        this.#uploadBytes -= bytes;
      },
      maxBlobBytes: options.maxBlobBytes ?? Infinity,
    };
  }

  #checkQuota(bytes: number): void {
    const used = this.#storedBytes + this.#uploadBytes;
    if (bytes > 0 && used + bytes > this.#maxStorageBytes) {
      throw new RegistryError('DENIED', `storage limit reached: maxStorageBytes is ${this.#maxStorageBytes} bytes, ${used} are in use and this push needs ${bytes} more`, {
        status: 413,
        detail: { limit: 'maxStorageBytes', limitBytes: this.#maxStorageBytes, usedBytes: used, requestedBytes: bytes },
      });
    }
  }

  #repository(name: string): Repository | undefined {
    return this.#repositories.get(name);
  }

  #createRepository(name: string): Repository {
    let repository = this.#repositories.get(name);
    if (!repository) {
      repository = { blobs: new Set(), manifests: new Map(), tags: new Map(), sortedTags: new SortedSet(), referrers: new Map() };
      this.#repositories.set(name, repository);
      this.#names.add(name);
    }
    return repository;
  }

  /** A repository with no blob and no manifest left ceases to exist (it leaves the catalog), unless created on purpose. */
  #dropIfEmpty(name: string, repository: Repository): void {
    if (repository.blobs.size === 0 && repository.manifests.size === 0 && !this.#created.has(name)) {
      this.#repositories.delete(name);
      this.#names.delete(name);
    }
  }

  repositories(page?: PageRequest): Promise<Page> {
    return this.#lock.read(() => this.#names.page(page));
  }

  hasRepository(name: string): Promise<boolean> {
    return this.#lock.read(() => this.#repositories.has(name));
  }

  async createRepository(name: string): Promise<void> {
    checkName(name);
    return this.#lock.write(() => {
      this.#created.add(name);
      this.#createRepository(name);
    });
  }

  // Blobs ------------------------------------------------------------------

  blob(name: string, digest: string): Promise<StoredBlob | undefined> {
    return this.#lock.read(() => {
      const record = this.#repository(name)?.blobs.has(digest) ? this.#blobs.get(digest) : undefined;
      // A view, not the record: callers never see (or change) the link count.
      return record && { digest: record.digest, size: record.size, segments: record.segments };
    });
  }

  async putBlob(name: string, content: BlobContent): Promise<StoredBlob> {
    const blob = await this.#lock.write(() => this.#link(name, content));
    this.observer?.upload({ name, digest: blob.digest, size: blob.size, mounted: false });
    return blob;
  }

  #link(name: string, content: BlobContent): StoredBlob {
    let record = this.#blobs.get(content.digest);
    if (!record) {
      this.#checkQuota(content.size);
      record = { digest: content.digest, size: content.size, segments: content.segments, links: 0 };
      this.#blobs.set(content.digest, record);
      this.#storedBytes += content.size;
    }
    const repository = this.#createRepository(name);
    if (!repository.blobs.has(record.digest)) {
      repository.blobs.add(record.digest);
      record.links++;
    }
    return record;
  }

  async deleteBlob(name: string, digest: string): Promise<boolean> {
    const deleted = await this.#lock.write(() => {
      const repository = this.#repository(name);
      if (!repository?.blobs.delete(digest)) return false;
      const record = this.#blobs.get(digest)!;
      if (--record.links === 0) {
        this.#blobs.delete(digest);
        this.#storedBytes -= record.size;
      }
      this.#dropIfEmpty(name, repository);
      return true;
    });
    if (deleted) this.observer?.delete({ name, kind: 'blob', reference: digest });
    return deleted;
  }

  async mountBlob(name: string, digest: string, from?: string | ((repository: string) => boolean)): Promise<StoredBlob | undefined> {
    const blob = await this.#lock.write(() => {
      const record = this.#blobs.get(digest);
      if (!record) return undefined;
      if (typeof from === 'string' && !this.#repository(from)?.blobs.has(digest)) return undefined;
      if (typeof from === 'function' && ![...this.#repositories].some(([repo, r]) => r.blobs.has(digest) && from(repo))) return undefined;
      return this.#link(name, record);
    });
    if (blob) this.observer?.upload({ name, digest, size: blob.size, mounted: true });
    return blob;
  }

  // Manifests --------------------------------------------------------------

  manifest(name: string, reference: string): Promise<StoredManifest | undefined> {
    return this.#lock.read(() => {
      const repository = this.#repository(name);
      if (!repository) return undefined;
      const digest = repository.tags.get(reference) ?? reference;
      return repository.manifests.get(digest);
    });
  }

  async putManifest(name: string, parsed: ParsedManifest, tags: string[]): Promise<ManifestPut> {
    const put = await this.#lock.write(() => {
      const existing = this.#repository(name);
      // Validate everything before changing anything.
      const missing: Descriptor[] = [];
      const check = (descriptor: Descriptor & { optional?: boolean }, size: number | undefined, what: string) => {
        if (size === undefined) {
          if (!descriptor.optional) missing.push(descriptor);
        } else if (size !== descriptor.size) {
          throw manifestInvalid(`${what} ${descriptor.digest} has size ${size}, but the manifest says ${descriptor.size}`, {
            digest: descriptor.digest, size, declaredSize: descriptor.size,
          });
        }
      };
      for (const blob of parsed.blobs) {
        check(blob, existing?.blobs.has(blob.digest) ? this.#blobs.get(blob.digest)!.size : undefined, 'blob');
      }
      for (const child of parsed.manifests) {
        check(child, existing?.manifests.get(child.digest)?.bytes.length, 'manifest');
      }
      if (missing.length > 0) {
        // spec "Push": a rejected reference MUST result in MANIFEST_BLOB_UNKNOWN.
        const what = parsed.kind === 'index' ? 'manifests' : 'blobs';
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', `the manifest references ${what} not in repository ${name}: ${missing.map((d) => d.digest).join(', ')}`, {
          detail: { name, missing: missing.map(({ digest, mediaType, size }) => ({ digest, mediaType, size })) },
        });
      }
      const isNew = !existing?.manifests.has(parsed.digest);
      if (isNew) this.#checkQuota(parsed.bytes.length);

      const repository = this.#createRepository(name);
      const manifest: StoredManifest = {
        digest: parsed.digest,
        mediaType: parsed.mediaType,
        bytes: parsed.bytes,
        kind: parsed.kind,
        subject: parsed.subject?.digest,
        artifactType: parsed.artifactType,
        annotations: parsed.annotations,
      };
      if (isNew) this.#storedBytes += parsed.bytes.length;
      else this.#unindexReferrer(repository, repository.manifests.get(parsed.digest)!);
      repository.manifests.set(manifest.digest, manifest);
      for (const tag of tags) {
        // Only a new tag joins the order: a tag moved (or pushed again) is in it already.
        if (!repository.tags.has(tag)) repository.sortedTags.add(tag);
        repository.tags.set(tag, manifest.digest);
      }
      if (manifest.subject) {
        let set = repository.referrers.get(manifest.subject);
        if (!set) repository.referrers.set(manifest.subject, (set = new Set()));
        set.add(manifest.digest);
      }
      return { manifest, tags: [...tags] };
    });
    const { manifest } = put;
    this.observer?.push({
      name,
      reference: tags[0] ?? manifest.digest,
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      tags: [...tags],
      ...(manifest.subject ? { subject: manifest.subject } : {}),
    });
    return put;
  }

  #unindexReferrer(repository: Repository, manifest: StoredManifest): void {
    if (!manifest.subject) return;
    const set = repository.referrers.get(manifest.subject);
    set?.delete(manifest.digest);
    if (set?.size === 0) repository.referrers.delete(manifest.subject);
  }

  async deleteManifest(name: string, digest: string): Promise<boolean> {
    const deleted = await this.#lock.write(() => {
      const repository = this.#repository(name);
      const manifest = repository?.manifests.get(digest);
      if (!repository || !manifest) return false;
      repository.manifests.delete(digest);
      this.#storedBytes -= manifest.bytes.length;
      for (const [tag, target] of repository.tags) {
        if (target === digest) {
          repository.tags.delete(tag);
          repository.sortedTags.delete(tag);
        }
      }
      this.#unindexReferrer(repository, manifest);
      this.#dropIfEmpty(name, repository);
      return true;
    });
    if (deleted) this.observer?.delete({ name, kind: 'manifest', reference: digest });
    return deleted;
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    const deleted = await this.#lock.write(() => {
      const repository = this.#repository(name);
      if (!repository?.tags.delete(tag)) return false;
      repository.sortedTags.delete(tag);
      return true;
    });
    if (deleted) this.observer?.delete({ name, kind: 'tag', reference: tag });
    return deleted;
  }

  tags(name: string, page?: PageRequest): Promise<Page | undefined> {
    return this.#lock.read(() => this.#repository(name)?.sortedTags.page(page));
  }

  contents(name: string): Promise<{ manifests: string[]; blobs: string[] } | undefined> {
    return this.#lock.read(() => {
      const repository = this.#repository(name);
      return repository && { manifests: [...repository.manifests.keys()].sort(), blobs: [...repository.blobs].sort() };
    });
  }

  referrers(name: string, digest: string, artifactType?: string): Promise<ReferrerDescriptor[]> {
    return this.#lock.read(() => {
      const repository = this.#repository(name);
      const result: ReferrerDescriptor[] = [];
      for (const referrer of repository?.referrers.get(digest) ?? []) {
        const manifest = repository!.manifests.get(referrer)!;
        if (artifactType !== undefined && manifest.artifactType !== artifactType) continue;
        const entry: ReferrerDescriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.bytes.length };
        if (manifest.artifactType) entry.artifactType = manifest.artifactType;
        if (manifest.annotations) entry.annotations = manifest.annotations;
        result.push(entry);
      }
      return result;
    });
  }

  // Uploads ----------------------------------------------------------------

  async startUpload(name: string, algorithm: DigestAlgorithm): Promise<UploadSession> {
    if (this.#uploads.size >= this.#maxUploads) {
      throw new RegistryError('TOOMANYREQUESTS', `too many open upload sessions: maxUploads is ${this.#maxUploads}; complete or cancel one, or wait for idle ones to expire`, {
        detail: { limit: 'maxUploads', limitCount: this.#maxUploads },
      });
    }
    const session = new UploadSession(name, algorithm, this.#quota);
    this.#uploads.set(session.id, session);
    return session;
  }

  async upload(name: string, id: string): Promise<UploadSession> {
    const session = this.#uploads.get(id);
    // A session is addressed through its own repository only.
    if (!session || session.name !== name || session.closed) throw uploadUnknown(id);
    return session;
  }

  async completeUpload(session: UploadSession, digest: string): Promise<StoredBlob> {
    const blob = await this.#lock.write(() => {
      if (this.#uploads.get(session.id) !== session || session.closed) throw uploadUnknown(session.id);
      this.#uploads.delete(session.id);
      // Bytes already held once (pushed before, maybe elsewhere) are linked, not copied.
      const existing = this.#blobs.get(digest);
      if (existing) {
        session.discard();
        return this.#link(session.name, existing);
      }
      return this.#link(session.name, session.close(digest));
    });
    this.observer?.upload({ name: session.name, digest, size: blob.size, mounted: false });
    return blob;
  }

  async cancelUpload(name: string, id: string): Promise<void> {
    const session = await this.upload(name, id);
    this.#uploads.delete(id);
    session.discard();
  }

  async expireUploads(idleMs: number): Promise<number> {
    const cutoff = Date.now() - idleMs;
    let expired = 0;
    for (const [id, session] of this.#uploads) {
      if (!session.busy && session.lastActivity < cutoff) {
        this.#uploads.delete(id);
        session.discard();
        expired++;
      }
    }
    return expired;
  }

  /** Forgets every repository, blob and upload session (the registry's reset()). */
  clear(): Promise<void> {
    return this.#lock.write(() => {
      for (const session of this.#uploads.values()) session.discard();
      this.#uploads.clear();
      this.#blobs.clear();
      this.#repositories.clear();
      this.#names.clear();
      this.#created.clear();
      this.#storedBytes = 0;
      this.#uploadBytes = 0;
    });
  }

  usage(): Promise<StorageUsage> {
    return this.#lock.read(() => ({
      storedBytes: this.#storedBytes,
      uploadBytes: this.#uploadBytes,
      uploads: this.#uploads.size,
      repositories: this.#repositories.size,
      blobs: this.#blobs.size,
    }));
  }
}
