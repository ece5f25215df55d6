// Fault injection (README "Fault injection"): rules added with
// `registry.faults.add(rule)` or the `faults` option answer, delay, drop or
// cut matching requests, deterministically unless a rule asks for a
// probability with a seed; the global `rateLimit` option answers 429 with
// Retry-After. Every case is seen over real HTTP.
import t from 'tap';
import { mock } from 'node:test';
import { request, type IncomingHttpHeaders } from 'node:http';
import { send, sha256, startFor } from './helpers/http.js';
import { pushBlob, pushImage } from './helpers/push.js';
import { assertCodeSays } from './helpers/fixtures.js';

/** The `t` a subtest callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const OCTETS = { 'Content-Type': 'application/octet-stream' };

/** How a response ended as a client sees it: complete, aborted mid-body, or no response at all. */
interface Outcome {
  status?: number;
  headers?: IncomingHttpHeaders;
  /** Body bytes that arrived before the end. */
  body: Buffer;
  /** 'complete': the whole response came; 'aborted': the connection closed mid-body; 'no-response': it closed before any status. */
  ended: 'complete' | 'aborted' | 'no-response';
  /** The client error's code and message when the response did not complete. */
  error?: { code?: string; message: string };
}

/** A request that never rejects: it reports what arrived and how the connection ended. */
function attempt(base: string, method: string, path: string, body?: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const headers = body ? { 'Content-Length': body.length, ...OCTETS } : {};
    const req = request(new URL(path, base), { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ended: 'complete' }));
      res.on('error', (error: NodeJS.ErrnoException) =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ended: 'aborted', error: { code: error.code, message: error.message } }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ body: Buffer.alloc(0), ended: 'no-response', error: { code: error.code, message: error.message } }));
    req.end(body);
  });
}

/** Opens an upload session and returns its Location. */
async function openUpload(t: Test, url: string, name: string): Promise<string> {
  const opened = await send(url, 'POST', `/v2/${name}/blobs/uploads/`);
  t.equal(opened.status, 202, 'session opened');
  return String(opened.headers.location);
}

const patch = (url: string, location: string, bytes: Buffer, start: number) =>
  send(url, 'PATCH', location, { body: bytes, headers: { ...OCTETS, 'Content-Range': `${start}-${start + bytes.length - 1}` } });

t.test('status action: the third PATCH fails with 503, the session is unchanged, and the retry succeeds', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const fault = registry.faults.add({ match: { method: 'PATCH' }, after: 2, action: { status: 503 } });
  t.equal(fault.id, 'fault-1', 'the first rule is fault-1');
  const chunks = [Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 3)];
  const location = await openUpload(t, url, 'faults/patch');

  t.equal((await patch(url, location, chunks[0]!, 0)).status, 202, 'first PATCH passes (after: 2)');
  t.equal((await patch(url, location, chunks[1]!, 100)).status, 202, 'second PATCH passes');
  const failed = await patch(url, location, chunks[2]!, 200);
  t.equal(failed.status, 503, 'third PATCH: 503');
  t.equal(failed.headers['content-type'], 'application/json');
  t.equal(failed.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(failed.json?.errors?.length, 1, 'one error');
  assertCodeSays(t, failed.json, 'UNKNOWN', /\bfault-1\b/, 'OCI error body naming the rule');
  t.equal(fault.hits, 1, 'hits: 1');
  t.equal(fault.seen, 3, 'seen: 3');

  const status = await send(url, 'GET', location);
  t.equal(status.status, 204);
  t.equal(status.headers.range, '0-199', 'the failed PATCH stored nothing');

  const retried = await patch(url, location, chunks[2]!, 200);
  t.equal(retried.status, 202, 'the retry succeeds (times: 1 by default)');
  t.equal(retried.headers.range, '0-299');
  t.equal(fault.hits, 1, 'still one hit');
  t.equal(fault.seen, 4);
  const whole = Buffer.concat(chunks);
  const done = await send(url, 'PUT', `${location}?digest=${sha256(whole)}`);
  t.equal(done.status, 201, 'the upload completes');
  t.ok((await send(url, 'GET', `/v2/faults/patch/blobs/${sha256(whole)}`)).body.equals(whole), 'with every byte');

  const patches = registry.journal.filter({ method: 'PATCH' });
  t.strictSame(patches.map((e) => [e.status, e.fault, e.code]), [
    [202, undefined, undefined],
    [202, undefined, undefined],
    [503, 'fault-1', 'UNKNOWN'],
    [202, undefined, undefined],
  ], 'the journal marks only the faulted request, with the rule id');
});

