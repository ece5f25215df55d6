import { nameUnknown } from '../oci/errors.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/pipeline.js';
import { nextLink, pageRequest } from './pagination.js';

/** end-8a/8b `GET /v2/<name>/tags/list[?n=&last=]` (spec "Listing Tags"). */
export async function list({ res, route, store, options, head }: RequestContext): Promise<void> {
  const name = route.name!;
  const request = pageRequest(route.query, options.maxPageSize);
  const page = await store.tags(name, request);
  if (!page) throw nameUnknown(name);
  sendJson(res, 200, { name, tags: page.items }, nextLink(route.path, request, page), head);
}
