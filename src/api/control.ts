import { unsupported, type RegistryError } from '../oci/errors.js';
import { notFound } from '../http/route.js';
import { readBody } from '../http/body.js';
import { sendEmpty, sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { rulesFromJson, type FaultHandle } from '../control/faults.js';
import type { JournalQuery } from '../control/journal.js';
import type { RouteKind } from '../http/route.js';

/**
 * The control endpoint (`control: true`): JSON routes under
 * `/_oci-test-registry/` so that tests in any language can read the journal,
 * set faults and reset the registry. It is never rate limited or faulted.
 */

/** Patterns travel as `/source/flags` strings, as rules are written in JSON. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v) => (v instanceof RegExp ? String(v) : v === Infinity ? 'Infinity' : v)));
}

function describeFault(handle: FaultHandle): unknown {
  return { id: handle.id, hits: handle.hits, seen: handle.seen, rule: toJson(handle.rule) };
}

function badRequest(message: string): RegistryError {
  return unsupported(message, 400);
}

/** GET health | journal[?method=&route=&name=&reference=&status=&code=&digest=] | faults */
export async function get({ res, route, store, controls, head }: RequestContext): Promise<void> {
  switch (route.reference) {
    case 'health':
      sendJson(res, 200, { status: 'ok', usage: await store.usage() }, {}, head);
      return;
    case 'journal': {
      const q = route.query;
      const query: JournalQuery = {};
      if (q.has('method')) query.method = q.get('method')!;
      if (q.has('route')) query.route = q.get('route') as RouteKind;
      if (q.has('name')) query.name = q.get('name')!;
      if (q.has('reference')) query.reference = q.get('reference')!;
      if (q.has('code')) query.code = q.get('code')!;
      if (q.has('digest')) query.digest = q.get('digest')!;
      if (q.has('status')) {
        const status = Number(q.get('status'));
        if (!Number.isInteger(status)) throw badRequest('status must be an integer');
        query.status = status;
      }
      sendJson(res, 200, { entries: controls.journal.filter(query) }, {}, head);
      return;
    }
    case 'faults':
      sendJson(res, 200, { faults: controls.faults.list().map(describeFault) }, {}, head);
      return;
    default:
      throw notFound(route.path);
  }
}

/** POST faults (a rule or an array of rules as JSON) | reset */
export async function post({ req, res, route, controls }: RequestContext): Promise<void> {
  switch (route.reference) {
    case 'faults': {
      const body = await readBody(req, 1024 * 1024, () => badRequest('fault rules larger than 1 MiB'));
      let rules;
      try {
        rules = rulesFromJson(body.toString('utf8'));
      } catch (error) {
        throw badRequest(`invalid fault rule: ${(error as Error).message}`);
      }
      const added = rules.map((rule) => controls.faults.add(rule));
      sendJson(res, 201, { faults: added.map(describeFault) });
      return;
    }
    case 'reset':
      await controls.reset();
      sendEmpty(res, 204);
      return;
    default:
      throw notFound(route.path);
  }
}

/** DELETE faults (all) | faults/<id> (one) */
export async function remove({ res, route, controls }: RequestContext): Promise<void> {
  const path = route.reference ?? '';
  if (path === 'faults') {
    controls.faults.clear();
    sendEmpty(res, 204);
    return;
  }
  if (path.startsWith('faults/')) {
    const handle = controls.faults.list().find((f) => f.id === path.slice('faults/'.length));
    if (!handle) throw unsupported(`no fault rule ${path.slice('faults/'.length)}`, 404);
    handle.remove();
    sendEmpty(res, 204);
    return;
  }
  throw notFound(route.path);
}
