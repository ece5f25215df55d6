import { randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { RegistryError } from '../oci/errors.js';
import { createHash } from 'node:crypto';
import { computeDigest, type DigestAlgorithm } from '../oci/digest.js';
import { SegmentWriter } from './segments.js';

/** Bytes of a finished blob, verified against its digest. */
export interface BlobContent {
  digest: string;
  size: number;
  segments: readonly Buffer[];
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
  readonly id = randomUUID();
  readonly name: string;
  readonly algorithm: DigestAlgorithm;
  lastActivity = Date.now();
  /** Size of the last chunk a PATCH committed (for the chunkMinBytes quirk). */
  lastChunkSize: number | undefined;
  #hash: Hash;
  #writer = new SegmentWriter();
  #chunk: UploadChunk | undefined;
  #closed = false;
  readonly #quota: UploadQuota;

  constructor(name: string, algorithm: DigestAlgorithm, quota: UploadQuota) {
    this.name = name;
    this.algorithm = algorithm;
    this.#hash = createHash(algorithm);
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
    this.#chunk = new UploadChunk(this, this.#hash.copy(), this.#writer, this.#quota, (committed, hash) => {
      this.#chunk = undefined;
      this.lastActivity = Date.now();
      if (committed) this.#hash = hash;
    });
    return this.#chunk;
  }

  /** Closes the session and hands over its bytes. */
  close(digest: string): BlobContent {
    this.#closed = true;
    const size = this.#writer.size;
    this.#quota.give(size);
    return { digest, size, segments: this.#writer.finish() };
  }

  /** Frees the session's bytes (cancel or expiry). */
  discard(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#quota.give(this.#writer.size);
    this.#writer.truncate(0);
  }

  /** Digest of everything received, in any supported algorithm (a second pass only when it differs from the session's). */
  digestWith(algorithm: DigestAlgorithm, hash: Hash): string {
    if (algorithm === this.algorithm) return `${algorithm}:${hash.copy().digest('hex')}`;
    return computeDigest(this.#writer.view(), algorithm);
  }
}

/** One request's bytes into a session: commit or roll back, never half. */
export class UploadChunk {
  #received = 0;
  #done = false;

  constructor(
    readonly session: UploadSession,
    readonly hash: Hash,
    readonly writer: SegmentWriter,
    readonly quota: UploadQuota,
    readonly end: (committed: boolean, hash: Hash) => void,
  ) {}

  get received(): number {
    return this.#received;
  }

  write(bytes: Uint8Array): void {
    if (this.#done) throw new Error('write after the chunk ended');
    if (this.session.closed) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${this.session.id} was cancelled`, { detail: { id: this.session.id } });
    const size = this.writer.size + bytes.length;
    if (size > this.quota.maxBlobBytes) {
      throw new RegistryError('DENIED', `blob too large: maxBlobBytes is ${this.quota.maxBlobBytes} bytes and this upload would hold ${size}`, {
        status: 413,
        detail: { limit: 'maxBlobBytes', limitBytes: this.quota.maxBlobBytes },
      });
    }
    this.quota.take(bytes.length);
    this.writer.write(bytes);
    this.hash.update(bytes);
    this.#received += bytes.length;
  }

  /** Digest of the whole upload including this chunk. */
  digest(algorithm: DigestAlgorithm): string {
    return this.session.digestWith(algorithm, this.hash);
  }

  commit(): void {
    if (this.#done) return;
    this.#done = true;
    this.end(true, this.hash);
  }

  abort(): void {
    if (this.#done) return;
    this.#done = true;
    // A session closed by this chunk's completion has handed its bytes over already.
    if (!this.session.closed) {
      this.writer.truncate(this.writer.size - this.#received);
      this.quota.give(this.#received);
    }
    this.end(false, this.hash);
  }
}
