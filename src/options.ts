import { totalmem } from 'node:os';
import type { SeedableStore } from './store/seeding.js';
import type { FaultRule } from './control/faults.js';
import { PROFILES, type ProfileName } from './control/profiles.js';
import type { AuthOptions } from './auth/authenticate.js';
import type { RequestRecord } from './http/record.js';
import { answersProblem, type AnswerKey, type RegistryAnswer } from './api/answers.js';
import { checkOptionTypes } from './option-types.js';
import { isName } from './oci/reference.js';
import type { UpstreamOptions } from './upstream/client.js';
import { upstreamProblem } from './upstream/check.js';

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
  /** Total bytes of blobs, manifests and open uploads; a push past it is refused with 413 `DENIED`. Default: half the machine's memory. */
  maxStorageBytes?: number;
  /** Largest single blob; an upload growing past it is refused with 413 `DENIED`. Default: no limit beyond maxStorageBytes. */
  maxBlobBytes?: number;
  /** Upload sessions open at once; one more POST gets 429 `TOOMANYREQUESTS`. Default 1000. */
  maxUploads?: number;
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
  /**
   * In token mode, a mount whose token grants push on the target but not pull
   * on `from` (clients cache a token per repository): `'challenge'` answers
   * 401 `insufficient_scope` naming both scopes, as distribution does, so the
   * client returns with a token that can mount (when its user may pull `from`;
   * otherwise the mount is declined); `'upload'` declines the mount quietly
   * (202, an upload session). Default `'challenge'`.
   */
  mountWithoutSourceAccess?: 'challenge' | 'upload';
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
  /**
   * Authentication, off by default: `{ basic: { users } }` or
   * `{ token: { users, anonymous?, expiresInSeconds? } }`, with optional
   * `access` rules per user and repository pattern.
   */
  auth?: AuthOptions;
  // Misbehaving on purpose (all off by default: the default is spec-exact).
  /** Fault rules in force from the start (see `registry.faults`). */
  faults?: FaultRule[];
  /** A global rate limit: past `requests` in a window of `perSeconds`, 429 TOOMANYREQUESTS with Retry-After. */
  rateLimit?: { requests: number; perSeconds: number };
  /** `false`: a `POST ?digest=` with a body is answered as a plain 202 session (spec: registries that do not support it). Default `true`. */
  singlePostUpload?: boolean;
  /** Advertised as `OCI-Chunk-Min-Length`; a PATCH that follows a chunk smaller than this gets 416. */
  chunkMinBytes?: number;
  /** A PATCH larger than this gets 416, as some hosted registries answer. */
  chunkMaxBytes?: number;
  /** Status of a successful PATCH: the spec's 202, or 204 as some registries answer. Default 202. */
  uploadPatchStatus?: 202 | 204;
  /** Leave `Docker-Content-Digest` out of manifest and blob responses (it is OPTIONAL in the spec). Default `false`. */
  omitDigestHeader?: boolean;
  /**
   * An opaque `_state` query parameter on every upload `Location`, as
   * distribution sends, so a client that builds upload URLs itself can be
   * noticed (the `check` run turns it on). Requests without it are still served. Default `false`.
   */
  uploadState?: boolean;
  /** `'spec'`; `'ignore-n'` (every tag, no Link); `'no-link'` (n honoured, no Link header). Default `'spec'`. */
  tagsPagination?: 'spec' | 'ignore-n' | 'no-link';
  /** Sent as `Warning: 299 - "<text>"` on every response (spec "Warnings"; at most 4096 bytes in all). */
  warnings?: string[];
  /**
   * DELETE of a tag: `true` deletes it; `false` answers 405 UNSUPPORTED and
   * `'digest-invalid'` 400 DIGEST_INVALID (as distribution 2.8 does), while
   * DELETE by digest works. Default `true`.
   */
  tagDeletes?: boolean | 'digest-invalid';
  /**
   * Blob GET/HEAD answer 307 to a signed, expiring URL outside /v2/ that
   * refuses an Authorization header (400), as object-store-backed registries
   * do. `true`, or `{ host, ttlSeconds }`; the host defaults to the other
   * spelling of loopback (127.0.0.1 ↔ localhost), so clients see a new host.
   */
  blobRedirect?: boolean | { host?: string; ttlSeconds?: number };
  /** Serve the JSON control routes under `/_oci-test-registry/` (journal, faults, reset, health, seed, wait, events). Default `false`. */
  control?: boolean;
  /**
   * `false`: a push (upload POST, mount, manifest PUT) to a repository that
   * does not exist is refused, 404 `NAME_UNKNOWN` (`answers.repositoryUnknown`),
   * as ECR and GAR do; create it first with `repositories` or
   * `store.createRepository(name)`. An array: names matching one of these
   * patterns (`*` one path segment, `**` any) are created on push, others
   * refused. Default `true`.
   */
  createOnPush?: boolean | string[];
  /** Repositories that exist from the start, empty (and again after reset()). Default none. */
  repositories?: string[];
  /** A manifest PUT that would move an existing tag to another manifest is refused, 403 `DENIED` (`answers.tagImmutable`). Default `false`. */
  immutableTags?: boolean;
  /**
   * Docker Hub's pull limit: a manifest GET counts, a HEAD does not; both
   * carry `ratelimit-limit` / `ratelimit-remaining: N;w=SECONDS`; a GET past
   * `requests` in `perSeconds` gets 429 `TOOMANYREQUESTS` (`answers.pullLimit`). Default: none.
   */
  pullLimit?: { requests: number; perSeconds: number };
  /** `false`: `GET /v2/_catalog` is refused, 404 `UNSUPPORTED` (`answers.catalog`), as most hosted registries do. Default `true`. */
  catalog?: boolean;
  /** A registry's own status, code, message and headers for the refusals above (see README "Quirk switches"). Default: ours. */
  answers?: Partial<Record<AnswerKey, RegistryAnswer>>;
  /** How often the control endpoint's event stream (`GET events`) sends a heartbeat comment. Default 15 s. */
  eventStreamHeartbeatMs?: number;
  /** A named bundle of the switches above that mimics a real registry; explicit options override it. */
  profile?: ProfileName;
  /** node:http `headersTimeout`: time allowed to receive request headers. Default 60 s. */
  headersTimeoutMs?: number;
  /** node:http `requestTimeout`: time allowed for a whole request; 0 = none, so large pushes are never cut. Default 0. */
  requestTimeoutMs?: number;
  /** node:http `keepAliveTimeout`: how long an idle keep-alive socket is kept. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /**
   * A connection that sends and receives nothing for this long is closed
   * (node:http `server.timeout`), so a stalled client cannot hold a socket or
   * an upload chunk forever; its session stays resumable. Default 60 s.
   */
  idleTimeoutMs?: number;
  /**
   * Pull-through mirror: reads the store cannot answer (manifest and blob
   * GET/HEAD, tags list) go to this registry and are cached, verified by
   * digest (see README "As a mirror"). Default: none.
   */
  upstream?: UpstreamOptions;
  /** Upstreams by the registry host a client names in containerd's `?ns=<host>`; a `ns` naming none is 404. Default: none. */
  upstreams?: Record<string, UpstreamOptions>;
  /**
   * Serve HTTPS (startRegistry). `true`: a certificate authority made in
   * memory at start signs a server certificate for 127.0.0.1, ::1, localhost
   * (and `hosts`); `registry.tls.ca` is what clients trust. An object adds
   * `hosts`, the caller's own `cert` + `key` (PEM text or file paths), or
   * `clientCa` (PEM text or file path; `true`: the generated CA) to require
   * client certificates (mutual TLS). Default `false`.
   */
  tls?: boolean | TlsOptions;
  /** Offer HTTP/2 (ALPN `h2`, HTTP/1.1 still served); needs `tls`. Default `false`. */
  http2?: boolean;
}