t.test('status action: code, message and headers as given; else the code that fits status and route', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const digest = await pushBlob(url, 'faults/codes', 'a blob');

  await t.test('code, message and headers given', async (t) => {
    registry.faults.add({
      match: { route: 'base' },
      action: { status: 401, code: 'UNAUTHORIZED', message: 'log in first', headers: { 'WWW-Authenticate': 'Bearer realm="https://auth.invalid/token"', 'X-Injected': 'yes' } },
    });
    const reply = await send(url, 'GET', '/v2/');
    t.equal(reply.status, 401);
    t.strictSame(reply.json, { errors: [{ code: 'UNAUTHORIZED', message: 'log in first' }] });
    t.equal(reply.headers['www-authenticate'], 'Bearer realm="https://auth.invalid/token"');
    t.equal(reply.headers['x-injected'], 'yes');
    t.equal(reply.headers['content-type'], 'application/json');
    t.equal((await send(url, 'GET', '/v2/')).status, 200, 'times: 1 — the next request is normal');
  });

  // No code given: the spec code a client expects for that status on that route.
  const rows: { status: number; method: string; path: string; code: string }[] = [
    { status: 400, method: 'GET', path: '/v2/faults/codes/manifests/v1', code: 'MANIFEST_INVALID' },
    { status: 400, method: 'POST', path: '/v2/faults/codes/blobs/uploads/', code: 'BLOB_UPLOAD_INVALID' },
    { status: 400, method: 'GET', path: '/v2/faults/codes/tags/list', code: 'UNSUPPORTED' },
    { status: 401, method: 'GET', path: '/v2/', code: 'UNAUTHORIZED' },
    { status: 403, method: 'GET', path: `/v2/faults/codes/blobs/${digest}`, code: 'DENIED' },
    { status: 404, method: 'GET', path: '/v2/faults/codes/manifests/v1', code: 'MANIFEST_UNKNOWN' },
    { status: 404, method: 'GET', path: `/v2/faults/codes/blobs/${digest}`, code: 'BLOB_UNKNOWN' },
    { status: 404, method: 'POST', path: '/v2/faults/codes/blobs/uploads/', code: 'BLOB_UPLOAD_UNKNOWN' },
    { status: 404, method: 'GET', path: '/v2/faults/codes/tags/list', code: 'NAME_UNKNOWN' },
    { status: 405, method: 'DELETE', path: `/v2/faults/codes/blobs/${digest}`, code: 'UNSUPPORTED' },
    { status: 413, method: 'POST', path: '/v2/faults/codes/blobs/uploads/', code: 'SIZE_INVALID' },
    { status: 416, method: 'POST', path: '/v2/faults/codes/blobs/uploads/', code: 'BLOB_UPLOAD_INVALID' },
    { status: 429, method: 'GET', path: '/v2/_catalog', code: 'TOOMANYREQUESTS' },
    { status: 500, method: 'GET', path: '/v2/_catalog', code: 'UNKNOWN' },
    { status: 502, method: 'GET', path: '/v2/', code: 'UNKNOWN' },
  ];
  for (const row of rows) {
    await t.test(`${row.status} on ${row.method} ${row.path.slice(0, 40)} → ${row.code}`, async (t) => {
      const fault = registry.faults.add({ action: { status: row.status } });
      const reply = await send(url, row.method, row.path);
      t.equal(reply.status, row.status);
      t.equal(reply.headers['content-type'], 'application/json');
      // What a client relies on: the code; the message only has to name the fault.
      t.equal(reply.json?.errors?.length, 1, 'one error');
      t.strictSame(Object.keys(reply.json?.errors?.[0] ?? {}).sort(), ['code', 'message']);
      t.equal(reply.json?.errors?.[0]?.code, row.code);
      t.match(reply.json?.errors?.[0]?.message, new RegExp(`injected fault ${fault.id}\\b`), 'the message names the fault');
      t.equal(registry.journal.last()?.code, row.code, 'the journal records the injected code');
      t.equal(registry.journal.last()?.fault, fault.id);
    });
  }

  await t.test('HEAD gets the status and headers, no body', async (t) => {
    registry.faults.add({ match: { method: 'HEAD' }, action: { status: 503, headers: { 'Retry-After': '1' } } });
    const reply = await send(url, 'HEAD', `/v2/faults/codes/blobs/${digest}`);
    t.equal(reply.status, 503);
    t.equal(reply.headers['retry-after'], '1');
    t.equal(reply.body.length, 0, 'no body on HEAD');
    t.equal((await send(url, 'HEAD', `/v2/faults/codes/blobs/${digest}`)).status, 200);
  });
});

