/**
 * The scenarios of `oci-test-registry check`: each one a registry configured
 * to misbehave in one way (built from the fault rules, quirk switches and
 * profiles the registry already has), with what a well-behaved client does
 * about it and where that behaviour is specified or reported.
 */
import type { RegistryOptions } from '../options.js';
import { PROFILES } from '../control/profiles.js';
import { FINDING_RULES } from './findings.js';

/**
 * What a well-behaved client does in a scenario:
 * - `succeed`: exits 0 with the content right;
 * - `succeed-or-fail`: exits 0 with the content right, or fails cleanly
 *   (non-zero exit, within the timeout) — never succeeds with wrong content.
 */
export type Expectation = 'succeed' | 'succeed-or-fail';

/** Credentials a scenario hands the client (as OCI_USERNAME / OCI_PASSWORD). */
export type ScenarioAuth = 'basic' | 'token';

export interface Scenario {
  /** Lower-case, `[a-z0-9-]`; what `--scenarios` matches. */
  name: string;
  /** One line: what the registry does. */
  summary: string;
  /** One line: what a well-behaved client does about it. */
  expects: string;
  expectation: Expectation;
  /** The spec section, RFC or public issue the behaviour comes from. */
  source: string;
  /** Registry options (faults, quirks, a profile) of this scenario. */
  options: RegistryOptions;
  /** Credentials required (the registry gets a user; the client gets OCI_USERNAME / OCI_PASSWORD). */
  auth?: ScenarioAuth;
  /** Tags seeded into the repository before the client runs (for paging). */
  seedTags?: number;
  /** In the default set (`--scenarios` not given). Default true. */
  default?: boolean;
}

const SPEC = 'OCI distribution-spec v1.1.1';

