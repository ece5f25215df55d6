// SegmentWriter (src/store/segments.ts), the byte store under every upload
// (DESIGN.md "Blob bytes"): random writes and truncates checked against a
// Buffer.concat reference, with a seeded PRNG so a failure replays exactly.
import t from 'tap';
import { KEEP_CHUNK, SegmentWriter } from '../src/store/segments.js';
import { mulberry32 } from './helpers/bytes.js';

/** The `t` a subtest callback receives (tap does not export the plugin-extended type by name). */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const KiB = 1024;
const MiB = 1024 * KiB;

class Random {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.#next() / 2 ** 32) * n);
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.#next() & 0xff;
    return out;
  }
  /** Sizes skewed towards the interesting: empty, tiny, around segment sizes, large. */
  size(): number {
    switch (this.below(8)) {
      case 0:
        return 0;
      case 1:
        return 1 + this.below(8);
      case 2:
        return 64 * KiB - 2 + this.below(5);
      case 3:
        return 1 + this.below(4 * KiB);
      case 4:
        return 1 + this.below(200 * KiB);
      case 5:
        return 128 * KiB + this.below(3) - 1;
      default:
        return 1 + this.below(1 * MiB);
    }
  }
}

const concat = (segments: readonly Buffer[]): Buffer => Buffer.concat(segments as Buffer[]);

/** What every segment list must be: no empty segment, and no segment holding more memory than its bytes. */
function checkFinished(t: Test, segments: Buffer[], expected: Buffer, label: string): void {
  t.equal(segments.reduce((n, s) => n + s.length, 0), expected.length, `${label}: finish() sizes add up`);
  t.ok(concat(segments).equals(expected), `${label}: finish() gives exactly the bytes written`);
  t.ok(segments.every((s) => s.length > 0), `${label}: no empty segment`);
  const last = segments[segments.length - 1];
  if (last) {
    t.equal(last.byteOffset, 0, `${label}: last segment owns its memory from the start`);
    t.equal(last.buffer.byteLength, last.length, `${label}: last segment trimmed to its bytes (${last.length} of ${last.buffer.byteLength})`);
  }
  const loose = segments.filter((s) => s.buffer.byteLength !== s.length);
  t.equal(loose.length, 0, `${label}: no segment keeps unused capacity`);
}

t.test('random writes and truncates match a Buffer.concat reference', async (t) => {
  // What the runs went through, so a change of sizes cannot quietly make the test trivial.
  let mostSegments = 0;
  let truncatesDroppingSegments = 0;
  let truncatesInsideASegment = 0;
  for (const seed of [1, 2, 3, 42, 0xdecaf, 20240601]) {
    const random = new Random(seed);
    const writer = new SegmentWriter();
    let reference = Buffer.alloc(0);
    let mismatches = 0;
    const steps = 120;
    for (let step = 0; step < steps; step++) {
      const op = random.below(10);
      if (op < 6) {
        // write, sometimes announced with expect() like a Content-Length, sometimes in pieces
        const size = random.size();
        const bytes = random.bytes(size);
        if (random.below(2) === 0) writer.expect(size + (random.below(4) === 0 ? random.below(1000) : 0));
        let offset = 0;
        while (offset < size) {
          const piece = random.below(3) === 0 ? size - offset : 1 + random.below(Math.min(size - offset, 70 * KiB));
          writer.write(bytes.subarray(offset, offset + piece));
          offset += piece;
        }
        reference = Buffer.concat([reference, bytes]);
      } else if (op < 9) {
        // roll back: within the last write, to a segment edge, to zero, or not at all
        const choice = random.below(4);
        const size = choice === 0 ? 0 : choice === 1 ? reference.length : reference.length - random.below(Math.min(reference.length, 300 * KiB) + 1);
        const before = writer.view().length;
        writer.truncate(size);
        reference = reference.subarray(0, size);
        const after = writer.view().length;
        if (after < before) truncatesDroppingSegments++;
        else if (size < reference.length || choice > 1) truncatesInsideASegment++;
      } else {
        // an empty write changes nothing
        writer.write(new Uint8Array(0));
      }
      if (writer.size !== reference.length || !concat(writer.view()).equals(reference)) mismatches++;
      mostSegments = Math.max(mostSegments, writer.view().length);
    }
    t.equal(mismatches, 0, `seed ${seed}: size and view() match the reference after each of ${steps} steps`);
    t.equal(writer.size, reference.length, `seed ${seed}: size`);
    const view = writer.view();
    t.ok(view.every((s) => s.length > 0) || reference.length === 0, `seed ${seed}: view() has no empty segment`);
    checkFinished(t, writer.finish(), reference, `seed ${seed}`);
    t.equal(writer.size, 0, `seed ${seed}: finish() leaves the writer empty`);
    t.same(writer.view(), [], `seed ${seed}: no segments after finish()`);
  }
  t.ok(mostSegments >= 5, `the runs reached ${mostSegments} segments`);
  t.ok(truncatesDroppingSegments >= 10, `${truncatesDroppingSegments} truncates dropped whole segments`);
  t.ok(truncatesInsideASegment >= 10, `${truncatesInsideASegment} truncates cut inside a segment`);
});

