/**
 * The command line's flags: one per registry option (typed against
 * RegistryOptions, so an option without a flag does not compile), the
 * CLI-only flags, how each value is read, and the --help text.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_OPTIONS, type RegistryOptions } from '../options.js';
import { PROFILES } from '../control/profiles.js';
import { rulesFromJson } from '../control/faults.js';
import { UPSTREAM_FIELD_FLAGS, parseMirror, parseUpstream } from './mirror.js';
import { environmentHelp } from './environment.js';

export const PROGRAM = 'oci-test-registry';
/** The CLI's port when neither --port nor $PORT is given (the API's default is 0, a free port). */
export const DEFAULT_PORT = 5000;
/** Exit status of a usage or start-up error (bad flag, bad value, port in use, bad layout). */
export const EXIT_USAGE = 2;

/** Options of the library a process outside cannot give (functions, objects, hooks). */
type ApiOnly = 'store' | 'onRequest' | 'onError' | 'teardown';
/** Every other option has a flag: adding one to RegistryOptions without a row here fails to compile. */
type OptionKey = Exclude<keyof RegistryOptions, ApiOnly>;

/**
 * How a flag's text becomes an option value:
 * - `switch`: `--name` / `--no-name` (also `--name=true|false`);
 * - `host`, `port`, `count` (whole number), `bytes` (SIZE), `duration` (DURATION);
 * - `choice`: one of `choices` (numbers when they look like numbers);
 * - `list`: repeatable text; `faults`: repeatable JSON fault rules or `@FILE`;
 * - `rate`: `N/SECONDS`; `redirect`: `--name[=HOST[:PORT]]` / `--no-name`;
 * - `auth`: `basic:USER:PASSWORD[,USER:PASSWORD…]`, `token:…` likewise, or the
 *   whole AuthOptions object as JSON or `@FILE`;
 * - `json`: a JSON value (`false`, an array, an object) or `@FILE`;
 * - `upstream`: a URL, or UpstreamOptions as JSON or `@FILE`; `mirror`: repeatable `HOST=URL` (src/cli/mirror.ts).
 */
type Kind = 'switch' | 'host' | 'port' | 'count' | 'bytes' | 'duration' | 'choice' | 'list' | 'faults' | 'rate' | 'redirect' | 'auth' | 'json' | 'upstream' | 'mirror';

export interface OptionFlag {
  kind: Kind;
  help: string;
  choices?: readonly string[];
  /** What --help shows as the default, when DEFAULT_OPTIONS cannot say it. */
  defaultText?: string;
  /** The flag's name when it is not the option's (`upstreams` is `--mirror`). */
  flag?: string;
}

