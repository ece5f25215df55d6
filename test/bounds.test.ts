// Everything a long CI job can make the registry hold is bounded, with a
// documented default: stored bytes (maxStorageBytes), one upload
// (maxBlobBytes), open upload sessions (maxUploads) and journal entries
// (journalLimit). Reaching a limit is a 4xx OCI error whose detail.limit and
// message name the option, and nothing is stored or leaked by the refusal.
import t from 'tap';
import { totalmem } from 'node:os';
import { readFile } from 'node:fs/promises';
import { mock } from 'node:test';
import { Agent, request } from 'node:http';
import { DEFAULT_OPTIONS, startRegistry, type RegistryOptions, type RunningRegistry } from '../src/index.js';
import { send, sha256, type Reply } from './helpers/http.js';
import { pushBlob, pushImage } from './helpers/push.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';
import { seededBytes as bytesOf } from './helpers/bytes.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const OCTETS = { 'Content-Type': 'application/octet-stream' };

/** A registry for one test; an internal error (a 500) fails the test when it happens. */
async function registryFor(t: Test, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const registry = await startRegistry({ ...options, onError: (error) => t.fail(`internal error (500): ${error.stack ?? error.message}`) });
  t.teardown(() => registry.close());
  return registry;
}

/** The reply is exactly this OCI error: status, JSON envelope, spec code, and the limit it names. */
function checkLimit(t: Test, reply: Reply, status: number, code: string, limit: string, what: string, message = new RegExp(limit)): void {
  t.equal(reply.status, status, `${what}: status ${status} (body ${reply.body.toString('utf8').slice(0, 300)})`);
  t.equal(reply.headers['content-type'], 'application/json', `${what}: JSON error body`);
  const error = reply.json?.errors?.[0];
  t.ok((SPEC_ERROR_CODES as readonly string[]).includes(error?.code), `${what}: a spec error code`);
  t.equal(error?.code, code, `${what}: ${code}`);
  t.equal(error?.detail?.limit, limit, `${what}: detail.limit names ${limit}`);
  t.match(error?.message, message, `${what}: the message names the limit`);
}


async function openSession(registry: RunningRegistry, name: string): Promise<string> {
  const reply = await send(registry.url, 'POST', `/v2/${name}/blobs/uploads/`);
  if (reply.status !== 202) throw new Error(`POST answered ${reply.status}: ${reply.body}`);
  return String(reply.headers.location);
}

function patch(registry: RunningRegistry, location: string, offset: number, chunk: Buffer): Promise<Reply> {
  return send(registry.url, 'PATCH', location, { body: chunk, headers: { ...OCTETS, 'Content-Range': `${offset}-${offset + chunk.length - 1}` } });
}

/** A PATCH whose body goes out with Transfer-Encoding: chunked (no Content-Length, no Content-Range). */
function streamedPatch(registry: RunningRegistry, location: string, pieces: Buffer[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: registry.port, method: 'PATCH', path: location, headers: OCTETS, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: body.length ? JSON.parse(body.toString('utf8')) : undefined });
      });
    });
    // The registry may answer (413) and close before every piece is out.
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    for (const piece of pieces) req.write(piece);
    req.end();
  });
}

t.test('every bound has a finite or documented default, in DEFAULT_OPTIONS and the README table', async (t) => {
  t.equal(DEFAULT_OPTIONS.maxStorageBytes, Math.floor(totalmem() / 2), 'maxStorageBytes: half the machine memory');
  t.ok(Number.isFinite(DEFAULT_OPTIONS.maxStorageBytes) && DEFAULT_OPTIONS.maxStorageBytes > 0, 'maxStorageBytes is finite by default');
  t.equal(DEFAULT_OPTIONS.maxBlobBytes, Infinity, 'maxBlobBytes: no limit of its own (maxStorageBytes still bounds it)');
  t.equal(DEFAULT_OPTIONS.maxUploads, 1000);
  t.equal(DEFAULT_OPTIONS.uploadTimeoutMs, 15 * 60 * 1000);
  t.equal(DEFAULT_OPTIONS.journalLimit, 10_000);
  t.equal(DEFAULT_OPTIONS.maxManifestBytes, 4 * 1024 * 1024);

  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const rows: [string, RegExp][] = [
    ['maxStorageBytes', /half the machine's memory/],
    ['maxBlobBytes', /no limit/],
    ['maxUploads', /1000/],
    ['uploadTimeoutMs', /15 min/],
    ['journalLimit', /10 000/],
    ['maxManifestBytes', /4 MiB/],
  ];
  for (const [option, value] of rows) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${option}\` |`));
    t.ok(row, `README documents ${option}`);
    t.match(row?.split('|')[2] ?? '', value, `README gives the default of ${option}`);
  }

  const registry = await registryFor(t);
  t.equal(registry.options.maxStorageBytes, DEFAULT_OPTIONS.maxStorageBytes, 'a registry started without options has the finite storage limit');
  t.equal(registry.options.maxUploads, 1000);
  t.equal(registry.options.journalLimit, 10_000);
});

