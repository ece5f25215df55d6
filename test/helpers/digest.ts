// Digests as the spec writes them (`algorithm:hex`, "Content Digests"),
// computed with node:crypto, never with the registry's own code.
import { createHash } from 'node:crypto';

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export function sha512(bytes: Buffer | string): string {
  return `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
}
