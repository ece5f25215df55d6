import { EventEmitter } from 'node:events';
import { matches, type Journal, type JournalEntry, type JournalQuery } from './journal.js';
import { EventLog, type EventSubscription, type SubscriptionListener } from './event-log.js';

/** A manifest was stored (over HTTP or by seeding). */
export interface PushEvent {
  name: string;
  /** The tag pushed to, or the digest when pushed by digest alone. */
  reference: string;
  digest: string;
  mediaType: string;
  /** Every tag the push pointed at the manifest. */
  tags: string[];
  /** The subject digest, when the manifest has one. */
  subject?: string;
}

/** A manifest, tag or blob was deleted. */
export interface DeleteEvent {
  name: string;
  kind: 'manifest' | 'tag' | 'blob';
  /** The tag or digest deleted. */
  reference: string;
}

/** A blob was completed (upload or seeding) or mounted into a repository. */
export interface UploadEvent {
  name: string;
  digest: string;
  size: number;
  /** True when the blob came by cross-repository mount. */
  mounted: boolean;
}

export interface RegistryEventMap {
  request: [JournalEntry];
  push: [PushEvent];
  delete: [DeleteEvent];
  upload: [UploadEvent];
}

/** What `waitFor` waits for: an event name and fields that must all match. */
export type WaitQuery =
  | ({ event: 'request' } & JournalQuery)
  | { event: 'push'; name?: string; reference?: string; digest?: string }
  | { event: 'delete'; name?: string; reference?: string; kind?: DeleteEvent['kind'] }
  | { event: 'upload'; name?: string; digest?: string };

export interface WaitOptions {
  /** Reject after this long. Default 5000 ms. */
  timeoutMs?: number;
  /** Stop waiting when this aborts: the promise rejects with the signal's reason and the listener is removed. */
  signal?: AbortSignal;
}

/**
 * How a waitFor ended without its event, as the `code` of the error it
 * rejects with: `ERR_WAIT_TIMEOUT` (timeoutMs passed) or
 * `ERR_WAIT_CANCELLED` (the registry was reset or closed).
 */
export type WaitErrorCode = 'ERR_WAIT_TIMEOUT' | 'ERR_WAIT_CANCELLED';

function waitError(code: WaitErrorCode, message: string): Error & { code: WaitErrorCode } {
  return Object.assign(new Error(message), { code });
}

type Content = PushEvent | DeleteEvent | UploadEvent;

function matchesContent(event: Content, query: Exclude<WaitQuery, { event: 'request' }>): boolean {
  const q = query as Record<string, unknown>;
  if (q.name !== undefined && event.name !== q.name) return false;
  if (q.reference !== undefined) {
    // A push is found by its tag, any other tag it got, or its digest.
    const push = query.event === 'push' ? (event as PushEvent) : undefined;
    const hit = (event as { reference?: string }).reference === q.reference || push?.digest === q.reference || push?.tags.includes(q.reference as string);
    if (!hit) return false;
  }
  if (q.digest !== undefined && (event as PushEvent | UploadEvent).digest !== q.digest) return false;
  if (q.kind !== undefined && (event as DeleteEvent).kind !== q.kind) return false;
  return true;
}

interface Pending {
  reject(error: Error): void;
}

/**
 * The registry's `events`: a node:events EventEmitter of `request`, `push`,
 * `delete` and `upload`, with a bounded history so that `waitFor` finds an
 * event that already happened as well as one still to come. No polling.
 */
export class RegistryEvents extends EventEmitter<RegistryEventMap> {
  readonly #history: { push: PushEvent[]; delete: DeleteEvent[]; upload: UploadEvent[] } = { push: [], delete: [], upload: [] };
  readonly #limit: number;
  readonly #journal: Journal;
  readonly #pending = new Set<Pending>();
  readonly #onError: (error: Error) => void;
  /** Every event in order with its sequence number, for streams (the control endpoint's `GET events`). */
  readonly #log: EventLog;
  #closed = false;

  constructor(journal: Journal, limit: number, onError: (error: Error) => void) {
    super();
    // Every pending waitFor is a listener; many at once is normal here, not a leak.
    this.setMaxListeners(0);
    this.#journal = journal;
    this.#limit = limit;
    this.#onError = onError;
    // With the journal off there are no request events; content events still stream.
    this.#log = new EventLog(limit > 0 ? limit : 1000);
  }

