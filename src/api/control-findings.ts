import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { badRequest } from './control-query.js';

/**
 * `GET findings[?client=succeeded|failed]`: what the clients did so far that
 * the spec forbids or advises against (README "Checking a client"), read
 * from the journal with the same rules as `check`, so a test in any language
 * that drives its client against `--control` can ask for the verdict. Some
 * rules only matter for a client that claims success (a truncated blob
 * accepted), so the caller says how its client ended; default `succeeded`.
 * Blobs seeded outside HTTP are not known to the rules here, so a push of
 * one is not reported as pushed again. The rules are loaded on first use.
 */
export async function findings({ res, route, store, options, controls, head }: RequestContext): Promise<void> {
  const client = route.query.get('client') ?? 'succeeded';
  if (client !== 'succeeded' && client !== 'failed') throw badRequest('client must be succeeded or failed', { parameter: 'client' });
  const { detectFindings, pushedBodyTypes } = await import('../check/findings.js');
  const entries = controls.journal.all();
  const found = detectFindings(entries, {
    clientSucceeded: client === 'succeeded',
    maxPageSize: options.maxPageSize,
    bodyMediaType: await pushedBodyTypes(store, entries),
    seeded: new Set(),
  });
  sendJson(res, 200, { findings: found }, {}, head);
}
