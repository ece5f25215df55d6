import type { IncomingMessage, ServerResponse } from 'node:http';
import { responseCompleted } from './connection.js';
import type { Route, RouteKind } from './route.js';
import type { ErrorCode } from '../oci/errors.js';
import { bytesRead } from './body.js';
import type { UpstreamOutcome } from '../upstream/outcome.js';

/** What one request did, recorded once its response ended (or its socket closed first). */
export interface RequestRecord {
  /** When the request arrived (ms since the epoch). */
  at: number;
  method: string;
  /** The HTTP version the request came over: `'1.1'`, `'2.0'` (HTTP/2) or `'1.0'`. */
  httpVersion: string;
  /** Path and query as requested. */
  path: string;
  /** The route the request addressed; undefined when its URL matched none. */
  route?: RouteKind;
  name?: string;
  /** Tag, digest or upload id from the URL. */
  reference?: string;
  status: number;
  /** OCI error code of an error response (or a mimicked registry's own, see `answers`). */
  code?: ErrorCode | 'UNKNOWN' | (string & {});
  /** The message of that error (so a check can tell why a request was refused). */
  message?: string;
  /** Request body bytes read. */
  bytesIn: number;
  /** Response bytes written (headers excluded). */
  bytesOut: number;
  durationMs: number;
  /** False when the connection closed before the response was complete. */
  completed: boolean;
  /** Id of the fault rule applied to this request. */
  fault?: string;
  /** The digest the request named (URL, `?digest=`, `?mount=`) or the response returned (Docker-Content-Digest). */
  digest?: string;
  /** A cross-repository mount (`POST …/blobs/uploads/?mount=`): what was asked, and whether it was honoured. */
  mount?: MountRecord;
  /** A mirror's read (README "As a mirror"): `hit` served locally, `miss` read from the upstream, `error` the upstream failed. */
  upstream?: 'hit' | 'miss' | 'error';
  /** The upstream's status for this request, when it was asked. */
  upstreamStatus?: number;
  /** Milliseconds until the upstream's answer headers, when it was asked. */
  upstreamMs?: number;
}

/**
 * Why a mount was declined and answered with an upload session (202), as the
 * spec's "Mounting a blob from another repository" has it for a registry
 * "unable to mount the requested blob".
 */
export type MountDeclineReason =
  /** Option `mount: false`. */
  | 'mount-off'
  /** `?mount=` is not a digest. */
  | 'digest-invalid'
  /** `?from=` is not a repository name (e.g. `repo:tag`). */
  | 'from-invalid'
  /** No `?from=`, and `mountWithoutFrom: false`. */
  | 'from-missing'
  /** `from` names no repository. */
  | 'from-unknown'
  /** The caller may not pull from `from` (its rights, or its token's scopes). */
  | 'from-not-readable'
  /** The blob is not in `from` (without `from`: in no repository the caller may pull). */
  | 'blob-unknown';

/** The journal's account of one mount request. */
export interface MountRecord {
  /** `?mount=` as sent. */
  digest: string;
  /** `?from=` as sent; absent when the request had none. */
  from?: string;
  result: 'mounted' | 'declined';
  /** Why it was declined (only with `result: 'declined'`). */
  reason?: MountDeclineReason;
}

/** What a handler learned about its request that the record should carry. */
export interface RequestNotes {
  mount?: MountRecord;
  /** What a mirror's upstream did (README "As a mirror"). */
  upstream?: UpstreamOutcome;
}

/** Receives each request's record once its response is over. */
export type RecordListener = (record: RequestRecord, req: IncomingMessage, res: ServerResponse) => void;

type Write = (this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) => unknown;

/** The recorder of a response whose write and end count its body bytes. */
const RECORDER = Symbol('oci-test-registry.recorder');
type Recorded = ServerResponse & { [RECORDER]: RequestRecorder };

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  return chunk instanceof Uint8Array ? chunk.length : 0;
}

// Shared by every recorded response (each finds its recorder through
// RECORDER): recording a request makes no closures and no bound functions.
function countingWrite(this: Recorded, chunk?: unknown, encoding?: unknown, callback?: unknown): unknown {
  const recorder = this[RECORDER];
  if (!recorder.ending) recorder.bytesOut += byteLength(chunk);
  return recorder.write.call(this, chunk, encoding, callback);
}

function countingEnd(this: Recorded, chunk?: unknown, encoding?: unknown, callback?: unknown): unknown {
  const recorder = this[RECORDER];
  if (typeof chunk !== 'function') recorder.bytesOut += byteLength(chunk);
  // node:http2's compatibility end(chunk) writes the chunk through write(): count it once.
  recorder.ending = true;
  return recorder.end.call(this, chunk, encoding, callback);
}

function recordOnClose(this: Recorded): void {
  const recorder = this[RECORDER];
  recorder.onRecord(recorder.record(), recorder.req, this);
}

/** Collects a {@link RequestRecord} for one request; the pipeline fills in what it learns. */
export class RequestRecorder {
  readonly #at = Date.now();
  readonly #started = performance.now();
  route: Route | undefined;
  code: ErrorCode | 'UNKNOWN' | (string & {}) | undefined;
  message: string | undefined;
  fault: string | undefined;
  /** Filled in by the handler (RequestContext.notes). */
  readonly notes: RequestNotes = {};
  /** @internal Body bytes written so far. */
  bytesOut = 0;
  /** @internal Set once end() is called. */
  ending = false;
  /** @internal The response's own write and end. */
  readonly write: Write;
  readonly end: Write;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** @internal */ readonly onRecord: RecordListener,
  ) {
    // Count body bytes as they are written, without buffering them.
    this.write = res.write as Write;
    this.end = res.end as Write;
    (res as Recorded)[RECORDER] = this;
    res.write = countingWrite as ServerResponse['write'];
    res.end = countingEnd as ServerResponse['end'];
    res.on('close', recordOnClose);
  }

  /** @internal The record, once the response is over. */
  record(): RequestRecord {
    const { req, res, route } = this;
    const record: RequestRecord = {
      at: this.#at,
      method: req.method ?? '',
      httpVersion: req.httpVersion,
      path: req.url ?? '',
      // 0 when the client went away before any status was sent.
      status: res.headersSent ? res.statusCode : 0,
      bytesIn: bytesRead(req),
      bytesOut: req.method === 'HEAD' ? 0 : this.bytesOut,
      durationMs: Math.round((performance.now() - this.#started) * 1000) / 1000,
      completed: responseCompleted(res),
    };
    if (route) {
      record.route = route.kind;
      if (route.name !== undefined) record.name = route.name;
      if (route.reference !== undefined) record.reference = route.reference;
    }
    const digest = res.getHeader('docker-content-digest') ?? (route?.reference?.includes(':') ? route.reference : undefined) ?? route?.query.get('digest') ?? route?.query.get('mount') ?? undefined;
    if (typeof digest === 'string') record.digest = digest;
    if (this.code && res.headersSent) record.code = this.code;
    if (this.message && res.headersSent) record.message = this.message;
    if (this.fault) record.fault = this.fault;
    if (this.notes.mount) record.mount = { ...this.notes.mount };
    if (this.notes.upstream) Object.assign(record, this.notes.upstream);
    return record;
  }
}