t.test('status action: a 204 is sent without Content-Length, and a 1xx (not a final answer) is refused', async (t) => {
  const registry = await startFor(t);
  registry.faults.add({ action: { status: 204 } });
  const reply = await send(registry.url, 'GET', '/v2/');
  t.equal(reply.status, 204);
  t.equal(reply.body.length, 0);
  // RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204 (reply.ts sendEmpty follows it).
  t.equal(reply.headers['content-length'], undefined, 'no Content-Length on a 204');
  // An informational status is not an answer: the client would go on waiting for the real one.
  for (const status of [100, 101, 199]) {
    t.throws(() => registry.faults.add({ action: { status } }), { name: 'TypeError', message: /action.status/ }, `status ${status} is refused`);
  }
});

t.test('rateLimit action: 429 TOOMANYREQUESTS with Retry-After in whole seconds', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const fault = registry.faults.add({ match: { route: 'catalog' }, action: { rateLimit: { retryAfterSeconds: 7 } } });
  const reply = await send(url, 'GET', '/v2/_catalog');
  t.equal(reply.status, 429);
  t.equal(reply.headers['retry-after'], '7');
  t.equal(reply.headers['content-type'], 'application/json');
  t.strictSame(reply.json, { errors: [{ code: 'TOOMANYREQUESTS', message: 'too many requests (injected by fault-1): retry after 7 s' }] });
  t.equal(fault.hits, 1);
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 200, 'the retry succeeds');
  t.match(registry.journal.filter({ route: 'catalog' }).map((e) => [e.status, e.code, e.fault]), [[429, 'TOOMANYREQUESTS', 'fault-1'], [200, undefined, undefined]]);

  // A fraction is rounded up: Retry-After is delta-seconds, a whole number (RFC 9110 §10.2.3).
  registry.faults.add({ action: { rateLimit: { retryAfterSeconds: 2.1 } } });
  t.equal((await send(url, 'GET', '/v2/')).headers['retry-after'], '3');
  registry.faults.add({ action: { rateLimit: { retryAfterSeconds: 0 } } });
  const zero = await send(url, 'GET', '/v2/');
  t.equal(zero.status, 429);
  t.equal(zero.headers['retry-after'], '0');
});

t.test('delayMs: the answer is normal and comes at least that late', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const image = await pushImage(url, 'faults/slow', 'v1');
  const fault = registry.faults.add({ match: { route: 'manifest', method: 'GET' }, action: { delayMs: 50 } });
  const started = performance.now();
  const reply = await send(url, 'GET', '/v2/faults/slow/manifests/v1');
  const elapsed = performance.now() - started;
  t.equal(reply.status, 200, 'answered normally');
  t.ok(reply.body.equals(image.bytes), 'with the manifest');
  t.equal(reply.headers['docker-content-digest'], image.digest);
  // Node's timers run on libuv's loop clock, truncated to whole milliseconds, so a
  // 50 ms timer can fire up to 1 ms short of 50 ms by performance.now().
  t.ok(elapsed >= 49, `took ${elapsed.toFixed(1)} ms: the 50 ms delay (to the millisecond)`);
  t.equal(fault.hits, 1);
  const entry = registry.journal.last()!;
  t.equal(entry.fault, 'fault-1', 'the delayed request is marked');
  t.equal(entry.status, 200);
  t.equal(entry.code, undefined, 'a delay is not an error');
  t.ok(entry.durationMs >= 49, `the journal's duration ${entry.durationMs} ms includes the delay (to the millisecond)`);
});