  /**
   * Reads every event from now on (or from the first after sequence number
   * `after` still kept) at the reader's own pace; see EventLog. The readers
   * subscribed now are in `subscriptions`.
   */
  subscribe(listener: SubscriptionListener, after?: number): EventSubscription {
    if (this.#closed) throw new Error('the registry is closed');
    return this.#log.subscribe(listener, after);
  }

  /** True once the registry is closed: waitFor rejects at once and subscribe throws. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The readers subscribed now, each with its `pending` backlog. */
  get subscriptions(): ReadonlySet<EventSubscription> {
    return this.#log.subscriptions;
  }

  /** Emits a request event (its journal entry) and logs it. */
  request(entry: JournalEntry): void {
    this.#log.append('request', entry);
    this.emit('request', entry);
  }

  /**
   * Calls each listener in its own try/catch: a listener that throws is
   * reported through `onError` and never keeps later listeners, `waitFor` or
   * the registry's own work from running.
   */
  override emit<K extends keyof RegistryEventMap>(event: K, ...args: RegistryEventMap[K]): boolean {
    // Every request emits: without listeners, cost nothing.
    if (this.listenerCount(event) === 0) return false;
    const listeners = this.rawListeners(event) as ((...a: unknown[]) => void)[];
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (error) {
        this.#onError(error as Error);
      }
    }
    return listeners.length > 0;
  }

  /** Emits a content event and keeps it in the history. */
  content<K extends 'push' | 'delete' | 'upload'>(kind: K, event: RegistryEventMap[K][0]): void {
    const history = this.#history[kind] as Content[];
    history.push(event);
    // Trimmed in batches, so a full history is not shifted on every event.
    if (history.length > this.#limit + Math.max(1, this.#limit >> 4)) history.splice(0, history.length - this.#limit);
    this.#log.append(kind, event);
    (this.emit as (name: string, event: Content) => boolean)(kind, event);
  }

  /**
   * Resolves with the first event matching `query`: the earliest one already
   * recorded, else the next one to happen. Rejects after `timeoutMs` with a
   * message that says what was awaited, or when the registry is reset or
   * closed (see WaitErrorCode), or when `signal` aborts.
   */
  waitFor(query: WaitQuery & { event: 'request' }, options?: WaitOptions): Promise<JournalEntry>;
  waitFor(query: WaitQuery & { event: 'push' }, options?: WaitOptions): Promise<PushEvent>;
  waitFor(query: WaitQuery & { event: 'delete' }, options?: WaitOptions): Promise<DeleteEvent>;
  waitFor(query: WaitQuery & { event: 'upload' }, options?: WaitOptions): Promise<UploadEvent>;
  waitFor(query: WaitQuery, options?: WaitOptions): Promise<JournalEntry | Content>;
  waitFor(query: WaitQuery, { timeoutMs = 5000, signal }: WaitOptions = {}): Promise<JournalEntry | Content> {
    const test =
      query.event === 'request'
        ? (e: JournalEntry | Content) => matches(e as JournalEntry, query)
        : (e: JournalEntry | Content) => matchesContent(e as Content, query);
    const seen = query.event === 'request' ? this.#journal.all().find(test) : (this.#history[query.event] as Content[]).find(test);
    if (seen) return Promise.resolve(seen);
    if (this.#closed) return Promise.reject(waitError('ERR_WAIT_CANCELLED', `waitFor cancelled: the registry is closed (waiting for ${describe(query)})`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const listener = (event: JournalEntry | Content) => {
        if (!test(event)) return;
        done();
        resolve(event);
      };
      const pending: Pending = {
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => pending.reject(waitError('ERR_WAIT_TIMEOUT', `waitFor timed out after ${timeoutMs} ms waiting for ${describe(query)}`)), timeoutMs);
      const onAbort = () => pending.reject(signal!.reason);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.off(query.event, listener as never);
        this.#pending.delete(pending);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.on(query.event, listener as never);
      this.#pending.add(pending);
    });
  }

  /**
   * Forgets the history and rejects every pending waitFor with `reason`;
   * after `close`, waitFor rejects at once and every subscription is ended.
   */
  reset(reason: string, close = false): void {
    if (close) this.#closed = true;
    this.#history.push = [];
    this.#history.delete = [];
    this.#history.upload = [];
    this.#log.clear();
    if (close) this.#log.endAll(reason);
    for (const pending of [...this.#pending]) pending.reject(waitError('ERR_WAIT_CANCELLED', `waitFor cancelled: ${reason}`));
  }
}

function describe(query: WaitQuery): string {
  const fields = Object.entries(query).filter(([key, value]) => key !== 'event' && value !== undefined);
  return `a ${query.event} event${fields.length ? ` with ${fields.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}` : ''}`;
}
