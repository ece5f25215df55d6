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

function named(kind: RouteKind, nameParts: string[], reference: string | undefined, query: URLSearchParams, path: string): Route {
  // The name is checked by checkRoute, after the route is known, so an
  // invalid name is still recorded (and matched by faults) as its route.
  const name = nameParts.join('/');
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

  const parts = path.slice(4).split('/');
  const at = (i: number) => parts[parts.length - i];
  const len = parts.length;
  if (len >= 3 && at(2) === 'tags' && at(1) === 'list') return named('tags', parts.slice(0, -2), undefined, query, path);
  if (len >= 4 && at(3) === 'blobs' && at(2) === 'uploads') return named('upload', parts.slice(0, -3), at(1), query, path);
  if (len >= 3 && at(2) === 'blobs') return named('blob', parts.slice(0, -2), at(1), query, path);
  if (len >= 3 && at(2) === 'manifests') return named('manifest', parts.slice(0, -2), at(1), query, path);
  if (len >= 3 && at(2) === 'referrers') return named('referrers', parts.slice(0, -2), at(1), query, path);
  throw notFound(path);
}

/** Validates what parseRoute left unchecked: the repository name (400 NAME_INVALID). */
export function checkRoute(route: Route): void {
  if (route.name !== undefined) checkName(route.name);
}

export function notFound(path: string): RegistryError {
  return unsupported(`no such endpoint: ${path.length > 200 ? path.slice(0, 200) + '…' : path}`, 404);
}
