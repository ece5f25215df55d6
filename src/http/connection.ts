/**
 * The few things that differ between an HTTP/1.1 connection and an HTTP/2
 * stream, in one place, so the pipeline and every handler work on either
 * without knowing which (node:http2's compatibility API gives the same
 * req/res shape). HTTP/2 forbids connection-specific headers (RFC 9113
 * §8.2.2), and one stream must fail without taking its session's other
 * streams down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

/** NGHTTP2_NO_ERROR (RFC 9113 §7): a reset that reports no failure. */
const NO_ERROR = 0;
/** NGHTTP2_INTERNAL_ERROR (RFC 9113 §7): the stream failed on the server's side. */
const INTERNAL_ERROR = 2;

function stream(res: ServerResponse): Http2ServerResponse['stream'] | undefined {
  return (res as unknown as Partial<Http2ServerResponse>).stream;
}

/** True when the request came over HTTP/2. */
export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/** The authority the client addressed: Host (HTTP/1.1) or :authority (HTTP/2, RFC 9113 §8.3.1). */
export function requestAuthority(req: IncomingMessage): string | undefined {
  return req.headers.host ?? (req.headers[':authority'] as string | undefined);
}

/**
 * The request's header fields as HTTP/1.1 would show them: on HTTP/2 the
 * pseudo-headers go (method and path are recorded on their own) and
 * :authority is shown as Host, so a journal entry reads the same either way.
 */
export function requestFields(req: IncomingMessage): IncomingMessage['headers'] {
  if (!isHttp2(req)) return req.headers;
  const fields: IncomingMessage['headers'] = {};
  const authority = requestAuthority(req);
  if (authority !== undefined) fields.host = authority;
  for (const [name, value] of Object.entries(req.headers)) if (!name.startsWith(':')) fields[name] = value;
  return fields;
}

/**
 * The connection must not carry another request after this answer (its
 * request body was left unread). On HTTP/2 only this stream is concerned:
 * once the answer is out, RST_STREAM NO_ERROR tells the client to stop
 * sending the rest (RFC 9113 §8.1). Without it the stream stayed open with
 * its body paused: a client waiting to finish its upload before reading
 * hung, and each such stream held one of the session's concurrent streams
 * and what it had buffered, until the session's idle timeout.
 */
export function closeAfterAnswer(res: ServerResponse): void {
  const h2 = stream(res);
  if (!h2) {
    res.setHeader('Connection', 'close');
    return;
  }
  // 'finish': the answer is handed over in full, so the reset cannot cut it short.
  h2.once('finish', () => {
    h2.close(NO_ERROR);
    // The body's unread rest is dropped, so the request ends and the stream is freed.
    res.req.resume();
  });
}

/**
 * Whether the response can take no more bytes: its HTTP/1.1 socket is
 * destroyed, or its HTTP/2 stream is closed or reset (node's compatibility
 * response has no `destroyed`, so a check of it alone never sees one go).
 */
export function responseGone(res: ServerResponse): boolean {
  if (!isHttp2(res.req)) return res.destroyed;
  const h2 = stream(res);
  return !h2 || h2.destroyed || h2.closed;
}

/** Whether the client went away mid-exchange (on HTTP/2 the request shows a reset as aborted, never as destroyed). */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return (isHttp2(req) ? req.aborted : req.destroyed) || responseGone(res);
}

/** Fails the exchange now: HTTP/1.1 closes the connection, HTTP/2 resets the stream (RST_STREAM). */
export function abortExchange(res: ServerResponse): void {
  const h2 = stream(res);
  cut.add(res);
  if (h2) h2.close(INTERNAL_ERROR);
  else res.socket?.destroy();
}

/** Responses ended early on purpose: an HTTP/2 stream ended short looks finished to node. */
const cut = new WeakSet<ServerResponse>();

/** Whether the whole response went out: false when it was cut short or its stream was reset. */
export function responseCompleted(res: ServerResponse): boolean {
  return res.writableFinished && !cut.has(res) && (stream(res)?.rstCode ?? 0) === 0;
}

/**
 * Ends the response early, after what was written is sent: HTTP/1.1 closes
 * the connection (the body is shorter than Content-Length); HTTP/2 ends the
 * stream (END_STREAM) short of its content-length, or resets it when `reset`.
 */
export function endEarly(res: ServerResponse, reset: boolean): void {
  cut.add(res);
  const h2 = stream(res);
  if (!h2) res.socket?.destroySoon();
  else if (reset) h2.close(INTERNAL_ERROR);
  else h2.end();
}
