// auth: { token: { users, anonymous?, expiresInSeconds? } } — the Docker
// token flow. A request without a valid bearer token gets 401 and a
// challenge naming the realm, the service and the scope it needs; the token
// endpoint (GET, or POST with the OAuth2 password / refresh_token grants)
// grants what was asked and allowed; the client retries with
// `Authorization: Bearer`. A small client below follows challenges exactly as
// a real one does (parse WWW-Authenticate, fetch the token, retry). Time
// passes with mocked Date, never with sleeps.
import t, { type Test } from 'tap';
import { mock } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { RunningRegistry } from '../src/index.js';
import { parseRoute } from '../src/http/route.js';
import { send, sha256, startFor, type Reply, type SendOptions } from './helpers/http.js';
import { parseChallenge } from './helpers/challenge.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from './helpers/push.js';
import { assertCodeSays } from './helpers/fixtures.js';

const USERS = { alice: 'secret', bob: 'hunter2' };
const DIGEST = `sha256:${'a'.repeat(64)}`;

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function bearer(token: string): string {
  return `Bearer ${token}`;
}

/**
 * The parameters a client needs from the Bearer challenge (Docker token spec):
 * where to get a token (realm, service), for what (scope), and why the last
 * one failed (error). Compared after parsing, so order and quoting are free.
 */
function challenge(registry: RunningRegistry, scope?: string, error?: 'invalid_token' | 'insufficient_scope'): Record<string, string> {
  return { realm: `${registry.url}/token`, service: registry.host, ...(scope === undefined ? {} : { scope }), ...(error === undefined ? {} : { error }) };
}

interface ErrorBody {
  errors: { code: string; message?: string; detail?: unknown }[];
}

/**
 * A 401 as a client reads it: the status, the parsed Bearer challenge, and
 * the OCI error's code and detail. The message is for people; it only has to
 * be there (and, where `words` are given, say them).
 */
function assert401(t: Test, reply: Reply, method: string, params: Record<string, string>, body: ErrorBody, what: string, words?: RegExp): void {
  t.equal(reply.status, 401, `${what}: 401`);
  t.strictSame(parseChallenge(String(reply.headers['www-authenticate'])), { scheme: 'Bearer', params }, `${what}: WWW-Authenticate`);
  t.equal(reply.headers['content-type'], 'application/json', `${what}: JSON error`);
  if (method === 'HEAD') {
    t.equal(reply.body.length, 0, `${what}: no body on HEAD`);
    return;
  }
  t.equal(reply.headers['content-length'], String(reply.body.length), `${what}: Content-Length of the error body`);
  const errors = (reply.json as ErrorBody | undefined)?.errors ?? [];
  t.strictSame(errors.map(({ code, detail }) => ({ code, detail })), body.errors.map(({ code, detail }) => ({ code, detail })), `${what}: error codes and details`);
  t.ok(errors.every((e) => typeof e.message === 'string' && e.message.length > 0), `${what}: every error has a message`);
  if (words) assertCodeSays(t, reply.json, body.errors[0]!.code, words, what);
}

/** Authorized but nothing there: 404 with the code that says so, NAME_UNKNOWN (spec "Error Codes"). */
function checkNameUnknown(t: Test, reply: Reply, what: string): void {
  t.equal(reply.status, 404, `${what}: 404`);
  t.equal(reply.json?.errors?.[0]?.code, 'NAME_UNKNOWN', `${what}: NAME_UNKNOWN`);
}

const AUTHENTICATION_REQUIRED = { errors: [{ code: 'UNAUTHORIZED' }] };

/** GET /token with optional Basic credentials; `scopes` as repeated parameters. */
async function getToken(registry: RunningRegistry, scopes: string[], credentials?: [string, string], extra: Record<string, string> = {}): Promise<Reply> {
  const query = new URLSearchParams({ service: registry.host, ...extra });
  for (const scope of scopes) query.append('scope', scope);
  const headers = credentials ? { authorization: basic(...credentials) } : {};
  return send(registry.url, 'GET', `/token?${query}`, { headers });
}