export const OPTION_FLAGS: { readonly [K in OptionKey]: OptionFlag } = {
  host: { kind: 'host', help: 'interface to listen on; 0.0.0.0 or :: opens it to the network (a warning is printed)' },
  port: { kind: 'port', help: 'port to listen on; 0 picks a free one', defaultText: `$PORT, else ${DEFAULT_PORT}` },
  profile: { kind: 'choice', choices: Object.keys(PROFILES), help: 'mimic a real registry (--profiles lists them with what they mimic); other flags override it' },
  deletes: { kind: 'switch', help: 'allow DELETE of manifests, tags and blobs (off: 405 UNSUPPORTED)' },
  tagDeletes: { kind: 'choice', choices: ['true', 'false', 'digest-invalid'], help: 'DELETE of a tag: true; false: 405 UNSUPPORTED; digest-invalid: 400 DIGEST_INVALID as distribution 2.8 answers' },
  referrers: { kind: 'switch', help: 'serve the referrers API (off: 404, so clients use the tag schema)' },
  mount: { kind: 'switch', help: 'honour cross-repository blob mounts (off: a mount opens an upload)' },
  mountWithoutFrom: { kind: 'switch', help: 'a mount without from= finds the blob in any repository' },
  mountWithoutSourceAccess: { kind: 'choice', choices: ['challenge', 'upload'], help: 'token mode, a token without pull on from=: challenge (401 insufficient_scope) or upload (202)' },
  singlePostUpload: { kind: 'switch', help: 'accept a whole blob in one POST ?digest= (off: answered as a plain 202 session)' },
  chunkMinBytes: { kind: 'bytes', help: 'advertised as OCI-Chunk-Min-Length; a PATCH after a smaller chunk gets 416' },
  chunkMaxBytes: { kind: 'bytes', help: 'a PATCH larger than this gets 416' },
  uploadPatchStatus: { kind: 'choice', choices: ['202', '204'], help: 'status of a successful PATCH' },
  omitDigestHeader: { kind: 'switch', help: 'leave Docker-Content-Digest out of manifest and blob responses' },
  uploadState: { kind: 'switch', help: 'add an opaque _state query parameter to upload Locations (a client that builds upload URLs itself is noticed by check)' },
  tagsPagination: { kind: 'choice', choices: ['spec', 'ignore-n', 'no-link'], help: 'spec; ignore-n: every tag, no Link; no-link: n honoured, no Link header' },
  maxPageSize: { kind: 'count', help: 'cap n on tags/list and _catalog, and page requests without n' },
  blobRedirect: { kind: 'redirect', help: 'blob GETs answer 307 to a signed, expiring URL on HOST, else on the other spelling of loopback (127.0.0.1 <-> localhost)' },
  warnings: { kind: 'list', help: 'sent as Warning: 299 - "TEXT" on every response (repeatable)' },
  faults: { kind: 'faults', help: 'fault rules in force from the start: JSON (a rule or an array) or @FILE (repeatable; see README "Fault injection")' },
  rateLimit: { kind: 'rate', help: 'past N requests in SECONDS, answer 429 TOOMANYREQUESTS with Retry-After' },
  auth: { kind: 'auth', help: 'require credentials: basic:USER:PASSWORD or token:USER:PASSWORD (the Docker token flow; several users comma-separated), or the auth option as JSON or @FILE (with access rules)' },
  control: { kind: 'switch', help: 'serve the JSON control routes under /_oci-test-registry/ (journal, faults, reset, health, seed, wait, events)' },
  eventStreamHeartbeatMs: { kind: 'duration', help: 'how often the control event stream (GET events) sends a heartbeat comment' },
  journalLimit: {
    kind: 'count',
    help: 'requests kept in the request journal, read through --control (0: no journal)',
    defaultText: `${DEFAULT_OPTIONS.journalLimit} with --control, else 0`,
  },
  maxManifestBytes: { kind: 'bytes', help: 'largest manifest accepted (larger: 413)' },
  maxStorageBytes: { kind: 'bytes', help: 'bytes of blobs, manifests and open uploads held at most (past it: 413 DENIED)', defaultText: 'half the memory' },
  maxBlobBytes: { kind: 'bytes', help: 'largest single blob (past it: 413 DENIED)', defaultText: 'no limit' },
  maxUploads: { kind: 'count', help: 'upload sessions open at once (one more POST: 429 TOOMANYREQUESTS)' },
  uploadTimeoutMs: { kind: 'duration', help: 'idle upload sessions expire and are freed after this' },
  headersTimeoutMs: { kind: 'duration', help: 'time allowed to receive request headers' },
  requestTimeoutMs: { kind: 'duration', help: 'time allowed for a whole request (0: none)' },
  keepAliveTimeoutMs: { kind: 'duration', help: 'how long an idle keep-alive connection is kept' },
  idleTimeoutMs: { kind: 'duration', help: 'close a connection idle this long (a stalled upload chunk rolls back; 0: never)' },
  createOnPush: { kind: 'json', help: 'false: a push to a repository that does not exist is refused (404 NAME_UNKNOWN); or a JSON array of name patterns created on push (* one path segment, ** any)' },
  repositories: { kind: 'list', help: 'a repository that exists from the start, empty (repeatable)' },
  immutableTags: { kind: 'switch', help: 'a manifest PUT that would move an existing tag is refused (403 DENIED)' },
  pullLimit: { kind: 'rate', help: "Docker Hub's pull limit: ratelimit-* headers on manifest GET and HEAD; a GET past N in SECONDS gets 429 TOOMANYREQUESTS" },
  catalog: { kind: 'switch', help: 'serve GET /v2/_catalog (off: 404 UNSUPPORTED)' },
  upstream: { kind: 'upstream', help: 'be a pull-through mirror of this registry URL (or the upstream option as JSON or @FILE; see README "As a mirror")' },
  upstreams: { kind: 'mirror', flag: 'mirror', help: 'mirror URL for clients naming HOST (containerd\'s ?ns=HOST; repeatable)' },
  answers: { kind: 'json', help: 'the registry\'s own status, code, message and headers for those refusals, as JSON or @FILE (see README "Quirk switches")', defaultText: 'ours' },
  tls: { kind: 'switch', help: 'serve HTTPS with a certificate signed by a CA made at start (write it with --ca-out / --certs-dir; see "HTTPS and HTTP/2")' },
  http2: { kind: 'switch', help: 'offer HTTP/2 (ALPN h2, HTTP/1.1 still served); needs --tls' },
};

