// maxStorageBytes: a push that would pass the limit is refused with 413
// DENIED naming the limit, and stores nothing.
import t from 'tap';
import { send, sha256, startFor } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';

t.test('a single POST past the limit is refused and nothing is stored', async (t) => {
  const registry = await startFor(t, { maxStorageBytes: 1000 });
  await pushBlob(registry.url, 'limits/a', Buffer.alloc(600, 1));
  const big = Buffer.alloc(600, 2);
  const reply = await send(registry.url, 'POST', `/v2/limits/a/blobs/uploads/?digest=${sha256(big)}`, { body: big });
  t.equal(reply.status, 413);
  t.equal(reply.headers['content-type'], 'application/json');
  t.equal(reply.json.errors[0].code, 'DENIED');
  t.match(reply.json.errors[0].message, /maxStorageBytes/);
  t.same(reply.json.errors[0].detail, { limit: 'maxStorageBytes', limitBytes: 1000, usedBytes: 600, requestedBytes: 600 });
  t.equal((await send(registry.url, 'HEAD', `/v2/limits/a/blobs/${sha256(big)}`)).status, 404, 'nothing stored');
  const usage = await registry.store.usage();
  t.equal(usage.storedBytes, 600);
  t.equal(usage.uploadBytes, 0);
  t.equal(usage.uploads, 0, 'the internal session is gone');
});

t.test('a chunk that crosses the limit is rolled back; the session resumes once room is made', async (t) => {
  const registry = await startFor(t, { maxStorageBytes: 1000 });
  const filler = await pushBlob(registry.url, 'limits/b', Buffer.alloc(500, 3));
  const location = (await send(registry.url, 'POST', '/v2/limits/b/blobs/uploads/')).headers.location!;
  const first = await send(registry.url, 'PATCH', location, { body: Buffer.alloc(300, 4), headers: { 'Content-Range': '0-299' } });
  t.equal(first.status, 202);
  const over = await send(registry.url, 'PATCH', location, { body: Buffer.alloc(300, 4), headers: { 'Content-Range': '300-599' } });
  t.equal(over.status, 413);
  t.equal(over.json.errors[0].code, 'DENIED');
  const status = await send(registry.url, 'GET', location);
  t.equal(status.headers.range, '0-299', 'the refused chunk left no bytes behind');
  t.equal((await send(registry.url, 'DELETE', `/v2/limits/b/blobs/${filler}`)).status, 202, 'make room');
  t.equal((await send(registry.url, 'PATCH', location, { body: Buffer.alloc(300, 4), headers: { 'Content-Range': '300-599' } })).status, 202);
  const done = await send(registry.url, 'PUT', `${location}?digest=${sha256(Buffer.alloc(600, 4))}`);
  t.equal(done.status, 201);
  t.equal((await registry.store.usage()).storedBytes, 600);
});

t.test('a manifest past the limit is refused', async (t) => {
  const registry = await startFor(t, { maxStorageBytes: 10 });
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
  const reply = await send(registry.url, 'PUT', '/v2/limits/c/manifests/v1', {
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
  });
  t.equal(reply.status, 413);
  t.equal(reply.json.errors[0].code, 'DENIED');
  t.equal((await send(registry.url, 'GET', '/v2/limits/c/manifests/v1')).status, 404);
});