/** POST /token with a form body (OAuth2). */
function postToken(registry: RunningRegistry, form: [string, string][]): Promise<Reply> {
  return send(registry.url, 'POST', '/token', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** The two JSON parts of a JWT. */
function decode(token: string): { header: any; claims: any } {
  const [header, claims] = token.split('.');
  return { header: JSON.parse(Buffer.from(header!, 'base64url').toString()), claims: JSON.parse(Buffer.from(claims!, 'base64url').toString()) };
}

// ---------------------------------------------------------------------------
// A client that follows challenges as containers/image and docker do.

interface Step {
  method: string;
  path: string;
  status: number;
}

class ChallengeFollowingClient {
  /** Tokens by repository (`perRepository`), else one under ''. */
  readonly #tokens = new Map<string, string>();
  /** Every request this client sent, in order. */
  readonly steps: Step[] = [];

  constructor(
    readonly url: string,
    readonly credentials?: [string, string],
    /** Cache a token per repository, as docker and containers/image do, instead of one for everything. */
    readonly perRepository = false,
  ) {}

  get token(): string | undefined {
    return this.#tokens.get('');
  }

  set token(value: string) {
    this.#tokens.set('', value);
  }

  async #send(method: string, path: string, options: SendOptions): Promise<Reply> {
    const reply = await send(this.url, method, path, options);
    this.steps.push({ method, path, status: reply.status });
    return reply;
  }

  /** Sends with the current token; on a Bearer challenge, fetches a token for its scope and retries once. */
  async request(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    const key = this.perRepository ? (parseRoute(path).name ?? '') : '';
    const withToken = () => {
      const token = this.#tokens.get(key);
      return { ...options, headers: { ...options.headers, ...(token ? { authorization: bearer(token) } : {}) } };
    };
    const first = await this.#send(method, path, withToken());
    const header = first.headers['www-authenticate'];
    if (first.status !== 401 || header === undefined) return first;
    const { scheme, params } = parseChallenge(header);
    if (scheme.toLowerCase() !== 'bearer' || !params.realm) return first;
    // An expired or insufficient token: ask again, as clients do, for the scope the challenge names.
    const realm = new URL(params.realm);
    if (params.service !== undefined) realm.searchParams.set('service', params.service);
    for (const scope of (params.scope ?? '').split(' ').filter(Boolean)) realm.searchParams.append('scope', scope);
    const granted = await this.#send('GET', `${realm.pathname}${realm.search}`, this.credentials ? { headers: { authorization: basic(...this.credentials) } } : {});
    if (granted.status !== 200) return first;
    this.#tokens.set(key, granted.json.token as string);
    return this.#send(method, path, withToken());
  }
}

/** Pushes a one-layer image through `client` (POST+PATCH+PUT for the layer, single POST for the config). */
async function pushWith(t: Test, client: ChallengeFollowingClient, name: string, tag: string): Promise<{ manifest: Buffer; layer: Buffer }> {
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from(`layer of ${name}:${tag}`);
  t.equal((await client.request('POST', `/v2/${name}/blobs/uploads/?digest=${sha256(config)}`, { body: config })).status, 201, 'config pushed');
  const opened = await client.request('POST', `/v2/${name}/blobs/uploads/`);
  t.equal(opened.status, 202, 'upload opened');
  const location = String(opened.headers.location);
  t.equal((await client.request('PATCH', location, { body: layer, headers: { 'Content-Range': `0-${layer.length - 1}` } })).status, 202, 'layer PATCHed');
  t.equal((await client.request('PUT', `${location}?digest=${sha256(layer)}`)).status, 201, 'upload completed');
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.length }],
  }));
  const put = await client.request('PUT', `/v2/${name}/manifests/${tag}`, { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
  t.equal(put.status, 201, 'manifest pushed');
  return { manifest, layer };
}

function tokenPath(registry: RunningRegistry, ...scopes: string[]): string {
  const query = new URLSearchParams({ service: registry.host });
  for (const scope of scopes) query.append('scope', scope);
  return `/token?${query}`;
}

// ---------------------------------------------------------------------------

t.test('the challenge parser reads quoted and token values, escapes and spaces', async (t) => {
  t.strictSame(parseChallenge('Bearer realm="http://h:1/token",service="h:1",scope="repository:a/b:pull,push",error="insufficient_scope"'), {
    scheme: 'Bearer',
    params: { realm: 'http://h:1/token', service: 'h:1', scope: 'repository:a/b:pull,push', error: 'insufficient_scope' },
  });
  t.strictSame(parseChallenge('Basic realm="a \\"quoted\\" realm" , charset=UTF-8'), { scheme: 'Basic', params: { realm: 'a "quoted" realm', charset: 'UTF-8' } });
});

t.test('every route without a token: 401 with a challenge naming the scope that request needs', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const upload = `/v2/team/app/blobs/uploads/${randomUUID()}`;
  const pull = 'repository:team/app:pull';
  const push = 'repository:team/app:pull,push';
  const remove = 'repository:team/app:delete';
  const rows: [string, string, string | undefined, string?][] = [
    ['GET', '/v2/', undefined],
    ['HEAD', '/v2/', undefined],
    ['GET', '/v2/_catalog', 'registry:catalog:*'],
    ['GET', '/v2/team/app/tags/list', pull],
    ['GET', '/v2/team/app/manifests/v1', pull],
    ['HEAD', '/v2/team/app/manifests/v1', pull],
    ['PUT', '/v2/team/app/manifests/v1', push, '{"schemaVersion":2}'],
    ['DELETE', `/v2/team/app/manifests/${DIGEST}`, remove],
    ['DELETE', '/v2/team/app/manifests/v1', remove],
    ['GET', `/v2/team/app/blobs/${DIGEST}`, pull],
    ['HEAD', `/v2/team/app/blobs/${DIGEST}`, pull],
    ['DELETE', `/v2/team/app/blobs/${DIGEST}`, remove],
    ['POST', '/v2/team/app/blobs/uploads/', push],
    ['POST', `/v2/team/app/blobs/uploads/?digest=${sha256('x')}`, push, 'x'],
    // A mount needs two scopes; the challenge names both (as distribution's does).
    ['POST', `/v2/team/app/blobs/uploads/?mount=${DIGEST}&from=other/app`, `${push} repository:other/app:pull`],
    // A mount that cannot happen (a tag in from, a bad digest, from the target itself) needs no second scope.
    ['POST', `/v2/team/app/blobs/uploads/?mount=${DIGEST}&from=other/app:v1`, push],
    ['POST', '/v2/team/app/blobs/uploads/?mount=sha256:abc&from=other/app', push],
    ['POST', `/v2/team/app/blobs/uploads/?mount=${DIGEST}&from=team/app`, push],
    ['PATCH', upload, push, 'chunk'],
    ['PUT', `${upload}?digest=${DIGEST}`, push],
    ['GET', upload, push],
    ['DELETE', upload, push],
    ['GET', `/v2/team/app/referrers/${DIGEST}`, pull],
    // A name with a port-like ':' cannot occur; a nested name keeps its slashes.
    ['GET', '/v2/a/b/c/tags/list', 'repository:a/b/c:pull'],
  ];
  for (const [method, path, scope, body] of rows) {
    const reply = await send(registry.url, method, path, body === undefined ? {} : { body });
    assert401(t, reply, method, challenge(registry, scope), AUTHENTICATION_REQUIRED, `${method} ${path}`);
  }
  // Basic credentials are not a token: the registry answers with the Bearer challenge, so the client fetches one.
  const withBasic = await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: basic('alice', 'secret') } });
  assert401(t, withBasic, 'GET', challenge(registry, pull), { errors: [{ code: 'UNAUTHORIZED' }] }, 'Basic credentials on a token registry', /Bearer/);
});