/** `maxManifestBytes` → `max-manifest-bytes`, `uploadTimeoutMs` → `upload-timeout` (the unit goes in the value). */
export function flagName(key: string): string {
  return key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Flag name → option key and its row. */
export const BY_FLAG = new Map(Object.entries(OPTION_FLAGS).map(([key, flag]) => [flag.flag ?? flagName(key), { key: key as OptionKey, flag }]));

/** Flags whose value may be left out (`--log` alone means text lines, `--blob-redirect` alone means on). */
export const OPTIONAL_VALUE: Record<string, string> = { log: 'text', 'blob-redirect': 'true' };

const VALUE_NAME: Partial<Record<Kind, string>> = {
  host: 'HOST', port: 'N', count: 'N', bytes: 'SIZE', duration: 'DURATION', list: 'TEXT', faults: 'JSON|@FILE', rate: 'N/SECONDS', redirect: '[=HOST[:PORT]]',
  auth: 'MODE:USER:PASSWORD|JSON|@FILE', json: 'JSON|@FILE', upstream: 'URL|JSON|@FILE', mirror: 'HOST=URL',
};

export function example(flag: OptionFlag): string {
  switch (flag.kind) {
    case 'host': return '127.0.0.1';
    case 'port': return '5000';
    case 'count': return '100';
    case 'bytes': return '4MiB';
    case 'duration': return '30s';
    case 'choice': return flag.choices![0]!;
    case 'list': return 'text';
    case 'faults': return `'{"match":{"method":"PATCH"},"action":{"status":503}}'`;
    case 'rate': return '100/60';
    case 'redirect': return 'localhost:5000';
    case 'auth': return 'basic:ci:secret';
    case 'json': return `'["team/*"]'`;
    case 'upstream': return 'https://registry.example';
    case 'mirror': return 'docker.io=http://127.0.0.1:5001';
    case 'switch': return '';
  }
}

/** Flags also read from OCI_TEST_REGISTRY_<FLAG> (the port is $PORT). */
export const ENV_FLAGS = [...[...BY_FLAG.keys()].filter((name) => name !== 'port'), 'log'];

/** Flags of the CLI itself, not of the registry. */
export const CLI_FLAGS = {
  seed: { value: '[NAME[:TAG]=]DIR', example: './layout', help: 'load an OCI image layout at start (repeatable; see "Seeding")' },
  export: { value: 'DIR', example: './registry-export', help: 'on shutdown, write every repository as a layout to DIR/<name>' },
  json: { value: '', example: '', help: 'print the ready line as JSON: {"url","host","port","pid"}, with TLS also "ca" (the CA file)' },
  'tls-cert': { value: 'FILE', example: './server.crt', help: 'serve this certificate (PEM) instead of a generated one; needs --tls-key (implies --tls)' },
  'tls-key': { value: 'FILE', example: './server.key', help: 'the private key (PEM) of --tls-cert' },
  'tls-client-ca': { value: 'FILE', example: './client-ca.crt', help: 'require client certificates signed by this CA (mutual TLS; implies --tls)' },
  'tls-host': { value: 'NAME', example: 'registry.local', help: 'another DNS name or IP address for the generated certificate (repeatable; implies --tls)' },
  'ca-out': { value: 'FILE', example: './ca.crt', help: 'write the generated CA certificate (PEM) to FILE (implies --tls)' },
  'certs-dir': { value: 'DIR', example: '/etc/docker/certs.d', help: 'write the CA as DIR/<host>:<port>/ca.crt for each name of the server, as Docker, containerd and podman read it (implies --tls)' },
  log: { value: '[text|json]', example: 'json', help: 'one line per request on stderr (method, path, status, bytes, ms), or JSON lines' },
  profiles: { value: '', example: '', help: 'list the profiles (--profile NAME), one line each, and exit' },
  help: { value: '', example: '', help: 'print this help and exit' },
  version: { value: '', example: '', help: 'print the version and exit' },
  ...UPSTREAM_FIELD_FLAGS,
} as const;

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3,
  kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3,
};
const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const TRUE = new Set(['true', '1', 'yes', 'on']);
export const FALSE = new Set(['false', '0', 'no', 'off']);

