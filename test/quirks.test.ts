// Quirk switches (README "Quirk switches"): each one makes the registry
// answer the way some real registry does, and each is off by default (the
// default is spec-exact). Every switch is seen over HTTP, next to the
// default it changes.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { pushBlob, pushImage } from './helpers/push.js';
import { assertCodeSays, headerLines, sendRawHeaders } from './helpers/fixtures.js';
import { createRegistry, DEFAULT_OPTIONS } from '../src/index.js';

/** The `t` a subtest callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const OCTETS = { 'Content-Type': 'application/octet-stream' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function assertSession(t: Test, reply: Reply, name: string): string {
  t.equal(reply.status, 202, `a session: 202 (${reply.body.toString('utf8').slice(0, 200)})`);
  const location = String(reply.headers.location);
  t.match(location, new RegExp(`^/v2/${name}/blobs/uploads/[0-9a-f-]{36}$`), 'Location is an upload session');
  t.equal(reply.headers.range, '0-0', 'nothing received');
  t.match(reply.headers['docker-upload-uuid'], UUID);
  return location;
}

function assertRefusedChunk(t: Test, reply: Reply, range: string, message: RegExp): void {
  t.equal(reply.status, 416, `416 (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.headers['content-type'], 'application/json');
  t.equal(reply.json?.errors?.[0]?.code, 'BLOB_UPLOAD_INVALID');
  t.match(reply.json?.errors?.[0]?.message, message);
  t.equal(reply.headers.range, range, `Range: ${range} (the session is unchanged)`);
  t.match(reply.headers['docker-upload-uuid'], UUID);
}

const patch = (url: string, location: string, bytes: Buffer, start?: number, headers: Record<string, string> = {}) =>
  send(url, 'PATCH', location, {
    body: bytes,
    headers: { ...OCTETS, ...(start === undefined ? {} : { 'Content-Range': `${start}-${start + bytes.length - 1}` }), ...headers },
  });

t.test('every quirk is off by default: DEFAULT_OPTIONS is what the README promises', async (t) => {
  // The oracle is the user manual's "Quirk switches" table, not literals copied from options.ts.
  // Each row's default is checked over HTTP in the tests below, next to the switch it changes.
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const rows = new Map(readme.split('\n').flatMap((line) => {
    const cells = /^\| `(\w+)` \| ([^|]+) \|/.exec(line);
    return cells ? [[cells[1]!, cells[2]!.trim()] as const] : [];
  }));
  const quirks = ['singlePostUpload', 'mount', 'chunkMinBytes', 'chunkMaxBytes', 'uploadPatchStatus', 'omitDigestHeader', 'tagsPagination', 'warnings', 'tagDeletes', 'blobRedirect', 'control', 'profile'];
  for (const quirk of quirks) {
    const documented = rows.get(quirk);
    t.ok(documented !== undefined, `README documents ${quirk}`);
    const actual = (DEFAULT_OPTIONS as Record<string, unknown>)[quirk];
    if (documented === 'none') t.notOk(quirk in DEFAULT_OPTIONS, `${quirk}: none by default`);
    else t.equal(`\`${JSON.stringify(actual).replaceAll('"', "'")}\``, documented, `${quirk}: the documented default ${documented}`);
  }
});

t.test('singlePostUpload: false — a POST ?digest= with the blob is answered as a plain 202 session', async (t) => {
  const bytes = Buffer.from('a blob sent in one POST');
  const digest = sha256(bytes);
  const post = (url: string) => send(url, 'POST', `/v2/quirks/single/blobs/uploads/?digest=${digest}`, { body: bytes, headers: OCTETS });

  const spec = await startFor(t);
  const created = await post(spec.url);
  t.equal(created.status, 201, 'default: the single POST stores the blob');
  t.equal(created.headers.location, `/v2/quirks/single/blobs/${digest}`);

  const registry = await startFor(t, { singlePostUpload: false });
  const { url } = registry;
  const location = assertSession(t, await post(url), 'quirks/single');
  t.equal((await send(url, 'HEAD', `/v2/quirks/single/blobs/${digest}`)).status, 404, 'the body was not stored');
  t.match(await registry.store.usage(), { uploads: 1, uploadBytes: 0, storedBytes: 0 }, 'an empty session is open');
  // spec end-4b: the client falls back to the session it was given.
  const put = await send(url, 'PUT', `${location}?digest=${digest}`, { body: bytes, headers: OCTETS });
  t.equal(put.status, 201, 'the session completes the push');
  t.equal(put.headers['docker-content-digest'], digest);
  t.ok((await send(url, 'GET', `/v2/quirks/single/blobs/${digest}`)).body.equals(bytes));

  await t.test('a mount and a plain POST are unchanged', async (t) => {
    const mountRegistry = await startFor(t, { singlePostUpload: false });
    const source = await send(mountRegistry.url, 'POST', '/v2/quirks/source/blobs/uploads/');
    const done = await send(mountRegistry.url, 'PUT', `${source.headers.location}?digest=${digest}`, { body: bytes, headers: OCTETS });
    t.equal(done.status, 201);
    const mounted = await send(mountRegistry.url, 'POST', `/v2/quirks/target/blobs/uploads/?mount=${digest}&from=quirks/source`);
    t.equal(mounted.status, 201, 'mount still works');
  });
});

t.test('chunkMinBytes — advertised as OCI-Chunk-Min-Length; a PATCH after a smaller chunk is 416', async (t) => {
  const spec = await startFor(t);
  t.equal((await send(spec.url, 'POST', '/v2/quirks/min/blobs/uploads/')).headers['oci-chunk-min-length'], undefined, 'default: not advertised');

  const { url } = await startFor(t, { chunkMinBytes: 100 });
  const opened = await send(url, 'POST', '/v2/quirks/min/blobs/uploads/');
  t.equal(opened.headers['oci-chunk-min-length'], '100', 'POST advertises the minimum');
  const location = assertSession(t, opened, 'quirks/min');

  const full = Buffer.alloc(100, 1);
  const small = Buffer.alloc(40, 2);
  t.equal((await patch(url, location, full, 0)).status, 202, 'a chunk of exactly the minimum');
  t.equal((await patch(url, location, small, 100)).status, 202, 'a smaller chunk is taken: it may be the last');
  const refused = await patch(url, location, Buffer.alloc(100, 3), 140);
  assertRefusedChunk(t, refused, '0-139', /the previous chunk had 40 bytes, less than OCI-Chunk-Min-Length 100, and was not the last/);
  t.equal((await send(url, 'GET', location)).headers.range, '0-139', 'the refused chunk was not stored');
  t.equal((await patch(url, location, Buffer.alloc(100, 3), 140)).status, 416, 'every later PATCH is refused too');
  // The small chunk was the last after all: closing without a body works.
  const whole = Buffer.concat([full, small]);
  const done = await send(url, 'PUT', `${location}?digest=${sha256(whole)}`);
  t.equal(done.status, 201, 'the PUT that closes the upload is taken');
  t.ok((await send(url, 'GET', `/v2/quirks/min/blobs/${sha256(whole)}`)).body.equals(whole));

  await t.test('a streamed PATCH (no Content-Range) counts the same', async (t) => {
    const location = (await send(url, 'POST', '/v2/quirks/min/blobs/uploads/')).headers.location!;
    t.equal((await patch(url, location, Buffer.alloc(10))).status, 202);
    assertRefusedChunk(t, await patch(url, location, Buffer.alloc(10)), '0-9', /previous chunk had 10 bytes/);
  });

  await t.test('the rule is about PATCHes: a closing PUT may carry the last bytes after a small chunk', async (t) => {
    const location = (await send(url, 'POST', '/v2/quirks/min/blobs/uploads/')).headers.location!;
    const first = Buffer.alloc(10, 4);
    const last = Buffer.alloc(10, 5);
    t.equal((await patch(url, location, first, 0)).status, 202);
    const whole = Buffer.concat([first, last]);
    const done = await send(url, 'PUT', `${location}?digest=${sha256(whole)}`, { body: last, headers: { ...OCTETS, 'Content-Range': '10-19' } });
    t.equal(done.status, 201);
  });

  await t.test('a single POST and a monolithic PUT are never refused', async (t) => {
    t.equal(await pushBlob(url, 'quirks/min', 'tiny'), sha256('tiny'));
    const location = (await send(url, 'POST', '/v2/quirks/min/blobs/uploads/')).headers.location!;
    t.equal((await send(url, 'PUT', `${location}?digest=${sha256('also tiny')}`, { body: 'also tiny', headers: OCTETS })).status, 201);
  });
});

t.test('chunkMaxBytes — a PATCH larger than the limit is 416 and changes nothing', async (t) => {
  const { url } = await startFor(t, { chunkMaxBytes: 100 });
  const location = assertSession(t, await send(url, 'POST', '/v2/quirks/max/blobs/uploads/'), 'quirks/max');
  assertRefusedChunk(t, await patch(url, location, Buffer.alloc(101, 1), 0), '0-0', /the chunk has 101 bytes, more than this registry's limit of 100 per request/);
  assertRefusedChunk(t, await patch(url, location, Buffer.alloc(101, 1)), '0-0', /101 bytes, more than .* 100/);
  // A body without a length is counted as it arrives.
  const streamed = await patch(url, location, Buffer.alloc(150, 1), undefined, { 'Transfer-Encoding': 'chunked' });
  assertRefusedChunk(t, streamed, '0-0', /the chunk is larger than this registry's limit of 100 bytes per request/);
  t.equal(streamed.headers.connection, 'close', 'the unread rest of the body closes the connection');
  t.equal((await send(url, 'GET', location)).headers.range, '0-0', 'nothing was stored');

  const first = Buffer.alloc(100, 2);
  const second = Buffer.alloc(100, 3);
  t.equal((await patch(url, location, first, 0)).status, 202, 'exactly the limit is taken');
  t.equal((await patch(url, location, second, undefined, { 'Transfer-Encoding': 'chunked' })).status, 202, 'streamed, within the limit');
  const whole = Buffer.concat([first, second]);
  t.equal((await send(url, 'PUT', `${location}?digest=${sha256(whole)}`)).status, 201);

  await t.test('the limit is per PATCH: a single POST is not cut', async (t) => {
    const big = Buffer.alloc(1000, 9);
    t.equal(await pushBlob(url, 'quirks/max', big), sha256(big));
  });
  const spec = await startFor(t);
  const specLocation = (await send(spec.url, 'POST', '/v2/quirks/max/blobs/uploads/')).headers.location!;
  t.equal((await patch(spec.url, specLocation, Buffer.alloc(5 * 1024 * 1024), 0)).status, 202, 'default: no limit');
});

t.test('mount: false — a mount request opens a normal upload session (202)', async (t) => {
  const bytes = Buffer.from('mountable');
  const spec = await startFor(t);
  const digest = await pushBlob(spec.url, 'quirks/from', bytes);
  t.equal((await send(spec.url, 'POST', `/v2/quirks/to/blobs/uploads/?mount=${digest}&from=quirks/from`)).status, 201, 'default: mounted');

  const { url } = await startFor(t, { mount: false });
  await pushBlob(url, 'quirks/from', bytes);
  const location = assertSession(t, await send(url, 'POST', `/v2/quirks/to/blobs/uploads/?mount=${digest}&from=quirks/from`), 'quirks/to');
  t.equal((await send(url, 'HEAD', `/v2/quirks/to/blobs/${digest}`)).status, 404, 'not mounted');
  t.equal((await send(url, 'PUT', `${location}?digest=${digest}`, { body: bytes, headers: OCTETS })).status, 201, 'the session takes the push');
});

t.test('uploadPatchStatus: 204 — a successful PATCH is 204 with Location and Range, no body', async (t) => {
  for (const [options, status] of [[{}, 202], [{ uploadPatchStatus: 202 as const }, 202], [{ uploadPatchStatus: 204 as const }, 204]] as const) {
    await t.test(`${JSON.stringify(options)} → ${status}`, async (t) => {
      const { url } = await startFor(t, options);
      const location = (await send(url, 'POST', '/v2/quirks/patch/blobs/uploads/')).headers.location!;
      const reply = await patch(url, location, Buffer.alloc(10, 1), 0);
      t.equal(reply.status, status);
      t.equal(reply.headers.location, location);
      t.equal(reply.headers.range, '0-9');
      t.match(reply.headers['docker-upload-uuid'], UUID);
      t.equal(reply.body.length, 0);
      t.equal(reply.headers['content-length'], status === 204 ? undefined : '0', status === 204 ? 'a 204 has no Content-Length (RFC 9110 §8.6)' : 'Content-Length: 0');
      t.equal((await send(url, 'PUT', `${location}?digest=${sha256(Buffer.alloc(10, 1))}`)).status, 201, 'the upload completes');
    });
  }
});

t.test('omitDigestHeader — no Docker-Content-Digest on manifest and blob responses', async (t) => {
  for (const omit of [false, true]) {
    await t.test(omit ? 'omitDigestHeader: true' : 'default', async (t) => {
      const { url } = await startFor(t, { omitDigestHeader: omit });
      const image = await pushImage(url, 'quirks/digest', 'v1');
      const blob = image.layers[0]!.digest;
      const chunk = Buffer.from('chunked blob');
      const location = (await send(url, 'POST', '/v2/quirks/digest/blobs/uploads/')).headers.location!;
      await patch(url, location, chunk, 0);
      const single = Buffer.from('single POST blob');
      const manifest = await send(url, 'PUT', '/v2/quirks/digest/manifests/v2', { body: image.bytes, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
      const rows: [string, Reply, string][] = [
        ['manifest PUT', manifest, image.digest],
        ['manifest GET', await send(url, 'GET', '/v2/quirks/digest/manifests/v1'), image.digest],
        ['manifest HEAD', await send(url, 'HEAD', `/v2/quirks/digest/manifests/${image.digest}`), image.digest],
        ['blob GET', await send(url, 'GET', `/v2/quirks/digest/blobs/${blob}`), blob],
        ['blob HEAD', await send(url, 'HEAD', `/v2/quirks/digest/blobs/${blob}`), blob],
        ['blob GET with Range', await send(url, 'GET', `/v2/quirks/digest/blobs/${blob}`, { headers: { Range: 'bytes=0-1' } }), blob],
        ['upload PUT', await send(url, 'PUT', `${location}?digest=${sha256(chunk)}`), sha256(chunk)],
        ['single POST', await send(url, 'POST', `/v2/quirks/digest/blobs/uploads/?digest=${sha256(single)}`, { body: single, headers: OCTETS }), sha256(single)],
        ['mount', await send(url, 'POST', `/v2/quirks/other/blobs/uploads/?mount=${blob}&from=quirks/digest`), blob],
        ['blob DELETE', await send(url, 'DELETE', `/v2/quirks/other/blobs/${blob}`), blob],
      ];
      for (const [what, reply, digest] of rows) {
        t.ok(reply.status >= 200 && reply.status < 300, `${what}: ${reply.status}`);
        t.equal(reply.headers['docker-content-digest'], omit ? undefined : digest, `${what}: Docker-Content-Digest ${omit ? 'left out' : 'sent'}`);
      }
      t.ok((await send(url, 'GET', '/v2/quirks/digest/manifests/v1')).body.equals(image.bytes), 'the content itself is unchanged');
    });
  }
});

t.test("tagsPagination — 'spec', 'ignore-n' (every tag, no Link), 'no-link' (n honoured, no Link)", async (t) => {
  const tags = ['a', 'b', 'c', 'd', 'e'];
  const rows: { mode?: 'spec' | 'ignore-n' | 'no-link'; query: string; tags: string[]; link?: string }[] = [
    { query: '?n=2', tags: ['a', 'b'], link: '</v2/quirks/tags/tags/list?n=2&last=b>; rel="next"' },
    { mode: 'spec', query: '?n=2&last=b', tags: ['c', 'd'], link: '</v2/quirks/tags/tags/list?n=2&last=d>; rel="next"' },
    { mode: 'spec', query: '?n=5', tags },
    { mode: 'ignore-n', query: '?n=2', tags },
    { mode: 'ignore-n', query: '?n=0', tags },
    { mode: 'ignore-n', query: '', tags },
    { mode: 'no-link', query: '?n=2', tags: ['a', 'b'] },
    { mode: 'no-link', query: '?n=2&last=b', tags: ['c', 'd'] },
    { mode: 'no-link', query: '?n=0', tags: [] },
    { mode: 'no-link', query: '', tags },
  ];
  const registries = new Map<string, string>();
  for (const row of rows) {
    const key = row.mode ?? 'default';
    if (!registries.has(key)) {
      const { url } = await startFor(t, row.mode ? { tagsPagination: row.mode } : {});
      for (const tag of tags) await pushImage(url, 'quirks/tags', tag);
      registries.set(key, url);
    }
    await t.test(`${key} ${row.query || '(no query)'}`, async (t) => {
      const reply = await send(registries.get(key)!, 'GET', `/v2/quirks/tags/tags/list${row.query}`);
      t.equal(reply.status, 200);
      t.strictSame(reply.json, { name: 'quirks/tags', tags: row.tags });
      t.equal(reply.headers.link, row.link, row.link ? 'Link to the next page' : 'no Link header');
    });
  }
  t.throws(() => createRegistry({ tagsPagination: 'sometimes' as never }), { name: 'TypeError', message: /tagsPagination.*'spec'.*'ignore-n'.*'no-link'/ });
});

t.test('warnings — `Warning: 299 - "<text>"` on every response, one header line each', async (t) => {
  const registry = await startFor(t, { warnings: ['this registry is a test double', 'second warning'], control: true, blobRedirect: true, rateLimit: { requests: 1000, perSeconds: 60 } });
  const { url } = registry;
  const image = await pushImage(url, 'quirks/warn', 'v1');
  const blob = image.layers[0]!.digest;
  const redirect = await send(url, 'GET', `/v2/quirks/warn/blobs/${blob}`);
  registry.faults.add({ match: { route: 'catalog' }, action: { status: 503 } });
  const requests: [string, string][] = [
    ['GET', '/v2/'],
    ['HEAD', '/v2/'],
    ['GET', '/v2/quirks/warn/manifests/v1'],
    ['GET', '/v2/quirks/warn/manifests/missing'],
    ['GET', '/v2/quirks/warn/tags/list'],
    ['GET', `/v2/quirks/warn/blobs/${blob}`],
    ['GET', String(redirect.headers.location)],
    ['POST', '/v2/quirks/warn/blobs/uploads/'],
    ['PATCH', '/v2/quirks/warn/blobs/uploads/'],
    ['GET', '/v2/_catalog'],
    ['GET', '/not-the-api'],
    ['GET', '/_oci-test-registry/health'],
  ];
  for (const [method, path] of requests) {
    const reply = await sendRawHeaders(url, method, path);
    t.strictSame(headerLines(reply.rawHeaders, 'Warning'), ['299 - "this registry is a test double"', '299 - "second warning"'], `${method} ${path.slice(0, 60)} → ${reply.status}`);
  }
  t.equal((await sendRawHeaders(url, 'GET', '/v2/_catalog')).status, 200, 'the faulted catalog request was the one above');

  const plain = await startFor(t);
  t.strictSame(headerLines((await sendRawHeaders(plain.url, 'GET', '/v2/')).rawHeaders, 'Warning'), [], 'default: no Warning');
  for (const bad of [['say "hi"'], ['line\nbreak'], ['back\\slash'], ['x'.repeat(4097)]]) {
    t.throws(() => createRegistry({ warnings: bad }), { name: 'TypeError', message: /option warnings must be texts without quotes, backslashes or line breaks, at most 4096 bytes in all/ });
  }
});

t.test('tagDeletes: false — DELETE of a tag is 405 UNSUPPORTED; DELETE by digest still works', async (t) => {
  const spec = await startFor(t);
  await pushImage(spec.url, 'quirks/untag', 'v1');
  t.equal((await send(spec.url, 'DELETE', '/v2/quirks/untag/manifests/v1')).status, 202, 'default: a tag can be deleted');

  const { url } = await startFor(t, { tagDeletes: false });
  const image = await pushImage(url, 'quirks/untag', 'v1');
  const refused = await send(url, 'DELETE', '/v2/quirks/untag/manifests/v1');
  t.equal(refused.status, 405);
  t.equal(refused.headers.allow, 'GET, HEAD, PUT');
  t.equal(refused.headers['content-type'], 'application/json');
  assertCodeSays(t, refused.json, 'UNSUPPORTED', /by digest/, 'DELETE of a tag');
  t.equal((await send(url, 'GET', '/v2/quirks/untag/manifests/v1')).status, 200, 'the tag is still there');
  t.equal((await send(url, 'DELETE', `/v2/quirks/untag/manifests/${image.digest}`)).status, 202, 'DELETE by digest works');
  t.equal((await send(url, 'GET', '/v2/quirks/untag/manifests/v1')).status, 404, 'and takes the tag with it');
  t.equal((await send(url, 'DELETE', `/v2/quirks/untag/blobs/${image.config.digest}`)).status, 202, 'blob deletes are unaffected');
});
