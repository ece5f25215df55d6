// spec "Pushing blobs", "Pushing a blob monolithically" (POST then PUT,
// single POST), "Pushing a blob in chunks" (PATCH, closing PUT, upload
// status) — end-4a, end-4b, end-5, end-6, end-13 — and the rules around them:
// names, methods, session lifetime, digests and digest algorithms.
import t from 'tap';
import type { OutgoingHttpHeaders } from 'node:http';
import { send, sha256, sha512, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { seededBytes as bytesOf } from './helpers/bytes.js';
import { OCTETS, UUID, at, call, checkCommon, checkError, open, patchChunk, rangeOf, type Test } from './helpers/upload.js';
import type { RunningRegistry } from '../src/index.js';

/** A request whose path is sent exactly as written (no URL normalisation of `..`, `%2e` …). */
function sendPath(t: Test, registry: RunningRegistry, method: string, path: string, headers: OutgoingHttpHeaders = {}): Promise<Reply> {
  return send(registry.url, method, path, { headers }).then((reply) => {
    checkCommon(t, method, path, reply);
    return reply;
  });
}

async function checkBlob(t: Test, registry: RunningRegistry, name: string, digest: string, bytes: Buffer): Promise<void> {
  const reply = await call(t, registry.url, 'GET', `/v2/${name}/blobs/${digest}`);
  t.equal(reply.status, 200, `blob ${digest.slice(0, 19)}… readable`);
  t.equal(reply.headers['docker-content-digest'], digest);
  t.ok(reply.body.equals(bytes), 'blob holds exactly the pushed bytes');
}

/** Nothing stored under `digest` in `name` (a repository that does not exist may say NAME_UNKNOWN). */
async function checkNoBlob(t: Test, registry: RunningRegistry, name: string, digest: string): Promise<void> {
  const reply = await call(t, registry.url, 'GET', `/v2/${name}/blobs/${digest}`);
  checkError(t, reply, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN'], `blob ${digest.slice(0, 19)}… not stored in ${name}`);
}

function checkCreated(t: Test, reply: Reply, name: string, digest: string): void {
  t.equal(reply.status, 201, '201 Created');
  t.equal(reply.headers.location, `/v2/${name}/blobs/${digest}`, 'Location: the blob');
  t.equal(reply.headers['docker-content-digest'], digest, 'Docker-Content-Digest');
}

t.test('POST opens a session: 202, Location, Range 0-0, Docker-Upload-UUID; GET status 204', async (t) => {
  const registry = await startFor(t);
  const one = await open(t, registry, 'up/open');
  const two = await open(t, registry, 'up/open');
  t.not(one.id, two.id, 'every session has its own id');

  const post = await call(t, registry.url, 'POST', '/v2/up/open/blobs/uploads/');
  t.equal(post.status, 202, 'a POST without Content-Length opens a session too');
  t.equal(post.headers['content-length'], '0', 'the 202 has no body');
  // spec: OCI-Chunk-Min-Length is optional; this registry sends it only with the chunkMinBytes quirk (quirks.test.ts).
  t.equal(post.headers['oci-chunk-min-length'], undefined, 'no OCI-Chunk-Min-Length by default');

  for (const method of ['GET', 'HEAD']) {
    const status = await call(t, registry.url, method, one.location);
    t.equal(status.status, 204, `${method} status: 204`);
    t.equal(status.headers.location, one.location, `${method} status: Location`);
    t.equal(status.headers.range, '0-0', `${method} status: Range 0-0 on an empty session`);
    t.equal(status.headers['docker-upload-uuid'], one.id);
  }
  t.equal((await registry.store.usage()).uploads, 3, 'three sessions open');
});

t.test('single POST with ?digest= (end-4b): 201, Location, Docker-Content-Digest; readable after', async (t) => {
  const registry = await startFor(t);
  const name = 'up/single';
  const cases: [string, Buffer, OutgoingHttpHeaders][] = [
    ['with Content-Length', bytesOf(1000), OCTETS],
    ['empty blob', Buffer.alloc(0), OCTETS],
    ['chunked transfer-encoding', bytesOf(70_000, 2), { ...OCTETS, 'Transfer-Encoding': 'chunked' }],
  ];
  for (const [what, bytes, headers] of cases) {
    t.comment(what);
    const digest = sha256(bytes);
    const reply = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: bytes, headers });
    checkCreated(t, reply, name, digest);
    await checkBlob(t, registry, name, digest, bytes);
    const head = await call(t, registry.url, 'HEAD', `/v2/${name}/blobs/${digest}`);
    t.equal(head.headers['content-length'], String(bytes.length));
  }
  t.equal((await registry.store.usage()).uploads, 0, 'a single POST leaves no session behind');

  // The digest must match: 400 DIGEST_INVALID, nothing stored, no session left.
  const bytes = Buffer.from('these bytes');
  const wrong = sha256('other bytes');
  const mismatch = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest=${wrong}`, { body: bytes, headers: OCTETS });
  checkError(t, mismatch, 400, 'DIGEST_INVALID', 'single POST, wrong digest');
  await checkNoBlob(t, registry, name, wrong);
  await checkNoBlob(t, registry, name, sha256(bytes));

  for (const digest of ['sha256:abc', `sha256:${'A'.repeat(64)}`, `md5:${'0'.repeat(32)}`, 'nonsense']) {
    const reply = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, { body: bytes, headers: OCTETS });
    checkError(t, reply, 400, 'DIGEST_INVALID', `single POST, digest ${digest}`);
  }
  const usage = await registry.store.usage();
  t.equal(usage.uploads, 0, 'failed single POSTs leave no session behind');
  t.equal(usage.uploadBytes, 0, 'and hold no bytes');
});

t.test('POST then PUT with the whole blob (end-4a, end-6)', async (t) => {
  const registry = await startFor(t);
  const name = 'up/post-put';
  const bytes = bytesOf(5000);
  const digest = sha256(bytes);
  const { location } = await open(t, registry, name);
  const put = await call(t, registry.url, 'PUT', at(location, { digest }), { body: bytes, headers: OCTETS });
  checkCreated(t, put, name, digest);
  await checkBlob(t, registry, name, digest, bytes);

  // The same bytes pushed again (spec "Layer Upload De-duplication"): 201 again, stored once.
  const blobsBefore = (await registry.store.usage()).blobs;
  const again = await open(t, registry, name);
  const second = await call(t, registry.url, 'PUT', at(again.location, { digest }), { body: bytes, headers: OCTETS });
  checkCreated(t, second, name, digest);
  await checkBlob(t, registry, name, digest, bytes);
  t.equal((await registry.store.usage()).blobs, blobsBefore, 'stored once');
});

t.test('chunked upload (end-5): PATCH Content-Range + Content-Length, 202 Location and Range; GET status follows', async (t) => {
  const registry = await startFor(t);
  const name = 'up/chunks';
  const bytes = bytesOf(3 * 1024 + 17);
  const digest = sha256(bytes);
  const { location, id } = await open(t, registry, name);
  let next = location;
  const sizes = [1024, 1, 1024, 1024, 16];
  let offset = 0;
  for (const size of sizes) {
    next = await patchChunk(t, registry, next, offset, bytes.subarray(offset, offset + size), id);
    offset += size;
    t.equal(await rangeOf(t, registry, next), `0-${offset - 1}`, `status after ${offset} bytes`);
  }
  // Closing PUT with no body: the last chunk came by PATCH.
  const put = await call(t, registry.url, 'PUT', at(next, { digest }));
  checkCreated(t, put, name, digest);
  await checkBlob(t, registry, name, digest, bytes);
});

t.test('the closing PUT may carry the last chunk, with or without Content-Range', async (t) => {
  const registry = await startFor(t);
  const name = 'up/last-chunk';
  for (const withRange of [true, false]) {
    t.comment(withRange ? 'with Content-Range' : 'without Content-Range');
    const bytes = bytesOf(2000, withRange ? 3 : 4);
    const digest = sha256(bytes);
    const { location } = await open(t, registry, name);
    const next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 1500));
    const headers: OutgoingHttpHeaders = withRange ? { ...OCTETS, 'Content-Range': '1500-1999' } : OCTETS;
    const put = await call(t, registry.url, 'PUT', at(next, { digest }), { body: bytes.subarray(1500), headers });
    checkCreated(t, put, name, digest);
    await checkBlob(t, registry, name, digest, bytes);
  }
});

t.test('out-of-order chunks: 416, nothing changes, the right chunk still works', async (t) => {
  const registry = await startFor(t);
  const name = 'up/order';
  const bytes = bytesOf(40);
  const { location, id } = await open(t, registry, name);

  // On an empty session the first chunk must start at 0.
  for (const range of ['1-10', '10-19']) {
    const reply = await call(t, registry.url, 'PATCH', location, { body: bytes.subarray(0, 10), headers: { ...OCTETS, 'Content-Range': range } });
    checkError(t, reply, 416, 'BLOB_UPLOAD_INVALID', `first chunk ${range}`);
    t.equal(await rangeOf(t, registry, location), '0-0', 'still empty');
  }
  let next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 10), id);

  // [Content-Range, why] — every one is out of order after bytes 0-9.
  const rows: [string, string][] = [
    ['0-9', 'the same chunk again'],
    ['5-14', 'overlapping the end'],
    ['9-18', 'one byte of overlap'],
    ['11-20', 'one byte of gap'],
    ['20-29', 'a gap'],
  ];
  for (const [range, why] of rows) {
    const reply = await call(t, registry.url, 'PATCH', at(next), { body: bytes.subarray(0, 10), headers: { ...OCTETS, 'Content-Range': range } });
    checkError(t, reply, 416, 'BLOB_UPLOAD_INVALID', `${range} (${why})`);
    // spec "Pushing a blob in chunks": the 416 tells the client where to resume, like the status GET.
    t.equal(reply.headers.range, '0-9', `${range}: the 416 carries Range 0-9`);
    t.equal(at(String(reply.headers.location)), at(next), `${range}: the 416 carries the session's Location`);
    t.equal(await rangeOf(t, registry, next), '0-9', `${range}: status still 0-9`);
  }
  // The closing PUT's chunk is held to the same rule.
  const early = await call(t, registry.url, 'PUT', at(next, { digest: sha256(bytes.subarray(0, 20)) }), {
    body: bytes.subarray(10, 20),
    headers: { ...OCTETS, 'Content-Range': '11-20' },
  });
  checkError(t, early, 416, 'BLOB_UPLOAD_INVALID', 'PUT with an out-of-order last chunk');
  await checkNoBlob(t, registry, name, sha256(bytes.subarray(0, 20)));
  t.equal(await rangeOf(t, registry, next), '0-9', 'status still 0-9');

  next = await patchChunk(t, registry, next, 10, bytes.subarray(10, 30), id);
  const put = await call(t, registry.url, 'PUT', at(next, { digest: sha256(bytes) }), {
    body: bytes.subarray(30),
    headers: { ...OCTETS, 'Content-Range': '30-39' },
  });
  checkCreated(t, put, name, sha256(bytes));
  await checkBlob(t, registry, name, sha256(bytes), bytes);
});

