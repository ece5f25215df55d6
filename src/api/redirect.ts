import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { RegistryError, blobUnknown } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { checkName } from '../oci/reference.js';
import { REDIRECT_PREFIX } from '../http/route.js';
import type { RequestContext } from '../http/context.js';
import { serveBlob } from './blobs.js';

/**
 * Signed, expiring blob URLs (`blobRedirect`), standing in for the object
 * store a real registry redirects to. The key is made at start, so a URL
 * from one registry is refused by another.
 */
export class BlobRedirects {
  readonly #key = randomBytes(32);
  readonly ttlSeconds: number;
  readonly host: string | undefined;

  constructor(
    options: { host?: string; ttlSeconds?: number },
    /** `https` when the registry serves TLS: the signed URL is on the same server, so the same certificate. */
    readonly scheme: 'http' | 'https' = 'http',
  ) {
    this.ttlSeconds = options.ttlSeconds ?? 60;
    this.host = options.host;
  }

  #sign(name: string, digest: string, expires: number): string {
    return createHmac('sha256', this.#key).update(`${name}\n${digest}\n${expires}`).digest('hex');
  }

  /**
   * An absolute URL on this server, under another spelling of its host
   * (127.0.0.1 or localhost) unless a host was configured: clients see a
   * different host, as with a real object store, and must drop credentials.
   */
  location(authority: string, name: string, digest: string): string {
    // Only the host name changes; the port is the one the client used (it may be mapped).
    const loopback = /^(127\.0\.0\.1|localhost)(:\d+)?$/.exec(authority);
    const host = this.host ?? (loopback ? `${loopback[1] === 'localhost' ? '127.0.0.1' : 'localhost'}${loopback[2] ?? ''}` : authority);
    const expires = Math.floor(Date.now() / 1000) + this.ttlSeconds;
    const query = new URLSearchParams({ name, expires: String(expires), signature: this.#sign(name, digest, expires) });
    return `${this.scheme}://${host}${REDIRECT_PREFIX}${digest}?${query}`;
  }

  /** Checks a signed URL's query; throws DENIED (403) when forged or expired. */
  verify(digest: string, query: URLSearchParams): string {
    const name = query.get('name') ?? '';
    const expires = Number(query.get('expires'));
    const given = Buffer.from(query.get('signature') ?? '', 'hex');
    const expected = Buffer.from(this.#sign(name, digest, expires), 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new RegistryError('DENIED', 'the signature of this blob URL is not valid', { status: 403 });
    }
    if (!(expires * 1000 > Date.now())) throw new RegistryError('DENIED', 'this signed blob URL has expired', { status: 403, detail: { expires } });
    return checkName(name);
  }
}

/**
 * `GET`/`HEAD /_blobs/<digest>?name=&expires=&signature=`: the redirect
 * target. Like an object store, it refuses a request that still carries the
 * registry's `Authorization` header (400): a client must drop credentials
 * when it follows a redirect to another host.
 */
export async function get(ctx: RequestContext): Promise<void> {
  const { req, route, store, controls } = ctx;
  if (req.headers.authorization !== undefined) {
    throw new RegistryError('DENIED', 'this signed blob URL refuses an Authorization header: drop credentials when following a redirect', { status: 400 });
  }
  const { digest } = parseDigest(route.reference!);
  const name = controls.redirects!.verify(digest, route.query);
  const blob = await store.blob(name, digest);
  if (!blob) throw blobUnknown(digest);
  await serveBlob(ctx, blob);
}