t.test('maxBlobBytes: a single POST one byte past it is refused with nothing kept; exactly at it is stored', async (t) => {
  const registry = await registryFor(t, { maxBlobBytes: 4096 });
  const over = bytesOf(4097, 1);
  const reply = await send(registry.url, 'POST', `/v2/bounds/blob/blobs/uploads/?digest=${sha256(over)}`, { body: over, headers: OCTETS });
  checkLimit(t, reply, 413, 'DENIED', 'maxBlobBytes', 'single POST of 4097 bytes');
  t.same(reply.json.errors[0].detail, { limit: 'maxBlobBytes', limitBytes: 4096 });
  t.equal((await send(registry.url, 'HEAD', `/v2/bounds/blob/blobs/${sha256(over)}`)).status, 404, 'nothing stored');
  t.match(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 0 }, 'the internal session and its bytes are gone');

  const exact = bytesOf(4096, 2);
  const digest = await pushBlob(registry.url, 'bounds/blob', exact);
  const pulled = await send(registry.url, 'GET', `/v2/bounds/blob/blobs/${digest}`);
  t.equal(pulled.status, 200);
  t.ok(pulled.body.equals(exact), 'a blob of exactly maxBlobBytes is stored byte for byte');
});

t.test('maxBlobBytes: a chunk that would cross it is rolled back; the session stays usable', async (t) => {
  const registry = await registryFor(t, { maxBlobBytes: 3000 });
  const blob = bytesOf(3000, 3);
  const location = await openSession(registry, 'bounds/chunks');
  t.equal((await patch(registry, location, 0, blob.subarray(0, 2000))).status, 202, 'first 2000 bytes');

  const crossing = await patch(registry, location, 2000, bytesOf(1001, 4));
  checkLimit(t, crossing, 413, 'DENIED', 'maxBlobBytes', 'PATCH to 3001 bytes');
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-1999', 'the refused chunk left nothing');

  const streamed = await streamedPatch(registry, location, [bytesOf(600, 5), bytesOf(600, 6)]);
  checkLimit(t, streamed, 413, 'DENIED', 'maxBlobBytes', 'streamed (chunked) PATCH to 3200 bytes');
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-1999', 'the refused stream left nothing');

  const closing = await send(registry.url, 'PUT', `${location}?digest=${sha256(Buffer.concat([blob.subarray(0, 2000), bytesOf(1500, 7)]))}`, {
    body: bytesOf(1500, 7), headers: OCTETS,
  });
  checkLimit(t, closing, 413, 'DENIED', 'maxBlobBytes', 'closing PUT with a last chunk to 3500 bytes');
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-1999', 'the refused last chunk left nothing');
  t.equal((await registry.store.usage()).uploadBytes, 2000, 'the session holds exactly what it committed');

  t.equal((await patch(registry, location, 2000, blob.subarray(2000))).status, 202, 'the session resumes up to the limit');
  const done = await send(registry.url, 'PUT', `${location}?digest=${sha256(blob)}`);
  t.equal(done.status, 201);
  t.ok((await send(registry.url, 'GET', `/v2/bounds/chunks/blobs/${sha256(blob)}`)).body.equals(blob), 'stored byte for byte');
  t.match(await registry.store.usage(), { storedBytes: 3000, uploadBytes: 0, uploads: 0 });
});