t.test('Content-Range length different from Content-Length: 416, nothing changes', async (t) => {
  const registry = await startFor(t);
  const bytes = bytesOf(30);
  const { location } = await open(t, registry, 'up/lengths');
  const next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 10));
  // [Content-Range, body length]
  const rows: [string, number][] = [
    ['10-19', 5],
    ['10-19', 11],
    ['10-10', 2],
    ['10-14', 10],
    ['10-9', 0], // last before first
    ['12-10', 3],
  ];
  for (const [range, length] of rows) {
    const reply = await call(t, registry.url, 'PATCH', at(next), { body: bytes.subarray(10, 10 + length), headers: { ...OCTETS, 'Content-Range': range } });
    checkError(t, reply, 416, 'BLOB_UPLOAD_INVALID', `Content-Range ${range} with Content-Length ${length}`);
    t.equal(await rangeOf(t, registry, next), '0-9', `${range}/${length}: status still 0-9`);
  }
  await patchChunk(t, registry, next, 10, bytes.subarray(10, 30));
  t.equal(await rangeOf(t, registry, next), '0-29');
});

t.test('malformed Content-Range: 400 BLOB_UPLOAD_INVALID, nothing changes', async (t) => {
  const registry = await startFor(t);
  const bytes = bytesOf(20);
  const { location } = await open(t, registry, 'up/malformed-range');
  const next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 10));
  // spec "Pushing a blob in chunks": the range MUST match ^[0-9]+-[0-9]+$.
  const rows = [
    'abc',
    '10-',
    '-19',
    '10',
    '10-19-',
    '10-19/20',
    'bytes 10-19/20',
    'bytes=10-19',
    '10 - 19',
    '+10-19',
    '10-+19',
    '0x0a-19',
    '1e1-19',
    '10.0-19',
    '10-19,20-29',
    '99999999999999999999-99999999999999999999',
  ];
  for (const range of rows) {
    const reply = await call(t, registry.url, 'PATCH', at(next), { body: bytes.subarray(10, 20), headers: { ...OCTETS, 'Content-Range': range } });
    checkError(t, reply, 400, 'BLOB_UPLOAD_INVALID', `Content-Range ${JSON.stringify(range)}`);
    t.equal(await rangeOf(t, registry, next), '0-9', `${range}: status still 0-9`);
  }
  await patchChunk(t, registry, next, 10, bytes.subarray(10, 20));
});

