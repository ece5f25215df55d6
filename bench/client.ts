// The benchmark's HTTP client: node:http with a keep-alive Agent per target,
// and the registry protocol steps the workloads are made of (uploads,
// manifest PUT, Link-following). Every request has an idle timeout, and every
// URL a server hands back (Location, Link) must stay on the target's own
// loopback host: the benchmark never sends a byte anywhere else.
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { MANIFEST_TYPE } from './image.mjs';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SendOptions {
  headers?: OutgoingHttpHeaders;
  /** Written in order; Content-Length is their total unless given. */
  body?: Buffer | readonly Buffer[];
  /** Receives the response body as it arrives instead of collecting it. */
  sink?: (chunk: Buffer) => void;
  /** Idle time (no byte either way) after which the request fails. */
  idleTimeoutMs?: number;
}

/** 127.0.0.0/8, localhost, ::1: the only hosts this benchmark talks to. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** How an https:// endpoint is reached: the CA to trust, and HTTP/2 (one session) or HTTPS/1.1 (a keep-alive Agent). */
export interface EndpointTls {
  ca: string;
  http2: boolean;
}

/**
 * How long a keep-alive connection must have been idle before a request on
 * it that the server cut off unanswered is sent again (see sendHttp1):
 * servers close idle connections after seconds (node:http and our registry
 * after 5), so a cut on a connection busy a moment before is the server's
 * doing, and fails the workload.
 */
const RESEND_AFTER_IDLE_MS = 1000;

/** When each connection last finished a response (for RESEND_AFTER_IDLE_MS). */
const lastAnswered = new WeakMap<Socket, number>();

export class Endpoint {
  readonly agent: Agent;
  /** Requests sent again after a server's idle close cut them off. */
  resent = 0;
  readonly base: URL;
  private readonly hostname: string;
  private readonly port: number;
  private session: ClientHttp2Session | undefined;

