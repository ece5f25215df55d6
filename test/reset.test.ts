// registry.reset(): one registry shared by several tests, emptied between
// them — content, upload sessions, the journal, the event history and
// pending waits go; the port, the options, the store object and the event
// listeners stay.
import t from 'tap';
import { request } from 'node:http';
import { createRegistry, startRegistry, type PushEvent } from '../src/index.js';
import { send, sha256 } from './helpers/http.js';
import { pushImage } from './helpers/push.js';

const EMPTY_USAGE = { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 };

t.test('reset between two tests leaves nothing behind', async (t) => {
  const registry = await startRegistry({ deletes: false });
  t.teardown(() => registry.close());
  t.afterEach(() => registry.reset());
  const { port, url, store, options } = registry;
  const heard: PushEvent[] = [];
  registry.events.on('push', (e) => heard.push(e));

  // What the first test leaves behind, for the second to look for.
  let left: { digest: string; layer: string; seededDigest: string; upload: string; pending: Promise<string>; lastSeq: number } | undefined;

  await t.test('first test: pushes, seeds, opens an upload, waits for a push that never comes', async (t) => {
    const image = await pushImage(url, 'reset/app', 'v1', { layers: ['first test layer'] });
    const seeded = await registry.store.pushImage('reset/seeded', { tag: 'v1', layers: ['seeded layer'] });
    const upload = String((await send(url, 'POST', '/v2/reset/app/blobs/uploads/')).headers.location);
    t.equal((await send(url, 'PATCH', upload, { body: 'half', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '0-3' } })).status, 202);
    const pending = registry.waitFor({ event: 'push', name: 'reset/never' }, { timeoutMs: 60_000 }).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    t.strictSame(await store.listRepositories(), ['reset/app', 'reset/seeded']);
    const stored = [image.bytes.length, image.config.size, image.layers[0]!.size, seeded.bytes.length, seeded.manifest.config.size, seeded.manifest.layers[0].size];
    t.strictSame(await store.usage(), {
      storedBytes: stored.reduce((a, b) => a + b),
      uploadBytes: 4,
      uploads: 1,
      repositories: 2,
      blobs: 4,
    });
    t.equal(registry.journal.size, 5);
    left = { digest: image.digest, layer: image.layers[0]!.digest, seededDigest: seeded.digest, upload, pending, lastSeq: registry.journal.last()!.seq };
  });

  await t.test('second test: finds an empty registry on the same port', async (t) => {
    t.ok(left, 'the first test ran');
    const { digest, layer, seededDigest, upload, pending, lastSeq } = left!;
    t.equal(await pending, 'waitFor cancelled: the registry was reset', 'a pending waitFor was rejected by the reset');

    // The journal starts empty; seq numbers go on.
    t.strictSame(registry.journal.all(), []);
    // The store is empty, with nothing held by upload sessions.
    t.strictSame(await store.usage(), EMPTY_USAGE);
    t.strictSame(await store.listRepositories(), []);
    t.equal(await store.getManifest('reset/seeded', seededDigest), undefined);

    // Over HTTP, on the same port: nothing of the first test answers.
    t.equal(registry.port, port);
    t.strictSame((await send(url, 'GET', '/v2/_catalog')).json, { repositories: [] });
    t.equal((await send(url, 'GET', `/v2/reset/app/manifests/${digest}`)).json.errors[0].code, 'NAME_UNKNOWN');
    t.equal((await send(url, 'GET', `/v2/reset/app/blobs/${layer}`)).status, 404);
    const session = await send(url, 'GET', upload);
    t.equal(session.status, 404, 'the upload session is gone');
    t.equal(session.json.errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
    t.strictSame(registry.journal.all().map((e) => e.seq), [lastSeq + 1, lastSeq + 2, lastSeq + 3, lastSeq + 4], 'seq numbers continue after a reset');

    // The event history is gone: a push of the first test is no longer found.
    await t.rejects(registry.waitFor({ event: 'push', name: 'reset/app', reference: 'v1' }, { timeoutMs: 20 }), new Error('waitFor timed out after 20 ms waiting for a push event with name="reset/app", reference="v1"'));

    // Options, the store object and event listeners stay.
    t.equal(registry.store, store);
    t.equal(registry.options, options);
    t.equal((await send(url, 'DELETE', '/v2/reset/app/manifests/v1')).status, 405, 'deletes: false still holds');
    const again = await pushImage(url, 'reset/app', 'v1', { layers: ['first test layer'] });
    t.equal(again.digest, digest, 'the same content can be pushed again');
    t.strictSame(heard.map((e) => `${e.name}:${e.reference}`), ['reset/app:v1', 'reset/seeded:v1', 'reset/app:v1'], 'a listener added before the reset still hears pushes');
  });
});

t.test('reset() of a registry from createRegistry()', async (t) => {
  const registry = createRegistry();
  t.teardown(() => registry.close());
  await registry.store.pushImage('reset/created', { tag: 'v1' });
  await registry.reset();
  t.strictSame(await registry.store.usage(), EMPTY_USAGE);
  t.strictSame(await registry.store.listRepositories(), []);
});

t.test('reset() twice in a row, and on an empty registry, is harmless', async (t) => {
  const registry = await startRegistry();
  t.teardown(() => registry.close());
  await registry.reset();
  await Promise.all([registry.reset(), registry.reset()]);
  t.strictSame(await registry.store.usage(), EMPTY_USAGE);
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 200);
});

// The bytes a PATCH was still sending when reset() ran must not land in a
// session that no longer exists (they would be held, and counted, forever).
t.test('a PATCH in flight during reset() stores nothing and holds no bytes afterwards', async (t) => {
  const errors: Error[] = [];
  const registry = await startRegistry({ maxStorageBytes: 1500, onError: (error) => errors.push(error) });
  t.teardown(() => registry.close());
  const location = String((await send(registry.url, 'POST', '/v2/reset/inflight/blobs/uploads/')).headers.location);
  // Expect: 100-continue: once the client hears "100 Continue" the PATCH is being handled.
  const req = request(new URL(location, registry.url), {
    method: 'PATCH',
    agent: false,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': 1000, Expect: '100-continue' },
  });
  const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
  });
  await new Promise<void>((resolve) => req.on('continue', resolve));
  req.write(Buffer.alloc(500, 1));
  await registry.reset();
  req.end(Buffer.alloc(500, 2));
  const answered = await reply;

  t.equal(answered.status, 404, 'the session was cancelled by the reset: 404');
  t.equal(JSON.parse(answered.body || '{}').errors?.[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
  t.strictSame(await registry.store.usage(), EMPTY_USAGE, 'no bytes are held (they would count against maxStorageBytes forever)');
  t.strictSame(errors, []);
  t.equal((await send(registry.url, 'PUT', `${location}?digest=${sha256(Buffer.alloc(0))}`)).status, 404);
  const fresh = Buffer.alloc(600, 3);
  const pushed = await send(registry.url, 'POST', `/v2/reset/inflight/blobs/uploads/?digest=${sha256(fresh)}`, { body: fresh });
  t.equal(pushed.status, 201, 'after the reset, 600 bytes fit in maxStorageBytes: 1500');
});