t.test('streamed PATCH without Content-Range (Docker style), with Content-Length or chunked', async (t) => {
  const registry = await startFor(t);
  const name = 'up/stream';
  const bytes = bytesOf(300_000, 5);
  const { location, id } = await open(t, registry, name);

  const first = await call(t, registry.url, 'PATCH', location, { body: bytes.subarray(0, 100_000), headers: OCTETS });
  t.equal(first.status, 202, 'streamed PATCH with Content-Length: 202');
  t.equal(first.headers.range, '0-99999');
  t.equal(first.headers['docker-upload-uuid'], id);
  t.equal(first.headers.location, location);

  const second = await call(t, registry.url, 'PATCH', at(String(first.headers.location)), {
    body: bytes.subarray(100_000, 250_000),
    headers: { ...OCTETS, 'Transfer-Encoding': 'chunked' },
  });
  t.equal(second.status, 202, 'streamed PATCH, chunked transfer-encoding: 202');
  t.equal(second.headers.range, '0-249999');
  t.equal(await rangeOf(t, registry, location), '0-249999');

  // A Content-Range chunk continues where the stream ended.
  const next = await patchChunk(t, registry, String(second.headers.location), 250_000, bytes.subarray(250_000, 260_000));
  // And a streamed PUT carries the rest.
  const put = await call(t, registry.url, 'PUT', at(next, { digest: sha256(bytes) }), {
    body: bytes.subarray(260_000),
    headers: { ...OCTETS, 'Transfer-Encoding': 'chunked' },
  });
  checkCreated(t, put, name, sha256(bytes));
  await checkBlob(t, registry, name, sha256(bytes), bytes);
});