export class UsageError extends Error {}

/** Parses one flag value, or says what is wrong and what would be right. */
export function parseValue(flag: OptionFlag, name: string, text: string): unknown {
  const bad = (what: string): never => {
    // An --auth value holds passwords: never echo it (CI logs are often public).
    const shown = flag.kind === 'auth' ? '' : ` ${JSON.stringify(text)}`;
    throw new UsageError(`invalid value${shown} for --${name}: ${what}, e.g. --${name} ${example(flag)}`);
  };
  const scaled = (units: Record<string, number>, what: string): number => {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
    const unit = match ? units[match[2]!.toLowerCase()] : undefined;
    if (!match || unit === undefined) bad(what);
    const value = Math.round(Number(match![1]) * unit!);
    if (!Number.isSafeInteger(value)) bad('too large');
    return value;
  };
  switch (flag.kind) {
    case 'switch':
      return true;
    case 'host':
      if (text.trim() === '') bad('give an interface address');
      return text;
    case 'port':
      if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) bad('give a port number from 0 to 65535 (0: a free port)');
      return Number(text);
    case 'count':
      if (!/^\d{1,15}$/.test(text)) bad('give a whole number');
      return Number(text);
    case 'bytes':
      return scaled(SIZE_UNITS, 'give bytes, optionally with a unit: KiB, MiB, GiB (or k, M, G; KB, MB, GB are powers of 1000)');
    case 'duration':
      return scaled(DURATION_UNITS, 'give milliseconds, or a number with a unit: ms, s, m, h');
    case 'choice':
      if (!flag.choices!.includes(text)) bad(`give one of ${flag.choices!.join(', ')}`);
      return /^\d+$/.test(text) ? Number(text) : text;
    case 'list':
      return text;
    case 'faults':
      try {
        return rulesFromJson(readJsonArgument(name, text));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`invalid fault rules in --${name} ${shorten(text)}: ${(error as Error).message}`);
      }
    case 'auth': {
      const shorthand = /^(basic|token):(.+)$/s.exec(text);
      if (shorthand) {
        const users: Record<string, string> = {};
        for (const pair of shorthand[2]!.split(',')) {
          const colon = pair.indexOf(':');
          if (colon <= 0) bad('give MODE:USER:PASSWORD, several USER:PASSWORD pairs comma-separated');
          users[pair.slice(0, colon)] = pair.slice(colon + 1);
        }
        return { [shorthand[1]!]: { users } };
      }
      if (!text.startsWith('{') && !text.startsWith('@')) bad('give basic:USER:PASSWORD, token:USER:PASSWORD, a JSON object or @FILE');
      let value: unknown;
      try {
        value = JSON.parse(readJsonArgument(name, text));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`invalid JSON in --${name}: ${(error as Error).message}`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('the JSON must be an object: {"basic":{"users":{...}}} or {"token":{...}}');
      return value;
    }
    case 'json':
      try {
        return JSON.parse(/^\s*(true|false|null|-?\d|")/.test(text) ? text : readJsonArgument(name, text));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`invalid JSON in --${name} ${shorten(text)}: ${(error as Error).message}`);
      }
    case 'upstream': {
      const upstream = parseUpstream(text, () => readJsonArgument(name, text));
      return typeof upstream === 'string' ? bad(upstream) : upstream;
    }
    case 'mirror': {
      const mirror = parseMirror(text);
      return typeof mirror === 'string' ? bad(mirror) : mirror;
    }
    case 'rate': {
      const match = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(text);
      if (!match) bad('give N/SECONDS, N requests allowed in each window of SECONDS');
      return { requests: Number(match![1]), perSeconds: Number(match![2]) };
    }
    case 'redirect': {
      const lower = text.toLowerCase();
      if (TRUE.has(lower)) return true;
      if (FALSE.has(lower)) return false;
      if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(text)) bad('give HOST or HOST:PORT for the signed URLs, or nothing');
      return { host: text };
    }
  }
}

/**
 * A JSON flag value: inline JSON (starting with `{` or `[`), or a file named
 * as `@FILE` or as a plain path (`--faults faults.json`).
 */
