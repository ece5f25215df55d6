// Test-side HTTP client: node:http with nothing added behind our back, so a
// test controls every header (Content-Length, Content-Range …) it sends.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
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
    res.on('end', () => {
      const bytes = Buffer.concat(chunks);
      let json: any;
      try {
        json = bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: bytes, json });
    });
  });
}

/** Sends one request to `base` (a registry url) and collects the whole reply. */
export function send(base: string, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, base);
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
    headers['Content-Length'] = body.length;
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => collectReply(res).then(resolve, reject));
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes on a fresh TCP connection and returns everything the server sent until it closed. */
export function sendRaw(port: number, bytes: string | Buffer, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(e)));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.end(bytes);
  });
}

export { sha256, sha512 } from './digest.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Starts a registry for one tap test and closes it in that test's teardown. */
export async function startFor(t: Teardown, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const registry = await startRegistry(options);
  t.teardown(() => registry.close());
  return registry;
}