t.test('GET /token: the documented body, a signed HS256 token carrying the granted scopes and expiry', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: Date.UTC(2024, 0, 2, 3, 4, 5, 678) });
  t.teardown(() => mock.timers.reset());
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const reply = await getToken(registry, ['repository:team/app:pull,push', 'repository:team/other:pull', 'registry:catalog:*'], ['alice', 'secret']);
  t.equal(reply.status, 200, '200');
  t.equal(reply.headers['content-type'], 'application/json', 'JSON');
  t.equal(reply.headers['cache-control'], 'no-store', 'tokens are not cached (RFC 6749 §5.1)');
  t.strictSame(Object.keys(reply.json).sort(), ['access_token', 'expires_in', 'issued_at', 'scope', 'token'], 'token, access_token, expires_in, issued_at and scope; no refresh token unless asked');
  t.equal(reply.json.access_token, reply.json.token, 'access_token is the token (OAuth2 clients read that name)');
  t.equal(reply.json.expires_in, 300, 'expires_in defaults to 300 s');
  t.equal(reply.json.issued_at, '2024-01-02T03:04:05.678Z', 'issued_at is the time of issue, RFC 3339');
  t.equal(reply.json.scope, 'repository:team/app:pull,push repository:team/other:pull registry:catalog:*', 'scope lists what was granted');
  t.match(reply.json.token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'a compact JWS: three base64url parts, a 256-bit MAC');
  const { header, claims } = decode(reply.json.token);
  t.strictSame(header, { alg: 'HS256', typ: 'JWT' }, 'HS256');
  t.match(claims.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random jti');
  t.strictSame({ ...claims, jti: '' }, {
    iss: 'oci-test-registry',
    iat: 1704164645,
    exp: 1704164945,
    jti: '',
    sub: 'alice',
    aud: registry.host,
    access: [
      { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'team/other', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ],
  }, 'the claims carry subject, audience (the service), expiry and the granted access');

  // Space-separated scopes in one parameter (OAuth2 style) are the same request; unknown actions and types are dropped.
  const spaced = await getToken(registry, ['repository:team/app:pull repository:team/app:push,fly unknown:x:pull'], ['alice', 'secret']);
  t.equal(spaced.json.scope, 'repository:team/app:pull repository:team/app:push', 'each scope granted as asked, unknown ones dropped');
  // Without a scope: a token for the base route only.
  const bare = await getToken(registry, [], ['alice', 'secret']);
  t.equal(bare.json.scope, '', 'no scope asked, none granted');
  t.strictSame(decode(bare.json.token).claims.access, [], 'access is empty');
  const base = await send(registry.url, 'GET', '/v2/', { headers: { authorization: bearer(bare.json.token) } });
  t.equal(base.status, 200, 'a token without scopes opens GET /v2/');
  t.strictSame(base.json, {}, 'GET /v2/ body');
  const tags = await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: bearer(bare.json.token) } });
  assert401(t, tags, 'GET', challenge(registry, 'repository:team/app:pull', 'insufficient_scope'), {
    errors: [{ code: 'UNAUTHORIZED', detail: { scope: 'repository:team/app:pull' } }],
  }, 'but nothing else');

  // HEAD /token: the headers only.
  const head = await send(registry.url, 'HEAD', tokenPath(registry), { headers: { authorization: basic('alice', 'secret') } });
  t.equal(head.status, 200, 'HEAD /token → 200');
  t.equal(head.body.length, 0, 'HEAD /token has no body');
});

