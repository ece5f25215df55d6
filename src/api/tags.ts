import { nameUnknown } from '../oci/errors.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { nextLink, pageRequest } from './pagination.js';

/** end-8a/8b `GET /v2/<name>/tags/list[?n=&last=]` (spec "Listing Tags"). */
export async function list({ res, route, store, options, head }: RequestContext): Promise<void> {
  const name = route.name!;
  // Quirk tagsPagination: 'ignore-n' answers every tag whatever n and last
  // say (as distribution 2.8 does); 'no-link' pages without a Link header.
  const ignoreN = options.tagsPagination === 'ignore-n';
  const request = ignoreN ? {} : pageRequest(route.query, options.maxPageSize);
  const page = await store.tags(name, request);
  if (!page) throw nameUnknown(name);
  const link = options.tagsPagination === 'spec' ? nextLink(route.path, request, page) : {};
  sendJson(res, 200, { name, tags: page.items }, link, head);
}
