// Blob redirects (README "Blob redirects"): with `blobRedirect`, blob GET
// and HEAD answer 307 to a signed, expiring URL on the same server, outside
// /v2/ and on the other spelling of loopback (127.0.0.1 ↔ localhost), as an
// object-store-backed registry does. That URL refuses a request that still
// carries an Authorization header (400), and a tampered or expired
// signature (403).
import t from 'tap';
import { mock } from 'node:test';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { assertCodeSays } from './helpers/fixtures.js';

/** The `t` a subtest callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const BYTES = Buffer.from('the bytes an object store would serve');
const DIGEST = sha256(BYTES);

interface Signed {
  url: URL;
  name: string;
  expires: number;
  signature: string;
}

/** Checks a 307 and reads its Location. */
function redirected(t: Test, reply: Reply, host: string, name: string, digest = DIGEST): Signed {
  t.equal(reply.status, 307, `307 (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.headers['content-length'], '0', 'no body');
  t.equal(reply.body.length, 0);
  t.equal(reply.headers['docker-content-digest'], digest, 'Docker-Content-Digest names the blob');
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0');
  const url = new URL(String(reply.headers.location));
  t.equal(url.protocol, 'http:');
  t.equal(url.host, host, `Location is on ${host}`);
  t.equal(url.pathname, `/_blobs/${digest}`, 'outside /v2/');
  t.strictSame([...url.searchParams.keys()], ['name', 'expires', 'signature']);
  t.equal(url.searchParams.get('name'), name);
  t.match(url.searchParams.get('signature'), /^[0-9a-f]{64}$/);
  return { url, name, expires: Number(url.searchParams.get('expires')), signature: url.searchParams.get('signature')! };
}

function assertDenied(t: Test, reply: Reply, status: number, words: RegExp): void {
  t.equal(reply.status, status, `${status} (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.headers['content-type'], 'application/json');
  assertCodeSays(t, reply.json, 'DENIED', words);
}

t.test('GET answers 307 to a signed URL on the other loopback name; the URL serves the blob', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const before = Math.floor(Date.now() / 1000);

  const reply = await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`);
  const signed = redirected(t, reply, `localhost:${registry.port}`, 'redirect/app');
  t.ok(signed.expires >= before + 60 && signed.expires <= Math.floor(Date.now() / 1000) + 60, `expires ${signed.expires}: 60 s from now by default`);

  const blob = await send(signed.url.origin, 'GET', signed.url.pathname + signed.url.search);
  t.equal(blob.status, 200);
  t.ok(blob.body.equals(BYTES), 'the blob bytes');
  t.equal(blob.headers['content-type'], 'application/octet-stream');
  t.equal(blob.headers['content-length'], String(BYTES.length));
  t.equal(blob.headers['docker-content-digest'], DIGEST);

  const ranged = await send(signed.url.origin, 'GET', signed.url.pathname + signed.url.search, { headers: { Range: 'bytes=4-8' } });
  t.equal(ranged.status, 206, 'the signed URL answers Range (resumable pull)');
  t.equal(ranged.headers['content-range'], `bytes 4-8/${BYTES.length}`);
  t.equal(ranged.body.toString('utf8'), 'bytes');

  const asked = registry.journal.filter({ route: 'blob' });
  t.strictSame(asked.map((e) => [e.method, e.status, e.digest]), [['GET', 307, DIGEST]], 'the journal has the 307');
  const served = registry.journal.filter({ route: 'redirect' });
  t.strictSame(served.map((e) => [e.method, e.status, e.reference, e.requestHeaders.host]), [
    ['GET', 200, DIGEST, `localhost:${registry.port}`],
    ['GET', 206, DIGEST, `localhost:${registry.port}`],
  ], "the journal records the signed URL's requests as route 'redirect'");
});

t.test('asked on localhost, the signed URL is on 127.0.0.1', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(`http://localhost:${registry.port}`, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `127.0.0.1:${registry.port}`, 'redirect/app');
  t.ok((await send(signed.url.origin, 'GET', signed.url.pathname + signed.url.search)).body.equals(BYTES));
});

t.test('HEAD follows the same rule: 307, and the signed URL answers HEAD with the headers only', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'HEAD', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  const head = await send(signed.url.origin, 'HEAD', signed.url.pathname + signed.url.search);
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(BYTES.length));
  t.equal(head.headers['docker-content-digest'], DIGEST);
  t.equal(head.body.length, 0, 'no body');
  const refused = await send(signed.url.origin, 'HEAD', signed.url.pathname + signed.url.search, { headers: { Authorization: 'Bearer token' } });
  t.equal(refused.status, 400, 'HEAD with Authorization is refused too');
  t.equal(refused.body.length, 0, 'no body on HEAD');
});

