// Large uploads are hashed on a worker thread (src/store/upload-hash.ts),
// their kept body chunks lent to it and given back. Over real HTTP: the bytes
// stored are the bytes sent, digests are checked as inline, and a chunk that
// dies half-way still rolls back whole while its segments are away.
import t from 'tap';
import { request } from 'node:http';
import { collectReply, send, sha256, sha512, startFor, type Reply } from './helpers/http.js';
import { startCli } from './helpers/cli-source.js';
import { seededBytes } from './helpers/bytes.js';
import { OCTETS, at, call, checkError, open, patchChunk, rangeOf, type Test } from './helpers/upload.js';
import type { RegistryOptions, RunningRegistry } from '../src/index.js';
import { WORKER_HASH_MIN_BYTES, bytesHashedOffThread } from '../src/store/upload-hash.js';
import { SegmentWriter } from '../src/store/segments.js';
import { UploadSession } from '../src/store/upload.js';

const MiB = 1024 * 1024;

const internalErrors = new WeakMap<RunningRegistry, Error[]>();

/** A registry for one test; `t.test` ends with noInternalErrors: whatever a client does, a 500 is a bug. */
async function registryFor(t: Test, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const errors: Error[] = [];
  // startFor: over TLS and HTTP/2 in `npm run test:h2` (HTTP/2 DATA frames arrive as other buffers than node:http's).
  const registry = await startFor(t, { ...options, onError: (error) => errors.push(error) });
  internalErrors.set(registry, errors);
  return registry;
}

function noInternalErrors(t: Test, registry: RunningRegistry): void {
  t.same((internalErrors.get(registry) ?? []).map((e) => e.stack ?? e.message), [], 'no internal errors (500)');
}

/** The blob as stored, fetched back. */
async function stored(t: Test, registry: RunningRegistry, name: string, digest: string): Promise<Buffer> {
  const reply = await call(t, registry.url, 'GET', `/v2/${name}/blobs/${digest}`);
  t.equal(reply.status, 200, `GET ${digest}: 200`);
  t.equal(reply.headers['docker-content-digest'], digest);
  return reply.body;
}

t.test('a monolithic push of several MiB is hashed off the receiving thread and stored byte for byte', async (t) => {
  const registry = await registryFor(t);
  const bytes = seededBytes(5 * MiB + 123, 11);
  const before = bytesHashedOffThread;
  const put = await call(t, registry.url, 'POST', `/v2/hash/mono/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS });
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], sha256(bytes));
  t.equal(bytesHashedOffThread - before, bytes.length, 'every byte went to the hashing thread');
  t.ok((await stored(t, registry, 'hash/mono', sha256(bytes))).equals(bytes), 'the stored blob is the bytes sent');
  t.equal((await registry.store.usage()).uploadBytes, 0, 'no upload bytes left behind');
  noInternalErrors(t, registry);
});

t.test('below the threshold an upload is hashed inline', async (t) => {
  const registry = await registryFor(t);
  const bytes = seededBytes(WORKER_HASH_MIN_BYTES - 1, 12);
  const before = bytesHashedOffThread;
  const put = await call(t, registry.url, 'POST', `/v2/hash/small/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS });
  t.equal(put.status, 201);
  t.equal(bytesHashedOffThread, before, 'nothing went to the hashing thread');
  t.ok((await stored(t, registry, 'hash/small', sha256(bytes))).equals(bytes));
  noInternalErrors(t, registry);
});

t.test('chunked PATCHes with Content-Range, then PUT: one digest over all of them', async (t) => {
  const registry = await registryFor(t);
  const name = 'hash/chunked';
  const bytes = seededBytes(4 * MiB + 777, 13);
  let { location } = await open(t, registry, name);
  const cuts = [0, 1.5 * MiB, 3 * MiB, bytes.length];
  for (let i = 0; i + 1 < cuts.length; i++) location = await patchChunk(t, registry, location, cuts[i]!, bytes.subarray(cuts[i]!, cuts[i + 1]!));
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }), { headers: { 'Content-Length': 0 } });
  t.equal(put.status, 201);
  t.ok((await stored(t, registry, name, sha256(bytes))).equals(bytes));
  noInternalErrors(t, registry);
});