/** The catalogue, in the order a run takes it. Profiles are read at call time, so new ones join by themselves. */
export function scenarios(): Scenario[] {
  const profiles: Scenario[] = Object.entries(PROFILES).map(([name, profile]) => ({
    name: `profile-${name}`,
    summary: `answers like ${profile.description}: ${Object.keys(profile.options).join(', ')}`,
    expects: 'works against that registry as it does against a spec-exact one',
    expectation: 'succeed',
    source: `README "Profiles"; ${Object.values(profile.behaviours)[0]?.sources[0] ?? ''}`.replace(/; $/, ''),
    options: { profile: name as RegistryOptions['profile'] },
  }));
  return [
    {
      name: 'baseline',
      summary: 'a spec-exact registry, no faults',
      expects: 'succeeds, following every Location it is given',
      expectation: 'succeed',
      source: SPEC,
      options: {},
    },
    ...profiles,
    {
      name: 'auth-basic',
      summary: 'every request needs HTTP Basic credentials (401 with a Basic challenge without them)',
      expects: 'sends OCI_USERNAME / OCI_PASSWORD as Basic credentials',
      expectation: 'succeed',
      source: 'RFC 7617 (HTTP Basic); RFC 9110 §11.6.1 (WWW-Authenticate)',
      options: {},
      auth: 'basic',
    },
    {
      name: 'auth-token',
      summary: 'the Docker token flow: 401 with a Bearer challenge naming realm, service and scope',
      expects: 'asks the realm for a token with the challenge\'s scopes (Basic credentials) and retries with Bearer',
      expectation: 'succeed',
      source: 'distribution docs "Token Authentication Specification"',
      options: {},
      auth: 'token',
    },
    {
      name: '503-once-blob-upload',
      summary: 'the first blob-upload request (POST, PATCH or PUT of a session) answers 503',
      expects: 'retries the request (or the upload) and succeeds',
      expectation: 'succeed',
      source: 'RFC 9110 §15.6.4 (503: a temporary condition)',
      options: { faults: [{ match: { route: 'upload' }, action: { status: 503 } }] },
    },
    {
      name: '503-once-manifest-put',
      summary: 'the first manifest PUT answers 503',
      expects: 'retries the PUT and succeeds',
      expectation: 'succeed',
      source: 'RFC 9110 §15.6.4 (503: a temporary condition)',
      options: { faults: [{ match: { route: 'manifest', method: 'PUT' }, action: { status: 503 } }] },
    },
    {
      name: '429-retry-after',
      summary: 'the first request answers 429 TOOMANYREQUESTS with Retry-After: 1',
      expects: 'waits at least the second Retry-After asks for, repeats the request and succeeds',
      expectation: 'succeed',
      source: `RFC 6585 §4; RFC 9110 §10.2.3; ${SPEC} "Error Codes" (TOOMANYREQUESTS)`,
      options: { faults: [{ action: { rateLimit: { retryAfterSeconds: 1 } } }] },
    },
    {
      name: 'drop-blob-get',
      summary: 'the first blob GET: the connection closes before any response',
      expects: 'retries the GET and succeeds (pulls only)',
      expectation: 'succeed',
      source: `${SPEC} "Resumable Pull"`,
      options: { faults: [{ match: { route: /^(blob|redirect)$/, method: 'GET' }, action: { drop: 'before-response' } }] },
    },
    {
      name: 'truncate-blob-get',
      summary: 'the first blob GET: full Content-Length, half the body, then the connection closes',
      expects: 'notices the short body; retries (or resumes with Range) and succeeds, or fails — never succeeds with the cut blob',
      expectation: 'succeed-or-fail',
      source: `${SPEC} "Content Verification", "Resumable Pull"`,
      options: { faults: [{ match: { route: /^(blob|redirect)$/, method: 'GET' }, action: { drop: 'mid-body' } }] },
    },
    {
      name: 'tls',
      summary: 'HTTPS only, with a certificate signed by a CA made for the run (OCI_CA_FILE; OCI_CERT_DIR holds it as ca.crt)',
      expects: 'verifies the certificate with the CA it is given and succeeds',
      expectation: 'succeed',
      source: `${SPEC} (clients reach registries over HTTPS by default); RFC 8446`,
      options: { tls: true },
      default: false,
    },
    {
      name: 'h2',
      summary: 'HTTPS with HTTP/2 offered by ALPN beside HTTP/1.1 (the journal says which the client took)',
      expects: 'succeeds over h2 or HTTP/1.1',
      expectation: 'succeed',
      source: 'RFC 9113 §3.2 (HTTP/2 over TLS, ALPN h2); hosted registries offer h2',
      options: { tls: true, http2: true },
      default: false,
    },
    {
      name: 'slow',
      summary: 'every response is 200 ms late',
      expects: 'succeeds without timing out',
      expectation: 'succeed',
      source: 'latency of hosted registries',
      options: { faults: [{ times: Infinity, action: { delayMs: 200 } }] },
    },
    {
      name: 'no-single-post',
      summary: 'POST ?digest= with the blob is answered as a plain 202 session, nothing stored',
      expects: 'takes the 202 and Location, and PUTs the blob to the session',
      expectation: 'succeed',
      source: `${SPEC} "Single POST" (registries that do not support it answer 202)`,
      options: { singlePostUpload: false },
    },
    {
      name: 'chunk-min',
      summary: 'the POST advertises OCI-Chunk-Min-Length: 256 KiB; a PATCH after a smaller chunk gets 416',
      expects: 'sends chunks of at least OCI-Chunk-Min-Length (the last may be smaller)',
      expectation: 'succeed',
      source: `${SPEC} "Pushing a blob in chunks" (OCI-Chunk-Min-Length)`,
      options: { chunkMinBytes: 256 * 1024 },
    },
    {
      name: 'chunk-max',
      summary: 'a PATCH larger than 4 MiB gets 416',
      expects: 'sends large blobs in chunks of at most 4 MiB (or monolithically with PUT)',
      expectation: 'succeed',
      source: 'ghcr.io: https://github.com/ocx-sh/ocx/pull/237',
      options: { chunkMaxBytes: 4 * 1024 * 1024 },
    },
    {
      name: 'mount-declined',
      summary: 'POST ?mount= never mounts: a plain 202 session',
      expects: 'takes the 202 and uploads the blob to the session',
      expectation: 'succeed',
      source: `${SPEC} "Mounting a blob from another repository" (the registry MAY answer 202)`,
      options: { mount: false, mountWithoutFrom: false },
    },
    {
      name: 'blob-redirect',
      summary: 'Basic auth; blob GET/HEAD answer 307 to a signed URL on another host that refuses Authorization (400)',
      expects: 'follows the redirect without sending its credentials to the other host',
      expectation: 'succeed',
      source: 'WHATWG Fetch "HTTP-redirect fetch" (Authorization dropped across origins); RFC 9110 §15.4; S3 presigned URLs',
      options: { blobRedirect: true },
      auth: 'basic',
    },
    {
      name: 'tags-paged',
      summary: 'tags/list pages at 2 tags (5 tags seeded: t1…t5) with Link rel="next"',
      expects: 'follows Link until it is absent',
      expectation: 'succeed',
      source: `${SPEC} "Listing Tags" (Link, RFC 5988)`,
      options: { maxPageSize: 2 },
      seedTags: 5,
    },
    {
      name: 'referrers-off',
      summary: 'no referrers API: 404, and pushes get no OCI-Subject',
      expects: 'falls back to the referrers tag schema (<alg>-<ref>) for artifacts with a subject',
      expectation: 'succeed',
      source: `${SPEC} "Unavailable Referrers API", "Referrers Tag Schema"`,
      options: { referrers: false },
    },
    {
      name: 'no-digest-header',
      summary: 'no Docker-Content-Digest on any response',
      expects: 'computes digests itself (the header is OPTIONAL)',
      expectation: 'succeed',
      source: `${SPEC} "Pulling manifests" (Docker-Content-Digest is OPTIONAL)`,
      options: { omitDigestHeader: true },
    },
    {
      name: 'warnings',
      summary: 'Warning: 299 - "…" on every response',
      expects: 'ignores (or shows) the warnings and succeeds',
      expectation: 'succeed',
      source: `${SPEC} "Warnings"`,
      options: { warnings: ['oci-test-registry check: this registry sends warnings'] },
    },
  ];
}

