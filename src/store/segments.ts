/**
 * Bytes of one blob, kept as the list of segments they arrived in (DESIGN.md
 * "Blob bytes"): never one big concatenation at the end, which would hold the
 * blob twice at the worst moment. A large chunk that owns its whole buffer
 * (node:http hands body chunks over so) is kept as it is, without a copy;
 * small chunks, and slices of larger buffers, are copied into segments this
 * writer owns, so a client writing tiny pieces cannot pin Node's socket read
 * buffers or make millions of small objects.
 */

const FIRST_SEGMENT = 64 * 1024;
const MAX_SEGMENT = 8 * 1024 * 1024;
/**
 * Chunks at least this large are kept rather than copied (when they own
 * their buffer): node:http's plain reads (up to 64 KiB) are kept, while
 * TLS records (16 KiB, each in a buffer of its own) are copied into large
 * segments. Keeping those made 16,384 allocations per 256 MiB, each lent to
 * the hashing thread and collected apart; copying them took 8-18 % off
 * the server's CPU per GB of an HTTPS/1.1 push (three alternating runs).
 */
export const KEEP_CHUNK = 32 * 1024;

/** The first `length` bytes of `segment` in an allocation of exactly that size (never Node's shared pool). */
function exactCopy(segment: Buffer, length: number): Buffer {
  const exact = Buffer.allocUnsafeSlow(length);
  segment.copy(exact, 0, 0, length);
  return exact;
}

export class SegmentWriter {
  #segments: Buffer[] = [];
  /**
   * The length of each segment, kept apart from the segment itself: a kept
   * chunk lent to the hashing thread (its ArrayBuffer transferred, the Buffer
   * left detached at length 0) still counts for its bytes until it is back.
   */
  #lengths: number[] = [];
  /**
   * Segments lent out (see lend): index -> the ticket of that lend. A return
   * is matched by its ticket, not its index: after a truncate a new segment
   * can be lent at an index whose old segment is still on its way back, and
   * that old one must not take the new one's place.
   */
  #lent = new Map<number, number>();
  #tickets = 0;
  /** Bytes used in the last segment; every earlier segment is full. */
  #fill = 0;
  #size = 0;
  /** Capacity of the last segment this writer allocated (segments double up to MAX_SEGMENT). */
  #capacity = 0;
  /**
   * Bytes the current request said are coming (Content-Length). It only
   * caps the next segment, so the last one fits exactly; it never enlarges
   * one, so a client that declares much and sends little reserves nothing.
   */
  #expected = 0;

  get size(): number {
    return this.#size;
  }