t.test('GET /token refuses wrong credentials, and anonymous requests unless anonymous is on', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const refused = (reply: Reply, words: RegExp, what: string) => assertCodeSays(t, reply.json, 'UNAUTHORIZED', words, what);
  for (const [what, credentials] of [['wrong password', ['alice', 'nope']], ['unknown user', ['mallory', 'secret']]] as const) {
    const reply = await getToken(registry, ['repository:team/app:pull'], [...credentials]);
    t.equal(reply.status, 401, `${what}: 401`);
    t.equal(reply.headers['www-authenticate'], 'Basic realm="oci-test-registry"', `${what}: the token endpoint asks for Basic credentials`);
    refused(reply, /username or password/, what);
  }
  const anonymous = await getToken(registry, ['repository:team/app:pull']);
  t.equal(anonymous.status, 401, 'no credentials, anonymous off: 401');
  t.equal(anonymous.headers['www-authenticate'], 'Basic realm="oci-test-registry"', 'Basic challenge');
  refused(anonymous, /anonymous/, 'no credentials');
  const bearerAtTokenEndpoint = await send(registry.url, 'GET', tokenPath(registry), { headers: { authorization: 'Bearer abc' } });
  t.equal(bearerAtTokenEndpoint.status, 401, 'a Bearer header at the token endpoint: 401');
  refused(bearerAtTokenEndpoint, /Basic/, 'a Bearer header at the token endpoint');
});

