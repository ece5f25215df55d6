import { RegistryError } from '../oci/errors.js';
import type { RequestContext } from '../http/context.js';
import { streamEvents } from '../http/event-stream.js';
import { badRequest } from './control-query.js';

/**
 * `GET events`: every registry event as a server-sent event, from now on,
 * or — with `Last-Event-ID` (WHATWG HTML "Server-sent events": the id a
 * reconnecting EventSource sends) — from the first event after that id still
 * in the history. Each subscriber is only a cursor into the registry's
 * bounded event log, so any number can listen, and one that falls behind the
 * oldest event kept is ended with a final `end` event saying so.
 */
export async function events({ req, res, options, controls, head }: RequestContext): Promise<void> {
  const header = req.headers['last-event-id'] as string | undefined;
  let after: number | undefined;
  if (header !== undefined) {
    after = Number(header);
    if (!/^\d+$/.test(header) || !Number.isSafeInteger(after)) throw badRequest('Last-Event-ID must be an event id (a non-negative integer)', { field: 'Last-Event-ID' });
  }
  await streamEvents(
    res,
    (listener) => {
      if (controls.events.closed) throw new RegistryError('UNSUPPORTED', 'the registry is closed: no events will come', { status: 503 });
      return controls.events.subscribe(listener, after);
    },
    options.eventStreamHeartbeatMs,
    head,
  );
}