t.test('closing PUT with the wrong digest: 400 DIGEST_INVALID, nothing stored, session still usable', async (t) => {
  const registry = await startFor(t);
  const name = 'up/mismatch';
  for (const lastChunk of [false, true]) {
    t.comment(lastChunk ? 'the PUT carries the last chunk' : 'the PUT has no body');
    const bytes = bytesOf(1000, lastChunk ? 7 : 8);
    const digest = sha256(bytes);
    const wrong = sha256(Buffer.concat([bytes, Buffer.from('x')]));
    const { location } = await open(t, registry, name);
    const next = await patchChunk(t, registry, location, 0, bytes.subarray(0, lastChunk ? 600 : 1000));
    const body = lastChunk ? bytes.subarray(600) : undefined;
    const headers: OutgoingHttpHeaders = lastChunk ? { ...OCTETS, 'Content-Range': '600-999' } : {};

    const bad = await call(t, registry.url, 'PUT', at(next, { digest: wrong }), { body, headers });
    checkError(t, bad, 400, 'DIGEST_INVALID', 'PUT with a digest that does not match');
    await checkNoBlob(t, registry, name, wrong);
    await checkNoBlob(t, registry, name, digest);
    t.equal(await rangeOf(t, registry, next), lastChunk ? '0-599' : '0-999', 'the failed PUT added nothing to the session');

    const good = await call(t, registry.url, 'PUT', at(next, { digest }), { body, headers });
    checkCreated(t, good, name, digest);
    await checkBlob(t, registry, name, digest, bytes);
  }
});

