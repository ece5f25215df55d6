// auth: { basic: { users } } — HTTP Basic on every route. Without
// credentials, with a malformed or wrong pair, every route answers 401
// UNAUTHORIZED with `WWW-Authenticate: Basic realm="oci-test-registry"`;
// with the right pair the registry serves as it does without auth. Auth is
// off by default. Every status, header and body is asserted exactly.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { startRegistry } from '../src/index.js';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from './helpers/push.js';

const CHALLENGE = 'Basic realm="oci-test-registry"';
const ALICE = basic('alice', 'secret');

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The OCI error body of a 401 with `message`. */
function unauthorizedBody(message: string): unknown {
  return { errors: [{ code: 'UNAUTHORIZED', message }] };
}

/** The exact 401 a Basic-mode registry answers: status, challenge, JSON content type, and body (none on HEAD). */
function assertUnauthorized(t: Test, reply: Reply, method: string, message: string, what: string): void {
  t.equal(reply.status, 401, `${what}: 401`);
  t.equal(reply.headers['www-authenticate'], CHALLENGE, `${what}: Basic challenge`);
  t.equal(reply.headers['content-type'], 'application/json', `${what}: JSON error`);
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0', `${what}: API version header`);
  const body = JSON.stringify(unauthorizedBody(message));
  t.equal(reply.headers['content-length'], String(Buffer.byteLength(body)), `${what}: Content-Length of the error body`);
  if (method === 'HEAD') t.equal(reply.body.length, 0, `${what}: HEAD has no body`);
  else t.strictSame(reply.json, unauthorizedBody(message), `${what}: OCI error body`);
}

const DIGEST = `sha256:${'a'.repeat(64)}`;
const UPLOAD = `/v2/team/app/blobs/uploads/${randomUUID()}`;