  constructor(url: string, maxSockets = 32, private readonly tls?: EndpointTls, private readonly resendAfterIdleMs = RESEND_AFTER_IDLE_MS) {
    this.base = new URL(url);
    if (this.base.protocol !== (tls ? 'https:' : 'http:')) throw new Error(`${url}: only ${tls ? 'https' : 'http'}:// on loopback is benchmarked here`);
    if (!isLoopbackHost(this.base.hostname)) throw new Error(`${url}: not a loopback address (127.0.0.0/8, localhost, [::1]); the benchmark talks to nothing else`);
    this.hostname = this.base.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(this.base.port || 80);
    this.agent = tls ? new HttpsAgent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: tls.ca }) : new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** One request as an HTTP/2 stream on the endpoint's session. */
  private sendHttp2(method: string, path: string, headers: OutgoingHttpHeaders, pieces: readonly Buffer[], options: SendOptions): Promise<Reply> {
    if (!this.session || this.session.destroyed || this.session.closed) {
      this.session = http2Connect(this.base.origin, { ca: this.tls!.ca });
      this.session.on('error', () => undefined);
    }
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    return new Promise((resolve, reject) => {
      const stream = this.session!.request({ ':method': method, ':path': path, ...lower });
      let status = 0;
      let got: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => {
        status = Number(h[':status']);
        got = h as IncomingHttpHeaders;
      });
      stream.on('data', (chunk: Buffer) => (options.sink ? options.sink(chunk) : chunks.push(chunk)));
      stream.on('end', () => resolve({ status, headers: got, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
      stream.on('error', reject);
      stream.setTimeout(options.idleTimeoutMs ?? 60_000, () => stream.destroy(new Error(`${method} ${path}: no progress for ${options.idleTimeoutMs ?? 60_000} ms`)));
      for (let i = 0; i < pieces.length - 1; i++) stream.write(pieces[i]!);
      stream.end(pieces[pieces.length - 1]);
    });
  }

  /** A Location or Link target as a path on this endpoint; refuses any other host. */
  local(location: string): string {
    const url = new URL(location, this.base);
    if (url.host !== this.base.host) throw new Error(`the server pointed at ${url.host}, not ${this.base.host}: not followed`);
    return url.pathname + url.search;
  }

  send(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    const pieces = options.body === undefined ? [] : Buffer.isBuffer(options.body) ? [options.body] : options.body;
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (headers['content-length'] === undefined && headers['Content-Length'] === undefined && (options.body !== undefined || method === 'PUT' || method === 'POST' || method === 'PATCH')) {
      headers['Content-Length'] = pieces.reduce((sum, piece) => sum + piece.length, 0);
    }
    if (this.tls?.http2) return this.sendHttp2(method, path, headers, pieces, options);
    return this.sendHttp1(method, path, headers, pieces, options, true);
  }

  /**
   * One request on the keep-alive Agent. A server closes a keep-alive
   * connection left idle past its timeout (5 s for node:http and for our
   * registry); when that close crosses a request sent on the connection (the
   * client was busy, hashing a blob between rounds, and had not yet read the
   * close), the request fails with no response at all. A request cut off so,
   * on a connection idle for at least `resendAfterIdleMs`, is sent once more
   * on a new connection, as node's docs for `reusedSocket` advise and as
   * Go's client does; any other cut fails the request.
   */
  private sendHttp1(method: string, path: string, headers: OutgoingHttpHeaders, pieces: readonly Buffer[], options: SendOptions, retry: boolean): Promise<Reply> {
    const send = this.tls ? httpsRequest : request;
    return new Promise((resolve, reject) => {
      let answered = false;
      let idleMs = 0;
      let connection: Socket | undefined;
      const req = send({ hostname: this.hostname, port: this.port, path, method, headers, agent: this.agent }, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => (options.sink ? options.sink(chunk) : chunks.push(chunk)));
        res.on('end', () => {
          // By now the Agent may have taken the socket back (res.socket is null): the one the request went out on.
          if (connection) lastAnswered.set(connection, performance.now());
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      req.once('socket', (socket: Socket) => {
        connection = socket;
        const last = lastAnswered.get(socket);
        if (last !== undefined) idleMs = performance.now() - last;
      });
      req.setTimeout(options.idleTimeoutMs ?? 60_000, () => req.destroy(new Error(`${method} ${path}: no progress for ${options.idleTimeoutMs ?? 60_000} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        const closedIdle = retry && req.reusedSocket && !answered && idleMs >= this.resendAfterIdleMs && (error.code === 'ECONNRESET' || error.code === 'EPIPE');
        if (!closedIdle) return reject(error);
        this.resent++;
        resolve(this.sendHttp1(method, path, headers, pieces, options, false));
      });
      for (let i = 0; i < pieces.length - 1; i++) req.write(pieces[i]!);
      req.end(pieces[pieces.length - 1]);
    });
  }

  close(): void {
    this.agent.destroy();
    this.session?.destroy();
  }
}

export function expect(reply: Reply, what: string, ...statuses: number[]): Reply {
  if (!statuses.includes(reply.status)) {
    throw new Error(`${what}: HTTP ${reply.status} (expected ${statuses.join(' or ')}): ${reply.body.toString('utf8', 0, 300)}`);
  }
  return reply;
}

function location(endpoint: Endpoint, reply: Reply, what: string): string {
  const value = reply.headers.location;
  if (!value) throw new Error(`${what}: no Location header`);
  return endpoint.local(value);
}

function withDigest(path: string, digest: string): string {
  return `${path}${path.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** The bytes [start, end) of a blob given as pieces, as subarrays (no copy). */
export function slicePieces(pieces: readonly Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, piece.length);
    if (to > from) out.push(piece.subarray(from, to));
    offset += piece.length;
    if (offset >= end) break;
  }
  return out;
}

const OCTETS = { 'Content-Type': 'application/octet-stream' };

/** spec "Pushing a blob monolithically": POST (empty) → 202 Location, then PUT Location?digest= with the whole blob → 201. */
export async function pushMonolithic(endpoint: Endpoint, repo: string, pieces: readonly Buffer[], digest: string): Promise<void> {
  const opened = expect(await endpoint.send('POST', `/v2/${repo}/blobs/uploads/`), 'POST upload', 202);
  const at = location(endpoint, opened, 'POST upload');
  expect(await endpoint.send('PUT', withDigest(at, digest), { headers: OCTETS, body: pieces }), 'PUT blob', 201);
}

/** spec "Pushing a blob in chunks": POST → PATCH each chunk with Content-Range → PUT ?digest= (empty) → 201. */
export async function pushChunked(endpoint: Endpoint, repo: string, pieces: readonly Buffer[], size: number, digest: string, chunkSize: number): Promise<number> {
  const opened = expect(await endpoint.send('POST', `/v2/${repo}/blobs/uploads/`), 'POST upload', 202);
  let at = location(endpoint, opened, 'POST upload');
  let patches = 0;
  for (let start = 0; start < size; start += chunkSize) {
    const end = Math.min(size, start + chunkSize);
    const reply = expect(
      await endpoint.send('PATCH', at, { headers: { ...OCTETS, 'Content-Range': `${start}-${end - 1}` }, body: slicePieces(pieces, start, end) }),
      `PATCH ${start}-${end - 1}`,
      202,
      204,
    );
    at = location(endpoint, reply, 'PATCH');
    patches++;
  }
  expect(await endpoint.send('PUT', withDigest(at, digest), { headers: { 'Content-Length': 0 } }), 'PUT upload', 201);
  return patches;
}

export async function putManifest(endpoint: Endpoint, repo: string, reference: string, bytes: Buffer): Promise<void> {
  expect(await endpoint.send('PUT', `/v2/${repo}/manifests/${reference}`, { headers: { 'Content-Type': MANIFEST_TYPE }, body: bytes }), `PUT manifest ${reference}`, 201);
}

/** config + layer (monolithic each) + manifest by tag: 5 requests, as a client pushing a fresh image sends them. */
export async function pushImage(endpoint: Endpoint, repo: string, tag: string, image: { config: Buffer; layer: Buffer; manifest: Buffer; configDigest: string; layerDigest: string }): Promise<void> {
  await pushMonolithic(endpoint, repo, [image.config], image.configDigest);
  await pushMonolithic(endpoint, repo, [image.layer], image.layerDigest);
  await putManifest(endpoint, repo, tag, image.manifest);
}

/** The `rel="next"` target of a Link header, if any (RFC 8288). */
export function nextLink(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const value of Array.isArray(header) ? header : [header]) {
    const match = /<([^>]*)>\s*;\s*rel="?next"?/.exec(value);
    if (match) return match[1];
  }
  return undefined;
}