t.test("drop 'before-response': the client sees the connection close with no response; the registry keeps serving", async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const fault = registry.faults.add({ match: { route: 'tags' }, action: { drop: 'before-response' } });
  await pushImage(url, 'faults/dropped', 'v1');
  const outcome = await attempt(url, 'GET', '/v2/faults/dropped/tags/list');
  t.equal(outcome.ended, 'no-response');
  t.strictSame(outcome.error, { code: 'ECONNRESET', message: 'socket hang up' });
  t.equal(fault.hits, 1);
  const again = await send(url, 'GET', '/v2/faults/dropped/tags/list');
  t.equal(again.status, 200, 'the next request is answered');
  t.strictSame(again.json, { name: 'faults/dropped', tags: ['v1'] });
  const [dropped] = registry.journal.filter({ route: 'tags' });
  t.equal(dropped?.fault, 'fault-1', 'the journal marks the dropped request');
  t.equal(dropped?.status, 0, 'status 0: no status was sent');
  t.equal(dropped?.completed, false, 'as not completed');
  t.equal(dropped?.bytesOut, 0, 'nothing was sent');
});

t.test("drop 'before-response' on a PATCH: the chunk is not stored and the session resumes", async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  registry.faults.add({ match: { method: 'PATCH' }, action: { drop: 'before-response' } });
  const location = await openUpload(t, url, 'faults/dropped-patch');
  const bytes = Buffer.alloc(64, 7);
  const outcome = await attempt(url, 'PATCH', location, bytes);
  t.equal(outcome.ended, 'no-response');
  t.equal((await send(url, 'GET', location)).headers.range, '0-0', 'nothing stored');
  t.equal((await patch(url, location, bytes, 0)).status, 202, 'the retry is stored');
  t.equal((await send(url, 'PUT', `${location}?digest=${sha256(bytes)}`)).status, 201);
});

t.test("drop 'mid-body': status, headers and half the body, then the connection closes; the registry keeps serving", async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  // Large enough to leave the server in several writes.
  const bytes = Buffer.alloc(300_001);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
  const digest = await pushBlob(url, 'faults/mid', bytes);
  const fault = registry.faults.add({ match: { route: 'blob', method: 'GET', reference: digest }, action: { drop: 'mid-body' } });

  const outcome = await attempt(url, 'GET', `/v2/faults/mid/blobs/${digest}`);
  t.equal(outcome.status, 200, 'the status came');
  t.equal(outcome.headers?.['content-length'], String(bytes.length), 'with the full Content-Length');
  t.equal(outcome.headers?.['docker-content-digest'], digest);
  t.equal(outcome.ended, 'aborted', 'the client sees an aborted response');
  t.strictSame(outcome.error, { code: 'ECONNRESET', message: 'aborted' });
  t.equal(outcome.body.length, 150_000, 'half the body (rounded down) arrived');
  t.ok(outcome.body.equals(bytes.subarray(0, 150_000)), 'and it is the start of the blob');
  t.equal(fault.hits, 1);

  const again = await send(url, 'GET', `/v2/faults/mid/blobs/${digest}`);
  t.equal(again.status, 200, 'the registry keeps serving');
  t.ok(again.body.equals(bytes), 'the whole blob');
  const entries = registry.journal.filter({ route: 'blob', method: 'GET' });
  t.strictSame(entries.map((e) => [e.status, e.fault, e.completed, e.bytesOut]), [
    [200, 'fault-1', false, 150_000],
    [200, undefined, true, bytes.length],
  ], 'the journal marks the cut response as incomplete, with the bytes that went out');
});

