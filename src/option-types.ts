import type { RegistryOptions } from './options.js';
import { closestName } from './suggest.js';

/** What a value must be, said as the end of "option X must be …"; undefined when it is right. */
type Check = (value: unknown) => string | undefined;

const is = (test: (value: unknown) => boolean, what: string): Check => (value) => (test(value) ? undefined : what);
const object = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const strings = (value: unknown): boolean => Array.isArray(value) && value.every((v) => typeof v === 'string');

const BOOLEAN = is((v) => typeof v === 'boolean', 'true or false');
const NUMBER = is((v) => typeof v === 'number', 'a number');
const STRING = is((v) => typeof v === 'string', 'a string');
const OBJECT = is(object, 'an object');
const FUNCTION = is((v) => typeof v === 'function', 'a function');
const STRINGS = is(strings, 'an array of strings');

/**
 * The type of every option, one row each: a name missing here fails to
 * compile, and a name given that is not here is refused with the nearest
 * known one, so `{ referers: false }` cannot pass for a switch that is off.
 * Values are checked further in resolveOptions (ranges, shapes).
 */
export const OPTION_TYPES: { readonly [K in keyof Required<RegistryOptions>]: Check } = {
  host: STRING,
  port: NUMBER,
  maxManifestBytes: NUMBER,
  maxStorageBytes: NUMBER,
  maxBlobBytes: NUMBER,
  maxUploads: NUMBER,
  uploadTimeoutMs: NUMBER,
  deletes: BOOLEAN,
  referrers: BOOLEAN,
  mount: BOOLEAN,
  mountWithoutFrom: BOOLEAN,
  maxPageSize: NUMBER,
  store: OBJECT,
  journalLimit: NUMBER,
  teardown: OBJECT,
  onRequest: FUNCTION,
  onError: FUNCTION,
  auth: OBJECT,
  faults: is(Array.isArray, 'an array of fault rules'),
  rateLimit: OBJECT,
  singlePostUpload: BOOLEAN,
  chunkMinBytes: NUMBER,
  chunkMaxBytes: NUMBER,
  uploadPatchStatus: NUMBER,
  omitDigestHeader: BOOLEAN,
  tagsPagination: STRING,
  warnings: STRINGS,
  tagDeletes: is((v) => typeof v === 'boolean' || v === 'digest-invalid', "true, false or 'digest-invalid'"),
  blobRedirect: is((v) => typeof v === 'boolean' || object(v), 'true, false or { host, ttlSeconds }'),
  control: BOOLEAN,
  profile: STRING,
  headersTimeoutMs: NUMBER,
  requestTimeoutMs: NUMBER,
  keepAliveTimeoutMs: NUMBER,
  idleTimeoutMs: NUMBER,
  upstream: OBJECT,
  upstreams: OBJECT,
  createOnPush: is((v) => typeof v === 'boolean' || strings(v), 'true, false or an array of name patterns'),
  repositories: STRINGS,
  immutableTags: BOOLEAN,
  pullLimit: OBJECT,
  catalog: BOOLEAN,
  answers: OBJECT,
  uploadState: BOOLEAN,
  eventStreamHeartbeatMs: NUMBER,
  tls: is((v) => typeof v === 'boolean' || object(v), 'true, false or { hosts, cert, key, clientCa }'),
  http2: BOOLEAN,
  mountWithoutSourceAccess: is((v) => v === 'challenge' || v === 'upload', "'challenge' or 'upload'"),
};

/** Refuses an option name that does not exist and a value of the wrong type, naming the option. */
export function checkOptionTypes(options: object): void {
  for (const [name, value] of Object.entries(options)) {
    if (!Object.hasOwn(OPTION_TYPES, name)) {
      const guess = closestName(name, Object.keys(OPTION_TYPES));
      throw new TypeError(`unknown option ${name}${guess ? `; did you mean ${guess}?` : ''}`);
    }
    if (value === undefined) continue;
    const wanted = OPTION_TYPES[name as keyof RegistryOptions](value);
    if (wanted !== undefined) throw new TypeError(`option ${name} must be ${wanted}, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
