import { RegistryError, digestInvalid } from '../oci/errors.js';
import { hashOnce, isDigestAlgorithm, parseDigest, type DigestAlgorithm, type ParsedDigest } from '../oci/digest.js';
import { declaredLength, streamBody } from '../http/body.js';
import { digestHeader, sendEmpty } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import type { UploadSession } from '../store/store.js';
import { checkPushTarget } from './repositories.js';
import type { UploadChunk } from '../store/upload.js';
import type { ResolvedOptions } from '../options.js';
import { mount } from './mount.js';

const uploadLocation = (name: string, id: string): string => `/v2/${name}/blobs/uploads/${id}`;

/**
 * Option `uploadState`: an opaque `_state` query parameter on every upload
 * Location (distribution does the same), so a client that builds the next
 * URL itself instead of taking it from Location (spec "Pushing a blob in
 * chunks": `<location>` is "the URL obtained from the preceding" request) can
 * be told apart. It changes with the offset and is never checked.
 */
function uploadState(session: UploadSession): string {
  return hashOnce('sha256', `${session.name}\0${session.id}\0${session.size}`, 'base64url').slice(0, 22);
}
const blobLocation = (name: string, digest: string): string => `/v2/${name}/blobs/${digest}`;

/**
 * Headers of a session's progress (spec end-5, end-13): `Location`,
 * `Range: 0-<end-of-range>` (`0-0` before any byte, as distribution answers)
 * and `Docker-Upload-UUID`.
 */
function progress(session: UploadSession, options: Pick<ResolvedOptions, 'uploadState'>): Record<string, string> {
  const size = session.size;
  const location = uploadLocation(session.name, session.id) + (options.uploadState ? `?_state=${uploadState(session)}` : '');
  return { Location: location, Range: `0-${size > 0 ? size - 1 : 0}`, 'Docker-Upload-UUID': session.id };
}

/** A refused chunk: 416 with the session's progress, so the client can resume from the right offset. */
function refusedChunk(session: UploadSession, options: ResolvedOptions, error: RegistryError): RegistryError {
  return new RegistryError(error.code, error.message, { status: 416, detail: error.detail, headers: progress(session, options) });
}

function created(ctx: RequestContext, digest: string): void {
  sendEmpty(ctx.res, 201, { Location: blobLocation(ctx.route.name!, digest), ...digestHeader(digest, ctx.options.omitDigestHeader) });
}

/** 416 for a chunk the `chunkMinBytes` / `chunkMaxBytes` quirks refuse; the session is unchanged. */
function chunkRefused(session: UploadSession, options: ResolvedOptions, why: string): RegistryError {
  return refusedChunk(session, options, new RegistryError('BLOB_UPLOAD_INVALID', why));
}

/** end-4c `?digest-algorithm=`: which hash the session computes as bytes arrive. */
function algorithmOf(query: URLSearchParams): DigestAlgorithm {
  const value = query.get('digest-algorithm');
  if (value === null) return 'sha256';
  if (!isDigestAlgorithm(value)) throw digestInvalid(`unsupported digest-algorithm ${JSON.stringify(value)}: use sha256 or sha512`);
  return value;
}

/** spec "Pushing a blob in chunks": Content-Range MUST match `^[0-9]+-[0-9]+$`, inclusive on both ends. */
function contentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^([0-9]+)-([0-9]+)$/.exec(header);
  const start = Number(match?.[1]);
  const end = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(start) || !Number.isSafeInteger(end)) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `malformed Content-Range ${JSON.stringify(header.slice(0, 80))}: expected <first>-<last>, e.g. 0-1023`);
  }
  return { start, end };
}

/**
 * Reads one request body into the session as a chunk. With a Content-Range
 * the chunk must start where the upload ends (else 416), and its length must
 * agree with Content-Length (else 416) and with the bytes that came (else
 * 400 `SIZE_INVALID`). Any failure rolls the chunk back whole.
 */