t.test('truncate: that many body bytes with the full Content-Length, then close', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const image = await pushImage(url, 'faults/cut', 'v1');
  const manifestPath = '/v2/faults/cut/manifests/v1';

  for (const bytes of [10, 0]) {
    await t.test(`truncate: ${bytes}`, async (t) => {
      registry.faults.add({ match: { route: 'manifest' }, action: { truncate: bytes } });
      const outcome = await attempt(url, 'GET', manifestPath);
      t.equal(outcome.status, 200);
      t.equal(outcome.headers?.['content-length'], String(image.bytes.length), 'full Content-Length');
      t.equal(outcome.ended, 'aborted');
      t.equal(outcome.body.length, bytes, `exactly ${bytes} bytes`);
      t.ok(outcome.body.equals(image.bytes.subarray(0, bytes)), 'the first bytes of the manifest');
      t.equal(registry.journal.last()?.completed, false);
    });
  }

  await t.test('truncate past the end: the whole body, and the connection closes after it', async (t) => {
    registry.faults.add({ match: { route: 'manifest' }, action: { truncate: 1_000_000 } });
    const outcome = await attempt(url, 'GET', manifestPath);
    t.equal(outcome.ended, 'complete');
    t.ok(outcome.body.equals(image.bytes));
  });

  await t.test('an error body is cut the same way', async (t) => {
    registry.faults.add({ match: { route: 'manifest' }, action: { truncate: 5 } });
    const outcome = await attempt(url, 'GET', '/v2/faults/cut/manifests/missing');
    t.equal(outcome.status, 404);
    t.equal(outcome.ended, 'aborted');
    t.equal(outcome.body.toString('utf8'), '{"err');
  });

  t.equal((await send(url, 'GET', manifestPath)).status, 200, 'the registry keeps serving');
});

