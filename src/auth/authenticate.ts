import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import type { Route } from '../http/route.js';
import { allowedActions, covers, formatScope, mountSourceScope, requiredScope, type AccessRule, type Action, type Scope } from './scope.js';
import { TokenSigner, type TokenClaims } from './token.js';
import { NOBODY_CHECKS, type Principal } from './principal.js';
import type { ResolvedOptions } from '../options.js';

/** The `auth` option: Basic, or the Docker bearer-token flow; off when absent. */
export interface AuthOptions {
  /** HTTP Basic on every route. */
  basic?: { users: Record<string, string> };
  /** The Docker token flow: challenge → `GET`/`POST /token` → `Authorization: Bearer`. */
  token?: {
    users?: Record<string, string>;
    /** `'pull'`: the token endpoint grants pull without credentials. Default `false`. */
    anonymous?: 'pull' | false;
    /** Lifetime of access tokens. Default 300. */
    expiresInSeconds?: number;
  };
  /** Per-user, per-repository rights; without it every listed user may pull, push and delete everywhere. */
  access?: AccessRule[];
}

export const REALM = 'oci-test-registry';

/** The options that decide what a mount's source asks of a token. */
type MountOptions = Pick<ResolvedOptions, 'mount' | 'mountWithoutSourceAccess'>;