t.test('a wrong digest is refused with DIGEST_INVALID and the session keeps its bytes; the right one then completes', async (t) => {
  const registry = await registryFor(t);
  const name = 'hash/wrong';
  const bytes = seededBytes(3 * MiB, 14);
  const { location } = await open(t, registry, name);
  const next = await patchChunk(t, registry, location, 0, bytes);
  const wrong = await call(t, registry.url, 'PUT', at(next, { digest: sha256('something else') }), { headers: { 'Content-Length': 0 } });
  checkError(t, wrong, 400, 'DIGEST_INVALID');
  const missing = await call(t, registry.url, 'HEAD', `/v2/${name}/blobs/${sha256('something else')}`);
  t.equal(missing.status, 404, 'nothing stored under the wrong digest');
  t.equal(await rangeOf(t, registry, next), `0-${bytes.length - 1}`, 'the committed bytes are still there');
  const right = await call(t, registry.url, 'PUT', at(next, { digest: sha256(bytes) }), { headers: { 'Content-Length': 0 } });
  t.equal(right.status, 201);
  t.ok((await stored(t, registry, name, sha256(bytes))).equals(bytes));
  noInternalErrors(t, registry);
});

t.test('sha512 uploads are hashed off-thread too', async (t) => {
  const registry = await registryFor(t);
  const bytes = seededBytes(2 * MiB + 5, 15);
  const put = await call(t, registry.url, 'POST', `/v2/hash/sha512/blobs/uploads/?digest=${sha512(bytes)}`, { body: bytes, headers: OCTETS });
  t.equal(put.status, 201);
  t.equal(put.headers['docker-content-digest'], sha512(bytes));
  t.ok((await stored(t, registry, 'hash/sha512', sha512(bytes))).equals(bytes));
  noInternalErrors(t, registry);
});

/**
 * A PATCH (or the PUT that closes the session, with `?digest=`) whose body
 * is streamed without Content-Length (chunked transfer coding), written
 * piece by piece; plain HTTP/1.1.
 */
function streamingPatch(registry: RunningRegistry, location: string, method: 'PATCH' | 'PUT' = 'PATCH', params: Record<string, string> = {}): { write(bytes: Buffer): void; end(): Promise<Reply>; abort(): Promise<void> } {
  const req = request({ host: '127.0.0.1', port: registry.port, method, path: at(location, params), headers: OCTETS, agent: false });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => collectReply(res).then(resolve, reject));
  });
  reply.catch(() => undefined);
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
  return {
    write: (bytes) => void req.write(bytes),
    end: () => {
      req.end();
      return reply;
    },
    abort: () => {
      req.destroy();
      return closed;
    },
  };
}