  /** Bytes of memory the segments take, used or not: what a client's declared length could make it set aside. */
  get reservedBytes(): number {
    let total = 0;
    for (const length of this.#lengths) total += length;
    return total;
  }

  /** Says how many bytes the request being read will add, so that segments fit them without waste. */
  expect(bytes: number): void {
    this.#expected = bytes;
  }

  write(chunk: Uint8Array): void {
    if (chunk.length >= KEEP_CHUNK && chunk.length <= MAX_SEGMENT && chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) {
      this.#seal();
      this.#push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, 0, chunk.length));
      this.#fill = chunk.length;
      this.#size += chunk.length;
      this.#expected = Math.max(0, this.#expected - chunk.length);
      return;
    }
    let offset = 0;
    while (offset < chunk.length) {
      const at = this.#segments.length - 1;
      let last = this.#segments[at];
      // A segment is lent only when full (see UploadHash): one partly filled is always here to write into.
      if (last && this.#lent.has(at) && this.#fill < this.#lengths[at]!) throw new Error(`segment ${at} is lent out and cannot be written`);
      if (!last || this.#fill === this.#lengths[at]) {
        this.#capacity = this.#nextCapacity(chunk.length - offset);
        last = Buffer.allocUnsafeSlow(this.#capacity);
        this.#push(last);
        this.#fill = 0;
      }
      const n = Math.min(last.length - this.#fill, chunk.length - offset);
      last.set(chunk.subarray(offset, offset + n), this.#fill);
      this.#fill += n;
      offset += n;
      this.#size += n;
      this.#expected = Math.max(0, this.#expected - n);
    }
  }

  #push(segment: Buffer): void {
    this.#segments.push(segment);
    this.#lengths.push(segment.length);
  }

  /**
   * Hands the full segment at `index` over to be transferred to another
   * thread (its ArrayBuffer is detached by the transfer). Until it comes back
   * through restore, with the ticket given here, its bytes count but cannot
   * be read. A segment kept as it arrived owns its whole ArrayBuffer; so
   * does one this writer allocated.
   */
  lend(index: number): { buffer: ArrayBuffer; ticket: number } {
    const ticket = ++this.#tickets;
    this.#lent.set(index, ticket);
    return { buffer: this.#segments[index]!.buffer as ArrayBuffer, ticket };
  }

  /** Takes a lent segment back, unless a truncate dropped it meanwhile (its ticket is no longer the lend at `index`). */
  restore(index: number, ticket: number, buffer: ArrayBuffer): void {
    if (this.#lent.get(index) !== ticket) return;
    this.#lent.delete(index);
    this.#segments[index] = Buffer.from(buffer);
  }

  /** Number of segments; every one but the last is full. */
  get count(): number {
    return this.#segments.length;
  }

  /** Bytes written into segment `index` (the last one may be partly filled). */
  filled(index: number): number {
    return index === this.#segments.length - 1 ? this.#fill : this.#lengths[index]!;
  }

  /** Whether segment `index` can take no more bytes. */
  full(index: number): boolean {
    return index < this.#segments.length - 1 || this.#fill === this.#lengths[index];
  }

  /** Bytes `from` to `to` of a segment that is here, as a view. */
  bytesOf(index: number, from: number, to: number): Buffer {
    return this.#segments[index]!.subarray(from, to);
  }

  /**
   * Ends the partly filled last segment before a kept chunk follows it,
   * copying it to its exact size, so no segment holds memory beyond its
   * bytes (it happens about once a request: the first body chunk shares
   * its read with the headers).
   */
  #seal(): void {
    const at = this.#segments.length - 1;
    const last = this.#segments[at];
    if (last && this.#fill < this.#lengths[at]!) {
      this.#segments[at] = exactCopy(last, this.#fill);
      this.#lengths[at] = this.#fill;
    }
  }

  #nextCapacity(pending: number): number {
    const grown = this.#capacity > 0 ? Math.min(this.#capacity * 2, MAX_SEGMENT) : FIRST_SEGMENT;
    const capacity = Math.max(grown, Math.min(pending, MAX_SEGMENT));
    return this.#expected > 0 ? Math.min(capacity, Math.max(this.#expected, pending)) : capacity;
  }

  /** Cuts the bytes back to `size` (rolls back a chunk that failed half-way). */
  truncate(size: number): void {
    if (size > this.#size) throw new RangeError(`cannot truncate ${this.#size} bytes to ${size}`);
    // Drop every segment that starts at or after `size`; the new last one ends the blob.
    let start = this.#size - this.#fill;
    while (this.#segments.length > 0 && start >= size) {
      this.#segments.pop();
      this.#lengths.pop();
      this.#lent.delete(this.#segments.length);
      start -= this.#lengths[this.#lengths.length - 1] ?? 0;
    }
    this.#fill = this.#segments.length > 0 ? size - start : 0;
    this.#size = size;
  }

  /** The bytes written so far, as views (the last one trimmed to what was written). */
  view(): Buffer[] {
    this.#assertHome();
    const last = this.#segments.length - 1;
    return this.#segments.map((segment, i) => (i === last ? segment.subarray(0, this.#fill) : segment));
  }

  /**
   * The finished segments. A partly filled last segment is copied to its exact
   * size so a small blob does not keep a large, mostly empty allocation.
   */
  finish(): Buffer[] {
    this.#assertHome();
    const segments = this.#segments;
    const last = segments[segments.length - 1];
    if (last && this.#fill < last.length) segments[segments.length - 1] = exactCopy(last, this.#fill);
    this.#segments = [];
    this.#lengths = [];
    this.#fill = 0;
    this.#size = 0;
    return segments.filter((s) => s.length > 0);
  }

  #assertHome(): void {
    if (this.#lent.size > 0) throw new Error(`${this.#lent.size} segment(s) are still lent out to be hashed`);
  }
}