t.test('maxUploads: one session too many is 429 TOOMANYREQUESTS naming the limit; closing any session frees a slot', async (t) => {
  const registry = await registryFor(t, { maxUploads: 3 });
  const existing = await pushBlob(registry.url, 'bounds/uploads', 'already here');
  t.equal((await registry.store.usage()).uploads, 0, 'a finished single POST holds no session');

  const sessions = [await openSession(registry, 'bounds/uploads'), await openSession(registry, 'bounds/uploads'), await openSession(registry, 'bounds/other')];
  const refused = await send(registry.url, 'POST', '/v2/bounds/uploads/blobs/uploads/');
  checkLimit(t, refused, 429, 'TOOMANYREQUESTS', 'maxUploads', 'a fourth POST');
  t.same(refused.json.errors[0].detail, { limit: 'maxUploads', limitCount: 3 });

  // A single POST needs a session for its bytes too.
  const data = Buffer.from('one more blob');
  checkLimit(t, await send(registry.url, 'POST', `/v2/bounds/uploads/blobs/uploads/?digest=${sha256(data)}`, { body: data, headers: OCTETS }), 429, 'TOOMANYREQUESTS', 'maxUploads', 'a single POST');
  t.equal((await send(registry.url, 'HEAD', `/v2/bounds/uploads/blobs/${sha256(data)}`)).status, 404, 'not stored');
  // A mount that succeeds needs no session; one that falls back to an upload does.
  t.equal((await send(registry.url, 'POST', `/v2/bounds/mounted/blobs/uploads/?mount=${existing}&from=bounds/uploads`)).status, 201, 'mount works at the limit');
  checkLimit(t, await send(registry.url, 'POST', `/v2/bounds/mounted/blobs/uploads/?mount=${sha256('absent')}&from=bounds/uploads`), 429, 'TOOMANYREQUESTS', 'maxUploads', 'a mount that falls back to a session');
  t.equal((await registry.store.usage()).uploads, 3, 'refusals opened nothing');

  t.equal((await send(registry.url, 'DELETE', sessions[0]!)).status, 204, 'cancel one');
  const fourth = await openSession(registry, 'bounds/uploads');
  checkLimit(t, await send(registry.url, 'POST', '/v2/bounds/uploads/blobs/uploads/'), 429, 'TOOMANYREQUESTS', 'maxUploads', 'full again');

  const blob = Buffer.from('completed');
  t.equal((await send(registry.url, 'PUT', `${sessions[1]}?digest=${sha256(blob)}`, { body: blob, headers: OCTETS })).status, 201, 'complete one');
  const fifth = await openSession(registry, 'bounds/uploads');

  // A single POST that fails (wrong digest) gives its internal session back.
  t.equal((await send(registry.url, 'DELETE', fifth)).status, 204);
  const wrong = await send(registry.url, 'POST', `/v2/bounds/uploads/blobs/uploads/?digest=${sha256('something else')}`, { body: data, headers: OCTETS });
  t.equal(wrong.status, 400);
  t.equal(wrong.json.errors[0].code, 'DIGEST_INVALID');
  t.equal((await registry.store.usage()).uploads, 2, 'the failed single POST left no session');
  t.equal((await send(registry.url, 'POST', `/v2/bounds/uploads/blobs/uploads/?digest=${sha256(data)}`, { body: data, headers: OCTETS })).status, 201, 'a single POST fits');
  t.equal((await registry.store.usage()).uploads, 2);
  for (const location of [sessions[2]!, fourth]) t.equal((await send(registry.url, 'DELETE', location)).status, 204);
  t.match(await registry.store.usage(), { uploads: 0, uploadBytes: 0 });
});

t.test('maxUploads: abandoned sessions expire and give their slots back', async (t) => {
  // Mocked setInterval and Date: the expiry sweep runs in a tick, nothing sleeps.
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  t.teardown(() => mock.timers.reset());
  const registry = await registryFor(t, { maxUploads: 2, uploadTimeoutMs: 1000 });
  const abandoned = [await openSession(registry, 'bounds/expiry'), await openSession(registry, 'bounds/expiry')];
  t.equal((await patch(registry, abandoned[0]!, 0, bytesOf(500, 8))).status, 202);
  checkLimit(t, await send(registry.url, 'POST', '/v2/bounds/expiry/blobs/uploads/'), 429, 'TOOMANYREQUESTS', 'maxUploads', 'full');
  t.match(await registry.store.usage(), { uploads: 2, uploadBytes: 500 });

  mock.timers.tick(2000);
  t.match(await registry.store.usage(), { uploads: 0, uploadBytes: 0 }, 'expired: slots and bytes freed');
  for (const location of abandoned) t.equal((await send(registry.url, 'GET', location)).status, 404, 'an expired session is unknown');
  await openSession(registry, 'bounds/expiry');
  await openSession(registry, 'bounds/expiry');
});

