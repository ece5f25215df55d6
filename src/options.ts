import type { SeedableStore } from './store/seeding.js';
import type { RequestRecord } from './http/record.js';

/**
 * Every option of the registry, with its default. The CLI maps its flags onto
 * this same object, so everything is reachable from both.
 */
export interface RegistryOptions {
  /** Interface to listen on (startRegistry). Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on (startRegistry); 0 picks a free one. Default `0`. */
  port?: number;
  /** Largest manifest accepted; larger pushes get 413 (spec: "at least 4 megabytes"). Default 4 MiB. */
  maxManifestBytes?: number;
  /** Total bytes of blobs, manifests and open uploads; a push past it is refused with 413 `DENIED`. Default: no limit. */
  maxStorageBytes?: number;
  /** Upload sessions idle longer than this expire and their bytes are freed. Default 15 minutes. */
  uploadTimeoutMs?: number;
  /** Whether DELETE of manifests, tags and blobs is allowed; when false they answer 405 `UNSUPPORTED`. Default `true`. */
  deletes?: boolean;
  /** Whether the referrers API is served; when false it answers 404 and no `OCI-Subject` is sent. Default `true`. */
  referrers?: boolean;
  /** Whether cross-repository blob mount is honoured; when false a mount request opens a normal upload (202). Default `true`. */
  mount?: boolean;
  /** Whether a mount without `from` finds the blob in any repository (automatic content discovery). Default `true`. */
  mountWithoutFrom?: boolean;
  /** Caps `n` on tags/list and _catalog, and pages requests without `n`. Default: no cap. */
  maxPageSize?: number;
  /** Bring your own store (extend SeedableStore); by default a new MemoryStore per registry. */
  store?: SeedableStore;
  /** Journal entries kept (the oldest are dropped past it); 0 turns the journal off. Default 10,000. */
  journalLimit?: number;
  /**
   * A test framework's teardown hook: an object with `teardown(fn)` (tap) or
   * `after(fn)` (node:test's TestContext); the registry closes itself there.
   */
  teardown?: { teardown(fn: () => unknown): unknown } | { after(fn: () => unknown): unknown };
  /** Called once per request after its response ended (or its socket closed); used by `--log`. Default: nothing. */
  onRequest?: (record: RequestRecord) => void;
  /** Called with errors that are bugs (a 500 was answered). Default: printed to stderr. */
  onError?: (error: Error) => void;
  /** node:http `headersTimeout`: time allowed to receive request headers. Default 60 s. */
  headersTimeoutMs?: number;
  /** node:http `requestTimeout`: time allowed for a whole request; 0 = none, so large pushes are never cut. Default 0. */
  requestTimeoutMs?: number;
  /** node:http `keepAliveTimeout`: how long an idle keep-alive socket is kept. Default 5 s. */
  keepAliveTimeoutMs?: number;
}

type Optional = 'store' | 'maxPageSize' | 'onRequest' | 'teardown';

export type ResolvedOptions = Required<Omit<RegistryOptions, Optional>> & Pick<RegistryOptions, Optional>;

/** The defaults, in one place. */
export const DEFAULT_OPTIONS: Readonly<Omit<ResolvedOptions, Optional>> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxManifestBytes: 4 * 1024 * 1024,
  maxStorageBytes: Infinity,
  uploadTimeoutMs: 15 * 60 * 1000,
  deletes: true,
  referrers: true,
  mount: true,
  mountWithoutFrom: true,
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 0,
  keepAliveTimeoutMs: 5_000,
  journalLimit: 10_000,
  onError: (error: Error) => {
    process.stderr.write(`oci-test-registry: internal error: ${error.stack ?? error.message}\n`);
  },
});

function positive(name: string, value: number | undefined, allowZero = false): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`);
  }
}

/** Fills in defaults and rejects values that make no sense, with a message naming the option. */
export function resolveOptions(options: RegistryOptions = {}): ResolvedOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RegistryOptions;
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, ...given };
  positive('maxManifestBytes', resolved.maxManifestBytes);
  positive('maxStorageBytes', resolved.maxStorageBytes, true);
  positive('uploadTimeoutMs', resolved.uploadTimeoutMs);
  positive('headersTimeoutMs', resolved.headersTimeoutMs);
  positive('requestTimeoutMs', resolved.requestTimeoutMs, true);
  positive('keepAliveTimeoutMs', resolved.keepAliveTimeoutMs, true);
  if (!Number.isSafeInteger(resolved.journalLimit) || resolved.journalLimit < 0) {
    throw new TypeError(`option journalLimit must be a non-negative integer, got ${String(resolved.journalLimit)}`);
  }
  if (resolved.maxPageSize !== undefined && (!Number.isSafeInteger(resolved.maxPageSize) || resolved.maxPageSize < 1)) {
    throw new TypeError(`option maxPageSize must be a positive integer, got ${String(resolved.maxPageSize)}`);
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw new TypeError(`option port must be an integer from 0 to 65535, got ${String(resolved.port)}`);
  }
  return resolved;
}