/** Every route of the API, each with a method it answers (and a body where the request carries one). */
const ROUTES: { method: string; path: string; body?: string }[] = [
  { method: 'GET', path: '/v2/' },
  { method: 'HEAD', path: '/v2/' },
  { method: 'GET', path: '/v2/_catalog' },
  { method: 'GET', path: '/v2/team/app/tags/list' },
  { method: 'GET', path: '/v2/team/app/manifests/v1' },
  { method: 'HEAD', path: '/v2/team/app/manifests/v1' },
  { method: 'PUT', path: '/v2/team/app/manifests/v1', body: '{"schemaVersion":2}' },
  { method: 'DELETE', path: `/v2/team/app/manifests/${DIGEST}` },
  { method: 'GET', path: `/v2/team/app/blobs/${DIGEST}` },
  { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}` },
  { method: 'DELETE', path: `/v2/team/app/blobs/${DIGEST}` },
  { method: 'POST', path: '/v2/team/app/blobs/uploads/' },
  { method: 'POST', path: `/v2/team/app/blobs/uploads/?digest=${sha256('x')}`, body: 'x' },
  { method: 'POST', path: `/v2/team/app/blobs/uploads/?mount=${DIGEST}&from=other/app` },
  { method: 'PATCH', path: UPLOAD, body: 'chunk' },
  { method: 'PUT', path: `${UPLOAD}?digest=${DIGEST}` },
  { method: 'GET', path: UPLOAD },
  { method: 'DELETE', path: UPLOAD },
  { method: 'GET', path: `/v2/team/app/referrers/${DIGEST}` },
];

t.test('without credentials, every route answers 401 UNAUTHORIZED with the Basic challenge', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: { alice: 'secret' } } } });
  for (const { method, path, body } of ROUTES) {
    const reply = await send(registry.url, method, path, body === undefined ? {} : { body });
    assertUnauthorized(t, reply, method, 'authentication required', `${method} ${path}`);
  }
  t.equal(registry.journal.filter({ status: 401, code: 'UNAUTHORIZED' }).length, ROUTES.length, 'the journal records each 401 with its code');
  t.strictSame(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 }, 'nothing was stored, no upload opened');
});

t.test('a wrong password, an unknown user, another scheme: 401, and the same answer for both kinds of wrong', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: { alice: 'secret', bob: 'hunter2' } } } });
  const wrong: [string, string][] = [
    ['wrong password', basic('alice', 'Secret')],
    ['another user\'s password', basic('alice', 'hunter2')],
    ['password with a suffix', basic('alice', 'secret ')],
    ['empty password', basic('alice', '')],
    ['unknown user', basic('mallory', 'secret')],
  ];
  const routes = [{ method: 'GET', path: '/v2/' }, { method: 'PUT', path: '/v2/team/app/manifests/v1' }, { method: 'HEAD', path: `/v2/team/app/blobs/${DIGEST}` }];
  for (const [what, authorization] of wrong) {
    for (const { method, path } of routes) {
      const reply = await send(registry.url, method, path, { headers: { authorization } });
      assertUnauthorized(t, reply, method, 'invalid username or password', `${what}: ${method} ${path}`);
    }
  }
  // An empty pair (`:`), as some clients send before they have credentials, is no credential at all.
  for (const { method, path } of routes) {
    const reply = await send(registry.url, method, path, { headers: { authorization: basic('', '') } });
    assertUnauthorized(t, reply, method, 'authentication required', `empty user and password: ${method} ${path}`);
  }
  // A token is not Basic credentials.
  const bearer = await send(registry.url, 'GET', '/v2/', { headers: { authorization: 'Bearer abc.def.ghi' } });
  assertUnauthorized(t, bearer, 'GET', 'malformed Authorization header: expected Basic credentials', 'Bearer on a Basic registry');
});

/** A client that sends `authorization` with each request: pushes an image, reads it back, deletes it. */
async function useRegistry(t: Test, url: string, authorization: string, name: string): Promise<void> {
  const headers = { authorization };
  const base = await send(url, 'GET', '/v2/', { headers });
  t.equal(base.status, 200, 'GET /v2/ → 200');
  t.strictSame(base.json, {}, 'GET /v2/ body {}');
  t.equal(base.headers['www-authenticate'], undefined, 'no challenge once authenticated');

  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from(`layer of ${name}`);
  // Single POST for the config, POST + PATCH + PUT for the layer: every upload route with credentials.
  const single = await send(url, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha256(config)}`, { headers, body: config });
  t.equal(single.status, 201, 'single-POST upload → 201');
  const opened = await send(url, 'POST', `/v2/${name}/blobs/uploads/`, { headers });
  t.equal(opened.status, 202, 'POST upload → 202');
  const location = String(opened.headers.location);
  t.equal((await send(url, 'PATCH', location, { headers: { ...headers, 'Content-Range': `0-${layer.length - 1}` }, body: layer })).status, 202, 'PATCH → 202');
  t.equal((await send(url, 'GET', location, { headers })).status, 204, 'upload status → 204');
  t.equal((await send(url, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(layer)}`, { headers })).status, 201, 'PUT completes the upload → 201');
  const cancelled = await send(url, 'POST', `/v2/${name}/blobs/uploads/`, { headers });
  t.equal((await send(url, 'DELETE', String(cancelled.headers.location), { headers })).status, 204, 'DELETE cancels an upload → 204');

  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.length }],
  }));
  const put = await send(url, 'PUT', `/v2/${name}/manifests/v1`, { headers: { ...headers, 'Content-Type': OCI_MANIFEST }, body: manifest });
  t.equal(put.status, 201, 'manifest PUT → 201');
  t.equal(put.headers['docker-content-digest'], sha256(manifest), 'manifest digest');

  const got = await send(url, 'GET', `/v2/${name}/manifests/v1`, { headers: { ...headers, Accept: OCI_MANIFEST } });
  t.equal(got.status, 200, 'manifest GET → 200');
  t.ok(got.body.equals(manifest), 'the manifest bytes as pushed');
  t.equal((await send(url, 'HEAD', `/v2/${name}/manifests/v1`, { headers })).status, 200, 'manifest HEAD → 200');
  const blob = await send(url, 'GET', `/v2/${name}/blobs/${sha256(layer)}`, { headers });
  t.equal(blob.status, 200, 'blob GET → 200');
  t.ok(blob.body.equals(layer), 'the layer bytes as pushed');
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`, { headers })).json, { name, tags: ['v1'] }, 'tags/list');
  t.strictSame((await send(url, 'GET', '/v2/_catalog', { headers })).json, { repositories: [name] }, '_catalog');
  const referrers = await send(url, 'GET', `/v2/${name}/referrers/${sha256(manifest)}`, { headers });
  t.equal(referrers.status, 200, 'referrers → 200');
  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/${sha256(manifest)}`, { headers })).status, 202, 'manifest DELETE → 202');
  t.equal((await send(url, 'DELETE', `/v2/${name}/blobs/${sha256(layer)}`, { headers })).status, 202, 'blob DELETE → 202');
}

t.test('with the right password, every route serves as without auth', async (t) => {
  const auth = { basic: { users: { alice: 'secret', bob: 'pa:ss wörd' } } };
  const registry = await startFor(t, { auth });
  await t.test('alice', (t) => useRegistry(t, registry.url, ALICE, 'team/app'));
  // The password is everything after the first colon (RFC 7617), UTF-8 encoded.
  await t.test('bob, whose password holds a colon, a space and non-ASCII', async (t) => {
    const own = await startFor(t, { auth });
    await useRegistry(t, own.url, basic('bob', 'pa:ss wörd'), 'bob/app');
  });
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  const lower = await send(registry.url, 'GET', '/v2/', { headers: { authorization: ALICE.replace('Basic', 'basic') } });
  t.equal(lower.status, 200, 'scheme `basic` in lower case is accepted');
  const upper = await send(registry.url, 'GET', '/v2/', { headers: { authorization: ALICE.replace('Basic', 'BASIC') } });
  t.equal(upper.status, 200, 'scheme `BASIC` in upper case is accepted');
});

t.test('the token endpoint does not exist in Basic mode', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: { alice: 'secret' } } } });
  for (const method of ['GET', 'POST']) {
    const reply = await send(registry.url, method, '/token?service=x&scope=repository:team/app:pull', { headers: { authorization: ALICE } });
    t.equal(reply.status, 404, `${method} /token → 404`);
    t.strictSame(reply.json, { errors: [{ code: 'UNSUPPORTED', message: 'no such endpoint: /token' }] }, `${method} /token body`);
  }
});

t.test('the control endpoint takes the same Basic credentials', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: { alice: 'secret' } } }, control: true });
  assertUnauthorized(t, await send(registry.url, 'GET', '/_oci-test-registry/health'), 'GET', 'authentication required', 'control without credentials');
  assertUnauthorized(t, await send(registry.url, 'POST', '/_oci-test-registry/reset', { headers: { authorization: basic('alice', 'nope') } }), 'POST', 'invalid username or password', 'control with a wrong password');
  t.equal((await send(registry.url, 'GET', '/_oci-test-registry/health', { headers: { authorization: ALICE } })).status, 200, 'control with the password → 200');
});

t.test('auth is off by default: no challenge, no token endpoint', async (t) => {
  const registry = await startFor(t);
  const base = await send(registry.url, 'GET', '/v2/');
  t.equal(base.status, 200, 'GET /v2/ without credentials → 200');
  t.equal(base.headers['www-authenticate'], undefined, 'no challenge');
  t.equal((await send(registry.url, 'GET', '/v2/_catalog')).status, 200, '_catalog → 200');
  // Credentials sent to a registry without auth are ignored, right or wrong.
  t.equal((await send(registry.url, 'GET', '/v2/', { headers: { authorization: 'Basic !!!' } })).status, 200, 'a stray Authorization header is ignored');
  t.equal((await send(registry.url, 'GET', '/token?service=x')).status, 404, '/token → 404');
  t.equal(registry.options.auth, undefined, 'options.auth is undefined');
});

t.test('the auth option is checked at start', async (t) => {
  await t.rejects(startRegistry({ auth: {} }), new TypeError('option auth needs basic or token'), 'auth: {} is refused');
  await t.rejects(
    startRegistry({ auth: { basic: { users: { a: 'b' } }, token: { users: { a: 'b' } } } }),
    new TypeError('option auth takes basic or token, not both'),
    'basic and token together are refused',
  );
});
