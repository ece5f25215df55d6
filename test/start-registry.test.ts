// startRegistry(): defaults, url/host/port, and two registries side by side.
import t from 'tap';
import { startRegistry, DEFAULT_OPTIONS } from '../src/index.js';
import { send } from './helpers/http.js';
import { pushImage } from './helpers/push.js';

t.test('defaults: 127.0.0.1, a free port, url without trailing slash', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.close());
  t.equal(registry.options.host, '127.0.0.1');
  t.equal(DEFAULT_OPTIONS.port, 0);
  t.ok(registry.port > 0, 'a real port was picked');
  t.equal(registry.host, `127.0.0.1:${registry.port}`);
  t.equal(registry.url, `http://127.0.0.1:${registry.port}`);
  t.notOk(registry.url.endsWith('/'));
  // Resolved means listening: the very next request is answered.
  const reply = await send(registry.url, 'GET', '/v2/');
  t.equal(reply.status, 200);
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(reply.headers['content-type'], 'application/json');
  t.same(reply.json, {});
});

t.test('an IPv6 host is bracketed in url and host', async (t) => {
  let registry;
  try {
    registry = await startRegistry({ host: '::1' });
  } catch (error) {
    // A machine without IPv6 loopback cannot run this case; say so instead of passing silently.
    t.equal((error as NodeJS.ErrnoException).code, 'EADDRNOTAVAIL', 'only a missing ::1 may stop this test');
    return;
  }
  t.teardown(() => registry.close());
  t.equal(registry.host, `[::1]:${registry.port}`);
  t.equal(registry.url, `http://[::1]:${registry.port}`);
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 200);
});

t.test('two registries in one process share nothing', async (t) => {
  const a = await startRegistry();
  const b = await startRegistry();
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.not(a.port, b.port);
  t.not(a.store, b.store);
  const image = await pushImage(a.url, 'only/in-a', 'v1');
  t.equal((await send(a.url, 'GET', `/v2/only/in-a/manifests/${image.digest}`)).status, 200);
  const inB = await send(b.url, 'GET', `/v2/only/in-a/manifests/${image.digest}`);
  t.equal(inB.status, 404);
  t.equal(inB.json.errors[0].code, 'NAME_UNKNOWN');
  t.equal((await send(b.url, 'GET', `/v2/only/in-a/blobs/${image.layers[0]!.digest}`)).status, 404);
  t.same((await send(b.url, 'GET', '/v2/_catalog')).json, { repositories: [] });
});

t.test('a port in use rejects with EADDRINUSE and leaves nothing running', async (t) => {
  const first = await startRegistry();
  t.teardown(() => first.close());
  await t.rejects(startRegistry({ port: first.port }), { code: 'EADDRINUSE' });
});

t.test('bad options are refused with a message naming the option', async (t) => {
  await t.rejects(startRegistry({ port: -1 }), { name: 'TypeError', message: /port/ });
  await t.rejects(startRegistry({ maxManifestBytes: 0 }), { name: 'TypeError', message: /maxManifestBytes/ });
  await t.rejects(startRegistry({ maxPageSize: 1.5 }), { name: 'TypeError', message: /maxPageSize/ });
});
