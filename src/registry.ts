import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveOptions, type RegistryOptions, type ResolvedOptions } from './options.js';
import { createPipeline } from './http/pipeline.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/store.js';
import { listen } from './server.js';

/** A registry that is not listening: a request listener to mount in your own node:http server. */
export interface Registry {
  /** A node:http request listener serving `/v2/…`. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The store: read and seed content without HTTP. */
  store: Store;
  /** The options in force, defaults filled in. */
  options: ResolvedOptions;
  /** Stops the registry's timers (upload expiry). The handler keeps answering. */
  close(): Promise<void>;
}

/** A listening registry (see {@link startRegistry}). */
export interface RunningRegistry extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` (IPv6 hosts bracketed); never ends in `/`. */
  readonly url: string;
  /** `127.0.0.1:PORT`, for image references such as `${registry.host}/repo:tag`. */
  readonly host: string;
  readonly port: number;
  readonly store: Store;
  readonly options: ResolvedOptions;
  /**
   * Stops listening, lets in-flight requests finish (up to a second), drops
   * keep-alive sockets. Idempotent: a second call waits for the first. The
   * port is free when it resolves.
   */
  close(): Promise<void>;
}

/**
 * Builds a registry without listening (go-containerregistry's
 * `registry.New()` shape). Two registries share nothing.
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const resolved = resolveOptions(options);
  const store = resolved.store ?? new MemoryStore({ maxStorageBytes: resolved.maxStorageBytes });
  const handler = createPipeline(store, resolved);
  // Abandoned uploads expire; the timer never keeps the process alive.
  const sweep = setInterval(() => void store.expireUploads(resolved.uploadTimeoutMs), Math.min(resolved.uploadTimeoutMs, 60_000));
  sweep.unref();
  return {
    handler,
    store,
    options: resolved,
    close: async () => clearInterval(sweep),
  };
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
  const registry = createRegistry(options);
  let listening;
  try {
    listening = await listen(registry.handler, registry.options);
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
  return {
    url: `http://${host}`,
    host,
    port: listening.port,
    store: registry.store,
    options: registry.options,
    close,
    [Symbol.asyncDispose]: close,
  };
}