t.test('truncate at and around segment seams', async (t) => {
  const random = new Random(7);
  const pieces = [64 * KiB, 128 * KiB, 256 * KiB, 1000];
  const data = random.bytes(pieces.reduce((a, b) => a + b, 0));
  const seams = pieces.slice(0, -1).map((_, i) => pieces.slice(0, i + 1).reduce((a, b) => a + b, 0));
  const cuts = [0, 1, data.length - 1, data.length, ...seams.flatMap((s) => [s - 1, s, s + 1])];
  for (const cut of cuts) {
    const writer = new SegmentWriter();
    let offset = 0;
    for (const piece of pieces) {
      writer.write(data.subarray(offset, offset + piece));
      offset += piece;
    }
    writer.truncate(cut);
    t.equal(writer.size, cut, `cut ${cut}: size`);
    t.ok(concat(writer.view()).equals(data.subarray(0, cut)), `cut ${cut}: view`);
    // Writing after a cut overwrites what was cut, and nothing else.
    const tail = random.bytes(3000);
    writer.write(tail);
    const expected = Buffer.concat([data.subarray(0, cut), tail]);
    t.ok(concat(writer.view()).equals(expected), `cut ${cut}: write after the cut`);
    checkFinished(t, writer.finish(), expected, `cut ${cut}`);
  }
});

t.test('truncate never grows, and a failed truncate changes nothing', async (t) => {
  const writer = new SegmentWriter();
  writer.write(Buffer.from('hello'));
  t.throws(() => writer.truncate(6), RangeError, 'truncate past the end throws RangeError');
  t.equal(writer.size, 5);
  t.equal(concat(writer.view()).toString(), 'hello');
  writer.truncate(5);
  t.equal(concat(writer.view()).toString(), 'hello', 'truncate to the size is a no-op');
  writer.truncate(0);
  t.equal(writer.size, 0);
  t.same(writer.view(), []);
  t.same(writer.finish(), [], 'finish() of an empty writer gives no segments');
  const fresh = new SegmentWriter();
  t.equal(fresh.size, 0);
  t.same(fresh.finish(), []);
});

t.test('bytes are copied in: changing the caller\'s buffer afterwards changes nothing', async (t) => {
  const writer = new SegmentWriter();
  const input = Buffer.from('original bytes');
  writer.write(input);
  input.fill(0x21);
  t.equal(concat(writer.view()).toString(), 'original bytes', 'view');
  const segments = writer.finish();
  t.equal(concat(segments).toString(), 'original bytes', 'finish');
  t.notOk(segments.some((s) => s.buffer === input.buffer), 'no segment shares memory with the input');
});