t.test('closing PUT without a digest, or with a malformed one: 400 DIGEST_INVALID, session still usable', async (t) => {
  const registry = await startFor(t);
  const name = 'up/no-digest';
  const bytes = bytesOf(100);
  const { location } = await open(t, registry, name);
  const next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 50));
  const rows: [string, Record<string, string>][] = [
    ['no digest, no body', {}],
    ['empty digest', { digest: '' }],
    ['short digest', { digest: 'sha256:abc' }],
    ['uppercase hex', { digest: `sha256:${'A'.repeat(64)}` }],
    ['unknown algorithm', { digest: `md5:${'0'.repeat(32)}` }],
  ];
  for (const [why, params] of rows) {
    const reply = await call(t, registry.url, 'PUT', at(next, params));
    checkError(t, reply, 400, 'DIGEST_INVALID', `PUT, ${why}`);
    t.equal(await rangeOf(t, registry, next), '0-49', `${why}: session unchanged`);
  }
  const withBody = await call(t, registry.url, 'PUT', at(next), { body: bytes.subarray(50), headers: { ...OCTETS, 'Content-Range': '50-99' } });
  checkError(t, withBody, 400, 'DIGEST_INVALID', 'PUT with the last chunk but no digest');
  t.equal(await rangeOf(t, registry, next), '0-49', 'session unchanged');

  const put = await call(t, registry.url, 'PUT', at(next, { digest: sha256(bytes) }), { body: bytes.subarray(50), headers: { ...OCTETS, 'Content-Range': '50-99' } });
  checkCreated(t, put, name, sha256(bytes));
});

t.test('digest algorithms: ?digest-algorithm=sha512, and a session completed with another algorithm than it hashed', async (t) => {
  const registry = await startFor(t);
  const name = 'up/algorithms';
  // [POST query, digest function for the closing PUT]
  const rows: [string, string, (b: Buffer) => string][] = [
    ['sha512 session, sha512 digest', '?digest-algorithm=sha512', sha512],
    ['sha512 session, sha256 digest', '?digest-algorithm=sha512', sha256],
    ['sha256 session (explicit), sha256 digest', '?digest-algorithm=sha256', sha256],
    ['sha256 session (default), sha512 digest', '', sha512],
  ];
  let seed = 10;
  for (const [why, query, digestOf] of rows) {
    t.comment(why);
    const bytes = bytesOf(150_000, seed++);
    const digest = digestOf(bytes);
    const { location } = await open(t, registry, name, query);
    let next = await patchChunk(t, registry, location, 0, bytes.subarray(0, 70_000));
    next = await patchChunk(t, registry, next, 70_000, bytes.subarray(70_000, 140_000));

    // A wrong digest of the same algorithm is still caught.
    const wrong = digestOf(bytes.subarray(1));
    const bad = await call(t, registry.url, 'PUT', at(next, { digest: wrong }), { body: bytes.subarray(140_000), headers: OCTETS });
    checkError(t, bad, 400, 'DIGEST_INVALID', `${why}: wrong digest`);
    t.equal(await rangeOf(t, registry, next), '0-139999');

    const put = await call(t, registry.url, 'PUT', at(next, { digest }), { body: bytes.subarray(140_000), headers: OCTETS });
    checkCreated(t, put, name, digest);
    await checkBlob(t, registry, name, digest, bytes);
  }

  // A single POST with a sha512 digest.
  const bytes = bytesOf(1234, 99);
  const single = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha512(bytes)}`, { body: bytes, headers: OCTETS });
  checkCreated(t, single, name, sha512(bytes));

  // An algorithm the registry does not compute is refused, and opens nothing.
  const before = (await registry.store.usage()).uploads;
  for (const algorithm of ['md5', 'sha1', 'SHA256', '']) {
    const reply = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest-algorithm=${algorithm}`);
    checkError(t, reply, 400, ['DIGEST_INVALID', 'UNSUPPORTED'], `digest-algorithm=${algorithm}`);
  }
  t.equal((await registry.store.usage()).uploads, before, 'no session opened');
});

t.test('DELETE <location> cancels: 204, then the id is unknown (404 BLOB_UPLOAD_UNKNOWN)', async (t) => {
  const registry = await startFor(t);
  const name = 'up/cancel';
  const { location } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytesOf(4096));
  t.equal((await registry.store.usage()).uploadBytes, 4096);

  const cancel = await call(t, registry.url, 'DELETE', location);
  t.equal(cancel.status, 204, 'DELETE: 204');
  const usage = await registry.store.usage();
  t.equal(usage.uploads, 0, 'session gone');
  t.equal(usage.uploadBytes, 0, 'its bytes freed');

  const bytes = bytesOf(10);
  const rows: [string, string, SendOptions | undefined][] = [
    ['GET', location, undefined],
    ['HEAD', location, undefined],
    ['PATCH', location, { body: bytes, headers: { ...OCTETS, 'Content-Range': '4096-4105' } }],
    ['PATCH', location, { body: bytes, headers: OCTETS }],
    ['PUT', at(location, { digest: sha256(bytes) }), { body: bytes, headers: OCTETS }],
    ['PUT', at(location, { digest: sha256(bytes) }), undefined],
    ['DELETE', location, undefined],
  ];
  for (const [method, path, options] of rows) {
    const reply = await call(t, registry.url, method, path, options);
    checkError(t, reply, 404, 'BLOB_UPLOAD_UNKNOWN', `${method} after cancel`, method === 'HEAD');
  }
  await checkNoBlob(t, registry, name, sha256(bytes));
});

