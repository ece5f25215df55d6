// end-11 cross-repository blob mount (spec "Mounting a blob from another
// repository"): `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>`.
import t from 'tap';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { OCI_CONFIG, OCI_MANIFEST, assertError, json, putManifest, type Asserts } from './helpers/fixtures.js';

/** spec: a successful mount is 201 with `Location: <blob location>` (and the digest). */
function assertMounted(t: Asserts, reply: Reply, name: string, digest: string): void {
  t.equal(reply.status, 201, `mounted: 201 (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.headers.location, `/v2/${name}/blobs/${digest}`, 'Location is the blob in the target repository');
  t.equal(reply.headers['docker-content-digest'], digest, 'Docker-Content-Digest');
}

/**
 * spec: a registry that cannot mount "SHOULD return a 202" — an ordinary
 * upload session (end-4a), which the client can use to push the blob.
 */
async function assertSessionAndUse(t: Asserts, url: string, reply: Reply, name: string, bytes: Buffer): Promise<void> {
  t.equal(reply.status, 202, `not mounted: 202 (${reply.body.toString('utf8').slice(0, 200)})`);
  const location = String(reply.headers.location);
  t.match(location, new RegExp(`^/v2/${name.replace(/\//g, '\\/')}/blobs/uploads/[^/?]+`), 'Location is an upload session in the target repository');
  t.equal(reply.headers.range, '0-0', 'Range: 0-0');
  t.ok(typeof reply.headers['docker-upload-uuid'] === 'string' && location.includes(String(reply.headers['docker-upload-uuid'])), 'Docker-Upload-UUID names the session');
  // The session is real: the client finishes the push through it.
  const sep = location.includes('?') ? '&' : '?';
  const put = await send(url, 'PUT', `${location}${sep}digest=${sha256(bytes)}`, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  t.equal(put.status, 201, 'the session completes the push');
  const get = await send(url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`);
  t.equal(get.status, 200);
  t.ok(get.body.equals(bytes), 'and the blob is in the repository');
}

const mount = (url: string, name: string, query: string) => send(url, 'POST', `/v2/${name}/blobs/uploads/?${query}`);

t.test('mount from a repository that has the blob → 201; the blob now GETs in the target', async (t) => {
  const { url } = await startFor(t);
  const bytes = Buffer.from('a layer worth mounting');
  const digest = await pushBlob(url, 'mount/a', bytes);
  assertError(t, await send(url, 'GET', `/v2/mount/b/blobs/${digest}`), 404, 'BLOB_UNKNOWN');

  assertMounted(t, await mount(url, 'mount/b', `mount=${digest}&from=mount/a`), 'mount/b', digest);
  const get = await send(url, 'GET', `/v2/mount/b/blobs/${digest}`);
  t.equal(get.status, 200);
  t.ok(get.body.equals(bytes), 'same bytes');
  t.equal(get.headers['docker-content-digest'], digest);
  t.equal((await send(url, 'HEAD', `/v2/mount/b/blobs/${digest}`)).headers['content-length'], String(bytes.length));

  // Mounted means linked: a manifest in the target may now reference it.
  const manifest = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest, size: bytes.length }, layers: [] });
  t.equal((await putManifest(url, 'mount/b', 'v1', manifest, OCI_MANIFEST)).status, 201, 'a manifest in the target can use the mounted blob');
  // The two links are independent: deleting from the source leaves the target's.
  t.equal((await send(url, 'DELETE', `/v2/mount/a/blobs/${digest}`)).status, 202);
  t.equal((await send(url, 'GET', `/v2/mount/b/blobs/${digest}`)).status, 200, 'still in the target after the source lets go');
  // Mounting into a repository that already has it, or from itself, is still 201.
  assertMounted(t, await mount(url, 'mount/b', `mount=${digest}&from=mount/b`), 'mount/b', digest);
  // from given as %2F-encoded works the same.
  assertMounted(t, await mount(url, 'mount/c', `mount=${digest}&from=mount%2Fb`), 'mount/c', digest);
});

t.test('mount of a blob not in `from` → 202 and a normal upload session', async (t) => {
  const { url } = await startFor(t);
  const elsewhere = Buffer.from('only in mount/elsewhere');
  const digest = await pushBlob(url, 'mount/elsewhere', elsewhere);
  await pushBlob(url, 'mount/source', 'the source has other things');
  const rows = [
    { why: 'blob in another repository, not in from', query: `mount=${digest}&from=mount/source`, bytes: elsewhere },
    { why: 'from does not exist', query: `mount=${digest}&from=mount/nowhere`, bytes: elsewhere },
    { why: 'blob nowhere at all', query: `mount=${sha256('nowhere')}&from=mount/source`, bytes: Buffer.from('nowhere') },
  ];
  for (const [i, { why, query, bytes }] of rows.entries()) {
    await t.test(why, async (t) => {
      const name = `mount/target${i}`;
      const reply = await mount(url, name, query);
      assertError(t, await send(url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
      await assertSessionAndUse(t, url, reply, name, bytes);
    });
  }
});

t.test('mount without from: automatic content discovery', async (t) => {
  await t.test('default: 201 when any repository has the blob, 202 when none does', async (t) => {
    const { url } = await startFor(t);
    const bytes = Buffer.from('discoverable');
    const digest = await pushBlob(url, 'auto/source', bytes);
    assertMounted(t, await mount(url, 'auto/target', `mount=${digest}`), 'auto/target', digest);
    t.ok((await send(url, 'GET', `/v2/auto/target/blobs/${digest}`)).body.equals(bytes));
    const missing = Buffer.from('in no repository');
    await assertSessionAndUse(t, url, await mount(url, 'auto/other', `mount=${sha256(missing)}`), 'auto/other', missing);
  });
  await t.test('option mountWithoutFrom: false → 202, but mount with from still works', async (t) => {
    const { url } = await startFor(t, { mountWithoutFrom: false });
    const bytes = Buffer.from('discoverable, but not without from');
    const digest = await pushBlob(url, 'auto/source', bytes);
    await assertSessionAndUse(t, url, await mount(url, 'auto/target', `mount=${digest}`), 'auto/target', bytes);
    assertMounted(t, await mount(url, 'auto/with-from', `mount=${digest}&from=auto/source`), 'auto/with-from', digest);
  });
});

t.test('option mount: false → 202 always', async (t) => {
  const { url } = await startFor(t, { mount: false });
  const bytes = Buffer.from('never mounted');
  const digest = await pushBlob(url, 'off/source', bytes);
  for (const [i, query] of [`mount=${digest}&from=off/source`, `mount=${digest}`].entries()) {
    await t.test(query.includes('from') ? 'with from' : 'without from', async (t) => {
      const name = `off/target${i}`;
      const reply = await mount(url, name, query);
      assertError(t, await send(url, 'GET', `/v2/${name}/blobs/${digest}`), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
      await assertSessionAndUse(t, url, reply, name, bytes);
    });
  }
});

t.test('an invalid from → 400 NAME_INVALID; an invalid mount digest → 400 DIGEST_INVALID', async (t) => {
  const { url } = await startFor(t);
  const digest = await pushBlob(url, 'bad/source', 'bytes');
  const hex = digest.slice('sha256:'.length);
  const rows: { query: string; code: string }[] = [
    { query: `mount=${digest}&from=Bad/Source`, code: 'NAME_INVALID' },
    { query: `mount=${digest}&from=bad//source`, code: 'NAME_INVALID' },
    { query: `mount=${digest}&from=-bad`, code: 'NAME_INVALID' },
    { query: `mount=${digest}&from=`, code: 'NAME_INVALID' },
    { query: `mount=${digest}&from=${'a'.repeat(256)}`, code: 'NAME_INVALID' },
    { query: `mount=${digest}&from=bad/source/`, code: 'NAME_INVALID' },
    { query: 'mount=sha256:abc&from=bad/source', code: 'DIGEST_INVALID' },
    { query: `mount=${hex}&from=bad/source`, code: 'DIGEST_INVALID' },
    { query: `mount=sha256:${hex.toUpperCase()}&from=bad/source`, code: 'DIGEST_INVALID' },
    { query: 'mount=&from=bad/source', code: 'DIGEST_INVALID' },
    { query: 'mount=sha256:abc', code: 'DIGEST_INVALID' },
  ];
  for (const { query, code } of rows) {
    await t.test(`?${query.slice(0, 80)}`, async (t) => {
      assertError(t, await mount(url, 'bad/target', query), 400, code);
    });
  }
  assertError(t, await send(url, 'GET', `/v2/bad/target/blobs/${digest}`), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
});

t.test('?mount= together with ?digest=: the mount is tried first; when it fails, a normal session opens', async (t) => {
  // spec "Mounting a blob from another repository": a registry that cannot mount answers 202 and a
  // session. A digest= beside mount= does not turn that POST into a single-POST upload.
  const { url } = await startFor(t);
  const bytes = Buffer.from('mounted, not uploaded');
  const digest = await pushBlob(url, 'mountdigest/a', bytes);
  assertMounted(t, await mount(url, 'mountdigest/b', `mount=${digest}&from=mountdigest/a&digest=${digest}`), 'mountdigest/b', digest);
  t.ok((await send(url, 'GET', `/v2/mountdigest/b/blobs/${digest}`)).body.equals(bytes), 'the mounted blob');

  const absent = sha256('in no repository');
  const opened = await mount(url, 'mountdigest/c', `mount=${absent}&from=mountdigest/a&digest=${absent}`);
  t.equal(opened.status, 202, 'not mountable: 202');
  t.match(String(opened.headers.location), /^\/v2\/mountdigest\/c\/blobs\/uploads\/[0-9a-f-]{36}$/, 'Location: a new session');
  t.equal(opened.headers.range, '0-0', 'empty');
  assertError(t, await send(url, 'GET', `/v2/mountdigest/c/blobs/${absent}`), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
});
