import type { IncomingMessage, ServerResponse } from 'node:http';
import { responseCompleted } from './connection.js';
import type { Route, RouteKind } from './route.js';
import type { ErrorCode } from '../oci/errors.js';
import { bytesRead } from './body.js';

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
  /** OCI error code of an error response. */
  code?: ErrorCode | 'UNKNOWN';
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
}

/** Receives each request's record once its response is over. */
export type RecordListener = (record: RequestRecord, req: IncomingMessage, res: ServerResponse) => void;

/** Collects a {@link RequestRecord} for one request; the pipeline fills in what it learns. */
export class RequestRecorder {
  readonly #at = Date.now();
  readonly #started = performance.now();
  route: Route | undefined;
  code: ErrorCode | 'UNKNOWN' | undefined;
  fault: string | undefined;
  #bytesOut = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    onRecord: RecordListener,
  ) {
    // Count body bytes as they are written, without buffering them.
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') this.#bytesOut += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) this.#bytesOut += chunk.length;
    };
    // node:http2's compatibility end(chunk) writes the chunk through write(): count it once.
    let ending = false;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (!ending) count(chunk);
      return write(chunk, ...rest);
    }) as ServerResponse['write'];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') count(chunk);
      ending = true;
      return end(chunk, ...rest);
    }) as ServerResponse['end'];
    res.once('close', () => onRecord(this.#record(), req, res));
  }

  #record(): RequestRecord {
    const { req, res, route } = this;
    const record: RequestRecord = {
      at: this.#at,
      method: req.method ?? '',
      httpVersion: req.httpVersion,
      path: req.url ?? '',
      // 0 when the client went away before any status was sent.
      status: res.headersSent ? res.statusCode : 0,
      bytesIn: bytesRead(req),
      bytesOut: req.method === 'HEAD' ? 0 : this.#bytesOut,
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
    if (this.fault) record.fault = this.fault;
    return record;
  }
}