/** The object form of the `tls` option. */
export interface TlsOptions {
  /** Extra DNS names and IP addresses the generated server certificate is valid for. */
  hosts?: string[];
  /** The server certificate (chain) to serve instead of a generated one: PEM text or a file path; needs `key`. */
  cert?: string;
  /** The private key of `cert`: PEM text or a file path. */
  key?: string;
  /** Require client certificates signed by this CA (PEM text or a file path), or by the generated CA (`true`). */
  clientCa?: string | true;
}

type Optional = 'auth' | 'store' | 'maxPageSize' | 'onRequest' | 'teardown' | 'faults' | 'rateLimit' | 'chunkMinBytes' | 'chunkMaxBytes' | 'profile' | 'pullLimit' | 'upstream' | 'upstreams';

export type ResolvedOptions = Required<Omit<RegistryOptions, Optional>> & Pick<RegistryOptions, Optional>;

/** The defaults, in one place. */
export const DEFAULT_OPTIONS: Readonly<Omit<ResolvedOptions, Optional>> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  maxManifestBytes: 4 * 1024 * 1024,
  // A registry held in memory must refuse before the machine swaps or the process is killed.
  maxStorageBytes: Math.floor(totalmem() / 2),
  maxBlobBytes: Infinity,
  maxUploads: 1000,
  uploadTimeoutMs: 15 * 60 * 1000,
  deletes: true,
  referrers: true,
  mount: true,
  mountWithoutFrom: true,
  mountWithoutSourceAccess: 'challenge',
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 0,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  journalLimit: 10_000,
  singlePostUpload: true,
  uploadPatchStatus: 202,
  omitDigestHeader: false,
  uploadState: false,
  tagsPagination: 'spec',
  warnings: [],
  tagDeletes: true,
  blobRedirect: false,
  control: false,
  createOnPush: true,
  repositories: [],
  immutableTags: false,
  catalog: true,
  answers: {},
  eventStreamHeartbeatMs: 15_000,
  tls: false,
  http2: false,
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
  checkOptionTypes(options);
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RegistryOptions;
  if (given.profile !== undefined && !Object.hasOwn(PROFILES, given.profile)) {
    throw new TypeError(`option profile must be one of ${Object.keys(PROFILES).join(', ')}, got ${JSON.stringify(given.profile)}`);
  }
  const profile = given.profile === undefined ? {} : PROFILES[given.profile].options;
  const resolved: ResolvedOptions = { ...DEFAULT_OPTIONS, ...profile, ...given };
  // A profile's wording stays for the refusals an explicit `answers` leaves out.
  if (profile.answers && given.answers) resolved.answers = { ...profile.answers, ...given.answers };
  // A reporter that throws must never take a request or the process down with it.
  const report = resolved.onError;
  resolved.onError = (error) => {
    try {
      report(error);
    } catch {
      // nothing more can be done with it
    }
  };
  positive('maxManifestBytes', resolved.maxManifestBytes);
  positive('maxStorageBytes', resolved.maxStorageBytes, true);
  positive('uploadTimeoutMs', resolved.uploadTimeoutMs);
  positive('headersTimeoutMs', resolved.headersTimeoutMs);
  positive('requestTimeoutMs', resolved.requestTimeoutMs, true);
  positive('keepAliveTimeoutMs', resolved.keepAliveTimeoutMs, true);
  positive('idleTimeoutMs', resolved.idleTimeoutMs, true);
  positive('eventStreamHeartbeatMs', resolved.eventStreamHeartbeatMs);
  positive('maxBlobBytes', resolved.maxBlobBytes);
  if (!(resolved.maxUploads === Infinity || (Number.isSafeInteger(resolved.maxUploads) && resolved.maxUploads > 0))) {
    throw new TypeError(`option maxUploads must be a positive integer, got ${String(resolved.maxUploads)}`);
  }
  if (!Number.isSafeInteger(resolved.journalLimit) || resolved.journalLimit < 0) {
    throw new TypeError(`option journalLimit must be a non-negative integer, got ${String(resolved.journalLimit)}`);
  }
  if (resolved.maxPageSize !== undefined && (!Number.isSafeInteger(resolved.maxPageSize) || resolved.maxPageSize < 1)) {
    throw new TypeError(`option maxPageSize must be a positive integer, got ${String(resolved.maxPageSize)}`);
  }
  positive('chunkMinBytes', resolved.chunkMinBytes);
  positive('chunkMaxBytes', resolved.chunkMaxBytes);
  if (resolved.uploadPatchStatus !== 202 && resolved.uploadPatchStatus !== 204) throw new TypeError('option uploadPatchStatus must be 202 or 204');
  if (resolved.mountWithoutSourceAccess !== 'challenge' && resolved.mountWithoutSourceAccess !== 'upload') {
    throw new TypeError("option mountWithoutSourceAccess must be 'challenge' or 'upload'");
  }
  if (!['spec', 'ignore-n', 'no-link'].includes(resolved.tagsPagination)) throw new TypeError("option tagsPagination must be 'spec', 'ignore-n' or 'no-link'");
  // spec "Warnings": no more than 4096 bytes of warning data, and a quoted-string cannot hold '"' or CR/LF.
  if (resolved.warnings.some((w) => /["\\\r\n]/.test(w)) || Buffer.byteLength(resolved.warnings.join('')) > 4096) {
    throw new TypeError('option warnings must be texts without quotes, backslashes or line breaks, at most 4096 bytes in all');
  }
  const redirectHost = typeof resolved.blobRedirect === 'object' ? resolved.blobRedirect.host : undefined;
  if (redirectHost !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(redirectHost)) {
    throw new TypeError(`option blobRedirect.host must be a host name or address with an optional port, got ${JSON.stringify(redirectHost)}`);
  }
  if (resolved.auth !== undefined) {
    const { basic, token } = resolved.auth;
    if (basic && token) throw new TypeError('option auth takes basic or token, not both');
    if (!basic && !token) throw new TypeError('option auth needs basic or token');
    const users = basic ? basic.users : (token!.users ?? {});
    if (typeof users !== 'object' || users === null || Object.values(users).some((p) => typeof p !== 'string')) {
      throw new TypeError('option auth.basic.users / auth.token.users must map user names to password strings');
    }
    if (token?.anonymous !== undefined && token.anonymous !== 'pull' && token.anonymous !== false) throw new TypeError("option auth.token.anonymous must be 'pull' or false");
    positive('auth.token.expiresInSeconds', token?.expiresInSeconds);
  }
  for (const limit of ['rateLimit', 'pullLimit'] as const) {
    if (resolved[limit] === undefined) continue;
    positive(`${limit}.requests`, resolved[limit].requests);
    positive(`${limit}.perSeconds`, resolved[limit].perSeconds);
  }
  const badName = resolved.repositories.find((name) => !isName(name));
  if (badName !== undefined) throw new TypeError(`option repositories must hold repository names, got ${JSON.stringify(badName)}`);
  const answers = answersProblem(resolved.answers);
  if (answers) throw new TypeError(`option answers${answers.startsWith('.') ? '' : ' '}${answers}`);
  for (const [where, upstream] of [['upstream', resolved.upstream] as const, ...Object.entries(resolved.upstreams ?? {}).map(([host, u]) => [`upstreams[${JSON.stringify(host)}]`, u] as const)]) {
    const problem = upstream === undefined ? undefined : upstreamProblem(upstream);
    if (problem) throw new TypeError(`option ${where}${problem}`);
  }
  if (resolved.http2 && !resolved.tls) throw new TypeError('option http2 needs tls (browsers and Go clients speak HTTP/2 only over TLS)');
  if (typeof resolved.tls === 'object') {
    const { cert, key, hosts, clientCa } = resolved.tls;
    if ((cert === undefined) !== (key === undefined)) throw new TypeError(`option tls.${cert === undefined ? 'cert' : 'key'} is missing: give tls.cert and tls.key together`);
    if (hosts !== undefined && (!Array.isArray(hosts) || hosts.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9.*-]+$|^\[?[0-9A-Fa-f:.]+\]?$/.test(h)))) {
      throw new TypeError(`option tls.hosts must be DNS names or IP addresses, got ${JSON.stringify(hosts)}`);
    }
    if (clientCa !== undefined && clientCa !== true && typeof clientCa !== 'string') throw new TypeError('option tls.clientCa must be PEM text, a file path or true');
  } else if (typeof resolved.tls !== 'boolean') throw new TypeError('option tls must be true, false or an object');
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw new TypeError(`option port must be an integer from 0 to 65535, got ${String(resolved.port)}`);
  }
  return resolved;
}
