// end-11 cross-repository blob mount (spec "Mounting a blob from another
// repository"): `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>`.
import t from 'tap';
import type { RegistryOptions, RunningRegistry } from '../src/index.js';
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
async function assertSessionAndUse(t: Asserts, url: string, reply: Reply, name: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<void> {
  t.equal(reply.status, 202, `not mounted: 202 (${reply.body.toString('utf8').slice(0, 200)})`);
  const location = String(reply.headers.location);
  t.match(location, new RegExp(`^/v2/${name.replace(/\//g, '\\/')}/blobs/uploads/[^/?]+`), 'Location is an upload session in the target repository');
  t.equal(reply.headers.range, '0-0', 'Range: 0-0');
  t.ok(typeof reply.headers['docker-upload-uuid'] === 'string' && location.includes(String(reply.headers['docker-upload-uuid'])), 'Docker-Upload-UUID names the session');
  // The session is real: the client finishes the push through it.
  const sep = location.includes('?') ? '&' : '?';
  const put = await send(url, 'PUT', `${location}${sep}digest=${sha256(bytes)}`, { body: bytes, headers: { ...headers, 'Content-Type': 'application/octet-stream' } });
  t.equal(put.status, 201, 'the session completes the push');
  const get = await send(url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`, { headers });
  t.equal(get.status, 200);
  t.ok(get.body.equals(bytes), 'and the blob is in the repository');
}

const mount = (url: string, name: string, query: string, headers: Record<string, string> = {}) => send(url, 'POST', `/v2/${name}/blobs/uploads/?${query}`, { headers });

/** The journal's account of the newest mount request. */
const lastMount = (registry: RunningRegistry) => registry.journal.filter({ method: 'POST', route: 'upload' }).at(-1)?.mount;

t.test('mount from a repository that has the blob → 201; the blob now GETs in the target', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  const bytes = Buffer.from('a layer worth mounting');
  const digest = await pushBlob(url, 'mount/a', bytes);
  assertError(t, await send(url, 'GET', `/v2/mount/b/blobs/${digest}`), 404, 'BLOB_UNKNOWN');

  assertMounted(t, await mount(url, 'mount/b', `mount=${digest}&from=mount/a`), 'mount/b', digest);
  t.strictSame(lastMount(registry), { digest, from: 'mount/a', result: 'mounted' }, 'the journal records the mount');
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

t.test('containerify 4.1.0 --doCrossMount: from=<repository>:<tag> → 202 and an upload session, the reason in the journal', async (t) => {
  const registry = await startFor(t);
  const bytes = Buffer.from('a base layer');
  const digest = await pushBlob(registry.url, 'base/node', bytes);
  // Exactly what containerify sends: its `from` is the base image reference, tag included.
  const reply = await send(registry.url, 'POST', `/v2/team/app/blobs/uploads/?mount=${digest}&from=base/node:20`);
  t.strictSame(lastMount(registry), { digest, from: 'base/node:20', result: 'declined', reason: 'from-invalid' }, 'journal: declined, from is no repository name');
  await assertSessionAndUse(t, registry.url, reply, 'team/app', bytes);
});

t.test('every mount the registry cannot honour → 202 and an upload session; the journal says why', async (t) => {
  const basic = (user: string) => ({ authorization: `Basic ${Buffer.from(`${user}:pw`).toString('base64')}` });
  const auth: RegistryOptions = { auth: { basic: { users: { alice: 'pw', admin: 'pw' } }, access: [{ user: 'alice', repositories: 'team/*', actions: ['pull', 'push'] }, { user: 'admin', repositories: 'src/*', actions: ['pull'] }] } };
  const held = Buffer.from('held by src/repo');
  const nowhere = Buffer.from('in no repository');
  const digest = sha256(held);
  const hex = digest.slice('sha256:'.length);
  type Row = { why: string; query: string; reason: string; bytes?: Buffer; options?: RegistryOptions; user?: string; source?: string };
  const rows: Row[] = [
    { why: 'from is a reference with a tag', query: `mount=${digest}&from=src/repo:v1`, reason: 'from-invalid' },
    { why: 'from with upper case', query: `mount=${digest}&from=Src/Repo`, reason: 'from-invalid' },
    { why: 'from with an empty component', query: `mount=${digest}&from=src//repo`, reason: 'from-invalid' },
    { why: 'from starting with a separator', query: `mount=${digest}&from=-src`, reason: 'from-invalid' },
    { why: 'from empty', query: `mount=${digest}&from=`, reason: 'from-invalid' },
    { why: 'from longer than 255', query: `mount=${digest}&from=${'a'.repeat(256)}`, reason: 'from-invalid' },
    { why: 'from with a trailing slash', query: `mount=${digest}&from=src/repo/`, reason: 'from-invalid' },
    { why: 'mount digest too short', query: 'mount=sha256:abc&from=src/repo', reason: 'digest-invalid', bytes: nowhere },
    { why: 'mount digest without algorithm', query: `mount=${hex}&from=src/repo`, reason: 'digest-invalid' },
    { why: 'mount digest in upper case', query: `mount=sha256:${hex.toUpperCase()}&from=src/repo`, reason: 'digest-invalid' },
    { why: 'mount digest empty', query: 'mount=&from=src/repo', reason: 'digest-invalid', bytes: nowhere },
    { why: 'mount digest malformed, no from', query: 'mount=sha256:abc', reason: 'digest-invalid', bytes: nowhere },
    // spec: ?mount= takes precedence; a declined mount opens a session, it is no single POST.
    { why: 'mount digest malformed, with ?digest=', query: `mount=sha256:abc&from=src/repo&digest=${digest}`, reason: 'digest-invalid' },
    { why: 'from names no repository', query: `mount=${digest}&from=src/nowhere`, reason: 'from-unknown' },
    { why: 'the blob is in another repository, not in from', query: `mount=${digest}&from=src/other`, reason: 'blob-unknown' },
    { why: 'the blob is in no repository', query: `mount=${sha256(nowhere)}&from=src/repo`, reason: 'blob-unknown', bytes: nowhere },
    { why: 'no from, the blob is in no repository', query: `mount=${sha256(nowhere)}`, reason: 'blob-unknown', bytes: nowhere },
    { why: 'no from, mountWithoutFrom: false', query: `mount=${digest}`, reason: 'from-missing', options: { mountWithoutFrom: false } },
    { why: 'mount: false', query: `mount=${digest}&from=src/repo`, reason: 'mount-off', options: { mount: false } },
    { why: 'mount: false, no from', query: `mount=${digest}`, reason: 'mount-off', options: { mount: false } },
    { why: 'the caller may not pull from', query: `mount=${digest}&from=src/repo`, reason: 'from-not-readable', options: auth, user: 'alice' },
    // Rights come before existence: the answer does not tell which repositories exist.
    { why: 'the caller may not pull from, which does not exist', query: `mount=${digest}&from=src/nowhere`, reason: 'from-not-readable', options: auth, user: 'alice' },
  ];
  for (const row of rows) {
    await t.test(`${row.why}: ?${row.query.slice(0, 60)}`, async (t) => {
      const registry = await startFor(t, row.options);
      const headers = row.user ? basic(row.user) : {};
      await registry.store.seedBlob('src/repo', held);
      await registry.store.seedBlob('src/other', 'src/other has other things');
      const reply = await mount(registry.url, 'team/target', row.query, headers);
      const query = new URLSearchParams(row.query);
      const from = query.get('from');
      t.strictSame(lastMount(registry), { digest: query.get('mount'), ...(from !== null && { from }), result: 'declined', reason: row.reason }, `journal: declined, ${row.reason}`);
      const bytes = row.bytes ?? held;
      assertError(t, await send(registry.url, 'GET', `/v2/team/target/blobs/${sha256(bytes)}`, { headers }), 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
      await assertSessionAndUse(t, registry.url, reply, 'team/target', bytes, headers);
    });
  }
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