t.test('POST /token: the OAuth2 password and refresh_token grants', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const scope = 'repository:team/app:pull,push';
  const password = await postToken(registry, [['grant_type', 'password'], ['username', 'alice'], ['password', 'secret'], ['service', registry.host], ['scope', scope], ['client_id', 'test']]);
  t.equal(password.status, 200, 'password grant → 200');
  t.equal(password.headers['cache-control'], 'no-store', 'no-store');
  t.strictSame(Object.keys(password.json).sort(), ['access_token', 'expires_in', 'issued_at', 'scope', 'token'], 'same body as GET, no refresh_token unless access_type=offline');
  t.equal(password.json.scope, scope, 'granted as asked');
  t.equal(decode(password.json.token).claims.sub, 'alice', 'the token names alice');

  const offline = await postToken(registry, [['grant_type', 'password'], ['username', 'bob'], ['password', 'hunter2'], ['service', registry.host], ['scope', scope], ['access_type', 'offline']]);
  t.equal(offline.status, 200, 'password grant with access_type=offline → 200');
  t.strictSame(Object.keys(offline.json).sort(), ['access_token', 'expires_in', 'issued_at', 'refresh_token', 'scope', 'token'], 'with a refresh_token');
  const refreshClaims = decode(offline.json.refresh_token).claims;
  t.equal(refreshClaims.typ, 'refresh', 'the refresh token is typed');
  t.equal(refreshClaims.exp - refreshClaims.iat, 86_400, 'and lasts a day');

  const refreshed = await postToken(registry, [['grant_type', 'refresh_token'], ['refresh_token', offline.json.refresh_token], ['service', registry.host], ['scope', 'repository:team/app:pull'], ['scope', 'repository:bob/app:delete']]);
  t.equal(refreshed.status, 200, 'refresh_token grant → 200');
  t.equal(refreshed.json.scope, 'repository:team/app:pull repository:bob/app:delete', 'a new scope set, asked afresh');
  t.equal(refreshed.json.refresh_token, undefined, 'no new refresh token');
  t.equal(decode(refreshed.json.token).claims.sub, 'bob', 'for the user the refresh token names');
  checkNameUnknown(t, await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: bearer(refreshed.json.token) } }), 'the refreshed token works (authorized, nothing there)');

  // GET /token?offline_token=true (docker's spelling) also returns a refresh token.
  const docker = await getToken(registry, [scope], ['alice', 'secret'], { offline_token: 'true', client_id: 'docker' });
  t.equal(typeof docker.json.refresh_token, 'string', 'GET with offline_token=true returns a refresh_token');

  const basicChallenge = 'Basic realm="oci-test-registry"';
  const refusals: [string, [string, string][], number, string, string | undefined][] = [
    ['wrong password', [['grant_type', 'password'], ['username', 'alice'], ['password', 'nope']], 401, 'UNAUTHORIZED', 'invalid username or password'],
    ['no username', [['grant_type', 'password'], ['password', 'secret']], 401, 'UNAUTHORIZED', 'invalid username or password'],
    ['an access token as refresh token', [['grant_type', 'refresh_token'], ['refresh_token', password.json.token]], 401, 'UNAUTHORIZED', 'the refresh token is not valid for this registry'],
    ['a garbage refresh token', [['grant_type', 'refresh_token'], ['refresh_token', 'x.y.z']], 401, 'UNAUTHORIZED', 'the refresh token is not valid for this registry'],
    ['no refresh token', [['grant_type', 'refresh_token']], 401, 'UNAUTHORIZED', 'the refresh token is not valid for this registry'],
    ['client_credentials', [['grant_type', 'client_credentials']], 400, 'UNSUPPORTED', 'unsupported grant_type "client_credentials": use password or refresh_token'],
    ['no grant_type', [['username', 'alice'], ['password', 'secret']], 400, 'UNSUPPORTED', 'unsupported grant_type null: use password or refresh_token'],
  ];
  for (const [what, form, status, code, message] of refusals) {
    const reply = await postToken(registry, form);
    t.equal(reply.status, status, `${what}: ${status}`);
    t.equal(reply.headers['www-authenticate'], status === 401 ? basicChallenge : undefined, `${what}: challenge`);
    t.strictSame(reply.json, { errors: [{ code, message }] }, `${what}: body`);
  }

  // A refresh token is not an access token.
  const asBearer = await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: bearer(offline.json.refresh_token) } });
  assert401(t, asBearer, 'GET', challenge(registry, 'repository:team/app:pull', 'invalid_token'), {
    errors: [{ code: 'UNAUTHORIZED' }],
  }, 'a refresh token used as a Bearer token');
});

t.test('a client following the challenges pushes and pulls; the wire shows 401 → /token → retry', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const client = new ChallengeFollowingClient(registry.url, ['alice', 'secret']);
  t.equal((await client.request('GET', '/v2/')).status, 200, 'GET /v2/ after the challenge');
  const { manifest, layer } = await pushWith(t, client, 'team/app', 'v1');
  // Pulling needs only pull, which the push token holds: no new challenge.
  const got = await client.request('GET', '/v2/team/app/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
  t.equal(got.status, 200, 'manifest GET');
  t.ok(got.body.equals(manifest), 'the pushed manifest');
  t.ok((await client.request('GET', `/v2/team/app/blobs/${sha256(layer)}`)).body.equals(layer), 'the pushed layer');
  // The catalog needs its own scope: one more challenge.
  t.strictSame((await client.request('GET', '/v2/_catalog')).json, { repositories: ['team/app'] }, '_catalog after its challenge');

  const push = 'repository:team/app:pull,push';
  const location = client.steps[7]!.path;
  t.match(location, /^\/v2\/team\/app\/blobs\/uploads\/[0-9a-f-]{36}$/, 'PATCH goes to the Location the POST returned');
  t.strictSame(client.steps, [
    { method: 'GET', path: '/v2/', status: 401 },
    { method: 'GET', path: tokenPath(registry), status: 200 },
    { method: 'GET', path: '/v2/', status: 200 },
    { method: 'POST', path: `/v2/team/app/blobs/uploads/?digest=${sha256('{"architecture":"amd64","os":"linux"}')}`, status: 401 },
    { method: 'GET', path: tokenPath(registry, push), status: 200 },
    { method: 'POST', path: `/v2/team/app/blobs/uploads/?digest=${sha256('{"architecture":"amd64","os":"linux"}')}`, status: 201 },
    { method: 'POST', path: '/v2/team/app/blobs/uploads/', status: 202 },
    { method: 'PATCH', path: location, status: 202 },
    { method: 'PUT', path: `${location}?digest=${sha256(layer)}`, status: 201 },
    { method: 'PUT', path: '/v2/team/app/manifests/v1', status: 201 },
    { method: 'GET', path: '/v2/team/app/manifests/v1', status: 200 },
    { method: 'GET', path: `/v2/team/app/blobs/${sha256(layer)}`, status: 200 },
    { method: 'GET', path: '/v2/_catalog', status: 401 },
    { method: 'GET', path: tokenPath(registry, 'registry:catalog:*'), status: 200 },
    { method: 'GET', path: '/v2/_catalog', status: 200 },
  ], 'the exact exchange');
  // The registry saw the same exchange, each Authorization recorded as its scheme only.
  t.strictSame(
    registry.journal.all().map((e) => `${e.method} ${e.path} ${e.status} ${e.requestHeaders.authorization ?? '-'}`),
    client.steps.map((s, i) => `${s.method} ${s.path} ${s.status} ${s.path.startsWith('/token') ? 'Basic [redacted]' : i === 0 ? '-' : 'Bearer [redacted]'}`),
    'the journal matches the exchange, credentials redacted',
  );
});