t.test('match: method, route, name and reference, each exact or a pattern; every given field must match', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const image = await pushImage(url, 'team/app', 'v1');
  await pushImage(url, 'other/app', 'v1');
  const requests = [
    { method: 'GET', path: '/v2/' },
    { method: 'GET', path: '/v2/_catalog' },
    { method: 'GET', path: '/v2/team/app/tags/list' },
    { method: 'GET', path: '/v2/team/app/manifests/v1' },
    { method: 'HEAD', path: '/v2/team/app/manifests/v1' },
    { method: 'GET', path: `/v2/team/app/manifests/${image.digest}` },
    { method: 'GET', path: `/v2/team/app/blobs/${image.config.digest}` },
    { method: 'GET', path: '/v2/other/app/manifests/v1' },
    { method: 'GET', path: '/v2/other/app/tags/list' },
    { method: 'POST', path: '/v2/team/app/blobs/uploads/' },
  ];
  const rows: { why: string; match: Record<string, unknown>; hit: number[] }[] = [
    { why: 'no match: every request', match: {}, hit: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    { why: 'method exact', match: { method: 'HEAD' }, hit: [4] },
    { why: 'method in lower case', match: { method: 'post' }, hit: [9] },
    { why: 'method pattern', match: { method: /^(HEAD|POST)$/ }, hit: [4, 9] },
    { why: 'route exact', match: { route: 'manifest' }, hit: [3, 4, 5, 7] },
    { why: 'route pattern', match: { route: /^(base|catalog)$/ }, hit: [0, 1] },
    { why: 'name exact', match: { name: 'other/app' }, hit: [7, 8] },
    { why: 'name pattern', match: { name: /^team\// }, hit: [2, 3, 4, 5, 6, 9] },
    { why: 'reference exact tag', match: { reference: 'v1' }, hit: [3, 4, 7] },
    { why: 'reference exact digest', match: { reference: image.digest }, hit: [5] },
    { why: 'reference pattern', match: { reference: /^sha256:/ }, hit: [5, 6] },
    { why: 'all four fields', match: { method: 'GET', route: 'manifest', name: 'team/app', reference: 'v1' }, hit: [3] },
    { why: 'a name pattern never matches a request without a name', match: { name: /.*/ }, hit: [2, 3, 4, 5, 6, 7, 8, 9] },
    { why: 'a global pattern matches every time (no lastIndex carried over)', match: { name: /app/g }, hit: [2, 3, 4, 5, 6, 7, 8, 9] },
  ];
  for (const row of rows) {
    await t.test(row.why, async (t) => {
      const fault = registry.faults.add({ match: row.match as never, times: Infinity, action: { status: 418 } });
      t.teardown(() => fault.remove());
      const hit: number[] = [];
      for (const [i, { method, path }] of requests.entries()) {
        if ((await send(url, method, path)).status === 418) hit.push(i);
      }
      t.strictSame(hit, row.hit, 'exactly the matching requests fail');
      t.equal(fault.hits, row.hit.length, 'hits');
      t.equal(fault.seen, row.hit.length, 'seen counts matching requests only');
    });
  }
});

t.test('after and times: which matching requests fail', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const rows: { rule: { after?: number; times?: number }; pattern: string }[] = [
    { rule: {}, pattern: 'x.....' },
    { rule: { times: 2 }, pattern: 'xx....' },
    { rule: { after: 1, times: 2 }, pattern: '.xx...' },
    { rule: { after: 3 }, pattern: '...x..' },
    { rule: { times: Infinity }, pattern: 'xxxxxx' },
    { rule: { after: 2, times: Infinity }, pattern: '..xxxx' },
    { rule: { times: 0 }, pattern: '......' },
  ];
  for (const { rule, pattern } of rows) {
    await t.test(JSON.stringify(rule, (_k, v) => (v === Infinity ? 'Infinity' : v)), async (t) => {
      const fault = registry.faults.add({ ...rule, action: { status: 503 } });
      t.teardown(() => fault.remove());
      let seen = '';
      for (let i = 0; i < pattern.length; i++) seen += (await send(url, 'GET', '/v2/')).status === 503 ? 'x' : '.';
      t.equal(seen, pattern);
      t.equal(fault.hits, [...pattern].filter((c) => c === 'x').length);
      t.equal(fault.seen, pattern.length);
    });
  }
});

t.test('rules are tried in the order added: the first that applies answers; one that lets a request through does not stop the next', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const first = registry.faults.add({ after: 1, action: { status: 501 } });
  const second = registry.faults.add({ times: 2, action: { status: 502 } });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) statuses.push((await send(url, 'GET', '/v2/')).status);
  t.strictSame(statuses, [502, 501, 502, 200]);
  t.equal(first.hits, 1);
  t.equal(second.hits, 2);
  t.strictSame(registry.journal.all().map((e) => e.fault), ['fault-2', 'fault-1', 'fault-2', undefined]);
});

t.test('handles: list, remove, clear; ids are never reused', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const a = registry.faults.add({ match: { route: 'base' }, times: Infinity, action: { status: 503 } });
  const b = registry.faults.add({ match: { route: 'catalog' }, times: Infinity, action: { status: 504 } });
  t.strictSame(registry.faults.list().map((f) => f.id), ['fault-1', 'fault-2']);
  t.strictSame(a.rule, { match: { route: 'base' }, times: Infinity, action: { status: 503 } }, 'the handle shows its rule');
  t.equal((await send(url, 'GET', '/v2/')).status, 503);
  a.remove();
  t.strictSame(registry.faults.list().map((f) => f.id), ['fault-2']);
  t.equal((await send(url, 'GET', '/v2/')).status, 200, 'a removed rule no longer applies');
  t.equal(a.hits, 1, 'a removed handle keeps its count');
  a.remove();
  t.strictSame(registry.faults.list().map((f) => f.id), ['fault-2'], 'removing twice is harmless');
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 504);
  registry.faults.clear();
  t.strictSame(registry.faults.list(), []);
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 200, 'cleared');
  t.equal(b.hits, 1);
  t.equal(registry.faults.add({ action: { status: 503 } }).id, 'fault-3', 'ids go on counting');
});

