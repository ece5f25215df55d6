// spec "Pulling blobs", "Checking if content exists in the registry" and
// "Resumable Pull" (end-2): GET / HEAD of a blob, Range requests, digests in
// the URL, and a blob's visibility per repository.
import t from 'tap';
import { send, sendRaw, sha256, sha512, startFor } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';
import { seededBytes } from './helpers/bytes.js';
import { API_VERSION, call, checkError } from './helpers/upload.js';

/** Pushes `data` as POST, one PATCH per entry of `chunks` (with Content-Range), and a PUT carrying the rest. */
async function pushInChunks(base: string, name: string, data: Buffer, chunks: number[]): Promise<string> {
  const post = await send(base, 'POST', `/v2/${name}/blobs/uploads/`);
  if (post.status !== 202) throw new Error(`POST answered ${post.status}`);
  let location = String(post.headers.location);
  let offset = 0;
  for (const length of chunks) {
    const reply = await send(base, 'PATCH', location, {
      body: data.subarray(offset, offset + length),
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + length - 1}` },
    });
    if (reply.status !== 202) throw new Error(`PATCH answered ${reply.status}: ${reply.body}`);
    location = String(reply.headers.location);
    offset += length;
  }
  const digest = sha256(data);
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  const rest = data.subarray(offset);
  const put = await send(base, 'PUT', url.pathname + url.search, {
    body: rest,
    headers: rest.length ? { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${data.length - 1}` } : {},
  });
  if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body}`);
  return digest;
}

t.test('GET and HEAD of a blob: 200, Content-Length, Docker-Content-Digest, octet-stream', async (t) => {
  const registry = await startFor(t);
  const bytes = Buffer.from('a blob of twenty-nine bytes!!');
  const digest = await pushBlob(registry.url, 'pull/plain', bytes);
  const path = `/v2/pull/plain/blobs/${digest}`;

  const get = await call(t, registry.url, 'GET', path);
  t.equal(get.status, 200);
  t.equal(get.headers['content-length'], String(bytes.length));
  t.equal(get.headers['docker-content-digest'], digest);
  t.equal(get.headers['content-type'], 'application/octet-stream');
  t.equal(get.headers['content-range'], undefined, 'no Content-Range on a whole-blob answer');
  t.ok(get.body.equals(bytes), 'exact bytes');

  const head = await call(t, registry.url, 'HEAD', path);
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], String(bytes.length), 'HEAD: Content-Length of the blob');
  t.equal(head.headers['docker-content-digest'], digest);
  t.equal(head.headers['content-type'], 'application/octet-stream');

  // A client that percent-encodes the ':' of the digest addresses the same blob.
  const encoded = await call(t, registry.url, 'GET', `/v2/pull/plain/blobs/${digest.replace(':', '%3A')}`);
  t.equal(encoded.status, 200);
  t.ok(encoded.body.equals(bytes));
});

t.test('blob responses: ETag is the quoted digest, Accept-Ranges: bytes, and cacheable (content-addressed)', async (t) => {
  // RFC 9110 §8.8.3 (a strong validator), §14.3 (ranges are served, see "Resumable Pull"); the bytes
  // behind a digest never change, so a cache may keep them.
  const registry = await startFor(t);
  const bytes = Buffer.from('cache me');
  const digest = await pushBlob(registry.url, 'pull/headers', bytes);
  for (const [method, headers] of [['GET', {}], ['HEAD', {}], ['GET', { Range: 'bytes=0-1' }]] as const) {
    const reply = await call(t, registry.url, method, `/v2/pull/headers/blobs/${digest}`, { headers });
    t.equal(reply.status, 'Range' in headers ? 206 : 200);
    t.equal(reply.headers.etag, `"${digest}"`, `${method}: ETag "<digest>"`);
    t.equal(reply.headers['accept-ranges'], 'bytes', `${method}: Accept-Ranges: bytes`);
    t.match(String(reply.headers['cache-control']), /\bmax-age=[1-9]\d*/, `${method}: Cache-Control allows caching`);
  }
});

t.test('an empty blob: 200 with no bytes; every range is unsatisfiable (416 bytes */0)', async (t) => {
  const registry = await startFor(t);
  const digest = await pushBlob(registry.url, 'pull/empty', Buffer.alloc(0));
  t.equal(digest, 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const path = `/v2/pull/empty/blobs/${digest}`;
  const get = await call(t, registry.url, 'GET', path);
  t.equal(get.status, 200);
  t.equal(get.headers['content-length'], '0');
  t.equal(get.headers['docker-content-digest'], digest);
  t.equal(get.body.length, 0);
  const head = await call(t, registry.url, 'HEAD', path);
  t.equal(head.status, 200);
  t.equal(head.headers['content-length'], '0');
  for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-1']) {
    const reply = await call(t, registry.url, 'GET', path, { headers: { Range: range } });
    checkError(t, reply, 416, [...SPEC_ERROR_CODES], range, false);
    t.equal(reply.headers['content-range'], 'bytes */0', `${range}: Content-Range bytes */0`);
  }
});

t.test('Range requests on a blob stored as several segments (spec "Resumable Pull", RFC 9110 §14)', async (t) => {
  const registry = await startFor(t);
  const name = 'pull/ranges';
  // Odd sizes so that no boundary falls on a power of two; several MiB in all.
  const chunks = [1_000_003, 1_500_007, 2_000_011];
  const data = seededBytes(chunks.reduce((a, b) => a + b, 0) + 300_001, 0x0c1);
  const digest = await pushInChunks(registry.url, name, data, chunks);
  const size = data.length;
  const path = `/v2/${name}/blobs/${digest}`;

  // The point of the test: the blob really is several segments, and we aim at their seams.
  const stored = await registry.store.blob(name, digest);
  t.ok(stored, 'stored');
  t.equal(stored!.size, size);
  t.ok(stored!.segments.length >= 3, `stored as ${stored!.segments.length} segments`);
  t.ok(Buffer.concat(stored!.segments as Buffer[]).equals(data), 'segments hold the pushed bytes');
  const seams: number[] = [];
  let offset = 0;
  for (const segment of stored!.segments.slice(0, -1)) seams.push((offset += segment.length));

  const whole = await call(t, registry.url, 'GET', path);
  t.equal(whole.status, 200);
  t.equal(whole.headers['content-length'], String(size));
  t.ok(whole.body.equals(data), 'whole blob, exact bytes');

  // [Range header, first byte, last byte] → 206 Content-Range: bytes first-last/size.
  const rows: [string, number, number][] = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-99', 0, 99],
    ['bytes=0-', 0, size - 1],
    [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
    [`bytes=${size - 1}-`, size - 1, size - 1],
    ['bytes=-1', size - 1, size - 1],
    ['bytes=-100', size - 100, size - 1],
    [`bytes=-${size}`, 0, size - 1],
    [`bytes=-${size + 1000}`, 0, size - 1], // a suffix longer than the blob is the whole blob
    [`bytes=10-${size + 1000}`, 10, size - 1], // a last-pos past the end is clamped
    [`bytes=1-${size - 2}`, 1, size - 2], // crosses every seam
    ['bytes=12345-12345', 12345, 12345],
  ];
  for (const seam of seams) {
    rows.push(
      [`bytes=${seam - 1}-${seam - 1}`, seam - 1, seam - 1], // last byte of a segment
      [`bytes=${seam}-${seam}`, seam, seam], // first byte of the next
      [`bytes=${seam - 1}-${seam}`, seam - 1, seam], // two bytes across the seam
      [`bytes=${seam - 4096}-${seam + 4095}`, seam - 4096, seam + 4095],
      [`bytes=${seam}-`, seam, size - 1],
      [`bytes=${seam + 1}-`, seam + 1, size - 1],
      [`bytes=-${size - seam + 1}`, seam - 1, size - 1],
    );
  }
  if (seams.length >= 2) rows.push([`bytes=${seams[0]! - 7}-${seams[1]! + 7}`, seams[0]! - 7, seams[1]! + 7]);

  for (const [range, first, last] of rows) {
    const reply = await call(t, registry.url, 'GET', path, { headers: { Range: range } });
    t.equal(reply.status, 206, `${range}: 206`);
    t.equal(reply.headers['content-range'], `bytes ${first}-${last}/${size}`, `${range}: Content-Range`);
    t.equal(reply.headers['content-length'], String(last - first + 1), `${range}: Content-Length`);
    t.equal(reply.headers['docker-content-digest'], digest, `${range}: Docker-Content-Digest`);
    t.equal(reply.headers['content-type'], 'application/octet-stream');
    t.equal(reply.body.length, last - first + 1, `${range}: body length`);
    t.ok(reply.body.equals(data.subarray(first, last + 1)), `${range}: exact bytes`);
  }

  // HEAD with a Range: the 206 headers, no body.
  const head = await call(t, registry.url, 'HEAD', path, { headers: { Range: `bytes=${seams[0]! - 1}-${seams[0]!}` } });
  t.equal(head.status, 206);
  t.equal(head.headers['content-range'], `bytes ${seams[0]! - 1}-${seams[0]!}/${size}`);
  t.equal(head.headers['content-length'], '2');

  // Unsatisfiable: 416 with `Content-Range: bytes */size`.
  for (const range of [`bytes=${size}-`, `bytes=${size}-${size + 10}`, `bytes=${size + 100}-`, 'bytes=-0', 'bytes=99999999999999999999-']) {
    for (const method of ['GET', 'HEAD']) {
      const reply = await call(t, registry.url, method, path, { headers: { Range: range } });
      checkError(t, reply, 416, [...SPEC_ERROR_CODES], `${method} ${range}`, method === 'HEAD');
      t.equal(reply.headers['content-range'], `bytes */${size}`, `${method} ${range}: Content-Range bytes */${size}`);
    }
  }

  // A Range we cannot use (malformed, another unit, several ranges) is ignored: 200 and the whole blob.
  const ignored = [
    'bytes=0-1,3-4',
    'bytes=0-0, -1',
    'bytes=5-3',
    'items=0-10',
    'bytes=abc',
    'bytes=-',
    'bytes=1-2-3',
    '0-10',
    'bytes 0-10',
    'bytes=--1',
    'bytes=0x10-0x20',
  ];
  for (const range of ignored) {
    const reply = await call(t, registry.url, 'GET', path, { headers: { Range: range } });
    t.equal(reply.status, 200, `${range}: ignored, 200`);
    t.equal(reply.headers['content-range'], undefined, `${range}: no Content-Range`);
    t.equal(reply.headers['content-length'], String(size));
    t.ok(reply.body.equals(data), `${range}: whole blob`);
  }
});

t.test('a blob linked in one repository is unknown in another (404 BLOB_UNKNOWN)', async (t) => {
  const registry = await startFor(t);
  const digest = await pushBlob(registry.url, 'team/a', 'only in a');
  await pushBlob(registry.url, 'team/b', 'something else in b');

  t.equal((await call(t, registry.url, 'GET', `/v2/team/a/blobs/${digest}`)).status, 200);
  for (const method of ['GET', 'HEAD']) {
    const reply = await call(t, registry.url, method, `/v2/team/b/blobs/${digest}`);
    checkError(t, reply, 404, 'BLOB_UNKNOWN', `${method} in team/b`, method === 'HEAD');
    t.equal(reply.headers['docker-content-digest'], undefined, 'no digest header on a miss');
  }
  // A repository that does not exist at all: 404 as well.
  const nowhere = await call(t, registry.url, 'GET', `/v2/team/c/blobs/${digest}`);
  checkError(t, nowhere, 404, ['BLOB_UNKNOWN', 'NAME_UNKNOWN']);
  // A digest nobody pushed.
  const unknown = await call(t, registry.url, 'GET', `/v2/team/a/blobs/${sha256('never pushed')}`);
  checkError(t, unknown, 404, 'BLOB_UNKNOWN');

  // Pushing the same bytes into b links them there too.
  t.equal(await pushBlob(registry.url, 'team/b', 'only in a'), digest);
  t.equal((await call(t, registry.url, 'GET', `/v2/team/b/blobs/${digest}`)).status, 200);
});

t.test('an invalid digest in the URL is 400 DIGEST_INVALID', async (t) => {
  const registry = await startFor(t);
  await pushBlob(registry.url, 'digests/here', 'x');
  const hex64 = 'a'.repeat(64);
  const rows: [string, string][] = [
    ['malformed: no algorithm', 'notadigest'],
    ['malformed: no encoded part', 'sha256:'],
    ['malformed: no colon', `sha256${hex64}`],
    ['malformed: two colons', `sha256:${hex64}:x`],
    ['malformed: empty algorithm', `:${hex64}`],
    ['wrong length (short)', 'sha256:abc'],
    ['wrong length (65)', `sha256:${hex64}a`],
    ['wrong length for sha512', `sha512:${hex64}`],
    ['uppercase hex', `sha256:${'A'.repeat(64)}`],
    ['mixed-case hex', `sha256:${'aB'.repeat(32)}`],
    ['not hex', `sha256:${'g'.repeat(64)}`],
    ['uppercase algorithm', `SHA256:${hex64}`],
    ['unknown algorithm md5', `md5:${'d41d8cd98f00b204e9800998ecf8427e'}`],
    ['unknown algorithm sha1', `sha1:${'da39a3ee5e6b4b0d3255bfef95601890afd80709'}`],
    ['unknown algorithm, sha256-sized', `blake3:${hex64}`],
  ];
  for (const [why, digest] of rows) {
    for (const method of ['GET', 'HEAD']) {
      const reply = await call(t, registry.url, method, `/v2/digests/here/blobs/${digest}`);
      checkError(t, reply, 400, 'DIGEST_INVALID', `${method} ${why}`, method === 'HEAD');
    }
  }
});

t.test('sha512 blobs work end to end', async (t) => {
  const registry = await startFor(t);
  const bytes = seededBytes(70_000, 512);
  const digest = sha512(bytes);
  const post = await call(t, registry.url, 'POST', `/v2/sha/five-twelve/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  t.equal(post.status, 201);
  t.equal(post.headers.location, `/v2/sha/five-twelve/blobs/${digest}`);
  t.equal(post.headers['docker-content-digest'], digest);

  const get = await call(t, registry.url, 'GET', new URL(String(post.headers.location), registry.url).pathname);
  t.equal(get.status, 200);
  t.equal(get.headers['docker-content-digest'], digest);
  t.equal(get.headers['content-length'], String(bytes.length));
  t.ok(get.body.equals(bytes), 'exact bytes');

  const head = await call(t, registry.url, 'HEAD', `/v2/sha/five-twelve/blobs/${digest}`);
  t.equal(head.status, 200);
  t.equal(head.headers['docker-content-digest'], digest);
  t.equal(head.headers['content-length'], String(bytes.length));

  const range = await call(t, registry.url, 'GET', `/v2/sha/five-twelve/blobs/${digest}`, { headers: { Range: 'bytes=65530-65545' } });
  t.equal(range.status, 206);
  t.equal(range.headers['content-range'], `bytes 65530-65545/${bytes.length}`);
  t.ok(range.body.equals(bytes.subarray(65530, 65546)));

  // Uppercase sha512 hex is as invalid as uppercase sha256.
  const upper = await call(t, registry.url, 'GET', `/v2/sha/five-twelve/blobs/${digest.toUpperCase().replace('SHA512', 'sha512')}`);
  checkError(t, upper, 400, 'DIGEST_INVALID');
});

