import { RegistryError } from '../oci/errors.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import type { WaitErrorCode, WaitQuery } from '../control/events.js';
import { badRequest, journalQuery } from './control-query.js';

/**
 * `GET wait?event=…&…&timeoutMs=…`: registry.waitFor as a long poll. The
 * answer is 200 with the event as soon as one matching every field given is
 * in the history or happens. When none does within timeoutMs it is 504 —
 * the registry waited on something outside it (the client under test) that
 * did not come in time, as a gateway waits on its upstream. Unlike 408 it
 * does not blame the request, unlike 404 it cannot be mistaken for an
 * unknown route or a control endpoint that is off, no other control answer
 * uses it, and a client that checks for success fails loudly on it. A reset
 * or the registry closing cancels the wait: 409. A client that hangs up
 * cancels it too: its listener is removed at once.
 */

/** The fields each event kind is matched on (as waitFor's WaitQuery). */
const FIELDS: Readonly<Record<WaitQuery['event'], readonly string[]>> = {
  request: ['method', 'route', 'name', 'reference', 'status', 'code', 'digest'],
  push: ['name', 'reference', 'digest'],
  delete: ['name', 'reference', 'kind'],
  upload: ['name', 'digest'],
};

const DEFAULT_TIMEOUT_MS = 5000;

/** The answer to a wait that ended without its event. */
const ENDED: Record<WaitErrorCode, number> = { ERR_WAIT_TIMEOUT: 504, ERR_WAIT_CANCELLED: 409 };

function waitQuery(q: URLSearchParams): WaitQuery {
  const event = q.get('event');
  if (event === null || !Object.hasOwn(FIELDS, event)) {
    throw badRequest(`event must be one of ${Object.keys(FIELDS).join(', ')}`, { field: 'event' });
  }
  const kind = event as WaitQuery['event'];
  for (const key of q.keys()) {
    if (key !== 'event' && key !== 'timeoutMs' && !FIELDS[kind].includes(key)) {
      throw badRequest(`${key} is not a field of ${kind} events (fields: ${FIELDS[kind].join(', ')})`, { field: key });
    }
  }
  if (kind === 'request') return { event: kind, ...journalQuery(q) };
  const query: Record<string, string> = {};
  for (const key of FIELDS[kind]) if (q.has(key)) query[key] = q.get(key)!;
  if (kind === 'delete' && query.kind !== undefined && !['manifest', 'tag', 'blob'].includes(query.kind)) {
    throw badRequest('kind must be manifest, tag or blob', { field: 'kind' });
  }
  return { event: kind, ...query } as WaitQuery;
}

/**
 * timeoutMs: at most half of idleTimeoutMs, so the answer always goes out
 * well before the server closes the silent connection itself.
 */
function timeout(q: URLSearchParams, idleTimeoutMs: number): number {
  const max = idleTimeoutMs ? Math.floor(idleTimeoutMs / 2) : 2 ** 31 - 1;
  if (!q.has('timeoutMs')) return Math.min(DEFAULT_TIMEOUT_MS, max);
  const value = Number(q.get('timeoutMs'));
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw badRequest(`timeoutMs must be an integer from 0 to ${max}${idleTimeoutMs ? ' (half of idleTimeoutMs)' : ''}`, { field: 'timeoutMs' });
  }
  return value;
}

export async function wait({ res, route, options, controls, head }: RequestContext): Promise<void> {
  const query = waitQuery(route.query);
  const timeoutMs = timeout(route.query, options.idleTimeoutMs);
  const gone = new AbortController();
  const hangUp = () => gone.abort();
  res.once('close', hangUp);
  try {
    const event = await controls.events.waitFor(query, { timeoutMs, signal: gone.signal });
    sendJson(res, 200, event, {}, head);
  } catch (error) {
    // The client hung up: the wait is over and there is no one to answer.
    if (gone.signal.aborted) return;
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_WAIT_TIMEOUT' && code !== 'ERR_WAIT_CANCELLED') throw error;
    throw new RegistryError('UNSUPPORTED', (error as Error).message.replace(/^waitFor/, 'wait'), { status: ENDED[code], detail: { ...query, timeoutMs } });
  } finally {
    res.off('close', hangUp);
  }
}
