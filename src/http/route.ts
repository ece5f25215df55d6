import { RegistryError, unsupported } from '../oci/errors.js';
import { checkName } from '../oci/reference.js';

/**
 * The closed set of things a request can address (also the journal's
 * `route`): the spec's endpoints, the signed blob URL a `blobRedirect`
 * points at, the control endpoint, and the token endpoint of `auth.token`.
 */
export type RouteKind = 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'upload' | 'referrers' | 'redirect' | 'control' | 'token';

/** Where `blobRedirect` sends blob GETs: outside /v2/, as an object store's URL would be. */
export const REDIRECT_PREFIX = '/_blobs/';
/** The token endpoint of the Docker token flow (`auth: { token }`). */
export const TOKEN_PATH = '/token';
/** The control endpoint's routes (`control: true`). */
export const CONTROL_PREFIX = '/_oci-test-registry/';

export interface Route {
  kind: RouteKind;
  /** Repository name (all kinds but base and catalog). */
  name?: string;
  /** Tag or digest (manifest), digest (blob, referrers) or upload id ('' for the uploads collection). */
  reference?: string;
  query: URLSearchParams;
  /** Path without the query. */
  path: string;
}

/**
 * Decodes one path segment. Names are not decoded (no name can hold '%', so
 * `%2e%2e` or `%2F` in a name is simply invalid), but a reference may arrive
 * with ':' percent-encoded by a careful URL builder.
 */
function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // invalid escapes stay as they are and fail validation as written
  }
}

function named(kind: RouteKind, name: string, reference: string | undefined, query: URLSearchParams, path: string): Route {
  // The name is checked by checkRoute, after the route is known, so an
  // invalid name is still recorded (and matched by faults) as its route.
  return { kind, name, reference: reference === undefined ? undefined : decodeSegment(reference), query, path };
}

/**
 * Names a request by its URL (spec "Endpoints"). Pure: no store, no I/O.
 * A repository name may itself contain `blobs` or `manifests` components,
 * so the shape is read from the end of the path.
 */
export function parseRoute(url: string): Route {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  if (path === '/v2/' || path === '/v2') return { kind: 'base', query, path };
  if (path.startsWith(REDIRECT_PREFIX)) return { kind: 'redirect', reference: decodeSegment(path.slice(REDIRECT_PREFIX.length)), query, path };
  if (path === TOKEN_PATH) return { kind: 'token', query, path };
  if (path.startsWith(CONTROL_PREFIX)) return { kind: 'control', reference: path.slice(CONTROL_PREFIX.length), query, path };
  if (!path.startsWith('/v2/')) throw notFound(path);
  if (path === '/v2/_catalog') return { kind: 'catalog', query, path };

  // Segments are found from the end by index (no split and join per request).
  const last = path.lastIndexOf('/');
  const second = last > 4 ? path.lastIndexOf('/', last - 1) : -1;
  // At least three segments after /v2/: a name (maybe empty, refused by checkRoute), a kind, a reference.
  if (second < 4) throw notFound(path);
  const kind = path.slice(second + 1, last);
  const reference = path.slice(last + 1);
  if (kind === 'tags' && reference === 'list') return named('tags', path.slice(4, second), undefined, query, path);
  if (kind === 'uploads') {
    const third = path.lastIndexOf('/', second - 1);
    if (third >= 4 && path.slice(third + 1, second) === 'blobs') return named('upload', path.slice(4, third), reference, query, path);
  }
  if (kind === 'blobs') return named('blob', path.slice(4, second), reference, query, path);
  if (kind === 'manifests') return named('manifest', path.slice(4, second), reference, query, path);
  if (kind === 'referrers') return named('referrers', path.slice(4, second), reference, query, path);
  throw notFound(path);
}

/** Validates what parseRoute left unchecked: the repository name (400 NAME_INVALID). */
export function checkRoute(route: Route): void {
  if (route.name !== undefined) checkName(route.name);
}

export function notFound(path: string): RegistryError {
  return unsupported(`no such endpoint: ${path.length > 200 ? path.slice(0, 200) + '…' : path}`, 404);
}
