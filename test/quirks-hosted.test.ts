// The quirk switches hosted registries need (README "Quirk switches"), each
// alone and next to the default it changes: createOnPush, repositories,
// immutableTags, pullLimit, catalog, and answers (a registry's own wording).
import t from 'tap';
import { send, sha256, startFor } from './helpers/http.js';
import { OCI_MANIFEST, pushBlob, pushImage } from './helpers/push.js';
import { assertError, json, putManifest } from './helpers/fixtures.js';
import { createRegistry, DEFAULT_OPTIONS, MemoryStore } from '../src/index.js';

const MANIFEST = { 'Content-Type': OCI_MANIFEST };
const message = (reply: { json?: any }) => reply.json?.errors?.[0]?.message as string | undefined;

t.test('the switches are off by default', async (t) => {
  t.match(DEFAULT_OPTIONS, { createOnPush: true, repositories: [], immutableTags: false, catalog: true, answers: {} });
  t.equal('pullLimit' in DEFAULT_OPTIONS, false, 'no pull limit');
});

t.test('createOnPush: false — a push into a repository that does not exist is 404 NAME_UNKNOWN', async (t) => {
  const spec = await startFor(t);
  t.equal((await send(spec.url, 'POST', '/v2/team/app/blobs/uploads/')).status, 202, 'default: any name takes a push');

  const registry = await startFor(t, { createOnPush: false });
  const { url } = registry;
  for (const [method, path, body] of [
    ['POST', '/v2/team/app/blobs/uploads/', undefined],
    ['POST', `/v2/team/app/blobs/uploads/?mount=sha256:${'a'.repeat(64)}&from=x/y`, undefined],
    ['POST', `/v2/team/app/blobs/uploads/?digest=sha256:${'a'.repeat(64)}`, 'x'],
    ['PUT', '/v2/team/app/manifests/v1', '{}'],
  ] as const) {
    const reply = await send(url, method, path, body === undefined ? {} : { body, headers: method === 'PUT' ? MANIFEST : {} });
    assertError(t, reply, 404, 'NAME_UNKNOWN');
    t.equal(message(reply), 'repository team/app is not known to this registry: create it before pushing', `${method} ${path}`);
  }
  t.match(await registry.store.usage(), { uploads: 0, storedBytes: 0 }, 'nothing was opened or stored');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).json?.errors?.[0]?.message, 'repository team/app is not known to this registry', 'a pull keeps the spec wording');

  await registry.store.createRepository('team/app');
  await pushImage(url, 'team/app', 'v1');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).status, 200, 'after store.createRepository a push works');
  t.equal((await send(url, 'POST', '/v2/team/app2/blobs/uploads/')).status, 404, 'a neighbour is still refused');
});

t.test('createOnPush: patterns — * is one path segment, ** any number', async (t) => {
  const { url } = await startFor(t, { createOnPush: ['team/*', 'org/**/cache'] });
  for (const [name, status] of [['team/app', 202], ['team/app/sub', 404], ['org/a/b/cache', 202], ['org/cache', 404], ['other/app', 404], ['team', 404]] as const) {
    t.equal((await send(url, 'POST', `/v2/${name}/blobs/uploads/`)).status, status, name);
  }
});

t.test('repositories: they exist from the start, empty, in the catalog, and again after reset()', async (t) => {
  const registry = await startFor(t, { repositories: ['team/app', 'team/other'], createOnPush: false });
  const { url } = registry;
  t.strictSame((await send(url, 'GET', '/v2/_catalog')).json, { repositories: ['team/app', 'team/other'] });
  t.strictSame((await send(url, 'GET', '/v2/team/app/tags/list')).json, { name: 'team/app', tags: [] });
  const image = await pushImage(url, 'team/app', 'v1');
  t.equal((await send(url, 'DELETE', `/v2/team/app/manifests/${image.digest}`)).status, 202);
  for (const layer of [image.config, ...image.layers]) t.equal((await send(url, 'DELETE', `/v2/team/app/blobs/${layer.digest}`)).status, 202);
  t.equal(await registry.store.hasRepository('team/app'), true, 'emptied, a created repository stays');
  await registry.reset();
  t.strictSame((await send(url, 'GET', '/v2/_catalog')).json, { repositories: ['team/app', 'team/other'] }, 'reset() creates them again');
  t.throws(() => createRegistry({ repositories: ['Bad Name'] }), new TypeError('option repositories must hold repository names, got "Bad Name"'));
  await t.rejects(new MemoryStore().createRepository('../x'), { name: 'RegistryError', code: 'NAME_INVALID' }, 'the store checks the name');
});

