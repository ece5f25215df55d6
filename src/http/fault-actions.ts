import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { ERROR_CODES, type ErrorCode } from '../oci/errors.js';
import type { FaultAction } from '../control/faults.js';
import type { RouteKind } from './route.js';
import { sendEmpty, sendJson } from './reply.js';
import { drain } from './body.js';
import { abortExchange, closeAfterAnswer, endEarly } from './connection.js';

/** The spec code a 4xx of this status most likely carries on this route, for a fault that names none. */
function codeFor(status: number, route: RouteKind | undefined): ErrorCode | 'UNKNOWN' {
  switch (status) {
    case 400: return route === 'manifest' ? 'MANIFEST_INVALID' : route === 'upload' ? 'BLOB_UPLOAD_INVALID' : 'UNSUPPORTED';
    case 401: return 'UNAUTHORIZED';
    case 403: return 'DENIED';
    case 404: return route === 'manifest' ? 'MANIFEST_UNKNOWN' : route === 'blob' ? 'BLOB_UNKNOWN' : route === 'upload' ? 'BLOB_UPLOAD_UNKNOWN' : 'NAME_UNKNOWN';
    case 405: return 'UNSUPPORTED';
    case 413: return 'SIZE_INVALID';
    case 416: return 'BLOB_UPLOAD_INVALID';
    case 429: return 'TOOMANYREQUESTS';
    default: return 'UNKNOWN';
  }
}

/**
 * Lets the first `limit` body bytes of the response out, then closes the
 * connection (the client sees a response shorter than its Content-Length);
 * everything the handler writes after that is swallowed so it finishes normally.
 */
function cutAfter(res: ServerResponse, limit: (contentLength: number) => number, reset: boolean): void {
  const write = res.write.bind(res) as (chunk: unknown, cb?: () => void) => boolean;
  let allowed: number | undefined;
  let cut = false;
  const close = () => endEarly(res, reset);
  const take = (chunk: unknown, ending: boolean): void => {
    if (cut) return;
    allowed ??= limit(Number(res.getHeader('content-length') ?? 0));
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk instanceof Uint8Array ? chunk : Buffer.alloc(0);
    if (bytes.length < allowed && !ending) {
      allowed -= bytes.length;
      write(bytes);
      return;
    }
    cut = true;
    res.flushHeaders();
    write(bytes.subarray(0, allowed), close);
  };
  res.write = ((chunk: unknown) => {
    take(chunk, false);
    return true;
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown) => {
    take(typeof chunk === 'function' ? undefined : chunk, true);
    return res;
  }) as ServerResponse['end'];
}

/** What a fault did: whether it answered the request itself. */
export interface FaultOutcome {
  answered: boolean;
}

/**
 * Carries out a fault action. `answered` is true when the fault answered (or
 * dropped) the request, false when the request goes on normally (a delay, or
 * a cut applied to the normal answer).
 */
export async function applyFault(action: FaultAction, res: ServerResponse, route: RouteKind | undefined, id: string): Promise<FaultOutcome> {
  if ('delayMs' in action) {
    // The wait ends early when the client goes away, and never keeps the process alive.
    const gone = new AbortController();
    const abort = () => gone.abort();
    res.once('close', abort);
    try {
      await delay(action.delayMs, undefined, { ref: false, signal: gone.signal });
    } finally {
      res.off('close', abort);
    }
    return { answered: false };
  }
  if ('drop' in action) {
    if (action.drop === 'before-response') {
      abortExchange(res);
      return { answered: true };
    }
    cutAfter(res, (length) => Math.floor(length / 2), true);
    return { answered: false };
  }
  if ('truncate' in action) {
    cutAfter(res, () => action.truncate, false);
    return { answered: false };
  }
  // An answering fault lets the client finish sending first, as an error answer does.
  if (!(await drain(res.req, 1024 * 1024))) closeAfterAnswer(res);
  if ('rateLimit' in action) {
    const seconds = Math.ceil(action.rateLimit.retryAfterSeconds);
    sendJson(res, 429, { errors: [{ code: 'TOOMANYREQUESTS', message: `too many requests (injected by ${id}): retry after ${seconds} s` }] }, { 'Retry-After': String(seconds) });
    return { answered: true };
  }
  const code = faultCode(action, route)!;
  // 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6, §15.4.5).
  if (action.status === 204 || action.status === 304) {
    sendEmpty(res, action.status, action.headers ?? {});
    return { answered: true };
  }
  const message = action.message ?? (code === 'UNKNOWN' ? `injected fault ${id}` : `${ERROR_CODES[code].message} (injected fault ${id})`);
  sendJson(res, action.status, { errors: [{ code, message }] }, action.headers ?? {});
  return { answered: true };
}

/** The error code a fault answers with (undefined for actions that do not answer, and for 204/304). */
export function faultCode(action: FaultAction, route: RouteKind | undefined): ErrorCode | 'UNKNOWN' | undefined {
  if ('rateLimit' in action) return 'TOOMANYREQUESTS';
  if (!('status' in action) || action.status === 204 || action.status === 304) return undefined;
  return action.code ?? codeFor(action.status, route);
}
