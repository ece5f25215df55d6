import { unsupported } from '../oci/errors.js';
import { CONTROL_PREFIX, notFound } from '../http/route.js';
import { readBody } from '../http/body.js';
import { sendEmpty, sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { rulesFromJson, type FaultHandle } from '../control/faults.js';
import { badRequest, journalQuery } from './control-query.js';
import { matchControlRoute, openApiDocument, type ControlRouteKey } from '../control/openapi.js';
import { seed } from './control-seed.js';
import { wait } from './control-wait.js';
import { events } from './control-events.js';
import { findings } from './control-findings.js';

/**
 * The control endpoint (`control: true`): JSON routes under
 * `/_oci-test-registry/` so that tests in any language can read the journal,
 * set faults and reset the registry, seed content, wait for and watch
 * events. It is never rate limited or faulted. The routes are described in
 * one table, src/control/openapi.ts.
 */

/** Patterns travel as `/source/flags` strings, as rules are written in JSON. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v) => (v instanceof RegExp ? String(v) : v === Infinity ? 'Infinity' : v)));
}

function describeFault(handle: FaultHandle): unknown {
  return { id: handle.id, hits: handle.hits, seen: handle.seen, rule: toJson(handle.rule) };
}

async function health({ res, store, head }: RequestContext): Promise<void> {
  sendJson(res, 200, { status: 'ok', usage: await store.usage() }, {}, head);
}

/** GET journal[?method=&route=&name=&reference=&status=&code=&digest=] */
async function journal({ res, route, controls, head }: RequestContext): Promise<void> {
  sendJson(res, 200, { entries: controls.journal.filter(journalQuery(route.query)) }, {}, head);
}

async function listFaults({ res, controls, head }: RequestContext): Promise<void> {
  sendJson(res, 200, { faults: controls.faults.list().map(describeFault) }, {}, head);
}

/** POST faults: a rule or an array of rules as JSON. */
async function addFaults({ req, res, controls }: RequestContext): Promise<void> {
  const body = await readBody(req, 1024 * 1024, () => badRequest('fault rules larger than 1 MiB'));
  let rules;
  try {
    rules = rulesFromJson(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`invalid fault rule: ${(error as Error).message}`);
  }
  const added = rules.map((rule) => controls.faults.add(rule));
  sendJson(res, 201, { faults: added.map(describeFault) });
}

async function clearFaults({ res, controls }: RequestContext): Promise<void> {
  controls.faults.clear();
  sendEmpty(res, 204);
}

async function removeFault({ res, controls }: RequestContext, { id }: Record<string, string>): Promise<void> {
  const handle = controls.faults.list().find((f) => f.id === id);
  if (!handle) throw unsupported(`no fault rule ${id}`, 404);
  handle.remove();
  sendEmpty(res, 204);
}

async function reset({ res, controls }: RequestContext): Promise<void> {
  await controls.reset();
  sendEmpty(res, 204);
}

async function openapi({ res, head }: RequestContext): Promise<void> {
  sendJson(res, 200, openApiDocument(CONTROL_PREFIX), {}, head);
}

/** One handler per route of CONTROL_ROUTES, and no other: the type makes the table and the description agree. */
const HANDLERS: Record<ControlRouteKey, (ctx: RequestContext, params: Record<string, string>) => Promise<void>> = {
  'GET health': health,
  'GET journal': journal,
  'GET faults': listFaults,
  'POST faults': addFaults,
  'DELETE faults': clearFaults,
  'DELETE faults/{id}': removeFault,
  'POST reset': reset,
  'POST seed': seed,
  'GET wait': wait,
  'GET events': events,
  'GET findings': findings,
  'GET openapi.json': openapi,
};

/** Every control request: the route table says which handler answers, or 405 with the path's methods, or 404. */
export async function serve(ctx: RequestContext): Promise<void> {
  const method = ctx.head ? 'GET' : (ctx.req.method ?? 'GET');
  const { key, params, allowed } = matchControlRoute(method, ctx.route.reference ?? '');
  if (allowed.length === 0) throw notFound(ctx.route.path);
  if (!key) {
    const allow = allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
    throw unsupported(`${ctx.req.method} is not supported on ${ctx.route.path}`, 405, { Allow: allow });
  }
  await HANDLERS[key](ctx, params);
}