t.test('the faults option: rules in force from the start; reset() clears them', async (t) => {
  const registry = await startFor(t, {
    faults: [
      { match: { method: 'GET', route: 'base' }, action: { status: 503 } },
      { match: { route: 'catalog' }, times: Infinity, action: { rateLimit: { retryAfterSeconds: 1 } } },
    ],
  });
  const { url } = registry;
  t.strictSame(registry.faults.list().map((f) => f.id), ['fault-1', 'fault-2']);
  t.equal((await send(url, 'GET', '/v2/')).status, 503, 'the very first request meets the first rule');
  t.equal((await send(url, 'GET', '/v2/')).status, 200);
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 429);
  await registry.reset();
  t.strictSame(registry.faults.list(), [], 'reset() removes the rules');
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 200);
});

t.test('probability with a seed: the same seed gives the same sequence; without probability every match fails', async (t) => {
  const sequence = async (rule: { probability?: number; seed?: number }): Promise<string> => {
    const registry = await startFor(t, { faults: [{ ...rule, times: Infinity, action: { status: 503 } }] });
    let out = '';
    for (let i = 0; i < 40; i++) out += (await send(registry.url, 'GET', '/v2/')).status === 503 ? 'x' : '.';
    const [fault] = registry.faults.list();
    t.equal(fault!.hits, [...out].filter((c) => c === 'x').length, 'hits count the failures');
    t.equal(fault!.seen, 40);
    return out;
  };
  const a = await sequence({ probability: 0.5, seed: 42 });
  const b = await sequence({ probability: 0.5, seed: 42 });
  t.equal(a, b, `seed 42 twice: ${a}`);
  t.ok(a.includes('x') && a.includes('.'), 'some requests fail and some pass');
  const other = await sequence({ probability: 0.5, seed: 7 });
  t.not(other, a, `seed 7 gives another sequence: ${other}`);
  t.equal(await sequence({ probability: 0.5 }), await sequence({ probability: 0.5, seed: 1 }), 'the default seed is 1');
  t.equal(await sequence({}), 'x'.repeat(40), 'deterministic by default: probability 1');
  t.equal(await sequence({ probability: 0, seed: 42 }), '.'.repeat(40), 'probability 0: never');

  await t.test('times counts applied faults, after counts matching requests, both before the dice', async (t) => {
    const run = async () => {
      const registry = await startFor(t, { faults: [{ after: 2, times: 3, probability: 0.5, seed: 9, action: { status: 503 } }] });
      let out = '';
      for (let i = 0; i < 30; i++) out += (await send(registry.url, 'GET', '/v2/')).status === 503 ? 'x' : '.';
      return out;
    };
    const out = await run();
    t.equal(out, await run(), 'repeatable');
    t.equal(out.slice(0, 2), '..', 'the first two pass (after: 2)');
    t.equal([...out].filter((c) => c === 'x').length, 3, 'exactly three failures (times: 3)');
  });
});

t.test('a bad rule is refused with a TypeError that says what is wrong', async (t) => {
  const registry = await startFor(t);
  const rows: { rule: unknown; message: RegExp }[] = [
    { rule: null, message: /a fault rule must be an object/ },
    { rule: {}, message: /a fault rule needs an action/ },
    { rule: { action: {} }, message: /exactly one of status, rateLimit, delayMs, drop, truncate/ },
    { rule: { action: { status: 503, delayMs: 5 } }, message: /exactly one of/ },
    { rule: { action: { status: 99 } }, message: /action.status must be an HTTP status from 200 to 599/ },
    { rule: { action: { status: 503.5 } }, message: /action.status/ },
    { rule: { action: { rateLimit: {} } }, message: /retryAfterSeconds must be a non-negative number/ },
    { rule: { action: { delayMs: -1 } }, message: /action.delayMs must be a non-negative number/ },
    { rule: { action: { drop: 'sideways' } }, message: /action.drop must be 'before-response' or 'mid-body'/ },
    { rule: { action: { truncate: 1.5 } }, message: /action.truncate must be a non-negative integer/ },
    { rule: { after: -1, action: { status: 503 } }, message: /after must be a non-negative integer/ },
    { rule: { times: 1.5, action: { status: 503 } }, message: /times must be a non-negative integer or Infinity/ },
    { rule: { probability: 1.5, action: { status: 503 } }, message: /probability must be a number from 0 to 1/ },
    { rule: { match: { path: '/v2/' }, action: { status: 503 } }, message: /match.path is not a field/ },
    { rule: { match: { name: 5 }, action: { status: 503 } }, message: /match.name must be a string or a RegExp/ },
  ];
  for (const { rule, message } of rows) {
    t.throws(() => registry.faults.add(rule as never), { name: 'TypeError', message }, JSON.stringify(rule));
  }
  t.strictSame(registry.faults.list(), [], 'nothing was added');
});

