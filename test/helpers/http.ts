// Test-side HTTP client: node:http with nothing added behind our back, so a
// test controls every header (Content-Length, Content-Range …) it sends.
//
// OCI_TEST_TRANSPORT=h2 (`npm run test:h2`) runs the same tests over HTTP/2:
// startFor starts registries with { tls: true, http2: true } and send speaks
// h2 to them, trusting their generated CA. Files that need HTTP/1.1 itself are
// listed, with why, in test/h2-excluded.ts.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startRegistry, type RegistryOptions, type RunningRegistry } from '../../src/index.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header lines as received (names and values alternating), to see repeated headers. */
  rawHeaders: string[];
  body: Buffer;
  /** The body parsed as JSON (undefined when empty or not JSON). */
  json: any;
}

export interface SendOptions {
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
}

/** Reads a whole response into a Reply (body bytes, and the body as JSON when it is JSON). */
export function collectReply(res: IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => resolve(replyOf(res.statusCode ?? 0, res.headers, res.rawHeaders, Buffer.concat(chunks))));
  });
}

function replyOf(status: number, headers: IncomingHttpHeaders, rawHeaders: string[], body: Buffer): Reply {
  let json: any;
  try {
    json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return { status, headers, rawHeaders, body, json };
}

/**
 * Sends one request to `base` (a registry url) and collects the whole reply.
 * A `path` starting with `/` goes out as written (`a/../b`, `%2e` are not
 * normalized), so tests can send paths a URL parser would rewrite.
 */
export function send(base: string, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, base);
  // Only bytes outside printable ASCII are escaped, as a URL parser would; dot segments and %-escapes stay.
  const target = path.startsWith('/') ? path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c)) : `${url.pathname}${url.search}`;
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
    headers['Content-Length'] = body.length;
  }
  if (url.protocol === 'https:' && TRANSPORT === 'h2') return sendHttp2(url, target, method, headers, body);
  return new Promise((resolve, reject) => {
    const req =
      url.protocol === 'https:'
        ? httpsRequest(url, { method, path: target, headers, agent: false, ca: trusted }, (res) => collectReply(res).then(resolve, reject))
        : httpRequest(url, { method, path: target, headers, agent: false }, (res) => collectReply(res).then(resolve, reject));
    req.on('error', reject);
    req.end(body);
  });
}

/** `h1` (default) or `h2`: how startFor's registries are served and send talks to them. */
export const TRANSPORT = process.env.OCI_TEST_TRANSPORT === 'h2' ? 'h2' : 'h1';

/** The CAs of the registries startFor started over TLS. */
const trusted: string[] = [];
/** Ports of the registries startFor put on TLS for the h2 run. */
const tlsPorts = new Set<number>();

/** Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); in h2 their job is done by framing. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/** One request on its own HTTP/2 session (as agent: false is for HTTP/1.1), collected into a Reply. */
function sendHttp2(url: URL, target: string, method: string, given: OutgoingHttpHeaders, body: Buffer | undefined): Promise<Reply> {
  const headers: OutgoingHttpHeaders = { [h2.HTTP2_HEADER_METHOD]: method, [h2.HTTP2_HEADER_PATH]: target };
  for (const [name, value] of Object.entries(given)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (lower === 'host') headers[h2.HTTP2_HEADER_AUTHORITY] = value;
    else headers[lower] = value;
  }
  return new Promise((resolve, reject) => {
    const session = http2Connect(url.origin, { ca: trusted });
    session.on('error', reject);
    const stream = session.request(headers);
    stream.on('error', (error) => {
      session.destroy();
      reject(error);
    });
    stream.on('response', (raw) => {
      const status = Number(raw[h2.HTTP2_HEADER_STATUS]);
      const headers: IncomingHttpHeaders = {};
      const rawHeaders: string[] = [];
      for (const [name, value] of Object.entries(raw)) {
        if (name.startsWith(':') || value === undefined) continue;
        headers[name] = value as string;
        for (const one of Array.isArray(value) ? value : [value]) rawHeaders.push(name, String(one));
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        session.close();
        resolve(replyOf(status, headers, rawHeaders, Buffer.concat(chunks)));
      });
    });
    stream.end(body);
  });
}

/**
 * A fresh connection for raw HTTP/1.1 bytes: TCP, or for a registry startFor
 * put on TLS the same bytes inside TLS (ALPN http/1.1: raw HTTP/1.1 on the h2 server).
 */
export function rawSocket(port: number, host = '127.0.0.1'): Socket {
  return tlsPorts.has(port) ? tlsConnect({ port, host, ca: trusted, ALPNProtocols: ['http/1.1'] }) : connect(port, host);
}

/** Writes raw bytes on a fresh TCP connection (TLS for a registry startFor started over TLS) and returns everything the server sent until it closed. */
export function sendRaw(port: number, bytes: string | Buffer, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = rawSocket(port, host);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    // TLS has no half-close node:http honours: the server ends the connection itself (keep-alive timeout, or Connection: close).
    if (tlsPorts.has(port)) socket.write(bytes);
    else socket.end(bytes);
  });
}

export { sha256, sha512 } from './digest.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Starts a registry for one tap test and closes it in that test's teardown. */
export async function startFor(t: Teardown, options: RegistryOptions = {}): Promise<RunningRegistry> {
  // Over h2 unless the test chose its own TLS setting.
  const transport = TRANSPORT === 'h2' && options.tls === undefined ? { tls: true, http2: true } : {};
  const registry = await startRegistry({ ...transport, ...options });
  if (registry.tls?.ca) trusted.push(registry.tls.ca);
  if (transport.tls) tlsPorts.add(registry.port);
  t.teardown(() => registry.close());
  return registry;
}