t.test('the signed URL refuses a request that still carries Authorization (400); without it, 200', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  const path = signed.url.pathname + signed.url.search;
  for (const authorization of ['Bearer registry-token', 'Basic YWxpY2U6c2VjcmV0', '']) {
    const reply = await send(signed.url.origin, 'GET', path, { headers: { Authorization: authorization } });
    assertDenied(t, reply, 400, /Authorization/);
  }
  const entries = registry.journal.filter({ route: 'redirect', status: 400 });
  t.equal(entries.length, 3, 'each refusal is in the journal');
  t.equal(entries[0]?.requestHeaders.authorization, 'Bearer [redacted]', 'with the credential redacted');
  t.equal(entries[0]?.code, 'DENIED');
  const reply = await send(signed.url.origin, 'GET', path);
  t.equal(reply.status, 200, 'the same URL without Authorization serves the blob');
  t.ok(reply.body.equals(BYTES));
});

t.test("fetch() follows the redirect and drops its Authorization header, since the URL's origin differs", async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const res = await fetch(`${registry.url}/v2/redirect/app/blobs/${DIGEST}`, { headers: { Authorization: 'Bearer registry-token' } });
  t.equal(res.status, 200);
  t.equal(res.redirected, true);
  t.match(res.url, new RegExp(`^http://localhost:${registry.port}/_blobs/${DIGEST}\\?`));
  t.ok(Buffer.from(await res.arrayBuffer()).equals(BYTES), 'the blob');
  const [served] = registry.journal.filter({ route: 'redirect' });
  t.equal(served?.requestHeaders.authorization, undefined, 'no Authorization reached the signed URL');
  t.equal(registry.journal.filter({ route: 'blob' })[0]?.requestHeaders.authorization, 'Bearer [redacted]', 'while the registry request carried it');
});

t.test('a tampered, foreign or missing signature is 403 DENIED', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  await pushBlob(registry.url, 'redirect/other', BYTES);
  const other = await pushBlob(registry.url, 'redirect/app', 'another blob');
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  const foreign = await startFor(t, { blobRedirect: true });
  await pushBlob(foreign.url, 'redirect/app', BYTES);
  const foreignSigned = new URL(String((await send(foreign.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`)).headers.location));

  const flip = (hex: string) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  const query = (fields: Record<string, string>) => new URLSearchParams({ name: signed.name, expires: String(signed.expires), signature: signed.signature, ...fields }).toString();
  const rows: { why: string; path: string }[] = [
    { why: 'one hex digit of the signature changed', path: `/_blobs/${DIGEST}?${query({ signature: flip(signed.signature) })}` },
    { why: 'a signature that is not hex', path: `/_blobs/${DIGEST}?${query({ signature: 'not-hex' })}` },
    { why: 'a shortened signature', path: `/_blobs/${DIGEST}?${query({ signature: signed.signature.slice(2) })}` },
    { why: 'expiry moved later', path: `/_blobs/${DIGEST}?${query({ expires: String(signed.expires + 3600) })}` },
    { why: 'another repository that has the same blob', path: `/_blobs/${DIGEST}?${query({ name: 'redirect/other' })}` },
    { why: 'another blob of the same repository', path: `/_blobs/${other}?${query({})}` },
    { why: 'no signature', path: `/_blobs/${DIGEST}?name=redirect/app&expires=${signed.expires}` },
    { why: 'no query at all', path: `/_blobs/${DIGEST}` },
    { why: "another registry's signature", path: `/_blobs/${DIGEST}${foreignSigned.search}` },
  ];
  for (const { why, path } of rows) {
    await t.test(why, async (t) => {
      assertDenied(t, await send(registry.url, 'GET', path), 403, /signature/);
    });
  }
  t.equal((await send(registry.url, 'GET', signed.url.pathname + signed.url.search)).status, 200, 'the untouched URL still works');
  t.equal(registry.journal.filter({ route: 'redirect', status: 403 }).length, rows.length, 'the journal has each refusal');
});

t.test('an expired signed URL is 403 DENIED; ttlSeconds sets the lifetime', async (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_700_000_000_000 });
  t.teardown(() => mock.timers.reset());
  const registry = await startFor(t, { blobRedirect: { ttlSeconds: 30 } });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  t.equal(signed.expires, 1_700_000_030, 'expires: now + ttlSeconds, in seconds since the epoch');
  const path = signed.url.pathname + signed.url.search;
  mock.timers.tick(29_999);
  t.equal((await send(registry.url, 'GET', path)).status, 200, 'valid until the last millisecond');
  mock.timers.tick(1);
  const expired = await send(registry.url, 'GET', path);
  assertDenied(t, expired, 403, /expired/);
  t.strictSame(expired.json.errors[0].detail, { expires: 1_700_000_030 });
  redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
});

t.test('ttlSeconds: 0 gives URLs that are already expired', async (t) => {
  const registry = await startFor(t, { blobRedirect: { ttlSeconds: 0 } });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const location = new URL(String((await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`)).headers.location));
  assertDenied(t, await send(registry.url, 'GET', location.pathname + location.search), 403, /expired/);
});