t.test('a chunk that owns its buffer is kept from KEEP_CHUNK (a plain read) up; a 16 KiB TLS record is copied', async (t) => {
  t.equal(KEEP_CHUNK, 32 * KiB);
  const own = (length: number, fill: number) => Buffer.from(new Uint8Array(length).fill(fill).buffer);
  const writer = new SegmentWriter();
  const records = [own(16 * KiB, 1), own(16 * KiB, 2), own(16 * KiB, 3)];
  for (const record of records) writer.write(record);
  t.equal(writer.count, 1, 'three 16 KiB records share one segment');
  t.notOk(writer.view().some((s) => records.some((r) => r.buffer === s.buffer)), 'none of them is kept as it came');
  const read = own(64 * KiB, 4);
  writer.write(read);
  t.equal(writer.count, 2, 'a 64 KiB read follows as a segment of its own');
  t.equal(writer.view()[1]!.buffer, read.buffer, 'kept without a copy');
  const slice = own(128 * KiB, 5).subarray(0, 64 * KiB);
  writer.write(slice);
  t.notOk(writer.view().some((s) => s.buffer === slice.buffer), 'a slice of a larger buffer is copied, however large');
  checkFinished(t, writer.finish(), Buffer.concat([...records.map((r) => Buffer.from(r)), Buffer.alloc(64 * KiB, 4), Buffer.alloc(64 * KiB, 5)]), 'records, a read, a slice');
});

t.test('finish() gives exact bytes and trims the last segment', async (t) => {
  // [what, pieces written, expect() before writing (or none)]
  const rows: [string, number[], number | undefined][] = [
    ['one tiny write', [3], undefined],
    ['exactly one default segment', [64 * KiB], undefined],
    ['one byte past a segment', [64 * KiB + 1], undefined],
    ['many small writes', Array.from({ length: 500 }, () => 137), undefined],
    ['expected length, one write', [300_000], 300_000],
    ['expected length, many writes', Array.from({ length: 30 }, () => 10_000), 300_000],
    ['more expected than written', [1000], 5000],
    ['less expected than written', [5000], 1000],
    ['past the largest segment', [9 * MiB + 5], undefined],
  ];
  const random = new Random(99);
  for (const [what, pieces, expected] of rows) {
    const writer = new SegmentWriter();
    if (expected !== undefined) writer.expect(expected);
    const written: Buffer[] = [];
    for (const length of pieces) {
      const bytes = random.bytes(length);
      written.push(bytes);
      writer.write(bytes);
    }
    checkFinished(t, writer.finish(), Buffer.concat(written), what);
  }
});

t.test('segments: tiny writes coalesce; an announced length caps, never enlarges, a segment; none exceeds 8 MiB', async (t) => {
  const tiny = new SegmentWriter();
  const one = Buffer.from([0x5a]);
  for (let i = 0; i < 200_000; i++) tiny.write(one);
  const tinySegments = tiny.view();
  t.ok(tinySegments.length <= 3, `200000 one-byte writes make ${tinySegments.length} segments, not thousands`);
  t.equal(tiny.size, 200_000);

  const exact = new SegmentWriter();
  exact.expect(1_234_567);
  const random = new Random(5);
  const bytes = random.bytes(1_234_567);
  for (let offset = 0; offset < bytes.length; offset += 16 * KiB) exact.write(bytes.subarray(offset, offset + 16 * KiB));
  const exactSegments = exact.finish();
  t.equal(exactSegments.reduce((n, s) => n + s.buffer.byteLength, 0), 1_234_567, 'the announced length sizes the last segment: no waste');
  t.ok(concat(exactSegments).equals(bytes));

  // A client that announces a gigabyte and sends one byte reserves one small segment, not 8 MiB.
  const liar = new SegmentWriter();
  liar.expect(1024 * MiB);
  liar.write(one);
  t.equal(liar.view()[0]?.buffer.byteLength, 64 * KiB, 'an announced length does not enlarge the first segment');
  t.equal(liar.reservedBytes, 64 * KiB, 'reservedBytes counts that one segment, used or not');

  const large = new SegmentWriter();
  const big = random.bytes(20 * MiB + 3);
  large.expect(big.length);
  large.write(big);
  const largeSegments = large.finish();
  t.ok(largeSegments.every((s) => s.length <= 8 * MiB), `largest segment ${Math.max(...largeSegments.map((s) => s.length))} bytes`);
  t.ok(largeSegments.length >= 3, `${largeSegments.length} segments for 20 MiB`);
  t.ok(concat(largeSegments).equals(big), '20 MiB round trip');
});
