// The mirror's command-line flags (README "As a mirror"): --upstream URL,
// --mirror HOST=URL (repeatable), and the flags that fill in the upstream's
// fields: --upstream-ca, --upstream-user, --upstream-password, --read-only.
import type { RegistryOptions } from '../options.js';
import type { UpstreamOptions } from '../upstream/client.js';

/** The environment variable read for the upstream's password when no --upstream-password is given (keeps it out of `ps`). */
export const UPSTREAM_PASSWORD_ENV = 'OCI_TEST_REGISTRY_UPSTREAM_PASSWORD';

/** Flags that set fields of `upstream` (and readOnly of every upstream), listed under "Command line" in --help. */
export const UPSTREAM_FIELD_FLAGS = {
  'upstream-ca': { value: 'PEM|FILE', example: './ca.pem', help: 'CA certificate to trust for an https --upstream (PEM text or a file)' },
  'upstream-user': { value: 'USER', example: 'ci', help: `user name for the --upstream (Basic or its token endpoint); the password from --upstream-password or $${UPSTREAM_PASSWORD_ENV}` },
  'upstream-password': { value: 'PASSWORD', example: 'secret', help: `password for --upstream-user (prefer $${UPSTREAM_PASSWORD_ENV}: flags show in ps)` },
  'read-only': { value: '', example: '', help: 'the mirror refuses pushes and deletes with 405 UNSUPPORTED, as distribution\'s proxy mode does' },
} as const;

export type UpstreamFieldFlag = keyof typeof UPSTREAM_FIELD_FLAGS;

/** `--upstream URL`, or the whole UpstreamOptions as JSON (already read from @FILE by the caller). Returns a problem text when bad. */
export function parseUpstream(text: string, readJson: () => string): UpstreamOptions | string {
  if (/^https?:\/\//i.test(text)) return { url: text };
  if (!text.startsWith('{') && !text.startsWith('@')) return 'give the upstream URL (http:// or https://), a JSON object or @FILE';
  try {
    const value = JSON.parse(readJson()) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as UpstreamOptions) : 'the JSON must be an object: {"url":…}';
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
}

/** `--mirror HOST=URL`: one `upstreams` entry. Returns a problem text when bad. */
export function parseMirror(text: string): Record<string, UpstreamOptions> | string {
  const eq = text.indexOf('=');
  const host = text.slice(0, eq);
  const url = text.slice(eq + 1);
  if (eq <= 0 || !/^https?:\/\//i.test(url)) return 'give HOST=URL: the host clients name (as containerd sends it in ?ns=) and the upstream URL';
  return { [host]: { url } };
}

/**
 * Applies --upstream-ca/-user/-password and --read-only to the options the
 * table flags built; says what is wrong (a field flag without --upstream).
 */
export function applyUpstreamFields(options: RegistryOptions, fields: [UpstreamFieldFlag, string | undefined][], env: NodeJS.ProcessEnv): string | undefined {
  const readOnly = fields.some(([name]) => name === 'read-only');
  const given = fields.filter(([name]) => name !== 'read-only');
  if (given.length > 0 && options.upstream === undefined) return `--${given[0]![0]} needs --upstream URL`;
  if (readOnly && options.upstream === undefined && options.upstreams === undefined) return '--read-only needs --upstream URL or --mirror HOST=URL';
  if (options.upstream) {
    const upstream: UpstreamOptions = { ...options.upstream };
    for (const [name, value] of given) {
      if (name === 'upstream-ca') upstream.ca = value;
      if (name === 'upstream-user') upstream.username = value;
      if (name === 'upstream-password') upstream.password = value;
    }
    const password = env[UPSTREAM_PASSWORD_ENV];
    if (upstream.username !== undefined && upstream.password === undefined && password !== undefined) upstream.password = password;
    if (readOnly) upstream.readOnly = true;
    options.upstream = upstream;
  }
  if (readOnly && options.upstreams) {
    options.upstreams = Object.fromEntries(Object.entries(options.upstreams).map(([host, upstream]) => [host, { ...upstream, readOnly: true }]));
  }
  return undefined;
}