/** Waits, turn by turn of the event loop (no timers), until the registry holds `bytes` of uploads and the session is idle or busy as asked. */
async function until(registry: RunningRegistry, name: string, id: string, bytes: number, busy: boolean): Promise<void> {
  for (let looks = 0; ; looks++) {
    const held = (await registry.store.usage()).uploadBytes;
    const session = await registry.store.upload(name, id);
    if (held === bytes && session.busy === busy) return;
    if (looks > 200_000) throw new Error(`the session never held ${bytes} bytes while ${busy ? 'busy' : 'idle'} (holds ${held}, ${session.busy ? 'busy' : 'idle'})`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

t.test('a streamed PATCH (no length) that dies half-way rolls back while its segments are on the hashing thread; the upload resumes', async (t) => {
  const registry = await registryFor(t, { tls: false });
  const name = 'hash/abort';
  const bytes = seededBytes(6 * MiB, 16);
  const { location, id } = await open(t, registry, name);
  const first = streamingPatch(registry, location);
  first.write(bytes.subarray(0, 2 * MiB));
  const done = await first.end();
  t.equal(done.status, 202, 'the first streamed PATCH is taken');
  t.equal(done.headers.range, `0-${2 * MiB - 1}`);

  // A chunk that dies once all its bytes are in: rolled back to the range
  // before it. `held`: bytes other sessions hold meanwhile.
  const dies = async (held = 0, meanwhile = async () => {}): Promise<void> => {
    // Other bytes than those sent again below: a segment of a dead chunk
    // that took a live one's place would show in what is stored.
    const doomed = streamingPatch(registry, location);
    doomed.write(seededBytes(2 * MiB, 99));
    await until(registry, name, id, 4 * MiB, true);
    await meanwhile();
    await doomed.abort();
    await until(registry, name, id, 2 * MiB + held, false);
  };
  await dies();
  t.equal(await rangeOf(t, registry, location), `0-${2 * MiB - 1}`, 'after the abort: the range from before that PATCH');

  // Again, with the one hashing thread kept busy by another upload's 32 MiB
  // posted before the abort, so the dead chunk's segments come back late;
  // the same range is sent again at once, and its segments are lent at the
  // indexes the dead chunk's had while those are still on their way back.
  const other = await open(t, registry, 'hash/other');
  const busy = streamingPatch(registry, other.location);
  await dies(32 * MiB, async () => {
    busy.write(seededBytes(32 * MiB, 98));
    await until(registry, 'hash/other', other.id, 36 * MiB, true);
  });
  const rest = await patchChunk(t, registry, location, 2 * MiB, bytes.subarray(2 * MiB));
  t.equal((await busy.end()).status, 202, 'the other upload is taken');
  const put = await call(t, registry.url, 'PUT', at(rest, { digest: sha256(bytes) }), { headers: { 'Content-Length': 0 } });
  t.equal(put.status, 201, 'the digest is of the bytes kept, none of the aborted attempt');
  t.ok((await stored(t, registry, name, sha256(bytes))).equals(bytes));
  noInternalErrors(t, registry);
});

t.test('a cancelled upload with bytes on the hashing thread frees them; the thread goes on serving others', async (t) => {
  const registry = await registryFor(t, { tls: false });
  const bytes = seededBytes(3 * MiB, 17);
  const { location, id } = await open(t, registry, 'hash/cancel');
  const inflight = streamingPatch(registry, location);
  inflight.write(bytes);
  await until(registry, 'hash/cancel', id, bytes.length, true);
  const cancel = await call(t, registry.url, 'DELETE', at(location));
  t.equal(cancel.status, 204);
  await inflight.abort();
  t.equal((await registry.store.usage()).uploadBytes, 0, 'nothing held');
  const other = seededBytes(2 * MiB, 18);
  const put = await call(t, registry.url, 'POST', `/v2/hash/after/blobs/uploads/?digest=${sha256(other)}`, { body: other, headers: OCTETS });
  t.equal(put.status, 201, 'a later upload is hashed as before');
  noInternalErrors(t, registry);
});

t.test('a session cancelled after a chunk\'s last byte came but before its end: the PATCH and the closing PUT get 404, never an answer as taken or none at all', async (t) => {
  const registry = await registryFor(t, { tls: false });
  const bytes = seededBytes(2 * MiB, 20);
  for (const method of ['PATCH', 'PUT'] as const) {
    const name = `hash/cancel-${method.toLowerCase()}`;
    const { location, id } = await open(t, registry, name);
    // No length: the session hashes on the worker; every byte is in before the DELETE.
    const chunk = streamingPatch(registry, location, method, method === 'PUT' ? { digest: sha256(bytes) } : {});
    chunk.write(bytes);
    await until(registry, name, id, bytes.length, true);
    const cancel = await call(t, registry.url, 'DELETE', at(location));
    t.equal(cancel.status, 204, `${method}: DELETE while the chunk is open`);
    checkError(t, await chunk.end(), 404, 'BLOB_UPLOAD_UNKNOWN', `${method} ended after the cancel`);
    const missing = await call(t, registry.url, 'HEAD', `/v2/${name}/blobs/${sha256(bytes)}`);
    t.equal(missing.status, 404, `${method}: nothing stored`);
    t.equal((await registry.store.usage()).uploadBytes, 0, `${method}: nothing held`);
  }
  noInternalErrors(t, registry);
});

t.test('with chunkMaxBytes, a chunk that passes the limit after its session was cancelled gets 404, not 416 for a session already gone', async (t) => {
  const registry = await registryFor(t, { tls: false, chunkMaxBytes: 64 * 1024 });
  const name = 'hash/cancel-limit';
  const { location, id } = await open(t, registry, name);
  const chunk = streamingPatch(registry, location);
  chunk.write(seededBytes(32 * 1024, 21));
  await until(registry, name, id, 32 * 1024, true);
  t.equal((await call(t, registry.url, 'DELETE', at(location))).status, 204);
  chunk.write(seededBytes(64 * 1024, 22));
  checkError(t, await chunk.end(), 404, 'BLOB_UPLOAD_UNKNOWN', 'past the limit after the cancel');
  noInternalErrors(t, registry);
});

t.test('a digest awaited when its session is cancelled fails with BLOB_UPLOAD_UNKNOWN instead of waiting for ever', async (t) => {
  /** No storage quota and no blob limit: the sessions below are made without a registry. */
  const unlimited = { take: () => undefined, give: () => undefined, maxBlobBytes: Infinity };
  const session = new UploadSession('hash/dropped', 'sha256', unlimited);
  const chunk = session.chunk(undefined, undefined);
  for (let i = 0; i < 32; i++) chunk.write(Buffer.alloc(64 * 1024, i));
  // Asked, then cancelled before the hashing thread can answer (the same turn of the event loop).
  const digest = chunk.digest('sha256');
  session.discard();
  await t.rejects(digest, { code: 'BLOB_UPLOAD_UNKNOWN', message: `upload ${session.id} was cancelled` });
  await t.rejects(chunk.digest('sha256'), { code: 'BLOB_UPLOAD_UNKNOWN' }, 'and so does one asked after the cancel');

  // Inline hashing, and a digest in another algorithm than the session's (hashed again from the bytes kept).
  const small = new UploadSession('hash/dropped', 'sha256', unlimited);
  const piece = small.chunk(undefined, 100);
  piece.write(Buffer.alloc(100, 3));
  const other = piece.digest('sha512');
  small.discard();
  await t.rejects(other, { code: 'BLOB_UPLOAD_UNKNOWN' }, 'not the digest of the emptied session');
});

t.test('many large uploads at once each get their own digest', async (t) => {
  const registry = await registryFor(t);
  const blobs = Array.from({ length: 6 }, (_, i) => seededBytes(MiB + 4096 * i + 1, 100 + i));
  const replies = await Promise.all(blobs.map((bytes, i) => call(t, registry.url, 'POST', `/v2/hash/many${i}/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS })));
  t.strictSame(replies.map((r) => r.status), blobs.map(() => 201));
  for (const [i, bytes] of blobs.entries()) t.ok((await stored(t, registry, `hash/many${i}`, sha256(bytes))).equals(bytes), `blob ${i}`);
  noInternalErrors(t, registry);
});

t.test('SegmentWriter: a lent segment counts its bytes, cannot be read until back, and a truncate drops its return', async (t) => {
  const writer = new SegmentWriter();
  const chunk = Buffer.from(new Uint8Array(64 * 1024).fill(7));
  writer.write(chunk);
  const at = writer.count - 1;
  t.equal(at, 0, 'a large chunk that owns its buffer is kept, as segment 0');
  t.ok(writer.full(at));
  const lent = writer.lend(at);
  const moved = structuredClone(lent.buffer, { transfer: [lent.buffer] });
  t.equal(chunk.length, 0, 'the transfer detached the kept Buffer');
  t.equal(writer.size, 64 * 1024);
  t.equal(writer.reservedBytes, 64 * 1024, 'its bytes still count');
  t.throws(() => writer.view(), /lent out/, 'it cannot be read while away');
  writer.restore(at, lent.ticket, moved);
  t.ok(writer.view()[0]!.equals(Buffer.alloc(64 * 1024, 7)), 'back, with its bytes');

  writer.write(Buffer.from(new Uint8Array(32 * 1024).fill(9)));
  const second = writer.count - 1;
  const away = writer.lend(second);
  const back = structuredClone(away.buffer, { transfer: [away.buffer] });
  writer.truncate(64 * 1024);
  writer.restore(second, away.ticket, back);
  t.equal(writer.size, 64 * 1024, 'the rolled-back segment does not come back');
  t.equal(writer.finish().length, 1);
});

t.test('SegmentWriter: a rolled-back segment coming back late does not take the place of the one lent after it at the same index', async (t) => {
  // The hashing thread gives segments back after the receiving thread has
  // moved on: a chunk that died half-way is rolled back, the client sends
  // the same range again, and its first segment is lent at the index the
  // dead one had, while that dead one is still on its way back.
  const writer = new SegmentWriter();
  writer.write(Buffer.alloc(64 * 1024, 1));
  writer.write(Buffer.alloc(48 * 1024, 2));
  const dead = writer.lend(1);
  const deadBack = structuredClone(dead.buffer, { transfer: [dead.buffer] });
  writer.truncate(64 * 1024);
  writer.write(Buffer.alloc(40 * 1024, 3));
  t.equal(writer.count, 2, 'the bytes sent again are segment 1 as well');
  const live = writer.lend(1);
  const liveBack = structuredClone(live.buffer, { transfer: [live.buffer] });
  writer.restore(1, dead.ticket, deadBack);
  t.throws(() => writer.view(), /lent out/, 'the dead segment is not taken back: segment 1 is still away');
  writer.restore(1, live.ticket, liveBack);
  const view = writer.view();
  t.equal(writer.size, 104 * 1024);
  t.ok(Buffer.concat(view).equals(Buffer.concat([Buffer.alloc(64 * 1024, 1), Buffer.alloc(40 * 1024, 3)])), 'the bytes are those sent again, not the dead ones');
});

t.test('the hashing thread starts whatever module type its parent runs as (the CLI from source runs with --input-type=module)', async (t) => {
  const cli = await startCli(t, ['--host', '127.0.0.1']);
  const bytes = seededBytes(2 * MiB + 9, 19);
  const put = await send(cli.url, 'POST', `/v2/hash/esm/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS });
  t.equal(put.status, 201, `a large push completes: ${put.body.toString('utf8')}`);
  const back = await send(cli.url, 'GET', `/v2/hash/esm/blobs/${sha256(bytes)}`);
  t.ok(back.body.equals(bytes), 'and reads back byte for byte');
  t.equal(await cli.stop(), 0);
  t.notMatch(cli.stderr(), /internal error|require is not defined/);
});
