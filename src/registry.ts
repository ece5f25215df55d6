import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveOptions, type RegistryOptions, type ResolvedOptions } from './options.js';
import { createPipeline } from './http/pipeline.js';
import { requestFields } from './http/connection.js';
import type { RequestRecord } from './http/record.js';
import type { Controls } from './http/context.js';
import { MemoryStore } from './store/memory.js';
import type { SeedableStore } from './store/seeding.js';
import type { StoreObserver } from './store/store.js';
import { Journal } from './control/journal.js';
import { RegistryEvents } from './control/events.js';
import { Faults } from './control/faults.js';
import { listen, type Transport } from './server.js';
import type { RegistryTls } from './tls/credentials.js';

/** A registry that is not listening: a request listener to mount in your own node:http server. */
export interface Registry {
  /** A node:http request listener serving `/v2/…`. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The store: read and seed content without HTTP. */
  store: SeedableStore;
  /** Every request answered, newest last (bounded by `journalLimit`). */
  journal: Journal;
  /** `request`, `push`, `delete` and `upload` events (node:events EventEmitter). */
  events: RegistryEvents;
  /** Fault rules: `add(rule)` → handle with `hits` and `remove()`; `clear()`. */
  faults: Faults;
  /** Resolves with the first event matching the query, already happened or still to come. */
  waitFor: RegistryEvents['waitFor'];
  /**
   * Empties content, upload sessions, the journal and fault rules, and
   * rejects pending waitFor calls; keeps listening, options and event listeners.
   */
  reset(): Promise<void>;
  /** The options in force, defaults filled in. */
  options: ResolvedOptions;
  /** Stops the registry's timers (upload expiry) and rejects pending waitFor calls. The handler keeps answering. */
  close(): Promise<void>;
}

/** A listening registry (see {@link startRegistry}). */
export interface RunningRegistry extends Omit<Registry, 'handler' | 'close'>, AsyncDisposable {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`; IPv6 hosts bracketed); never ends in `/`. */
  readonly url: string;
  /** With `tls`: the CA clients trust, the server certificate and key (PEM), and client certificates for mutual TLS. */
  readonly tls: RegistryTls | undefined;
  /** `127.0.0.1:PORT`, for image references such as `${registry.host}/repo:tag`. */
  readonly host: string;
  readonly port: number;
  /**
   * Stops listening, lets in-flight requests finish (up to a second), drops
   * keep-alive sockets. Idempotent: a second call waits for the first. The
   * port is free when it resolves.
   */
  close(): Promise<void>;
}

/** Sends store changes to the events (each listener is isolated by RegistryEvents.emit). */
function observe(events: RegistryEvents): StoreObserver {
  return {
    push: (event) => events.content('push', event),
    delete: (event) => events.content('delete', event),
    upload: (event) => events.content('upload', event),
  };
}

/**
 * Builds a registry without listening (go-containerregistry's
 * `registry.New()` shape). Two registries share nothing.
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const teardown = teardownHook(options.teardown);
  const resolved = resolveOptions(options);
  const journal = new Journal(resolved.journalLimit);
  const events = new RegistryEvents(journal, resolved.journalLimit, resolved.onError);
  // A store of the user's own enforces its own limits; it gets the events all the same.
  const store =
    resolved.store ??
    new MemoryStore({ maxStorageBytes: resolved.maxStorageBytes, maxBlobBytes: resolved.maxBlobBytes, maxUploads: resolved.maxUploads });
  store.observe(observe(events));
  const { onRequest, onError } = resolved;
  const onRecord = (record: RequestRecord, req: IncomingMessage, res: ServerResponse) => {
    const entry = journal.record(record, requestFields(req), res.getHeaders());
    if (entry) events.request(entry);
    try {
      onRequest?.(record);
    } catch (error) {
      onError(error as Error);
    }
  };
  const faults = new Faults();
  for (const rule of resolved.faults ?? []) faults.add(rule);
  // Option repositories: queued on the store's lock before any request can reach it.
  const createRepositories = () => Promise.all(resolved.repositories.map((name) => store.createRepository(name)));
  createRepositories().catch(resolved.onError);
  const reset = async () => {
    await store.clear();
    await createRepositories();
    journal.clear();
    faults.clear();
    // A mirror's manifests held for their blobs go with the content.
    controls.upstreams?.clear();
    events.reset('the registry was reset');
  };
  const recording = resolved.journalLimit > 0 || onRequest !== undefined;
  const controls: Controls = { journal, events, faults, reset };
  const handler = createPipeline(store, resolved, controls, recording ? onRecord : undefined);
  // Abandoned uploads expire; the timer never keeps the process alive.
  const sweep = setInterval(() => store.expireUploads(resolved.uploadTimeoutMs).catch(resolved.onError), Math.min(resolved.uploadTimeoutMs, 60_000));
  sweep.unref();
  const registry: Registry = {
    handler,
    store,
    journal,
    events,
    faults,
    waitFor: events.waitFor.bind(events) as RegistryEvents['waitFor'],
    reset,
    options: resolved,
    close: async () => {
      clearInterval(sweep);
      events.reset('the registry was closed', true);
    },
  };
  teardown?.(registry.close);
  return registry;
}

/** How long close() lets in-flight requests finish before it drops their sockets. */
const CLOSE_GRACE_MS = 1000;

function formatHost(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Starts a registry on `options.host:options.port` (default 127.0.0.1 and a
 * free port) and resolves once it is listening.
 *
 * @example
 * await using registry = await startRegistry();
 * await fetch(`${registry.url}/v2/`);
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const teardown = teardownHook(options.teardown);
  // The running registry registers its own close (which includes the inner one).
  const registry = createRegistry({ ...options, teardown: undefined });
  const { tls, http2 } = registry.options;
  let listening;
  let secure: RegistryTls | undefined;
  try {
    let transport: Transport | undefined;
    if (tls) {
      // Loaded only with TLS on: a plain registry's start-up does not pay for it.
      const { credentials } = await import('./tls/credentials.js');
      const made = await credentials(tls);
      secure = made.info;
      transport = { credentials: made.server, http2 };
    }
    listening = await listen(registry.handler, registry.options, transport);
  } catch (error) {
    await registry.close();
    throw error;
  }
  const host = formatHost(registry.options.host, listening.port);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= Promise.all([listening.close(CLOSE_GRACE_MS), registry.close()]).then(() => undefined);
    return closed;
  };
  const { handler: _handler, close: _close, ...rest } = registry;
  const running: RunningRegistry = {
    ...rest,
    url: `${secure ? 'https' : 'http'}://${host}`,
    host,
    tls: secure,
    port: listening.port,
    close,
    [Symbol.asyncDispose]: close,
  };
  teardown?.(close);
  return running;
}

/** How to hand `close` to a test framework: tap's `t.teardown(fn)` or node:test's `t.after(fn)`. */
function teardownHook(framework: RegistryOptions['teardown']): ((close: () => Promise<void>) => void) | undefined {
  if (!framework) return undefined;
  if ('teardown' in framework && typeof framework.teardown === 'function') return (close) => framework.teardown(close);
  if ('after' in framework && typeof framework.after === 'function') return (close) => framework.after(close);
  throw new TypeError('option teardown must have a teardown(fn) or after(fn) method');
}