t.test('a client caching a token per repository still mounts: the challenge names both scopes', async (t) => {
  for (const mode of ['challenge', 'upload'] as const) {
    await t.test(`mountWithoutSourceAccess: '${mode}'`, async (t) => {
      const registry = await startFor(t, { auth: { token: { users: USERS } }, mountWithoutSourceAccess: mode });
      const client = new ChallengeFollowingClient(registry.url, ['alice', 'secret'], true);
      const { layer } = await pushWith(t, client, 'team/a', 'v1');
      const digest = sha256(layer);
      // The client starts its push to team/b: it now holds a token for team/b alone.
      const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
      t.equal((await client.request('POST', `/v2/team/b/blobs/uploads/?digest=${sha256(config)}`, { body: config })).status, 201, 'config pushed to team/b');
      const from = client.steps.length;
      const mounted = await client.request('POST', `/v2/team/b/blobs/uploads/?mount=${digest}&from=team/a`);
      const path = `/v2/team/b/blobs/uploads/?mount=${digest}&from=team/a`;
      const both = 'repository:team/b:pull,push repository:team/a:pull';
      if (mode === 'upload') {
        t.equal(mounted.status, 202, 'the cached token cannot read team/a: quietly an upload session');
        t.strictSame(client.steps.slice(from), [{ method: 'POST', path, status: 202 }], 'no challenge');
        t.strictSame(registry.journal.last()?.mount, { digest, from: 'team/a', result: 'declined', reason: 'from-not-readable' }, 'journal: declined, the token cannot pull team/a');
        return;
      }
      t.equal(mounted.status, 201, 'mounted after one challenge');
      t.equal(mounted.headers.location, `/v2/team/b/blobs/${digest}`, 'Location of the mounted blob');
      t.strictSame(client.steps.slice(from), [
        { method: 'POST', path, status: 401 },
        { method: 'GET', path: tokenPath(registry, 'repository:team/b:pull,push', 'repository:team/a:pull'), status: 200 },
        { method: 'POST', path, status: 201 },
      ], '401 insufficient_scope → a token for both → 201');
      const challenged = registry.journal.filter({ method: 'POST', status: 401 }).at(-1)!;
      t.strictSame(parseChallenge(String(challenged.responseHeaders['www-authenticate'])), { scheme: 'Bearer', params: challenge(registry, both, 'insufficient_scope') }, 'the challenge names both scopes in one parameter');
      t.strictSame(registry.journal.last()?.mount, { digest, from: 'team/a', result: 'mounted' }, 'the journal shows the mount');
      const got = await client.request('GET', `/v2/team/b/blobs/${digest}`);
      t.ok(got.body.equals(layer), 'the layer is in team/b, byte for byte');
    });
  }
});

