import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { nextLink, pageRequest } from './pagination.js';
import { refusal } from './answers.js';

/** `GET /v2/_catalog[?n=&last=]`: every repository, paged like tags (Docker Registry HTTP API V2). */
export async function list({ res, route, store, options, head }: RequestContext): Promise<void> {
  if (!options.catalog) throw refusal(options, 'catalog', {});
  const request = pageRequest(route.query, options.maxPageSize);
  const page = await store.repositories(request);
  sendJson(res, 200, { repositories: page.items }, nextLink(route.path, request, page), head);
}
