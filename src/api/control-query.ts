import { RegistryError } from '../oci/errors.js';
import type { JournalQuery } from '../control/journal.js';
import type { RouteKind } from '../http/route.js';

/** A control request the registry cannot act on: 400 with an OCI error that says why. */
export function badRequest(message: string, detail?: unknown): RegistryError {
  return new RegistryError('UNSUPPORTED', message, { status: 400, detail });
}

/** The journal's filter fields from a query string (`GET journal`, `GET wait?event=request`). */
export function journalQuery(q: URLSearchParams): JournalQuery {
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
  return query;
}
