import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';

/** end-1 `GET /v2/`: the registry implements the spec (spec "Determining Support"). */
export async function get({ res, head }: RequestContext): Promise<void> {
  sendJson(res, 200, {}, {}, head);
}