t.test('after completion the upload id is unknown (404 BLOB_UPLOAD_UNKNOWN)', async (t) => {
  const registry = await startFor(t);
  const name = 'up/completed';
  const bytes = bytesOf(64);
  const { location } = await open(t, registry, name);
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }), { body: bytes, headers: OCTETS });
  checkCreated(t, put, name, sha256(bytes));
  const rows: [string, string, SendOptions | undefined][] = [
    ['GET', location, undefined],
    ['HEAD', location, undefined],
    ['PATCH', location, { body: bytes, headers: { ...OCTETS, 'Content-Range': '64-127' } }],
    ['PUT', at(location, { digest: sha256(bytes) }), undefined],
    ['DELETE', location, undefined],
  ];
  for (const [method, path, options] of rows) {
    const reply = await call(t, registry.url, method, path, options);
    checkError(t, reply, 404, 'BLOB_UPLOAD_UNKNOWN', `${method} after completion`, method === 'HEAD');
  }
  await checkBlob(t, registry, name, sha256(bytes), bytes);
  t.equal((await registry.store.usage()).uploads, 0);
});

t.test('an upload id is known only under its own repository; unknown ids are 404', async (t) => {
  const registry = await startFor(t);
  const bytes = bytesOf(32);
  const digest = sha256(bytes);
  const { location, id } = await open(t, registry, 'owner/repo');
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 16));
  await pushBlob(registry.url, 'other/repo', 'make other/repo exist');

  const elsewhere = (other: string) => `/v2/${other}/blobs/uploads/${id}`;
  for (const other of ['other/repo', 'owner', 'owner/repo/sub', 'never/seen']) {
    const rows: [string, string, SendOptions | undefined][] = [
      ['GET', elsewhere(other), undefined],
      ['HEAD', elsewhere(other), undefined],
      ['PATCH', elsewhere(other), { body: bytes.subarray(16), headers: { ...OCTETS, 'Content-Range': '16-31' } }],
      ['PUT', at(elsewhere(other), { digest }), { body: bytes.subarray(16), headers: OCTETS }],
      ['DELETE', elsewhere(other), undefined],
    ];
    for (const [method, path, options] of rows) {
      const reply = await call(t, registry.url, method, path, options);
      checkError(t, reply, 404, 'BLOB_UPLOAD_UNKNOWN', `${method} under ${other}`, method === 'HEAD');
    }
    await checkNoBlob(t, registry, other, digest);
  }
  for (const unknown of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', id.toUpperCase()]) {
    const reply = await call(t, registry.url, 'GET', `/v2/owner/repo/blobs/uploads/${unknown}`);
    checkError(t, reply, 404, 'BLOB_UPLOAD_UNKNOWN', `unknown id ${unknown}`);
  }

  // None of that touched the session in its own repository.
  t.equal(await rangeOf(t, registry, location), '0-15', 'session untouched');
  const put = await call(t, registry.url, 'PUT', at(location, { digest }), { body: bytes.subarray(16), headers: OCTETS });
  checkCreated(t, put, 'owner/repo', digest);
  await checkNoBlob(t, registry, 'other/repo', digest);
});