t.test('insufficient scope: 401 with error="insufficient_scope" and the needed scope; the client asks again and succeeds', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS } } });
  const pullOnly = (await getToken(registry, ['repository:team/app:pull'], ['alice', 'secret'])).json.token as string;
  const headers = { authorization: bearer(pullOnly) };
  const needs: [string, string, string][] = [
    ['PUT', '/v2/team/app/manifests/v1', 'repository:team/app:pull,push'],
    ['POST', '/v2/team/app/blobs/uploads/', 'repository:team/app:pull,push'],
    ['DELETE', `/v2/team/app/manifests/${DIGEST}`, 'repository:team/app:delete'],
    ['DELETE', `/v2/team/app/blobs/${DIGEST}`, 'repository:team/app:delete'],
    ['GET', '/v2/team/other/tags/list', 'repository:team/other:pull'],
    ['HEAD', `/v2/team/other/blobs/${DIGEST}`, 'repository:team/other:pull'],
    ['GET', '/v2/_catalog', 'registry:catalog:*'],
  ];
  for (const [method, path, scope] of needs) {
    const reply = await send(registry.url, method, path, { headers });
    assert401(t, reply, method, challenge(registry, scope, 'insufficient_scope'), {
      errors: [{ code: 'UNAUTHORIZED', detail: { scope } }],
    }, `${method} ${path} with a pull token`);
  }
  checkNameUnknown(t, await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers }), 'what it grants works (authorized, nothing there)');
  // A push-only token cannot upload either: uploads need pull,push, as Docker clients ask.
  const pushOnly = (await getToken(registry, ['repository:team/app:push'], ['alice', 'secret'])).json.token as string;
  const upload = await send(registry.url, 'POST', '/v2/team/app/blobs/uploads/', { headers: { authorization: bearer(pushOnly) } });
  assert401(t, upload, 'POST', challenge(registry, 'repository:team/app:pull,push', 'insufficient_scope'), {
    errors: [{ code: 'UNAUTHORIZED', detail: { scope: 'repository:team/app:pull,push' } }],
  }, 'a push-only token on an upload');

  const client = new ChallengeFollowingClient(registry.url, ['alice', 'secret']);
  client.token = pullOnly;
  const opened = await client.request('POST', '/v2/team/app/blobs/uploads/');
  t.equal(opened.status, 202, 'the client follows the insufficient_scope challenge and the upload opens');
  t.strictSame(client.steps.map((s) => `${s.method} ${s.path} ${s.status}`), [
    'POST /v2/team/app/blobs/uploads/ 401',
    `GET ${tokenPath(registry, 'repository:team/app:pull,push')} 200`,
    'POST /v2/team/app/blobs/uploads/ 202',
  ], 'one challenge, one token, one retry');
});

t.test('token expiry: a token works until expires_in has passed, then 401 invalid_token; a refresh token gets a new one', async (t) => {
  // Mock Date so minutes pass in a tick, without sleeping.
  mock.timers.enable({ apis: ['Date'] });
  t.teardown(() => mock.timers.reset());
  const registry = await startFor(t, { auth: { token: { users: USERS, expiresInSeconds: 60 } } });
  const scope = 'repository:team/app:pull,push';
  const issued = await postToken(registry, [['grant_type', 'password'], ['username', 'alice'], ['password', 'secret'], ['service', registry.host], ['scope', scope], ['access_type', 'offline']]);
  t.equal(issued.json.expires_in, 60, 'expires_in is expiresInSeconds');
  t.equal(issued.json.issued_at, '1970-01-01T00:00:00.000Z', 'issued at the mocked epoch');
  const headers = { authorization: bearer(issued.json.token) };
  const blob = Buffer.from('expiring blob');
  t.equal((await send(registry.url, 'POST', `/v2/team/app/blobs/uploads/?digest=${sha256(blob)}`, { headers, body: blob })).status, 201, 'push with a fresh token');

  mock.timers.tick(59_999);
  t.equal((await send(registry.url, 'HEAD', `/v2/team/app/blobs/${sha256(blob)}`, { headers })).status, 200, '59.999 s later: still valid');

  mock.timers.tick(1);
  const expired = { errors: [{ code: 'UNAUTHORIZED' }] };
  for (const [method, path, needed] of [
    ['GET', `/v2/team/app/blobs/${sha256(blob)}`, 'repository:team/app:pull'],
    ['HEAD', `/v2/team/app/blobs/${sha256(blob)}`, 'repository:team/app:pull'],
    ['POST', '/v2/team/app/blobs/uploads/', scope],
    ['GET', '/v2/', undefined],
  ] as const) {
    const reply = await send(registry.url, method, path, { headers });
    assert401(t, reply, method, challenge(registry, needed, 'invalid_token'), expired, `60 s later: ${method} ${path}`, method === 'HEAD' ? undefined : /expired/);
  }

  const refreshed = await postToken(registry, [['grant_type', 'refresh_token'], ['refresh_token', issued.json.refresh_token], ['service', registry.host], ['scope', scope]]);
  t.equal(refreshed.status, 200, 'refresh_token grant → 200');
  t.equal(refreshed.json.issued_at, '1970-01-01T00:01:00.000Z', 'a token issued now');
  t.equal((await send(registry.url, 'GET', `/v2/team/app/blobs/${sha256(blob)}`, { headers: { authorization: bearer(refreshed.json.token) } })).status, 200, 'the refreshed token works');

  // The challenge-following client recovers from expiry by itself.
  const client = new ChallengeFollowingClient(registry.url, ['alice', 'secret']);
  client.token = issued.json.token;
  t.equal((await client.request('HEAD', `/v2/team/app/blobs/${sha256(blob)}`)).status, 200, 'the client gets a new token after invalid_token');
  t.strictSame(client.steps.map((s) => s.status), [401, 200, 200], '401 → token → 200');

  // The refresh token itself lasts a day.
  mock.timers.tick(86_400_000 - 60_000 - 1);
  t.equal((await postToken(registry, [['grant_type', 'refresh_token'], ['refresh_token', issued.json.refresh_token]])).status, 200, 'the refresh token works until its day is over');
  mock.timers.tick(1);
  const late = await postToken(registry, [['grant_type', 'refresh_token'], ['refresh_token', issued.json.refresh_token]]);
  t.equal(late.status, 401, 'then it is refused');
  assertCodeSays(t, late.json, 'UNAUTHORIZED', /refresh token/, 'body');
});