t.test('a configured host is used for the signed URL as given', async (t) => {
  const registry = await startFor(t, { blobRedirect: { host: 'objects.test.invalid:9000' } });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), 'objects.test.invalid:9000', 'redirect/app');
  t.ok((await send(registry.url, 'GET', signed.url.pathname + signed.url.search)).body.equals(BYTES), 'the URL is served by this registry whatever its host');
});

t.test('no redirect for a blob that is not there; a blob deleted after the redirect is 404 at the signed URL', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  const missing = await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`);
  t.equal(missing.status, 404);
  t.equal(missing.json.errors[0].code, 'BLOB_UNKNOWN');
  t.equal(missing.headers.location, undefined);

  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  t.equal((await send(registry.url, 'DELETE', `/v2/redirect/app/blobs/${DIGEST}`)).status, 202);
  const gone = await send(registry.url, 'GET', signed.url.pathname + signed.url.search);
  t.equal(gone.status, 404);
  t.equal(gone.json.errors[0].code, 'BLOB_UNKNOWN');
  const malformed = await send(registry.url, 'GET', `/_blobs/sha256:abc?${signed.url.searchParams}`);
  t.equal(malformed.status, 400, 'a malformed digest in the signed path');
  t.equal(malformed.json.errors[0].code, 'DIGEST_INVALID');
});

t.test('off by default: blob GETs are answered directly and /_blobs/ does not exist', async (t) => {
  const registry = await startFor(t);
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const direct = await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`);
  t.equal(direct.status, 200);
  t.ok(direct.body.equals(BYTES));
  const none = await send(registry.url, 'GET', `/_blobs/${DIGEST}?name=redirect/app&expires=9999999999&signature=${'0'.repeat(64)}`);
  t.equal(none.status, 404);
  t.equal(none.json.errors[0].code, 'UNSUPPORTED');
  t.equal(registry.journal.last()?.route, 'redirect');
});

t.test('other methods on the signed URL are 405 with Allow', async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  for (const method of ['PUT', 'DELETE', 'POST']) {
    const reply = await send(registry.url, method, signed.url.pathname + signed.url.search);
    t.equal(reply.status, 405, method);
    t.equal(reply.headers.allow, 'GET, HEAD');
  }
  t.equal((await send(registry.url, 'GET', signed.url.pathname + signed.url.search)).status, 200, 'the blob is still there');
});

t.test("fault rules reach the signed URL as route 'redirect'", async (t) => {
  const registry = await startFor(t, { blobRedirect: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const fault = registry.faults.add({ match: { route: 'redirect' }, action: { status: 503 } });
  const signed = redirected(t, await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`), `localhost:${registry.port}`, 'redirect/app');
  const path = signed.url.pathname + signed.url.search;
  t.equal((await send(registry.url, 'GET', path)).status, 503, 'the object store fails once');
  t.equal(fault.hits, 1);
  t.ok((await send(registry.url, 'GET', path)).body.equals(BYTES), 'the retry succeeds');
});

t.test('omitDigestHeader leaves Docker-Content-Digest out of the 307 and of the signed URL', async (t) => {
  const registry = await startFor(t, { blobRedirect: true, omitDigestHeader: true });
  await pushBlob(registry.url, 'redirect/app', BYTES);
  const reply = await send(registry.url, 'GET', `/v2/redirect/app/blobs/${DIGEST}`);
  t.equal(reply.status, 307);
  t.equal(reply.headers['docker-content-digest'], undefined);
  const signed = new URL(String(reply.headers.location));
  const blob = await send(registry.url, 'GET', signed.pathname + signed.search);
  t.equal(blob.status, 200);
  t.equal(blob.headers['docker-content-digest'], undefined);
  t.ok(blob.body.equals(BYTES));
});