t.test('maxStorageBytes counts open uploads: a second session cannot take what the first holds', async (t) => {
  const registry = await registryFor(t, { maxStorageBytes: 1000 });
  const first = await openSession(registry, 'bounds/storage');
  const second = await openSession(registry, 'bounds/storage');
  t.equal((await patch(registry, first, 0, bytesOf(600, 9))).status, 202);
  const refused = await patch(registry, second, 0, bytesOf(600, 10));
  checkLimit(t, refused, 413, 'DENIED', 'maxStorageBytes', 'the second session');
  t.equal(refused.json.errors[0].detail.limitBytes, 1000);
  t.equal((await send(registry.url, 'GET', second)).headers.range, '0-0', 'nothing kept in the second session');
  t.match(await registry.store.usage(), { storedBytes: 0, uploadBytes: 600 });

  t.equal((await send(registry.url, 'DELETE', first)).status, 204, 'cancelling the first frees its bytes');
  const blob = bytesOf(600, 10);
  t.equal((await patch(registry, second, 0, blob)).status, 202);
  t.equal((await send(registry.url, 'PUT', `${second}?digest=${sha256(blob)}`)).status, 201);
  t.match(await registry.store.usage(), { storedBytes: 600, uploadBytes: 0, uploads: 0 });
});

t.test('maxStorageBytes: deleting everything gives every byte back, cycle after cycle', async (t) => {
  const registry = await registryFor(t, { maxStorageBytes: 64 * 1024 });
  for (let cycle = 0; cycle < 5; cycle++) {
    const images = [];
    // Each cycle fills most of the limit: without the frees, the third cycle would be refused.
    for (let i = 0; i < 4; i++) images.push(await pushImage(registry.url, `bounds/cycle-${i}`, 'v1', { layers: [bytesOf(10_000, cycle * 10 + i)] }));
    t.ok((await registry.store.usage()).storedBytes > 40_000, `cycle ${cycle}: stored`);
    for (const [i, image] of images.entries()) {
      const name = `bounds/cycle-${i}`;
      t.equal((await send(registry.url, 'DELETE', `/v2/${name}/manifests/${image.digest}`)).status, 202);
      for (const blob of [image.config, ...image.layers]) t.equal((await send(registry.url, 'DELETE', `/v2/${name}/blobs/${blob.digest}`)).status, 202);
    }
    t.match(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 }, `cycle ${cycle}: everything freed`);
  }
  t.same((await send(registry.url, 'GET', '/v2/_catalog')).json, { repositories: [] });
});

t.test('maxManifestBytes: a manifest past it is 413 naming the limit, declared or streamed', async (t) => {
  const registry = await registryFor(t, { maxManifestBytes: 1024 });
  const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [], annotations: { pad: 'x'.repeat(1100) } }));
  const declared = await send(registry.url, 'PUT', '/v2/bounds/manifest/manifests/v1', { body: big, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
  // The message says "the limit of 1024 bytes"; detail.limit names the option.
  checkLimit(t, declared, 413, 'MANIFEST_INVALID', 'maxManifestBytes', 'declared Content-Length', /limit of 1024 bytes/);
  t.same(declared.json.errors[0].detail, { limit: 'maxManifestBytes', limitBytes: 1024 });
  const streamed = await new Promise<Reply>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: registry.port, method: 'PUT', path: '/v2/bounds/manifest/manifests/v1', headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: JSON.parse(body.toString('utf8')) });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.write(big.subarray(0, 600));
    req.end(big.subarray(600));
  });
  checkLimit(t, streamed, 413, 'MANIFEST_INVALID', 'maxManifestBytes', 'chunked body', /limit of 1024 bytes/);
  t.equal((await send(registry.url, 'GET', '/v2/bounds/manifest/manifests/v1')).status, 404, 'nothing stored');
});

t.test('journalLimit: after ten times the limit in requests, exactly the newest `limit` entries are kept', async (t) => {
  const registry = await registryFor(t, { journalLimit: 100 });
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  t.teardown(() => agent.destroy());
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: registry.port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  const statuses = await Promise.all(Array.from({ length: 1000 }, (_, i) => get(i % 2 ? '/v2/' : `/v2/bounds/journal/manifests/tag-${i}`)));
  t.same(new Set(statuses), new Set([200, 404]));
  t.equal(registry.journal.size, 100, 'size is the limit');
  const entries = registry.journal.all();
  t.equal(entries.length, 100);
  t.same(entries.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => 901 + i), 'the newest 100, in order');
  t.equal(registry.journal.last()?.seq, 1000);

  // The push/upload event history that waitFor searches is bounded the same way.
  const digests: string[] = [];
  for (let i = 0; i < 150; i++) digests.push(await pushBlob(registry.url, 'bounds/events', `blob ${i}`));
  const found = (digest: string) =>
    Promise.race([
      registry.waitFor({ event: 'upload', digest }, { timeoutMs: 60_000 }).then(() => true, () => false),
      new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
    ]);
  t.equal(await found(digests[149]!), true, 'the newest upload event is in the history');
  t.equal(await found(digests[0]!), false, 'the oldest upload event has been dropped');
  // close() rejects the pending waitFor above (caught), so nothing is left waiting.
});
