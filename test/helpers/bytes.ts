// Test content that is the same on every run for one seed, so a failure
// replays exactly, and that differs between seeds, so no two blobs collide.
import { createCipheriv, createHash } from 'node:crypto';

/** mulberry32: a tiny seeded PRNG returning uint32s. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return (r ^ (r >>> 14)) >>> 0;
  };
}

/** `size` bytes from mulberry32(seed). */
export function seededBytes(size: number, seed = 1): Buffer {
  const next = mulberry32(seed);
  const bytes = Buffer.allocUnsafe(size);
  let i = 0;
  for (; i + 4 <= size; i += 4) bytes.writeUInt32LE(next(), i);
  for (; i < size; i++) bytes[i] = next() & 0xff;
  return bytes;
}

/**
 * `size` bytes that look random (so gzip cannot shrink them and a push
 * really moves that many bytes) yet are the same on every run for one seed:
 * an AES-256-CTR keystream keyed by the seed's hash. Fast for megabytes.
 */
export function pseudoRandomBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}
