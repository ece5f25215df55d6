import { unsupported } from '../oci/errors.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Headers } from '../http/reply.js';

/**
 * Reads `n` and `last` (spec "Listing Tags", end-8b; `_catalog` pages the
 * same way). `n` must be a non-negative integer; `maxPageSize` caps it and
 * pages a request that gives none.
 */
export function pageRequest(query: URLSearchParams, maxPageSize: number | undefined): PageRequest {
  const page: PageRequest = {};
  const n = query.get('n');
  if (n !== null) {
    if (!/^[0-9]+$/.test(n)) throw unsupported(`query parameter n must be a non-negative integer, got ${JSON.stringify(n.slice(0, 40))}`, 400);
    page.n = Math.min(Number(n), Number.MAX_SAFE_INTEGER);
  }
  if (maxPageSize !== undefined) page.n = Math.min(page.n ?? maxPageSize, maxPageSize);
  const last = query.get('last');
  if (last !== null) page.last = last;
  return page;
}

/** `Link: <path?n=N&last=L>; rel="next"` when more entries remain (RFC 5988), never on the last page. */
export function nextLink(path: string, request: PageRequest, page: Page): Headers {
  const last = page.items[page.items.length - 1];
  // `more` implies a page size n was given (the store pages only then).
  if (!page.more || last === undefined) return {};
  const query = new URLSearchParams({ n: String(request.n!), last });
  return { Link: `<${path}?${query}>; rel="next"` };
}
