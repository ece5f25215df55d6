import { nameUnknown } from '../oci/errors.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { nextLink, pageRequest } from './pagination.js';
import { sendBytes } from '../http/reply.js';
import type { UpstreamOutcome } from '../upstream/outcome.js';

/** end-8a/8b `GET /v2/<name>/tags/list[?n=&last=]` (spec "Listing Tags"). */
export async function list({ res, route, store, options, head, controls, notes }: RequestContext): Promise<void> {
  const name = route.name!;
  const mirror = controls.upstreams?.route(route);
  if (mirror) {
    // A mirror lists the upstream's tags, its own when the upstream fails (distribution's proxyTagService.All).
    const outcome: UpstreamOutcome = { upstream: 'miss' };
    notes.upstream = outcome;
    const query = new URLSearchParams(route.query);
    query.delete('ns');
    const upstream = await mirror.tags(name, query.size > 0 ? `?${query}` : '', outcome);
    if (upstream) {
      sendBytes(res, 200, upstream.body, { 'Content-Type': 'application/json', ...(upstream.link ? { Link: upstream.link } : {}) }, head);
      return;
    }
  }
  // Quirk tagsPagination: 'ignore-n' answers every tag whatever n and last
  // say (as distribution 2.8 does); 'no-link' pages without a Link header.
  const ignoreN = options.tagsPagination === 'ignore-n';
  const request = ignoreN ? {} : pageRequest(route.query, options.maxPageSize);
  const page = await store.tags(name, request);
  if (!page) throw nameUnknown(name);
  const link = options.tagsPagination === 'spec' ? nextLink(route.path, request, page) : {};
  sendJson(res, 200, { name, tags: page.items }, link, head);
}
