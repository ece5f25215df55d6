import { RegistryError } from '../oci/errors.js';
import { computeDigest, nodeCrypto, type DigestAlgorithm } from '../oci/digest.js';
import { SegmentWriter } from './segments.js';
import { uploadHash, type UploadHash } from './upload-hash.js';

/** Bytes of a finished blob, verified against its digest. */
export interface BlobContent {
  digest: string;
  size: number;
  segments: readonly Buffer[];
}

/** What a request writing to a session gets once the session is cancelled under it (DELETE, reset, expiry). */
function cancelled(id: string): RegistryError {
  return new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} was cancelled`, { detail: { id } });
}

/** Accounts for bytes held by sessions against a storage limit; throws when a write would exceed it. */
export interface UploadQuota {
  take(bytes: number): void;
  give(bytes: number): void;
  /** Largest blob one session may hold. */
  maxBlobBytes: number;
}

/**
 * An upload session (spec "Pushing a blob in chunks"): bytes received so far,
 * hashed as they arrive. Every request that writes to it does so through an
 * {@link UploadChunk}, which either commits whole or rolls back whole, so a
 * client that aborts or lies about its length changes nothing and can resume
 * from the offset `GET <location>` reports.
 */
export class UploadSession {
  readonly id = nodeCrypto().randomUUID();
  readonly name: string;
  readonly algorithm: DigestAlgorithm;
  lastActivity = Date.now();
  /** Size of the last chunk a PATCH committed (for the chunkMinBytes quirk). */
  lastChunkSize: number | undefined;
  /** Made at the first chunk, which tells how large the upload is likely to be. */
  #hash: UploadHash | undefined;
  #writer = new SegmentWriter();
  #chunk: UploadChunk | undefined;
  #closed = false;
  readonly #quota: UploadQuota;

  constructor(name: string, algorithm: DigestAlgorithm, quota: UploadQuota) {
    this.name = name;
    this.algorithm = algorithm;
    this.#quota = quota;
  }

  /** Bytes received and committed so far. */
  get size(): number {
    return this.#writer.size - (this.#chunk?.received ?? 0);
  }

  /** Memory the session's bytes take, including room set aside for a chunk still arriving. */
  get reservedBytes(): number {
    return this.#writer.reservedBytes;
  }

  /** Whether a request is writing to the session right now. */
  get busy(): boolean {
    return this.#chunk !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts writing a chunk. `start` is the first byte offset from
   * Content-Range (undefined for a streamed, append-only PATCH).
   */
  chunk(start?: number, expected?: number): UploadChunk {
    if (this.#closed) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${this.id} is closed`, { detail: { id: this.id } });
    if (this.#chunk) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', 'another request is writing to this upload session', { status: 416 });
    }
    // spec "Pushing a blob in chunks": chunks MUST be uploaded in order; out of order → 416.
    if (start !== undefined && start !== this.#writer.size) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', `chunk starts at byte ${start}, but the upload has ${this.#writer.size} bytes: the next chunk must start at ${this.#writer.size}`, {
        status: 416,
        detail: { expectedStart: this.#writer.size, start },
      });
    }
    this.#writer.expect(expected ?? 0);
    this.lastActivity = Date.now();
    const hash = (this.#hash ??= uploadHash(this.algorithm, this.#writer, expected));
    hash.begin();
    this.#chunk = new UploadChunk(this, hash, this.#writer, this.#quota, (committed) => {
      this.#chunk = undefined;
      this.lastActivity = Date.now();
      if (committed) hash.commit();
      else hash.rollback();
    });
    return this.#chunk;
  }

  /** Closes the session and hands over its bytes. */
  close(digest: string): BlobContent {
    this.#closed = true;
    this.#hash?.drop();
    const size = this.#writer.size;
    this.#quota.give(size);
    return { digest, size, segments: this.#writer.finish() };
  }

  /**
   * Frees the session's bytes (cancel, reset or expiry). A request still
   * writing to it, or waiting for its digest, fails with BLOB_UPLOAD_UNKNOWN.
   */
  discard(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hash?.drop(cancelled(this.id));
    this.#quota.give(this.#writer.size);
    this.#writer.truncate(0);
  }

  /**
   * Throws BLOB_UPLOAD_UNKNOWN once the session is closed: a chunk whose
   * last byte came before a cancel is not taken (no write saw the cancel).
   */
  checkOpen(): void {
    if (this.#closed) throw cancelled(this.id);
  }

  /** Digest of everything received, in any supported algorithm (a second pass only when it differs from the session's). */
  async digestWith(algorithm: DigestAlgorithm, hash: UploadHash): Promise<string> {
    // A dropped hash has no digest to give.
    this.checkOpen();
    // The session's own digest also tells that every lent segment is back.
    const own = `${this.algorithm}:${await hash.digest()}`;
    if (algorithm === this.algorithm) return own;
    // Cancelled while the digest was on its way: the bytes to hash again are gone.
    this.checkOpen();
    return computeDigest(this.#writer.view(), algorithm);
  }
}

/** One request's bytes into a session: commit or roll back, never half. */
export class UploadChunk {
  #received = 0;
  #done = false;

  constructor(
    readonly session: UploadSession,
    readonly hash: UploadHash,
    readonly writer: SegmentWriter,
    readonly quota: UploadQuota,
    readonly end: (committed: boolean) => void,
  ) {}

  get received(): number {
    return this.#received;
  }

  write(bytes: Uint8Array): void {
    if (this.#done) throw new Error('write after the chunk ended');
    if (this.session.closed) throw cancelled(this.session.id);
    const size = this.writer.size + bytes.length;
    if (size > this.quota.maxBlobBytes) {
      throw new RegistryError('DENIED', `blob too large: maxBlobBytes is ${this.quota.maxBlobBytes} bytes and this upload would hold ${size}`, {
        status: 413,
        detail: { limit: 'maxBlobBytes', limitBytes: this.quota.maxBlobBytes },
      });
    }
    // Read before the hash takes the bytes: a kept chunk lent to the hashing thread is detached (length 0).
    const length = bytes.length;
    this.quota.take(length);
    this.writer.write(bytes);
    this.hash.update(bytes);
    this.#received += length;
  }

  /** Digest of the whole upload including this chunk. */
  digest(algorithm: DigestAlgorithm): Promise<string> {
    return this.session.digestWith(algorithm, this.hash);
  }

  commit(): void {
    if (this.#done) return;
    this.#done = true;
    this.end(true);
  }

  abort(): void {
    if (this.#done) return;
    this.#done = true;
    // A session closed by this chunk's completion has handed its bytes over already.
    if (!this.session.closed) {
      this.writer.truncate(this.writer.size - this.#received);
      this.quota.give(this.#received);
    }
    this.end(false);
  }
}