t.test('anonymous: pull grants pull without credentials, and nothing more', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS, anonymous: 'pull' } } });
  const alice = new ChallengeFollowingClient(registry.url, ['alice', 'secret']);
  const { manifest } = await pushWith(t, alice, 'team/app', 'v1');

  const anon = await getToken(registry, ['repository:team/app:pull,push,delete', 'registry:catalog:*']);
  t.equal(anon.status, 200, 'GET /token without credentials → 200');
  t.equal(anon.json.scope, 'repository:team/app:pull', 'pull only; push, delete and the catalog are dropped');
  t.equal(decode(anon.json.token).claims.sub, '', 'the anonymous token names no one');
  t.equal(anon.json.refresh_token, undefined, 'no refresh token for anonymous');
  const headers = { authorization: bearer(anon.json.token) };
  const got = await send(registry.url, 'GET', '/v2/team/app/manifests/v1', { headers: { ...headers, Accept: OCI_MANIFEST } });
  t.equal(got.status, 200, 'anonymous pull');
  t.ok(got.body.equals(manifest), 'the manifest');
  const put = await send(registry.url, 'PUT', '/v2/team/app/manifests/v2', { headers: { ...headers, 'Content-Type': OCI_MANIFEST }, body: manifest });
  assert401(t, put, 'PUT', challenge(registry, 'repository:team/app:pull,push', 'insufficient_scope'), {
    errors: [{ code: 'UNAUTHORIZED', detail: { scope: 'repository:team/app:pull,push' } }],
  }, 'anonymous push');

  // A client with no credentials pulls by following the challenge; its push stops at 401.
  const nobody = new ChallengeFollowingClient(registry.url);
  t.equal((await nobody.request('GET', '/v2/team/app/manifests/v1', { headers: { Accept: OCI_MANIFEST } })).status, 200, 'an anonymous client pulls');
  t.equal((await nobody.request('DELETE', `/v2/team/app/manifests/${sha256(manifest)}`)).status, 401, 'an anonymous client cannot delete');
  t.strictSame(nobody.steps.map((s) => `${s.method} ${s.status}`), ['GET 401', 'GET 200', 'GET 200', 'DELETE 401', 'GET 200', 'DELETE 401'], 'the token it got for delete granted nothing');

  // Credentials, when sent, are still checked.
  const wrong = await getToken(registry, ['repository:team/app:pull'], ['alice', 'nope']);
  t.equal(wrong.status, 401, 'wrong credentials are refused even with anonymous pull on');
});

t.test('the control endpoint in token mode: a password or a user\'s token, never an anonymous token', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS, anonymous: 'pull' } }, control: true });
  const health = '/_oci-test-registry/health';
  assert401(t, await send(registry.url, 'GET', health), 'GET', challenge(registry), AUTHENTICATION_REQUIRED, 'no credentials');
  t.equal((await send(registry.url, 'GET', health, { headers: { authorization: basic('alice', 'secret') } })).status, 200, 'Basic credentials of a user');
  assert401(t, await send(registry.url, 'GET', health, { headers: { authorization: basic('alice', 'nope') } }), 'GET', challenge(registry), {
    errors: [{ code: 'UNAUTHORIZED' }],
  }, 'a wrong password');
  const user = (await getToken(registry, [], ['alice', 'secret'])).json.token as string;
  t.equal((await send(registry.url, 'GET', health, { headers: { authorization: bearer(user) } })).status, 200, 'a user\'s token');
  // With anonymous pull on, anyone can get a token; it must not let them reset the registry or inject faults.
  const anonymous = (await getToken(registry, [])).json.token as string;
  const reset = await send(registry.url, 'POST', '/_oci-test-registry/reset', { headers: { authorization: bearer(anonymous) } });
  t.equal(reset.status, 401, 'an anonymous token cannot reset the registry');
  t.equal(reset.json?.errors?.[0]?.code, 'UNAUTHORIZED', 'UNAUTHORIZED');
  const fault = await send(registry.url, 'POST', '/_oci-test-registry/faults', { headers: { authorization: bearer(anonymous) }, body: '{"action":{"status":500}}' });
  t.equal(fault.status, 401, 'an anonymous token cannot add faults');
  t.equal(registry.faults.list().length, 0, 'no fault was added');
});