/** `*` matches any run of characters; everything else is literal. */
function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * The scenarios named by `patterns` (names or globs such as `retry-*`, in
 * catalogue order), or the default set when none is given.
 * @throws {TypeError} naming a pattern that matches nothing.
 */
export function selectScenarios(patterns: readonly string[] | undefined, catalogue: Scenario[] = scenarios()): Scenario[] {
  if (!patterns || patterns.length === 0) return catalogue.filter((s) => s.default !== false);
  const regexps = patterns.map((p) => ({ p, re: glob(p.trim()) }));
  for (const { p, re } of regexps) {
    if (!catalogue.some((s) => re.test(s.name))) throw new TypeError(`no scenario matches ${JSON.stringify(p)}; see --list`);
  }
  return catalogue.filter((s) => regexps.some(({ re }) => re.test(s.name)));
}

/** The catalogue as `--list` prints it (and README "Checking a client" shows): the scenarios, then the finding rules. */
export function formatCatalogue(catalogue: Scenario[] = scenarios()): string {
  const lines: string[] = [];
  for (const s of catalogue) {
    lines.push(`${s.name}${s.expectation === 'succeed-or-fail' ? ' (succeed, or fail cleanly)' : ''}${s.default === false ? ' (not in the default set: name it)' : ''}`);
    lines.push(`  registry: ${s.summary}`);
    lines.push(`  client:   ${s.expects}`);
    lines.push(`  source:   ${s.source}`);
  }
  lines.push('', 'findings (MUST fails the scenario):');
  for (const rule of FINDING_RULES) lines.push(`  ${rule.rule} [${rule.severity}]: ${rule.summary}`, `    source: ${rule.source}`);
  return `${lines.join('\n')}\n`;
}
