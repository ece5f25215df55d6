import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../oci/errors.js';

/** The declared Content-Length, or undefined for a chunked body or none. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  if (value === undefined) return undefined;
  // node:http has already refused a malformed or repeated Content-Length.
  return Number(value);
}

const received = new WeakMap<IncomingMessage, number>();

/** Body bytes read from a request so far (for the request record). */
export function bytesRead(req: IncomingMessage): number {
  return received.get(req) ?? 0;
}

/**
 * Streams the request body into `sink` as it arrives and returns how many
 * bytes came. Rejects when the client goes away mid-body; the caller rolls
 * back whatever the sink received.
 */
export async function streamBody(req: IncomingMessage, sink: (chunk: Buffer) => void): Promise<number> {
  let total = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      sink(chunk);
    }
  } finally {
    received.set(req, total);
  }
  return total;
}

/**
 * Reads a small body whole (manifests), refusing it once it passes `limit`
 * bytes: the error is built by `tooLarge` so each caller names its own limit.
 */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  await streamBody(req, (chunk) => {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  });
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