function digestOf(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Checks credentials and rights for one registry. Passwords are compared in
 * constant time (through their sha256, so lengths never leak), and a
 * missing user costs the same comparison as a wrong password.
 */
export class Authenticator {
  readonly mode: 'basic' | 'token';
  readonly signer = new TokenSigner();
  readonly expiresInSeconds: number;
  readonly anonymous: Action[];
  readonly #users: Map<string, Buffer>;
  readonly #access: AccessRule[] | undefined;
  readonly #dummy = digestOf('');
  readonly #mounts: MountOptions;

  constructor(
    options: AuthOptions,
    mounts: MountOptions = { mount: true, mountWithoutSourceAccess: 'challenge' },
    /** The scheme of the token realm: the registry's own (`https` with TLS). */
    readonly scheme: 'http' | 'https' = 'http',
  ) {
    this.#mounts = mounts;
    this.mode = options.basic ? 'basic' : 'token';
    const users = options.basic?.users ?? options.token?.users ?? {};
    this.#users = new Map(Object.entries(users).map(([user, password]) => [user, digestOf(password)]));
    this.#access = options.access;
    this.expiresInSeconds = options.token?.expiresInSeconds ?? 300;
    this.anonymous = options.token?.anonymous === 'pull' ? ['pull'] : [];
  }

  /** A user name when `user:password` is right; undefined otherwise. */
  login(user: string, password: string): string | undefined {
    const expected = this.#users.get(user);
    const ok = timingSafeEqual(digestOf(password), expected ?? this.#dummy);
    return ok && expected ? user : undefined;
  }

  /** Basic credentials from an Authorization header: 'absent', 'malformed', or the pair. */
  static basicCredentials(header: string | undefined): { user: string; password: string } | 'absent' | 'malformed' {
    if (header === undefined) return 'absent';
    const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header);
    if (!match) return 'malformed';
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'malformed';
    // An empty pair (some clients send `:` before they have credentials) is no credential at all.
    if (decoded === ':') return 'absent';
    return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }

  /** What `user` may do on `scope`, intersected with what it asked for. */
  grant(scope: Scope, user: string | undefined): Scope {
    const allowed = allowedActions(scope, user, this.#access, this.anonymous);
    if (!scope.actions.includes('*')) return { ...scope, actions: scope.actions.filter((a) => covers(allowed, [a])) };
    // `*` (what skopeo asks for a delete) is granted whole when every action is
    // allowed, as distribution reads it; otherwise the actions that are.
    const all: Action[] = scope.type === 'registry' ? ['*'] : ['pull', 'push', 'delete'];
    return { ...scope, actions: covers(allowed, all) ? ['*'] : allowed.filter((a) => a !== '*') };
  }

  /**
   * Authenticates and authorizes a request, or throws 401 (with the
   * challenge the client needs) or 403. The signed redirect URL and the
   * token endpoint are open: they carry their own proof.
   */
  check(req: IncomingMessage, route: Route, authority: string): Principal {
    if (route.kind === 'redirect' || route.kind === 'token') return NOBODY_CHECKS;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const scope = requiredScope(route, method);
    if (this.mode === 'basic') return this.#checkBasic(req, scope);
    const source = this.#mounts.mount ? mountSourceScope(route, method) : undefined;
    return this.#checkBearer(req, route, scope, source, authority);
  }

  #checkBasic(req: IncomingMessage, scope: Scope | undefined): Principal {
    const credentials = Authenticator.basicCredentials(req.headers.authorization);
    const user = typeof credentials === 'object' ? this.login(credentials.user, credentials.password) : undefined;
    if (!user) {
      const why = credentials === 'absent' ? 'authentication required' : credentials === 'malformed' ? 'malformed Authorization header: expected Basic credentials' : 'invalid username or password';
      throw new RegistryError('UNAUTHORIZED', why, { headers: { 'WWW-Authenticate': `Basic realm="${REALM}"` } });
    }
    const principal: Principal = { user, can: (action, name) => covers(allowedActions({ type: 'repository', name, actions: [action] }, user, this.#access, []), [action]) };
    if (scope && !covers(allowedActions(scope, user, this.#access, []), scope.actions)) {
      const what = scope.type === 'registry' ? 'list the catalog' : `${scope.actions.join(',')} ${scope.name}`;
      throw new RegistryError('DENIED', `user ${user} may not ${what}`, {
        detail: { scope: formatScope(scope) },
      });
    }
    return principal;
  }

  /**
   * The challenge of RFC 6750 / the Docker token spec for a request needing
   * `scopes`: all of them, space-separated in one `scope` parameter (RFC 6749
   * section 3.3), so a client that follows it gets one token that does it all.
   */
  challenge(authority: string, scopes: Scope[], error?: 'invalid_token' | 'insufficient_scope'): string {
    let value = `Bearer realm="${this.scheme}://${authority}/token",service="${authority}"`;
    if (scopes.length > 0) value += `,scope="${scopes.map(formatScope).join(' ')}"`;
    if (error) value += `,error="${error}"`;
    return value;
  }

  /**
   * `scope` must be granted by the token. `source` (pull on a mount's `from`)
   * is named in every challenge; a token without it gets 401
   * insufficient_scope when its holder could be granted it and
   * `mountWithoutSourceAccess` is 'challenge' (as distribution answers), so
   * the client comes back with a token that can mount. Otherwise the request
   * goes on and the mount is declined (202, an upload session).
   */
  #checkBearer(req: IncomingMessage, route: Route, scope: Scope | undefined, source: Scope | undefined, authority: string): Principal {
    const scopes = [scope, source].filter((s): s is Scope => s !== undefined);
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(header);
    // The control endpoint also takes Basic credentials, so a test can steer a token-mode registry with a password.
    let why = header === undefined ? 'authentication required: get a token from the realm' : 'malformed Authorization header: expected a Bearer token';
    if (route.kind === 'control' && header !== undefined && !match) {
      const credentials = Authenticator.basicCredentials(header);
      const user = typeof credentials === 'object' ? this.login(credentials.user, credentials.password) : undefined;
      if (user) return { user, can: () => true };
      if (typeof credentials === 'object') why = 'invalid username or password';
    }
    if (!match) {
      throw new RegistryError('UNAUTHORIZED', why, { headers: { 'WWW-Authenticate': this.challenge(authority, scopes) } });
    }
    const verified = this.signer.verify(match[1]!);
    if ('error' in verified || verified.claims.typ === 'refresh') {
      const why = 'error' in verified && verified.error === 'expired' ? 'the token has expired' : 'the token is not valid for this registry';
      throw new RegistryError('UNAUTHORIZED', why, { headers: { 'WWW-Authenticate': this.challenge(authority, scopes, 'invalid_token') } });
    }
    const { claims } = verified;
    // The control endpoint steers the whole registry: an anonymous token is not enough.
    if (route.kind === 'control' && !claims.sub) {
      throw new RegistryError('UNAUTHORIZED', 'the control endpoint needs a token issued to a user, not an anonymous one', {
        headers: { 'WWW-Authenticate': this.challenge(authority, scopes) },
      });
    }
    const principal: Principal = { user: claims.sub || undefined, can: (action, name) => tokenCovers(claims, { type: 'repository', name, actions: [action] }) };
    const missing = scope && !tokenCovers(claims, scope) ? scope : source && this.#challengesFor(source, claims) ? source : undefined;
    if (missing) {
      throw new RegistryError('UNAUTHORIZED', `the token does not grant ${formatScope(missing)}`, {
        headers: { 'WWW-Authenticate': this.challenge(authority, scopes, 'insufficient_scope') },
        detail: { scope: scopes.map(formatScope).join(' ') },
      });
    }
    return principal;
  }

  /** Whether a token without pull on a mount's source is sent back for one (see #checkBearer). */
  #challengesFor(source: Scope, claims: TokenClaims): boolean {
    if (this.#mounts.mountWithoutSourceAccess !== 'challenge' || tokenCovers(claims, source)) return false;
    // Its holder could never get one: challenging again would only repeat the request.
    return covers(this.grant(source, claims.sub || undefined).actions, source.actions);
  }
}

function tokenCovers(claims: TokenClaims, scope: Scope): boolean {
  const granted = claims.access.filter((a) => a.type === scope.type && a.name === scope.name).flatMap((a) => a.actions);
  return covers(granted, scope.actions);
}