t.test('Locations keep working when the client adds its own query parameters', async (t) => {
  const registry = await startFor(t);
  const name = 'up/query';
  const bytes = bytesOf(300);
  const digest = sha256(bytes);
  const post = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?foo=bar`);
  t.equal(post.status, 202, 'POST with an unrelated query parameter opens a session');
  const location = String(post.headers.location);

  const status = await call(t, registry.url, 'GET', at(location, { foo: 'bar' }));
  t.equal(status.status, 204);
  t.equal(status.headers.range, '0-0');

  const patch = await call(t, registry.url, 'PATCH', at(location, { foo: 'bar', 'x-trace': '1' }), {
    body: bytes.subarray(0, 100),
    headers: { ...OCTETS, 'Content-Range': '0-99' },
  });
  t.equal(patch.status, 202);
  t.equal(patch.headers.range, '0-99');

  const streamed = await call(t, registry.url, 'PATCH', at(String(patch.headers.location), { foo: 'bar' }), { body: bytes.subarray(100, 200), headers: OCTETS });
  t.equal(streamed.status, 202);
  t.equal(streamed.headers.range, '0-199');

  // `?foo=bar&digest=sha256:...` as a client writes it by hand: the digest need not be the only or the first parameter.
  const put = await call(t, registry.url, 'PUT', `${at(String(streamed.headers.location))}?foo=bar&digest=${digest}`, {
    body: bytes.subarray(200),
    headers: OCTETS,
  });
  checkCreated(t, put, name, digest);
  await checkBlob(t, registry, name, digest, bytes);

  // The same for a single POST and for DELETE.
  const other = bytesOf(10, 3);
  const single = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/?foo=bar&digest=${sha256(other)}`, { body: other, headers: OCTETS });
  checkCreated(t, single, name, sha256(other));
  const second = await open(t, registry, name);
  const cancel = await call(t, registry.url, 'DELETE', at(second.location, { foo: 'bar' }));
  t.equal(cancel.status, 204);
  t.equal((await registry.store.usage()).uploads, 0);
});

