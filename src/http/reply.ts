import type { ServerResponse } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { responseGone } from './connection.js';

export type Headers = Record<string, string | number | string[]>;

/**
 * `Docker-Content-Digest: <digest>` (spec: SHOULD on pulls, with the
 * canonical digest), unless the omitDigestHeader quirk leaves it out.
 */
export function digestHeader(digest: string, omit: boolean): Record<string, string> {
  return omit ? {} : { 'Docker-Content-Digest': digest };
}

/**
 * Writes the status line and headers, with `length` as Content-Length over
 * any the caller's headers hold (a fault rule's, say). The headers are set
 * one by one, as writeHead does itself once any header is set (the API
 * version always is), so no merged copy is made per response.
 */
function writeHead(res: ServerResponse, status: number, headers: Headers, length: number | undefined): void {
  for (const name in headers) res.setHeader(name, headers[name]!);
  if (length !== undefined) res.setHeader('Content-Length', length);
  res.writeHead(status);
}

/** Answers with no body: `Content-Length: 0`, except on 204, which must not carry one (RFC 9110 §8.6). */
export function sendEmpty(res: ServerResponse, status: number, headers: Headers = {}): void {
  writeHead(res, status, headers, status === 204 ? undefined : 0);
  res.end();
}

/** Answers with a JSON body (none on HEAD, but the same headers). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Headers = {}, head = false): void {
  sendBytes(res, status, Buffer.from(JSON.stringify(body)), { 'Content-Type': 'application/json', ...headers }, head);
}

/** Answers with bytes held in memory. */
export function sendBytes(res: ServerResponse, status: number, bytes: Buffer, headers: Headers, head = false): void {
  writeHead(res, status, headers, bytes.length);
  if (head) res.end();
  else res.end(bytes);
}

/** Resolves when the response can take more bytes, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  // Gone already: its 'close' has been emitted and will not come again.
  if (responseGone(res)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Streams bytes [start, end) of a blob's segments, waiting for `drain`
 * whenever the socket buffer is full (backpressure): a slow reader costs
 * nothing but its own socket. Segments are immutable, so no lock is held.
 */
export async function sendSegments(
  res: ServerResponse,
  status: number,
  segments: readonly Buffer[],
  start: number,
  end: number,
  headers: Headers,
  head = false,
): Promise<void> {
  writeHead(res, status, headers, end - start);
  if (head || end === start) {
    res.end();
    return;
  }
  let offset = 0;
  for (const segment of segments) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, segment.length);
    offset += segment.length;
    if (to <= from) {
      if (offset >= end) break;
      continue;
    }
    if (responseGone(res)) return;
    if (!res.write(from === 0 && to === segment.length ? segment : segment.subarray(from, to))) await drained(res);
    if (offset >= end) break;
  }
  if (!responseGone(res)) res.end();
}

/**
 * Streams bytes as an iterable yields them (a mirror's upstream blob), with
 * backpressure; chunked when `size` is unknown. An error from the iterable
 * after the headers are out propagates, and the pipeline cuts the response.
 */
export async function sendStream(
  res: ServerResponse,
  status: number,
  size: number | undefined,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  headers: Headers,
  head = false,
): Promise<void> {
  writeHead(res, status, headers, size);
  if (head) {
    res.end();
    return;
  }
  for await (const chunk of chunks) {
    if (responseGone(res)) return;
    if (!res.write(chunk)) await drained(res);
  }
  if (!responseGone(res)) res.end();
}

/** The spec's error envelope (spec "Error Codes"); HEAD gets the status and headers only. */
export function sendError(res: ServerResponse, error: RegistryError, head = false): void {
  sendJson(res, error.status, error.toJSON(), error.headers, head);
}