t.test('global rateLimit: past `requests` in a window of `perSeconds`, 429 with Retry-After until the window ends', async (t) => {
  // Date is mocked so that the window is exact: no time passes unless the test says so.
  mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
  t.teardown(() => mock.timers.reset());
  const registry = await startFor(t, { rateLimit: { requests: 3, perSeconds: 60 }, control: true });
  const { url } = registry;
  for (let i = 0; i < 3; i++) t.equal((await send(url, 'GET', '/v2/')).status, 200, `request ${i + 1} passes`);
  const limited = await send(url, 'GET', '/v2/_catalog');
  t.equal(limited.status, 429, 'the fourth is refused');
  t.equal(limited.headers['retry-after'], '60', 'Retry-After: the seconds until the window ends');
  t.equal(limited.headers['content-type'], 'application/json');
  t.strictSame(limited.json, { errors: [{ code: 'TOOMANYREQUESTS', message: 'rate limit: more than 3 requests in 60 s' }] });
  const head = await send(url, 'HEAD', '/v2/');
  t.equal(head.status, 429);
  t.equal(head.body.length, 0, 'HEAD: no body');

  t.equal((await send(url, 'GET', '/_oci-test-registry/health')).status, 200, 'the control endpoint is never limited');

  mock.timers.tick(45_500);
  const later = await send(url, 'GET', '/v2/');
  t.equal(later.status, 429);
  t.equal(later.headers['retry-after'], '15', '14.5 s left, rounded up');
  mock.timers.tick(14_500);
  t.equal((await send(url, 'GET', '/v2/')).status, 200, 'a new window');
  t.equal((await send(url, 'GET', '/v2/')).status, 200);
  t.equal((await send(url, 'GET', '/v2/')).status, 200);
  t.equal((await send(url, 'GET', '/v2/')).status, 429, 'and its limit');

  const refused = registry.journal.filter({ status: 429 });
  t.equal(refused.length, 4);
  t.strictSame(refused.map((e) => [e.code, e.fault]), Array(4).fill(['TOOMANYREQUESTS', undefined]), 'rate limiting is not a fault rule');
});

t.test('the rate limit comes before fault rules: a refused request does not count toward a rule', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
  t.teardown(() => mock.timers.reset());
  const registry = await startFor(t, { rateLimit: { requests: 1, perSeconds: 10 } });
  const fault = registry.faults.add({ after: 1, action: { status: 503 } });
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 200);
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 429);
  t.equal(fault.seen, 1, 'the refused request never reached the rule');
  mock.timers.tick(10_000);
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 503, 'the rule fires on the next request that passes the limit');
});

t.test('the rateLimit option is checked', async (t) => {
  const { createRegistry } = await import('../src/index.js');
  t.throws(() => createRegistry({ rateLimit: { requests: 0, perSeconds: 1 } }), { name: 'TypeError', message: /rateLimit.requests must be a positive number/ });
  t.throws(() => createRegistry({ rateLimit: { requests: 1, perSeconds: -1 } }), { name: 'TypeError', message: /rateLimit.perSeconds must be a positive number/ });
  t.throws(() => createRegistry({ faults: [{ action: { status: 1000 } }] }), { name: 'TypeError', message: /action.status/ });
});
