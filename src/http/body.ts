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
 * bytes came. Rejects when the client goes away mid-body, or with what the
 * sink threw; either way the caller rolls back what the sink received. A
 * sink that throws leaves the request paused, not destroyed, so the error
 * can still be answered (see `drain`).
 */
export function streamBody(req: IncomingMessage, sink: (chunk: Buffer) => void): Promise<number> {
  if (req.readableEnded) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    let total = 0;
    let settled = false;
    // The listeners stay on the request and do nothing once settled:
    // removing four listeners per request showed in manifest PUT profiles.
    // Left on, a late 'error' is still caught, and a 'data' after a sink's
    // throw (drain reads on) is not the sink's any more.
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      received.set(req, total);
      if (error === undefined) resolve(total);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      try {
        sink(chunk);
      } catch (error) {
        req.pause();
        settle(error);
      }
    };
    const onEnd = () => settle();
    const onError = (error: Error) => settle(error);
    // A client gone mid-body: node:http closes the request without an end.
    const onClose = () => {
      if (!settled) settle(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
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

/**
 * Reads and discards the rest of a request body, up to `limit` bytes, before
 * an early answer (an error, an injected fault): a client still writing its
 * upload would otherwise hit a closed socket and never read the status.
 * Resolves true when the body was read to its end, false when it was longer
 * than `limit` or the client went away (the caller then closes the connection).
 */
export function drain(req: IncomingMessage, limit: number): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  if (req.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (whole: boolean) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      resolve(whole);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) {
        req.pause();
        done(false);
      }
    };
    const onEnd = () => done(true);
    const onClose = () => done(req.complete);
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
    // A sink that threw left the request paused: flow again to discard the rest.
    req.resume();
  });
}
