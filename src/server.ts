import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ResolvedOptions } from './options.js';

/**
 * Answers a request node:http could not parse (bad framing, a body longer
 * than its Content-Length, oversized headers) with the OCI error envelope
 * instead of Node's bare text, then closes the socket.
 */
function onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // The client is gone (reset, or closed mid-request): nothing to answer.
  // Destroying the socket aborts an in-flight request, which rolls its upload chunk back.
  const inflight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (error.code === 'ECONNRESET' || error.code === 'HPE_INVALID_EOF_STATE' || !socket.writable) {
    if (inflight && !inflight.req.complete) inflight.req.destroy();
    socket.destroy();
    return;
  }
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const message = timedOut ? 'the request took longer than the server allows (requestTimeoutMs / headersTimeoutMs)' : `malformed HTTP request: ${error.code ?? error.message}`;
  const body = JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message }] });
  if (inflight && !inflight.writableFinished) {
    if (inflight.req.complete) {
      // Bytes after a complete request (a body longer than its
      // Content-Length): that request's response goes out first, so the
      // client learns what it did, and the error follows.
      inflight.once('close', () => (inflight.writableFinished ? onClientError(error, socket) : socket.destroy()));
    } else if (!inflight.headersSent) {
      // The request's own body is malformed (bad chunked encoding): answer it
      // with the error, then close, which aborts the handler's read and rolls
      // back what it received.
      inflight.shouldKeepAlive = false;
      inflight.writeHead(timedOut ? 408 : 400, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      inflight.end(body, () => {
        // After a parse error node:http no longer ends the request on close: end it here.
        inflight.req.destroy();
        socket.destroy();
      });
    } else socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : timedOut ? 408 : 400;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Docker-Distribution-API-Version: registry/2.0\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}

export interface Listening {
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), drops keep-alive sockets; resolves when the port is free. */
  close(graceMs: number): Promise<void>;
}

/** Listens with `handler` on `options.host:options.port`; resolves once the port accepts connections. */
export function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, options: ResolvedOptions): Promise<Listening> {
  const inflight = new Set<ServerResponse>();
  let closing = false;
  let idle: (() => void) | undefined;

  // node:http checks header and request timeouts every connectionsCheckingInterval
  // (30 s by default): check often enough that the configured timeouts hold.
  const shortest = Math.min(options.headersTimeoutMs, options.requestTimeoutMs || Infinity);
  const connectionsCheckingInterval = Math.max(100, Math.min(30_000, Math.floor(shortest / 4)));
  // A missing Host is answered by the pipeline with an OCI error, not by node:http's bare 400.
  const server = createServer({ connectionsCheckingInterval, requireHostHeader: false }, (req, res) => {
    // Once closing, answer what arrives but do not keep its connection.
    if (closing) res.shouldKeepAlive = false;
    inflight.add(res);
    res.once('close', () => {
      inflight.delete(res);
      if (inflight.size === 0) idle?.();
    });
    handler(req, res);
  });
  // node:http enforces requestTimeout only when headersTimeout is not longer (it clamps so itself when both go to createServer).
  server.headersTimeout = options.requestTimeoutMs > 0 ? Math.min(options.headersTimeoutMs, options.requestTimeoutMs) : options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  // An idle connection (nothing sent or received) is closed; a stalled upload chunk rolls back.
  server.timeout = options.idleTimeoutMs;
  server.on('clientError', onClientError);

  let closed: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      server.closeIdleConnections();
      for (const res of inflight) if (!res.headersSent) res.shouldKeepAlive = false;
      const drained = new Promise<void>((done) => {
        idle = done;
        if (inflight.size === 0) done();
      });
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((done) => {
        timer = setTimeout(done, graceMs);
        timer.unref();
      });
      void Promise.race([drained, grace]).then(() => {
        clearTimeout(timer);
        server.closeAllConnections();
      });
    });
    return closed;
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      resolve({ port, close });
    });
  });
}
