import type { JournalEntry } from './journal.js';
import type { DeleteEvent, PushEvent, UploadEvent } from './events.js';

/** The four kinds of registry event, as `registry.events` emits them. */
export type EventKind = 'request' | 'push' | 'delete' | 'upload';

/** One event with its place in the registry's event sequence. */
export interface SequencedEvent {
  /** 1, 2, 3 … across every kind, in the order the events happened; never reused, not even after reset. */
  seq: number;
  kind: EventKind;
  /** Exactly what `registry.events` emitted. */
  event: JournalEntry | PushEvent | DeleteEvent | UploadEvent;
}

/** What a subscriber is told: more events to take, or the end of its subscription and why. */
export interface SubscriptionListener {
  ready(): void;
  end(reason: string): void;
}

/**
 * A reader of the event log (the control endpoint's `GET events`). It holds
 * no copies: only a cursor into the shared log, so a reader that stops
 * reading costs no memory of its own. When it falls so far behind that the
 * next event it needs was trimmed from the log, it is ended with a reason.
 */
export class EventSubscription {
  /** The sequence number of the last event taken. */
  #cursor: number;
  readonly #log: EventLog;
  readonly #listener: SubscriptionListener;
  #ended: string | undefined;

  constructor(log: EventLog, cursor: number, listener: SubscriptionListener) {
    this.#log = log;
    this.#cursor = cursor;
    this.#listener = listener;
  }

  /** The sequence number of the last event taken. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Events recorded but not taken yet: the whole of this reader's backlog. */
  get pending(): number {
    return this.#log.lastSeq - this.#cursor;
  }

  /** Why the subscription ended, once it has. */
  get ended(): string | undefined {
    return this.#ended;
  }

  /** The next event not taken yet, or undefined when the reader is up to date (or ended). */
  next(): SequencedEvent | undefined {
    if (this.#ended !== undefined) return undefined;
    const event = this.#log.eventAfter(this.#cursor);
    if (event) this.#cursor = event.seq;
    return event;
  }

  /** Stops reading (the reader went away); nothing is reported. */
  close(): void {
    this.#ended ??= 'closed';
    this.#log.unsubscribe(this);
  }

  /** @internal Called by the log. */
  notify(): void {
    if (this.#ended === undefined) this.#listener.ready();
  }

  /** @internal Called by the log: ends the subscription and tells the reader why. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#log.unsubscribe(this);
    this.#listener.end(reason);
  }

  /** @internal After a reset nothing before `seq` exists any more: nothing is pending. */
  skipTo(seq: number): void {
    this.#cursor = Math.max(this.#cursor, seq);
  }
}

/**
 * Every event in the order it happened, with a sequence number, bounded to
 * `limit` events (the oldest dropped, in batches). Readers subscribe with a
 * cursor and take events at their own pace; one that falls behind the
 * oldest kept event is ended, so a slow reader can never grow memory.
 */
export class EventLog {
  // Kinds and events side by side, numbered from the last sequence number
  // back: the {seq, kind, event} a reader takes is made when it is read, so
  // an event nobody reads costs no object of its own.
  #kinds: EventKind[] = [];
  #events: SequencedEvent['event'][] = [];
  #seq = 0;
  readonly limit: number;
  readonly #subscriptions = new Set<EventSubscription>();

  constructor(limit: number) {
    this.limit = limit;
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** The readers subscribed now. */
  get subscriptions(): ReadonlySet<EventSubscription> {
    return this.#subscriptions;
  }

  /** The sequence number of the oldest event kept (one past the last when none is). */
  get #oldest(): number {
    return this.#seq - this.#events.length + 1;
  }

  append(kind: EventKind, event: SequencedEvent['event']): void {
    this.#seq++;
    this.#kinds.push(kind);
    this.#events.push(event);
    if (this.#events.length > this.limit + Math.max(1, this.limit >> 4)) {
      this.#kinds = this.#kinds.slice(-this.limit);
      this.#events = this.#events.slice(-this.limit);
      const oldest = this.#oldest;
      for (const subscription of [...this.#subscriptions]) {
        if (subscription.cursor < oldest - 1) subscription.end(`slow reader: more than ${this.limit} events behind, so events after id ${subscription.cursor} were discarded`);
      }
    }
    if (this.#subscriptions.size > 0) for (const subscription of [...this.#subscriptions]) subscription.notify();
  }

  /** The first event kept whose sequence number is greater than `seq`. */
  eventAfter(seq: number): SequencedEvent | undefined {
    const index = Math.max(0, seq + 1 - this.#oldest);
    if (index >= this.#events.length) return undefined;
    return { seq: this.#oldest + index, kind: this.#kinds[index]!, event: this.#events[index]! };
  }

  /**
   * Subscribes a reader whose next event is the first after `after` still
   * kept (default: only events still to come). An id beyond the last one
   * (from an earlier registry, say) reads what comes next.
   */
  subscribe(listener: SubscriptionListener, after = this.#seq): EventSubscription {
    // Resuming from before the oldest event kept starts at the oldest kept.
    const oldest = this.#oldest;
    const subscription = new EventSubscription(this, Math.max(Math.min(after, this.#seq), oldest - 1), listener);
    this.#subscriptions.add(subscription);
    return subscription;
  }

  unsubscribe(subscription: EventSubscription): void {
    this.#subscriptions.delete(subscription);
  }

  /** Forgets every event (reset); readers stay subscribed and continue with what happens next. */
  clear(): void {
    this.#kinds = [];
    this.#events = [];
    for (const subscription of this.#subscriptions) subscription.skipTo(this.#seq);
  }

  /** Ends every reader with `reason` (the registry is closing). */
  endAll(reason: string): void {
    for (const subscription of [...this.#subscriptions]) subscription.end(reason);
  }
}
