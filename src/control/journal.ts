import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { RequestRecord } from '../http/record.js';
import type { RouteKind } from '../http/route.js';

/** One recorded request (see README "Journal"). */
export interface JournalEntry extends RequestRecord {
  /** 1, 2, 3 … in the order responses ended; never reused, not even after clear(). */
  seq: number;
  /** Request headers, with credentials redacted. */
  requestHeaders: Record<string, string | string[]>;
  /** Response headers as sent. */
  responseHeaders: Record<string, string | string[]>;
}

/** What `journal.filter()` matches; every field is optional and all given fields must match. */
export interface JournalQuery {
  method?: string;
  route?: RouteKind;
  name?: string;
  reference?: string;
  status?: number;
  code?: string;
  digest?: string;
  upstream?: 'hit' | 'miss' | 'error';
}

/** Headers whose values are credentials: kept as a scheme and `[redacted]`. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

function redact(headers: IncomingHttpHeaders | OutgoingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = key.toLowerCase();
    if (SECRET_HEADERS.has(name)) {
      // Only a known scheme is kept: any other first word may be part of the secret.
      const scheme = typeof value === 'string' ? /^(Basic|Bearer|Digest|Negotiate)\s/i.exec(value)?.[1] : undefined;
      out[name] = scheme ? `${scheme} [redacted]` : '[redacted]';
    } else out[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/**
 * A journal entry whose headers are redacted when first read, not when the
 * request ends: most entries of a long CI job are never read, and redacting
 * both header sets of every request was about a tenth of a manifest PUT's
 * server CPU.
 * The header objects kept until then are node's own (the request's parsed
 * headers, and `getHeaders()`'s copy), so nothing more is allocated, and
 * nothing of a secret leaves the entry unredacted: both accessors and
 * toJSON (the control API, the event stream) redact.
 */
class RecordedRequest implements JournalEntry {
  readonly seq: number;
  declare at: number;
  declare method: string;
  declare httpVersion: string;
  declare path: string;
  declare status: number;
  declare bytesIn: number;
  declare bytesOut: number;
  declare durationMs: number;
  declare completed: boolean;
  #requestHeaders: IncomingHttpHeaders | Record<string, string | string[]>;
  #responseHeaders: OutgoingHttpHeaders | Record<string, string | string[]>;
  #redacted = false;

  constructor(seq: number, record: RequestRecord, requestHeaders: IncomingHttpHeaders, responseHeaders: OutgoingHttpHeaders) {
    this.seq = seq;
    Object.assign(this, record);
    this.#requestHeaders = requestHeaders;
    this.#responseHeaders = responseHeaders;
  }

  #redact(): void {
    if (this.#redacted) return;
    this.#requestHeaders = redact(this.#requestHeaders);
    this.#responseHeaders = redact(this.#responseHeaders);
    this.#redacted = true;
  }

  get requestHeaders(): Record<string, string | string[]> {
    this.#redact();
    return this.#requestHeaders as Record<string, string | string[]>;
  }

  get responseHeaders(): Record<string, string | string[]> {
    this.#redact();
    return this.#responseHeaders as Record<string, string | string[]>;
  }

  toJSON(): JournalEntry {
    return { ...this, requestHeaders: this.requestHeaders, responseHeaders: this.responseHeaders };
  }
}

/**
 * Every request the registry answered, oldest first, bounded to `limit`
 * entries (the oldest are dropped) so a long CI job cannot grow without end.
 */
export class Journal {
  #entries: JournalEntry[] = [];
  #seq = 0;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Builds and keeps the entry for a finished request; returns it (undefined when the journal is off). */
  record(record: RequestRecord, requestHeaders: IncomingHttpHeaders, responseHeaders: OutgoingHttpHeaders): JournalEntry | undefined {
    if (this.limit === 0) return undefined;
    const entry = new RecordedRequest(++this.#seq, record, requestHeaders, responseHeaders);
    this.#entries.push(entry);
    // Drop in batches so the array is not shifted on every request at the limit.
    if (this.#entries.length > this.limit + Math.max(1, this.limit >> 4)) this.#entries = this.#entries.slice(-this.limit);
    return entry;
  }

  /** Every entry kept, oldest first. */
  all(): JournalEntry[] {
    return this.#entries.slice(-this.limit);
  }

  last(): JournalEntry | undefined {
    return this.#entries[this.#entries.length - 1];
  }

  /** Entries matching every given field of `query`, oldest first. */
  filter(query: JournalQuery): JournalEntry[] {
    return this.all().filter((entry) => matches(entry, query));
  }

  clear(): void {
    this.#entries = [];
  }

  get size(): number {
    return Math.min(this.#entries.length, this.limit);
  }
}

export function matches(entry: JournalEntry, query: JournalQuery): boolean {
  return (
    (query.method === undefined || entry.method === query.method.toUpperCase()) &&
    (query.route === undefined || entry.route === query.route) &&
    (query.name === undefined || entry.name === query.name) &&
    (query.reference === undefined || entry.reference === query.reference) &&
    (query.status === undefined || entry.status === query.status) &&
    (query.code === undefined || entry.code === query.code) &&
    (query.digest === undefined || entry.digest === query.digest) &&
    (query.upstream === undefined || entry.upstream === query.upstream)
  );
}