t.test('HEAD never has a body, on the wire: pipelined HEADs leave the next response intact', async (t) => {
  const registry = await startFor(t);
  const bytes = Buffer.from('bytes a HEAD must not send');
  const digest = await pushBlob(registry.url, 'wire/head', bytes);
  const blob = `/v2/wire/head/blobs/${digest}`;
  // [method, path, extra header lines, expected status]
  const requests: [string, string, string, number][] = [
    ['HEAD', blob, '', 200],
    ['HEAD', `/v2/wire/head/blobs/${sha256('absent')}`, '', 404],
    ['HEAD', '/v2/wire/head/blobs/sha256:nothex', '', 400],
    ['HEAD', '/v2/Wire/head/blobs/' + digest, '', 400],
    ['HEAD', blob, 'Range: bytes=0-3\r\n', 206],
    ['HEAD', blob, 'Range: bytes=999-\r\n', 416],
    ['GET', blob, 'Connection: close\r\n', 200],
  ];
  const raw = requests.map(([method, path, extra]) => `${method} ${path} HTTP/1.1\r\nHost: ${registry.host}\r\n${extra}\r\n`).join('');
  let rest = await sendRaw(registry.port, raw);
  for (const [method, path, , status] of requests) {
    const end = rest.indexOf('\r\n\r\n');
    t.ok(end > 0, `${method} ${path.slice(0, 60)}: a response`);
    if (end < 0) break;
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n');
    const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    t.match(statusLine, new RegExp(`^HTTP/1\\.1 ${status} `), `${method} ${path.slice(0, 60)}: ${status} (${statusLine})`);
    t.equal(headers.get('docker-distribution-api-version'), API_VERSION);
    t.notOk(headers.has('transfer-encoding'), 'no chunked body');
    // A HEAD response ends with its headers, whatever Content-Length says; a GET carries Content-Length bytes.
    const length = method === 'HEAD' ? 0 : Number(headers.get('content-length'));
    if (method === 'GET') t.equal(rest.slice(end + 4, end + 4 + length), bytes.toString('latin1'), 'GET after the HEADs: exact bytes');
    rest = rest.slice(end + 4 + length);
  }
  t.equal(rest, '', 'nothing left over on the connection');
});
