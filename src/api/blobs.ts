import { RegistryError, blobUnknown } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { digestHeader, sendEmpty, sendSegments, sendStream } from '../http/reply.js';
import type { UpstreamOutcome } from '../upstream/outcome.js';
import type { RequestContext } from '../http/context.js';
import type { StoredBlob } from '../store/store.js';
import { checkDeletes } from './deletes.js';

type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * A single `Range: bytes=…` (RFC 9110 §14.2): `a-b`, `a-` or the suffix `-n`.
 * A header we cannot use — malformed, another unit, several ranges — is
 * ignored and the whole blob is sent, as RFC 9110 allows.
 */
function parseRange(header: string | undefined, size: number): ByteRange {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(first);
  const end = last === '' ? size : Math.min(Number(last) + 1, size);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function blobHeaders(blob: Pick<StoredBlob, 'digest'>, omitDigest: boolean): Record<string, string> {
  return {
    'Content-Type': 'application/octet-stream',
    ...digestHeader(blob.digest, omitDigest),
    'Accept-Ranges': 'bytes',
    ETag: `"${blob.digest}"`,
    // Content-addressed bytes never change.
    'Cache-Control': 'max-age=31536000',
  };
}

/**
 * Answers with a blob's bytes, honouring Range (spec "Pulling blobs",
 * "Resumable Pull"). Used by blob GET/HEAD and by the signed redirect URL.
 */
export async function serveBlob({ req, res, head, options }: RequestContext, blob: StoredBlob): Promise<void> {
  const headers = blobHeaders(blob, options.omitDigestHeader);
  const range = parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('SIZE_INVALID', `range not satisfiable: the blob has ${blob.size} bytes`, {
      status: 416,
      detail: { size: blob.size, range: req.headers.range },
      headers: { 'Content-Range': `bytes */${blob.size}` },
    });
  }
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end - 1}/${blob.size}`;
    await sendSegments(res, 206, blob.segments, range.start, range.end, headers, head);
    return;
  }
  await sendSegments(res, 200, blob.segments, 0, blob.size, headers, head);
}

/** end-2 `GET`/`HEAD /v2/<name>/blobs/<digest>`; with `blobRedirect`, a 307 to a signed URL instead. */
export async function get(ctx: RequestContext): Promise<void> {
  const { route, store, options, controls, authority, res } = ctx;
  const { digest } = parseDigest(route.reference!);
  const mirror = controls.upstreams?.route(route);
  // The read lock covers only this lookup; the segments are immutable, so
  // streaming them needs no lock and a concurrent delete cannot tear them.
  const blob = await store.blob(route.name!, digest);
  if (mirror && blob) ctx.notes.upstream = { upstream: 'hit' };
  if (!blob && mirror) {
    // A mirror's miss: the upstream's bytes stream through as they arrive
    // (whole, Range ignored as RFC 9110 §14.2 allows), cached once verified.
    const outcome: UpstreamOutcome = { upstream: 'miss' };
    ctx.notes.upstream = outcome;
    const upstream = await mirror.blob(route.name!, digest, ctx.head, outcome);
    if (!upstream) throw blobUnknown(digest);
    await sendStream(res, 200, upstream.size, upstream.chunks, blobHeaders(upstream, options.omitDigestHeader), ctx.head);
    return;
  }
  if (!blob) throw blobUnknown(digest);
  if (controls.redirects) {
    sendEmpty(res, 307, { Location: controls.redirects.location(authority, route.name!, digest), ...digestHeader(digest, options.omitDigestHeader) });
    return;
  }
  await serveBlob(ctx, blob);
}

/** end-10 `DELETE /v2/<name>/blobs/<digest>`: unlinks the blob from this repository (spec "Deleting Blobs"). */
export async function remove({ res, route, store, options }: RequestContext): Promise<void> {
  checkDeletes(options, 'blob');
  const { digest } = parseDigest(route.reference!);
  if (!(await store.deleteBlob(route.name!, digest))) throw blobUnknown(digest);
  sendEmpty(res, 202, digestHeader(digest, options.omitDigestHeader));
}
