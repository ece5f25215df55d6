/**
 * Bytes of one blob, kept as the list of segments they arrived in (DESIGN.md
 * "Blob bytes"): never one big concatenation at the end, which would hold the
 * blob twice at the worst moment. Incoming chunks are copied into segments
 * this writer owns, so a client writing tiny pieces cannot pin Node's 64 KiB
 * socket read buffers or make millions of small objects.
 */

const FIRST_SEGMENT = 64 * 1024;
const MAX_SEGMENT = 8 * 1024 * 1024;

export class SegmentWriter {
  #segments: Buffer[] = [];
  /** Bytes used in the last segment; every earlier segment is full. */
  #fill = 0;
  #size = 0;
  /**
   * Bytes the current request said are coming (Content-Length). It only
   * caps the next segment, so the last one fits exactly; it never enlarges
   * one, so a client that declares much and sends little reserves nothing.
   */
  #expected = 0;

  get size(): number {
    return this.#size;
  }

  /** Says how many bytes the request being read will add, so that segments fit them without waste. */
  expect(bytes: number): void {
    this.#expected = bytes;
  }

  write(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      let last = this.#segments[this.#segments.length - 1];
      if (!last || this.#fill === last.length) {
        last = Buffer.allocUnsafeSlow(this.#nextCapacity(chunk.length - offset));
        this.#segments.push(last);
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

  #nextCapacity(pending: number): number {
    const last = this.#segments[this.#segments.length - 1];
    const grown = last ? Math.min(last.length * 2, MAX_SEGMENT) : FIRST_SEGMENT;
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
      start -= this.#segments[this.#segments.length - 1]?.length ?? 0;
    }
    this.#fill = this.#segments.length > 0 ? size - start : 0;
    this.#size = size;
  }

  /** The bytes written so far, as views (the last one trimmed to what was written). */
  view(): Buffer[] {
    const last = this.#segments.length - 1;
    return this.#segments.map((segment, i) => (i === last ? segment.subarray(0, this.#fill) : segment));
  }

  /**
   * The finished segments. A partly filled last segment is copied to its exact
   * size so a small blob does not keep a large, mostly empty allocation.
   */
  finish(): Buffer[] {
    const segments = this.#segments;
    const last = segments[segments.length - 1];
    if (last && this.#fill < last.length) {
      const exact = Buffer.allocUnsafeSlow(this.#fill);
      last.copy(exact, 0, 0, this.#fill);
      segments[segments.length - 1] = exact;
    }
    this.#segments = [];
    this.#fill = 0;
    this.#size = 0;
    return segments.filter((s) => s.length > 0);
  }
}
