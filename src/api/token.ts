import { RegistryError, unsupported } from '../oci/errors.js';
import { readBody } from '../http/body.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { Authenticator, REALM } from '../auth/authenticate.js';
import { formatScope, parseScope, type Scope } from '../auth/scope.js';

/**
 * The token endpoint of the Docker token flow (`auth: { token }`):
 * `GET /token?service=&scope=…` with optional Basic credentials, and
 * `POST /token` with the OAuth2 password or refresh_token grant. It grants
 * the intersection of what was asked and what the user may do.
 */

function unauthorized(why: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', why, { headers: { 'WWW-Authenticate': `Basic realm="${REALM}"` } });
}

/** Scopes asked for: repeated `scope` parameters, each possibly several separated by spaces (OAuth2). */
function askedScopes(values: string[]): Scope[] {
  return values.flatMap((v) => v.split(' ')).filter(Boolean).map(parseScope).filter((s): s is Scope => s !== undefined);
}

function issue(auth: Authenticator, user: string | undefined, service: string, scopes: Scope[], refresh: boolean) {
  const access = scopes.map((scope) => auth.grant(scope, user)).filter((s) => s.actions.length > 0);
  const token = auth.signer.sign({ sub: user ?? '', aud: service, access }, auth.expiresInSeconds);
  const body: Record<string, unknown> = {
    token,
    access_token: token,
    expires_in: auth.expiresInSeconds,
    issued_at: new Date().toISOString(),
    scope: access.map(formatScope).join(' '),
  };
  // A refresh token lasts a day; it names the user, not rights, which are granted afresh each time.
  if (refresh && user) body.refresh_token = auth.signer.sign({ sub: user, aud: service, access: [], typ: 'refresh' }, 86_400);
  return body;
}

export async function get({ req, res, route, controls, head }: RequestContext): Promise<void> {
  const auth = controls.auth!;
  const credentials = Authenticator.basicCredentials(req.headers.authorization);
  let user: string | undefined;
  if (credentials === 'malformed') throw unauthorized('malformed Authorization header: expected Basic credentials');
  if (credentials !== 'absent') {
    user = auth.login(credentials.user, credentials.password);
    if (!user) throw unauthorized('invalid username or password');
  } else if (auth.anonymous.length === 0) throw unauthorized('credentials required: anonymous access is off');
  const service = route.query.get('service') ?? '';
  const body = issue(auth, user, service, askedScopes(route.query.getAll('scope')), route.query.get('offline_token') === 'true');
  sendJson(res, 200, body, { 'Cache-Control': 'no-store' }, head);
}

export async function post({ req, res, controls }: RequestContext): Promise<void> {
  const auth = controls.auth!;
  const form = new URLSearchParams((await readBody(req, 64 * 1024, () => unsupported('token request body too large', 413))).toString('utf8'));
  const service = form.get('service') ?? '';
  const scopes = askedScopes(form.getAll('scope'));
  const refresh = form.get('access_type') === 'offline';
  switch (form.get('grant_type')) {
    case 'password': {
      const user = auth.login(form.get('username') ?? '', form.get('password') ?? '');
      if (!user) throw unauthorized('invalid username or password');
      sendJson(res, 200, issue(auth, user, service, scopes, refresh), { 'Cache-Control': 'no-store' });
      return;
    }
    case 'refresh_token': {
      const verified = auth.signer.verify(form.get('refresh_token') ?? '');
      if ('error' in verified || verified.claims.typ !== 'refresh') throw unauthorized('the refresh token is not valid for this registry');
      sendJson(res, 200, issue(auth, verified.claims.sub, service, scopes, false), { 'Cache-Control': 'no-store' });
      return;
    }
    default:
      throw unsupported(`unsupported grant_type ${JSON.stringify(form.get('grant_type'))}: use password or refresh_token`, 400);
  }
}