function readJsonArgument(name: string, text: string): string {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return text;
  try {
    return readFileSync(text.startsWith('@') ? text.slice(1) : text, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --${name} ${text}: ${(error as Error).message}`);
  }
}

/** A value quoted in a message, cut short (it may be a long JSON text, or hold a password). */
function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function formatBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}

function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The default --help shows, read from DEFAULT_OPTIONS (never a second copy). */
function defaultText(key: OptionKey, flag: OptionFlag): string {
  if (flag.defaultText) return flag.defaultText;
  const value = (DEFAULT_OPTIONS as Partial<Record<OptionKey, unknown>>)[key];
  if (value === Infinity) return 'no limit';
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return 'none';
  switch (flag.kind) {
    case 'switch':
    case 'redirect':
      return value ? 'on' : 'off';
    case 'bytes': return formatBytes(value as number);
    case 'duration': return formatDuration(value as number);
    default: return String(value);
  }
}

const HELP_COLUMNS = 80;

/** Splits text into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

export function helpText(): string {
  const rows: [string, string][] = [];
  const section = (title: string) => rows.push([title, '']);
  const row = (left: string, right: string) => rows.push([`  ${left}`, right]);
  section('Registry options (the RegistryOptions of the API):');
  for (const [key, flag] of Object.entries(OPTION_FLAGS) as [OptionKey, OptionFlag][]) {
    const name = flag.flag ?? flagName(key);
    const value = flag.kind === 'choice' ? ` ${flag.choices!.join('|')}` : flag.kind === 'redirect' ? VALUE_NAME.redirect! : VALUE_NAME[flag.kind] ? ` ${VALUE_NAME[flag.kind]}` : '';
    const left = flag.kind === 'switch' || flag.kind === 'redirect' ? `--[no-]${name}${value}` : `--${name}${value}`;
    // A no-break space keeps "(default: X)" on one line; wrap() splits at spaces only.
    row(left, `${flag.help} (default:\u00a0${defaultText(key, flag).replaceAll(' ', '\u00a0')})`);
  }
  section('Command line:');
  for (const [name, flag] of Object.entries(CLI_FLAGS)) {
    const short = name === 'help' ? '-h, ' : name === 'version' ? '-v, ' : '';
    row(`${short}--${name}${flag.value ? ` ${flag.value}` : ''}`, flag.help);
  }
  const width = Math.min(Math.max(...rows.filter(([, r]) => r).map(([l]) => l.length)) + 2, 34);
  const table = rows
    .map(([left, right]) => {
      if (!right) return `\n${left}`;
      const lines = wrap(right, HELP_COLUMNS - width);
      // A long flag gets its description on the next line.
      const head = left.length + 2 > width ? `${left}\n${' '.repeat(width)}` : left.padEnd(width);
      return head + lines.join(`\n${' '.repeat(width)}`).replaceAll('\u00a0', ' ');
    })
    .join('\n');
  return `Usage: ${PROGRAM} [options]

An in-memory OCI / Docker registry for tests and CI jobs. Prints one line
once it is listening, serves until SIGINT or SIGTERM, then forgets
everything (keep it with --export).
${table}

Values: SIZE is bytes or a number with a unit (KiB, MiB, GiB or k, M, G;
KB, MB, GB are powers of 1000): 512KiB, 4MiB. DURATION is milliseconds or
a number with a unit (ms, s, m, h): 500ms, 30s, 15m. Switches also take
--name=true / --name=false. A later flag overrides an earlier one.

Seeding: --seed DIR reads an OCI image layout (oci-layout, index.json,
blobs/). Each index.json entry's org.opencontainers.image.ref.name is either
a tag (v1), stored in the repository named after DIR's last component, or a
reference (example.com/team/app:v1), stored as team/app:v1 (registry host
dropped). Entries without one are stored by digest. --seed NAME=DIR puts
every entry in repository NAME; --seed NAME:TAG=DIR imports the one image of
DIR (or the entry whose ref.name tag is TAG) as NAME:TAG. Everything is
verified as a push is.

Export: --export DIR writes DIR/<name>/{oci-layout,index.json,blobs/} per
repository on shutdown, one index.json entry per tag (ref.name = tag), so
--seed NAME=DIR/<name> or skopeo copy oci:DIR/<name>:TAG reads it back.

${wrap(environmentHelp(ENV_FLAGS), HELP_COLUMNS).join('\n')}

Exit status: 0 after SIGINT or SIGTERM (or when a forking parent's IPC
channel closes), 2 on a usage or start-up error, 1 when --export fails.
`;
}