t.test('POST with a body but no digest: the body is ignored and an empty session opened', async (t) => {
  // spec: only the chunked flow's POST MUST send Content-Length: 0; docker-registry-client 3.4.0 sends `null` as JSON.
  const registry = await startFor(t);
  const name = 'up/post-body';
  const body = 'a body without a digest';
  const rows: [string, OutgoingHttpHeaders][] = [
    ['Content-Length body', OCTETS],
    ['chunked body', { ...OCTETS, 'Transfer-Encoding': 'chunked' }],
    ['JSON null', { 'Content-Type': 'application/json' }],
  ];
  for (const [why, headers] of rows) {
    const reply = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/`, { body: why === 'JSON null' ? 'null' : body, headers });
    t.equal(reply.status, 202, `POST, ${why}, no digest: 202`);
    t.equal(reply.headers.range, '0-0', `${why}: the session is empty`);
    // Nothing of the body was kept: closing the session as if it had been fails the digest check.
    const put = await call(t, registry.url, 'PUT', at(String(reply.headers.location), { digest: sha256(body) }));
    checkError(t, put, 400, 'DIGEST_INVALID', `${why}: PUT ?digest= of the POSTed body`);
  }
  await checkNoBlob(t, registry, name, sha256(body));
});

t.test('repository names: invalid → 400 NAME_INVALID on uploads and blobs; valid ones work', async (t) => {
  const registry = await startFor(t);
  const digest = sha256('x');
  const invalid: [string, string][] = [
    ['uppercase', 'Upper/case'],
    ['uppercase component', 'lower/Upper'],
    ['dot-dot component', 'a/../b'],
    ['leading dot-dot', '../b'],
    ['dot component', 'a/./b'],
    ['dot-dot in a component', 'a..b'],
    ['percent-encoded dot-dot', 'a/%2e%2e/b'],
    ['percent-encoded slash', 'a%2Fb'],
    ['percent-encoded space', 'a%20b'],
    ['empty component', 'a//b'],
    ['trailing slash', 'a/b/'],
    ['leading slash', '/a/b'],
    ['empty name', ''],
    ['leading separator', '-a'],
    ['trailing separator', 'a-'],
    ['triple underscore', 'a___b'],
    ['mixed separators', 'a.-b'],
    ['other characters', 'a+b'],
    ['256 characters', 'a'.repeat(256)],
    ['256 characters over components', `${'a'.repeat(127)}/${'b'.repeat(128)}`],
  ];
  for (const [why, name] of invalid) {
    const post = await sendPath(t, registry, 'POST', `/v2/${name}/blobs/uploads/`, { 'Content-Length': 0 });
    checkError(t, post, 400, 'NAME_INVALID', `POST uploads, ${why} (${name.slice(0, 40)})`);
    const get = await sendPath(t, registry, 'GET', `/v2/${name}/blobs/${digest}`);
    checkError(t, get, 400, 'NAME_INVALID', `GET blob, ${why}`);
    const head = await sendPath(t, registry, 'HEAD', `/v2/${name}/blobs/${digest}`);
    checkError(t, head, 400, 'NAME_INVALID', `HEAD blob, ${why}`, true);
  }
  t.equal((await registry.store.usage()).uploads, 0, 'no session opened under an invalid name');

  const valid = ['a', '0', 'a/b/c/d/e', 'a-b', 'a--b', 'a.b', 'a_b', 'a__b', 'library/blobs', 'manifests/uploads/x', 'a'.repeat(255), `${'a'.repeat(127)}/${'b'.repeat(127)}`];
  for (const name of valid) {
    const { location } = await open(t, registry, name);
    const bytes = Buffer.from(`content of ${name}`);
    const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }), { body: bytes, headers: OCTETS });
    checkCreated(t, put, name, sha256(bytes));
    await checkBlob(t, registry, name, sha256(bytes), bytes);
  }
});

t.test('a method an endpoint does not serve: 405 UNSUPPORTED with Allow, and Allow tells the truth', async (t) => {
  const registry = await startFor(t);
  const name = 'up/methods';
  const digest = await pushBlob(registry.url, name, 'a blob');
  const { location } = await open(t, registry, name);
  const blob = `/v2/${name}/blobs/${digest}`;
  const uploads = `/v2/${name}/blobs/uploads/`;

  // [method, path, methods Allow must list] — spec "Endpoints": end-2/end-10 on a blob,
  // end-4a (POST only) on the uploads collection, end-5/6/13 and DELETE on a session.
  const rows: [string, string, string[]][] = [
    ['POST', blob, ['GET', 'HEAD', 'DELETE']],
    ['PUT', blob, ['GET', 'HEAD', 'DELETE']],
    ['PATCH', blob, ['GET', 'HEAD', 'DELETE']],
    ['OPTIONS', blob, ['GET', 'HEAD', 'DELETE']],
    ['POST', location, ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE']],
    ['OPTIONS', location, ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE']],
    ['PROPFIND', location, ['GET', 'HEAD', 'PATCH', 'PUT', 'DELETE']],
    ['OPTIONS', uploads, ['POST']],
    ['GET', uploads, ['POST']],
    ['HEAD', uploads, ['POST']],
    ['PATCH', uploads, ['POST']],
    ['PUT', uploads, ['POST']],
    ['DELETE', uploads, ['POST']],
  ];
  const allows = new Map<string, Set<string>>();
  for (const [method, path, listed] of rows) {
    const what = `${method} ${path}`;
    const options: SendOptions | undefined = ['PATCH', 'PUT', 'POST'].includes(method) ? { headers: { 'Content-Length': 0 } } : undefined;
    const reply = await call(t, registry.url, method, path, options);
    checkError(t, reply, 405, 'UNSUPPORTED', what, method === 'HEAD');
    const methods = String(reply.headers.allow ?? '').split(/\s*,\s*/).filter(Boolean);
    t.ok(methods.length > 0, `${what}: Allow header (${reply.headers.allow})`);
    t.notOk(methods.includes(method), `${what}: Allow does not list ${method}`);
    for (const m of listed) t.ok(methods.includes(m), `${what}: Allow lists ${m}`);
    const set = allows.get(path) ?? new Set<string>();
    for (const m of methods) set.add(m);
    allows.set(path, set);
  }
  t.same([...(allows.get(blob) ?? [])].sort(), ['DELETE', 'GET', 'HEAD'], 'a blob allows exactly GET, HEAD, DELETE');

  // RFC 9110 §10.2.1 / §15.5.6: Allow lists the methods the target resource supports,
  // so none of them may itself be answered 405 on that URL. DELETE goes last: it ends the resource.
  for (const [path, set] of allows) {
    const methods = [...set];
    const order = methods.filter((m) => m !== 'DELETE').concat(set.has('DELETE') ? ['DELETE'] : []);
    for (const method of order) {
      const options: SendOptions | undefined = ['PATCH', 'PUT', 'POST'].includes(method) ? { headers: { 'Content-Length': 0 } } : undefined;
      const reply = await call(t, registry.url, method, path, options);
      t.not(reply.status, 405, `${method} ${path} is listed in Allow, so it is not answered 405 (got ${reply.status})`);
    }
  }
});