async function receive({ req, options }: RequestContext, session: UploadSession, patch = false): Promise<UploadChunk> {
  const range = contentRange(req.headers['content-range']);
  const declared = declaredLength(req);
  let expected = declared;
  const max = patch ? options.chunkMaxBytes : undefined;
  const min = patch ? options.chunkMinBytes : undefined;
  // Quirk chunkMinBytes: a chunk smaller than OCI-Chunk-Min-Length is proven
  // non-final (spec: "except for the final chunk") when another PATCH follows it.
  if (min !== undefined && session.lastChunkSize !== undefined && session.lastChunkSize < min) {
    throw chunkRefused(session, options, `the previous chunk had ${session.lastChunkSize} bytes, less than OCI-Chunk-Min-Length ${min}, and was not the last`);
  }
  if (range) {
    expected = range.end - range.start + 1;
    if (range.end < range.start || (declared !== undefined && declared !== expected)) {
      throw refusedChunk(session, options, new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range ${range.start}-${range.end} does not match Content-Length ${declared ?? '(none)'}`, {
        detail: { contentRange: req.headers['content-range'], contentLength: declared },
      }));
    }
  }
  if (max !== undefined && expected !== undefined && expected > max) {
    throw chunkRefused(session, options, `the chunk has ${expected} bytes, more than this registry's limit of ${max} per request`);
  }
  let chunk: UploadChunk;
  try {
    chunk = session.chunk(range?.start, expected);
  } catch (error) {
    throw error instanceof RegistryError && error.code === 'BLOB_UPLOAD_INVALID' ? refusedChunk(session, options, error) : error;
  }
  try {
    const received = await streamBody(req, (bytes) => {
      if (max !== undefined && chunk.received + bytes.length > max) {
        // A session cancelled meanwhile is gone (404), not refused a chunk (416).
        session.checkOpen();
        throw chunkRefused(session, options, `the chunk is larger than this registry's limit of ${max} bytes per request`);
      }
      chunk.write(bytes);
    });
    if (expected !== undefined && received !== expected) {
      throw new RegistryError('SIZE_INVALID', `received ${received} bytes, but the request declared ${expected}`, {
        detail: { received, declared: expected },
      });
    }
    // Cancelled (DELETE, reset) after the last byte came: the chunk is not taken.
    session.checkOpen();
  } catch (error) {
    chunk.abort();
    throw error;
  }
  return chunk;
}

/** Verifies the whole upload against the digest the client named, then stores and links it. */
async function complete(ctx: RequestContext, session: UploadSession, chunk: UploadChunk, expected: ParsedDigest): Promise<void> {
  try {
    const actual = await chunk.digest(expected.algorithm);
    if (actual !== expected.digest) {
      throw digestInvalid(`the uploaded content has digest ${actual}, not ${expected.digest}`, { expected: expected.digest, actual });
    }
    await ctx.store.completeUpload(session, expected.digest);
  } catch (error) {
    chunk.abort();
    throw error;
  }
  chunk.commit();
  created(ctx, expected.digest);
}

/** The session a PATCH, PUT, GET or DELETE addresses (the pipeline sends only POST to the collection URL). */
function sessionOf({ route, store }: RequestContext): Promise<UploadSession> {
  return store.upload(route.name!, route.reference!);
}

function requiredDigest(query: URLSearchParams): ParsedDigest {
  const digest = query.get('digest');
  if (digest === null) throw digestInvalid('the digest query parameter is required to complete an upload');
  return parseDigest(digest);
}

/**
 * end-4a/4b/4c/11 `POST /v2/<name>/blobs/uploads/`: opens a session (202),
 * takes a whole blob with `?digest=` (201), or mounts one with `?mount=` (201,
 * or, for any reason it cannot, 202 and a session: see ./mount.ts).
 */
export async function start(ctx: RequestContext): Promise<void> {
  const { route, store, options, req } = ctx;
  const name = route.name!;
  await checkPushTarget(ctx, name);
  const asksMount = route.query.has('mount');
  if (asksMount) {
    const blob = await mount(ctx);
    if (blob) return created(ctx, blob.digest);
  }
  // A declined mount opens a plain session: its `?digest=` (if any) is no single POST.
  const digestParam = asksMount ? null : route.query.get('digest');
  if (digestParam !== null && !options.singlePostUpload) {
    // Quirk singlePostUpload: false — spec end-4b: a registry without single
    // POST support answers 202 and a session; the client then PUTs the blob.
    await streamBody(req, () => undefined);
    return opened(ctx, await store.startUpload(name, parseDigest(digestParam).algorithm));
  }
  if (digestParam !== null) {
    // end-4b: single POST. The session is internal; on any failure it is dropped.
    const expected = parseDigest(digestParam);
    const session = await store.startUpload(name, expected.algorithm);
    try {
      await complete(ctx, session, await receive(ctx, session), expected);
    } catch (error) {
      await store.cancelUpload(name, session.id).catch(() => undefined);
      throw error;
    }
    return;
  }
  const algorithm = algorithmOf(route.query);
  // spec: only the chunked flow's POST MUST say `Content-Length: 0`; the
  // POST-then-PUT flow's may carry a body (docker-registry-client 3.4.0 sends
  // the JSON `null`). As distribution does, it is read and ignored: the
  // session starts empty, so a blob sent here without ?digest= is not kept
  // and the PUT that closes the session fails its digest check.
  if (declaredLength(req) !== 0) await streamBody(req, () => undefined);
  return opened(ctx, await store.startUpload(name, algorithm));
}

/** 202 for a new session, with `OCI-Chunk-Min-Length` when the registry has a minimum chunk size. */
function opened(ctx: RequestContext, session: UploadSession): void {
  const headers = progress(session, ctx.options);
  if (ctx.options.chunkMinBytes !== undefined) headers['OCI-Chunk-Min-Length'] = String(ctx.options.chunkMinBytes);
  sendEmpty(ctx.res, 202, headers);
}

/** end-5 `PATCH <location>`: appends a chunk (with Content-Range) or a stream (without). */
export async function patch(ctx: RequestContext): Promise<void> {
  const session = await sessionOf(ctx);
  const chunk = await receive(ctx, session, true);
  const size = chunk.received;
  chunk.commit();
  session.lastChunkSize = size;
  // Quirk uploadPatchStatus: some registries answer 204 instead of the spec's 202.
  sendEmpty(ctx.res, ctx.options.uploadPatchStatus, progress(session, ctx.options));
}

/** end-6 `PUT <location>?digest=`: the optional last chunk, then verify and store. */
export async function finish(ctx: RequestContext): Promise<void> {
  const session = await sessionOf(ctx);
  const expected = requiredDigest(ctx.route.query);
  await complete(ctx, session, await receive(ctx, session), expected);
}

/** end-13 `GET <location>`: 204 with the current `Range` (spec: "get the current status after a 416 error"). */
export async function status(ctx: RequestContext): Promise<void> {
  const session = await sessionOf(ctx);
  sendEmpty(ctx.res, 204, progress(session, ctx.options));
}

/** `DELETE <location>`: cancels the session and frees its bytes. */
export async function cancel(ctx: RequestContext): Promise<void> {
  await ctx.store.cancelUpload(ctx.route.name!, ctx.route.reference!);
  sendEmpty(ctx.res, 204);
}
