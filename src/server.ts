import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { ResolvedOptions } from './options.js';
import type { ServerCredentials } from './tls/credentials.js';
import { requireBuiltin } from './builtins.js';

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

/** How to serve: plain HTTP/1.1, HTTPS, or HTTPS offering h2 and http/1.1 by ALPN. */
export interface Transport {
  credentials: ServerCredentials;
  http2: boolean;
}

/**
 * node:http2's limits, set here rather than left to defaults, so a client
 * cannot make one session cost unbounded memory or CPU. Streams past
 * maxConcurrentStreams are refused (RST_STREAM REFUSED_STREAM), and a session
 * that keeps opening them (maxSessionRejectedStreams), sends invalid frames,
 * or floods PING / SETTINGS without reading the acknowledgements (nghttp2
 * counts unsent acks) is closed with GOAWAY.
 */
export const HTTP2_LIMITS = {
  maxSessionMemory: 32, // MiB of queued frames per session (node's default is 10)
  maxOutstandingPings: 10,
  maxSettings: 32,
  maxSessionRejectedStreams: 100,
  maxSessionInvalidFrames: 1000,
  maxHeaderListPairs: 128,
  // Time a connection may take to pick a protocol (ALPN) before it is closed.
  unknownProtocolTimeout: 10_000,
  // initialWindowSize: see HTTP2_CONNECTION_WINDOW.
  settings: { maxConcurrentStreams: 256, maxHeaderListSize: 64 * 1024, enablePush: false, initialWindowSize: 1 << 20 },
} as const;

/**
 * Flow-control windows for what clients send (RFC 9113 §6.9): 1 MiB per
 * stream (SETTINGS_INITIAL_WINDOW_SIZE above) and 4 MiB for the connection
 * (a WINDOW_UPDATE on stream 0 when the session opens), so four uploads on
 * one connection each have a full stream window. The protocol's default,
 * 65,535 bytes for each, made a client pushing a blob stop every 64 KiB to
 * wait for a WINDOW_UPDATE: h2 pushes of 256 MiB went from ~220 to 350-420
 * MB/s with these in alternating runs (Go's net/http server allows 1 MiB
 * for each). Memory stays bounded: a stream holds at most its window of
 * body bytes nobody has read yet, and uploads are read as they arrive.
 */
export const HTTP2_CONNECTION_WINDOW = 4 << 20;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The server for a transport; node:https and node:http2 (with node:tls, ~13 ms) load only when TLS is on. */
function createFor(transport: Transport | undefined, connectionsCheckingInterval: number, onRequest: Handler): Server {
  // A missing Host is answered by the pipeline with an OCI error, not by node:http's bare 400.
  const common = { connectionsCheckingInterval, requireHostHeader: false };
  if (!transport) return createServer(common, onRequest);
  if (!transport.http2) {
    const https = requireBuiltin('node:https') as typeof import('node:https');
    return https.createServer({ ...common, ...transport.credentials }, onRequest) as unknown as Server;
  }
  const http2 = requireBuiltin('node:http2') as typeof import('node:http2');
  const server = http2.createSecureServer({ ...transport.credentials, ...HTTP2_LIMITS, allowHTTP1: true }, onRequest as unknown as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  return server as unknown as Server;
}

/** Listens with `handler` on `options.host:options.port`; resolves once the port accepts connections. */
export async function listen(handler: Handler, options: ResolvedOptions, transport?: Transport): Promise<Listening> {
  const inflight = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const sessions = new Set<ServerHttp2Session>();
  let closing = false;
  let idle: (() => void) | undefined;

  // node:http checks header and request timeouts every connectionsCheckingInterval
  // (30 s by default): check often enough that the configured timeouts hold.
  const shortest = Math.min(options.headersTimeoutMs, options.requestTimeoutMs || Infinity);
  const connectionsCheckingInterval = Math.max(100, Math.min(30_000, Math.floor(shortest / 4)));
  // One listener for every response (a response closes once), not a closure per request.
  function onResponseClose(this: ServerResponse): void {
    inflight.delete(this);
    if (inflight.size === 0) idle?.();
  }
  const server = createFor(transport, connectionsCheckingInterval, (req, res) => {
    // Once closing, answer what arrives but do not keep its connection.
    if (closing) res.shouldKeepAlive = false;
    inflight.add(res);
    res.on('close', onResponseClose);
    handler(req, res);
  });
  // node:http enforces requestTimeout only when headersTimeout is not longer (it clamps so itself when both go to createServer).
  server.headersTimeout = options.requestTimeoutMs > 0 ? Math.min(options.headersTimeoutMs, options.requestTimeoutMs) : options.headersTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  // An idle connection (nothing sent or received) is closed; a stalled upload chunk rolls back.
  // On the HTTP/2 server this is the session's idle timeout (node destroys a session that times out).
  server.timeout = options.idleTimeoutMs;
  server.on('clientError', onClientError);
  // Every connection, whatever its protocol, so close() can end them all.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    // A session error (a flood, a protocol error) closes that session only.
    session.on('error', () => undefined);
    session.setLocalWindowSize(HTTP2_CONNECTION_WINDOW);
  });
  // A failed handshake (plain HTTP, a refused client certificate) concerns that connection only.
  server.on('tlsClientError', () => undefined);

  let closed: Promise<void> | undefined;
  const close = (graceMs: number): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      server.close(() => resolve());
      server.closeIdleConnections?.();
      // GOAWAY: no new streams; the ones in flight finish (RFC 9113 §6.8).
      for (const session of sessions) session.close();
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
        server.closeAllConnections?.();
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
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