t.test('immutableTags: a PUT that moves a tag is refused 403 DENIED; new tags and the same manifest are taken', async (t) => {
  const push = async (url: string) => {
    const first = await pushImage(url, 'team/app', 'v1');
    const layer = await pushBlob(url, 'team/app', 'another layer');
    const other = json({ ...first.manifest, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer, size: 13 }] });
    return { first, other };
  };
  const spec = await startFor(t);
  const { other: specOther } = await push(spec.url);
  t.equal((await putManifest(spec.url, 'team/app', 'v1', specOther, OCI_MANIFEST)).status, 201, 'default: the tag moves');

  const { url } = await startFor(t, { immutableTags: true });
  const { first, other } = await push(url);
  const moved = await putManifest(url, 'team/app', 'v1', other, OCI_MANIFEST);
  assertError(t, moved, 403, 'DENIED');
  t.equal(message(moved), 'tag v1 of team/app is immutable: it cannot be moved to another manifest');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).headers['docker-content-digest'], first.digest, 'the tag did not move');
  t.equal((await putManifest(url, 'team/app', 'v1', first.bytes, OCI_MANIFEST)).status, 201, 'the same manifest again: taken');
  t.equal((await putManifest(url, 'team/app', 'v2', other, OCI_MANIFEST)).status, 201, 'a new tag: taken');
  const digestPush = await send(url, 'PUT', `/v2/team/app/manifests/${sha256(other)}?tag=v1`, { body: other, headers: MANIFEST });
  assertError(t, digestPush, 403, 'DENIED');
});

t.test('pullLimit: ratelimit headers on manifest GET and HEAD; only GETs count; 429 past the limit, until the window ends', async (t) => {
  const spec = await startFor(t);
  await spec.store.pushImage('team/app', { tag: 'v1', layers: ['a'] });
  t.equal((await send(spec.url, 'GET', '/v2/team/app/manifests/v1')).headers['ratelimit-limit'], undefined, 'default: no headers');

  const registry = await startFor(t, { pullLimit: { requests: 2, perSeconds: 60 } });
  const { url } = registry;
  await registry.store.pushImage('team/app', { tag: 'v1', layers: ['a'] });
  const head = await send(url, 'HEAD', '/v2/team/app/manifests/v1');
  t.equal(head.headers['ratelimit-limit'], '2;w=60');
  t.equal(head.headers['ratelimit-remaining'], '2;w=60');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).headers['ratelimit-remaining'], '1;w=60');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/nope')).status, 404, 'a GET of an unknown tag counts too');
  const refused = await send(url, 'GET', '/v2/team/app/manifests/v1');
  assertError(t, refused, 429, 'TOOMANYREQUESTS');
  t.equal(message(refused), 'pull limit reached: 2 manifest GETs in 60 s');
  t.equal((await send(url, 'HEAD', '/v2/team/app/manifests/v1')).headers['ratelimit-remaining'], '0;w=60', 'HEAD still answers');
  t.equal((await send(url, 'GET', '/v2/team/app/tags/list')).status, 200, 'other routes are not limited');
  t.throws(() => createRegistry({ pullLimit: { requests: 0, perSeconds: 1 } }), new TypeError('option pullLimit.requests must be a positive number, got 0'));
});

t.test('catalog: false — GET /v2/_catalog is 404 UNSUPPORTED', async (t) => {
  const { url } = await startFor(t, { catalog: false });
  const reply = await send(url, 'GET', '/v2/_catalog');
  assertError(t, reply, 404, 'UNSUPPORTED');
  t.equal(message(reply), 'this registry does not serve the catalog');
});

t.test("answers: a registry's own status, code (spec or not), message with placeholders, and headers", async (t) => {
  const registry = await startFor(t, {
    createOnPush: false,
    catalog: false,
    answers: {
      repositoryUnknown: { status: 403, code: 'DENIED', message: 'no {name[1:]} in {name[0]} ({name})' },
      catalog: { status: 401, code: 'ACCESS_TOKEN_NEEDED', headers: { 'WWW-Authenticate': 'Basic realm="x"' } },
    },
  });
  const { url } = registry;
  const refused = await send(url, 'POST', '/v2/team/sub/app/blobs/uploads/');
  assertError(t, refused, 403, 'DENIED');
  t.strictSame(refused.json, { errors: [{ code: 'DENIED', message: 'no sub/app in team (team/sub/app)' }] }, 'no detail: the registry sends none');
  const catalog = await send(url, 'GET', '/v2/_catalog');
  t.equal(catalog.status, 401);
  t.equal(catalog.headers['www-authenticate'], 'Basic realm="x"');
  t.equal(catalog.json?.errors?.[0]?.code, 'ACCESS_TOKEN_NEEDED', 'a code outside the spec goes on the wire');
  t.equal(message(catalog), 'this registry does not serve the catalog', 'the default message where none is given');
  t.equal(registry.journal.last()?.code, 'ACCESS_TOKEN_NEEDED', 'the journal records the code sent');

  for (const [answers, why] of [
    [{ nope: {} }, 'option answers has no key nope (known: repositoryUnknown, tagImmutable, pullLimit, catalog)'],
    [{ catalog: { status: 200 } }, 'option answers.catalog.status must be an error status from 400 to 599'],
    [{ catalog: { code: 'lower' } }, 'option answers.catalog.code must be an upper-case error code such as NAME_UNKNOWN'],
    [{ catalog: { headers: { X: 'a\r\nb' } } }, 'option answers.catalog.headers must map header names to one-line strings'],
  ] as const) {
    t.throws(() => createRegistry({ answers: answers as never }), new TypeError(why));
  }
});
