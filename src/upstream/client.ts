import { request as httpRequest, type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';

/** Where a mirror reads from and how (see README "As a mirror"). */
export interface UpstreamOptions {
  /** Base URL of the upstream registry, e.g. `https://registry-1.docker.io` or `http://127.0.0.1:5000`. */
  url: string;
  /** CA certificate(s) to trust for an https upstream: PEM text or a file path. Default: the system's. */
  ca?: string;
  /** Credentials for the upstream: sent as Basic, or to its token endpoint (bearer flow). */
  username?: string;
  password?: string;
  /** `true` (default): store what is pulled through, so the next read is local; `'pin'`: also serve cached tags without asking the upstream; `false`: store nothing. */
  cache?: boolean | 'pin';
  /** Refuse pushes and deletes with 405 UNSUPPORTED, as distribution's proxy mode does. Default `false`. */
  readOnly?: boolean;
  /** An upstream request that sends or receives nothing for this long fails. Default 30 s. */
  timeoutMs?: number;
  /** Redirects followed per request (blob storage); one more fails. Default 5. */
  maxRedirects?: number;
}

export const UPSTREAM_DEFAULTS = { timeoutMs: 30_000, maxRedirects: 5 } as const;

/** A failure talking to the upstream: unreachable, timed out, a redirect loop, a bad token answer. */
export class UpstreamFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UpstreamFailure';
  }
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body stream; read it or call `body.resume()` so the socket is freed. */
  body: IncomingMessage;
}

/** `ca` as PEM text, or read from the file it names. */
export function readCa(ca: string | undefined): string | undefined {
  if (ca === undefined) return undefined;
  return ca.includes('-----BEGIN') ? ca : readFileSync(ca, 'utf8');
}

/**
 * `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 6750 §3,
 * Docker token authentication): the scheme and its parameters.
 */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const match = /^\s*(\S+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  if (!match) return { scheme: '', params };
  for (const [, key, quoted, bare] of match[2]!.matchAll(/([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[key!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare!;
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

/** A whole (small) body, refused past `limit` bytes; a body cut short is an UpstreamFailure. */
export async function readBounded(body: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new UpstreamFailure(`the upstream's ${what} is larger than the limit of ${limit} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    body.destroy();
    throw error instanceof UpstreamFailure ? error : new UpstreamFailure(`the upstream's ${what} was cut short: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}

/** A token endpoint answer is small; more than this is refused. */
const TOKEN_LIMIT = 1024 * 1024;

/**
 * A small registry client over node:http/https for one upstream: Basic or
 * the bearer token flow (tokens cached per scope until they expire),
 * redirects followed without Authorization (blob storage must not see the
 * registry's credentials), every request bounded by a timeout.
 */
export class UpstreamClient {
  readonly base: URL;
  readonly #ca: string | undefined;
  readonly #options: UpstreamOptions;
  readonly #timeoutMs: number;
  readonly #maxRedirects: number;
  /** Bearer tokens by scope, with when they stop being used. */
  readonly #tokens = new Map<string, { token: string; until: number }>();
  /** Set once the upstream asked for Basic: sent up front from then on. */
  #basic = false;

  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.base = new URL(options.url.replace(/\/+$/, ''));
    this.#ca = readCa(options.ca);
    this.#timeoutMs = options.timeoutMs ?? UPSTREAM_DEFAULTS.timeoutMs;
    this.#maxRedirects = options.maxRedirects ?? UPSTREAM_DEFAULTS.maxRedirects;
  }

  /** `host[:port]` of the upstream, as `?ns=` names it. */
  get host(): string {
    return this.base.host;
  }

  #basicHeader(): string | undefined {
    const { username, password } = this.#options;
    if (username === undefined) return undefined;
    return `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  #authorization(scope: string): string | undefined {
    const cached = this.#tokens.get(scope);
    if (cached && cached.until > Date.now()) return `Bearer ${cached.token}`;
    return this.#basic ? this.#basicHeader() : undefined;
  }

  /**
   * A request to `path` (under /v2/) for `scope` (`repository:NAME:pull`):
   * answers 401 once with a token fetched for the challenge, then follows
   * redirects. Resolves with the final response, its body unread.
   */
  async request(method: 'GET' | 'HEAD', path: string, scope: string, headers: Record<string, string> = {}): Promise<UpstreamResponse> {
    const url = new URL(path, this.base);
    let response = await this.#follow(method, url, { ...headers, ...auth(this.#authorization(scope)) });
    if (response.status !== 401) return response;
    const challenge = parseChallenge(String(response.headers['www-authenticate'] ?? ''));
    response.body.resume();
    if (challenge.scheme === 'basic' && this.#options.username !== undefined && !this.#basic) {
      this.#basic = true;
    } else if (challenge.scheme === 'bearer' && challenge.params.realm) {
      await this.#fetchToken(challenge.params, scope);
    } else {
      return this.#follow(method, url, headers);
    }
    response = await this.#follow(method, url, { ...headers, ...auth(this.#authorization(scope)) });
    return response;
  }

  /** Docker token authentication: GET realm?service=...&scope=..., with Basic credentials when we have them. */
  async #fetchToken(params: Record<string, string>, scope: string): Promise<void> {
    const realm = new URL(params.realm!);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? scope);
    const response = await this.#follow('GET', realm, auth(this.#basicHeader()));
    const text = (await readBounded(response.body, TOKEN_LIMIT, 'token answer')).toString('utf8');
    if (response.status !== 200) throw new UpstreamFailure(`the upstream's token endpoint answered ${response.status}`, response.status);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new UpstreamFailure("the upstream's token endpoint answered something other than JSON");
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') throw new UpstreamFailure("the upstream's token endpoint answered no token");
    // Docker token spec: expires_in defaults to 60 s; renew a little early.
    const seconds = typeof body.expires_in === 'number' ? body.expires_in : 60;
    this.#tokens.set(scope, { token, until: Date.now() + Math.max(seconds - 5, 1) * 1000 });
  }

  /** One request plus its redirects (bounded), dropping Authorization once the request leaves the upstream's origin. */
  async #follow(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    let current = url;
    let sent = headers;
    for (let hop = 0; ; hop++) {
      const response = await this.#send(method, current, sent);
      const location = response.headers.location;
      if (![301, 302, 303, 307, 308].includes(response.status) || location === undefined) return response;
      response.body.resume();
      if (hop >= this.#maxRedirects) throw new UpstreamFailure(`the upstream redirected more than ${this.#maxRedirects} times (last to ${location})`, response.status);
      const next = new URL(location, current);
      if (next.origin !== this.base.origin) {
        const { authorization: _drop, Authorization: _Drop, ...rest } = sent;
        sent = rest;
      }
      current = next;
    }
  }

  #send(method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { method, headers: { 'User-Agent': 'oci-test-registry-mirror', ...headers }, ...(this.#ca && url.protocol === 'https:' ? { ca: this.#ca } : {}) });
      // One timeout for the whole exchange: a silent socket, whether before
      // the headers or in the middle of a body, fails instead of hanging.
      req.setTimeout(this.#timeoutMs, () => req.destroy(new UpstreamFailure(`the upstream sent nothing for ${this.#timeoutMs} ms (${method} ${url.pathname})`)));
      req.once('error', (error) => reject(error instanceof UpstreamFailure ? error : new UpstreamFailure(`the upstream is unreachable: ${error.message}`)));
      req.once('response', (body) => resolve({ status: body.statusCode ?? 0, headers: body.headers, body }));
      req.end();
    });
  }
}

function auth(header: string | undefined): Record<string, string> {
  return header === undefined ? {} : { Authorization: header };
}
