// spec "Resumable Push" and "Pushing a blob in chunks": a request that dies
// half-way, or that lies about its length, changes nothing in the session; the
// client reads the offset with `GET <location>` and resumes (or cancels).
// Nothing here sleeps: every wait is on an event (a response, a socket
// closing) or on state the registry reports.
import t from 'tap';
import { request, type ClientRequest, type OutgoingHttpHeaders } from 'node:http';
import { collectReply, sendRaw, sha256, type Reply } from './helpers/http.js';
import { seededBytes as bytesOf } from './helpers/bytes.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';
import { API_VERSION, OCTETS, at, call, checkError, open, patchChunk, rangeOf, type Test } from './helpers/upload.js';
import { startRegistry, type RegistryOptions, type RunningRegistry } from '../src/index.js';

const internalErrors = new WeakMap<RunningRegistry, Error[]>();

/** A registry for one test, recording internal errors: whatever a client does, a 500 is a bug. */
async function registryFor(t: Test, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const errors: Error[] = [];
  const registry = await startRegistry({ ...options, onError: (error) => errors.push(error) });
  internalErrors.set(registry, errors);
  t.teardown(async () => {
    // close() lets in-flight requests finish under an unref'd grace timer; should a request
    // never finish (a registry bug), hold the event loop so the close, and the tests after
    // this one, still run instead of the process exiting mid-teardown.
    const hold = setInterval(() => undefined, 60_000);
    try {
      await registry.close();
    } finally {
      clearInterval(hold);
    }
  });
  return registry;
}

function checkNoInternalErrors(t: Test, registry: RunningRegistry): void {
  t.same((internalErrors.get(registry) ?? []).map((e) => e.stack ?? e.message), [], 'no internal errors (500)');
}

/** A request whose body the test writes piece by piece, and may abandon. */
interface InFlight {
  req: ClientRequest;
  /** The reply; rejects if the request is destroyed first. */
  response: Promise<Reply>;
  /** Resolves when the client side of the connection has closed. */
  closed: Promise<void>;
}

function begin(registry: RunningRegistry, method: string, path: string, headers: OutgoingHttpHeaders): InFlight {
  const req = request({ host: '127.0.0.1', port: registry.port, method, path, headers, agent: false });
  const response = new Promise<Reply>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => collectReply(res).then(resolve, reject));
  });
  response.catch(() => undefined); // an abandoned request rejects; the test does not await it then
  const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
  req.flushHeaders();
  return { req, response, closed };
}

/**
 * Waits until the registry reports a state, yielding to the event loop (never
 * a timer) between looks: the registry's own sockets make progress meanwhile.
 * `state` describes what was last seen, for the failure message.
 */
async function until(what: string, condition: () => Promise<boolean>, state: () => Promise<string> = async () => ''): Promise<void> {
  for (let looks = 0; !(await condition()); looks++) {
    if (looks > 200_000) throw new Error(`gave up waiting for: ${what} ${await state()}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Bytes the registry holds for open uploads (committed and in flight). */
const uploadBytes = async (registry: RunningRegistry): Promise<number> => (await registry.store.usage()).uploadBytes;

/** Waits until the session has no request writing to it and holds exactly `bytes`: the aborted request is over. */
async function settled(registry: RunningRegistry, name: string, id: string, bytes: number): Promise<void> {
  const look = async () => ({ busy: (await registry.store.upload(name, id)).busy, held: await uploadBytes(registry) });
  await until(
    `the aborted request to end: session ${id} idle, holding ${bytes} bytes`,
    async () => {
      const { busy, held } = await look();
      return !busy && held === bytes;
    },
    async () => {
      const { busy, held } = await look();
      return `(after 200000 event-loop turns the session is ${busy ? 'still busy: the registry is still reading the aborted request' : 'idle'} and holds ${held} bytes)`;
    },
  );
}

t.test('a client that aborts mid-PATCH (Content-Range) changes nothing; the upload resumes and completes', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/patch';
  const bytes = bytesOf(1100);
  const { location, id } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 100));

  const inflight = begin(registry, 'PATCH', location, { ...OCTETS, 'Content-Range': '100-1099', 'Content-Length': 1000 });
  inflight.req.write(bytes.subarray(100, 600));
  await until('the registry holds the first 500 bytes of the chunk', async () => (await uploadBytes(registry)) === 600);
  t.equal(await rangeOf(t, registry, location), '0-99', 'bytes of a chunk in flight are not reported as received');

  inflight.req.destroy();
  await inflight.closed;
  await settled(registry, name, id, 100);
  t.equal(await rangeOf(t, registry, location), '0-99', 'after the abort: the range from before that PATCH');

  // spec "Resumable Push": send only what the registry lacks, from the offset it reports.
  await patchChunk(t, registry, location, 100, bytes.subarray(100));
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }));
  t.equal(put.status, 201, 'completed');
  t.equal(put.headers['docker-content-digest'], sha256(bytes));
  const blob = await call(t, registry.url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`);
  t.ok(blob.body.equals(bytes), 'the blob holds exactly the bytes, none of the aborted attempt twice');
  t.equal(await uploadBytes(registry), 0);
  checkNoInternalErrors(t, registry);
});

t.test('a client that aborts mid-PATCH can cancel the upload instead', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/cancel';
  const bytes = bytesOf(5000, 2);
  const { location, id } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 1000));

  const inflight = begin(registry, 'PATCH', location, { ...OCTETS, 'Content-Range': '1000-4999', 'Content-Length': 4000 });
  inflight.req.write(bytes.subarray(1000, 3000));
  await until('2000 bytes in flight', async () => (await uploadBytes(registry)) === 3000);
  inflight.req.destroy();
  await inflight.closed;
  await settled(registry, name, id, 1000);

  const cancel = await call(t, registry.url, 'DELETE', location);
  t.equal(cancel.status, 204, 'DELETE: 204');
  const usage = await registry.store.usage();
  t.equal(usage.uploads, 0, 'no session left');
  t.equal(usage.uploadBytes, 0, 'no bytes held');
  checkError(t, await call(t, registry.url, 'GET', location), 404, 'BLOB_UPLOAD_UNKNOWN', 'status after cancel');
  checkNoInternalErrors(t, registry);
});

t.test('aborts at other points: first chunk, streamed chunked PATCH, closing PUT, single POST', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/elsewhere';
  const bytes = bytesOf(200_000, 3);
  const digest = sha256(bytes);

  t.comment('the first chunk of an empty session');
  const { location, id } = await open(t, registry, name);
  let inflight = begin(registry, 'PATCH', location, { ...OCTETS, 'Content-Range': '0-49999', 'Content-Length': 50_000 });
  inflight.req.write(bytes.subarray(0, 10_000));
  await until('10000 bytes in flight', async () => (await uploadBytes(registry)) === 10_000);
  inflight.req.destroy();
  await inflight.closed;
  await settled(registry, name, id, 0);
  t.equal(await rangeOf(t, registry, location), '0-0', 'still empty');
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 50_000));

  t.comment('a streamed PATCH: chunked transfer-encoding, no Content-Range');
  inflight = begin(registry, 'PATCH', location, { ...OCTETS, 'Transfer-Encoding': 'chunked' });
  inflight.req.write(bytes.subarray(50_000, 60_000));
  inflight.req.write(bytes.subarray(60_000, 90_000));
  await until('40000 streamed bytes in flight', async () => (await uploadBytes(registry)) === 90_000);
  inflight.req.destroy();
  await inflight.closed;
  await settled(registry, name, id, 50_000);
  t.equal(await rangeOf(t, registry, location), '0-49999', 'the streamed bytes are gone');
  const streamed = await call(t, registry.url, 'PATCH', location, { body: bytes.subarray(50_000, 150_000), headers: { ...OCTETS, 'Transfer-Encoding': 'chunked' } });
  t.equal(streamed.status, 202);
  t.equal(streamed.headers.range, '0-149999');

  t.comment('the closing PUT carrying the last chunk');
  inflight = begin(registry, 'PUT', at(location, { digest }), { ...OCTETS, 'Content-Range': '150000-199999', 'Content-Length': 50_000 });
  inflight.req.write(bytes.subarray(150_000, 170_000));
  await until('20000 bytes of the PUT in flight', async () => (await uploadBytes(registry)) === 170_000);
  inflight.req.destroy();
  await inflight.closed;
  await settled(registry, name, id, 150_000);
  t.equal(await rangeOf(t, registry, location), '0-149999', 'the PUT added nothing');
  checkError(t, await call(t, registry.url, 'GET', `/v2/${name}/blobs/${digest}`), 404, 'BLOB_UNKNOWN', 'nothing stored');
  const put = await call(t, registry.url, 'PUT', at(location, { digest }), { body: bytes.subarray(150_000), headers: { ...OCTETS, 'Content-Range': '150000-199999' } });
  t.equal(put.status, 201, 'the PUT, sent again whole, completes');
  t.ok((await call(t, registry.url, 'GET', `/v2/${name}/blobs/${digest}`)).body.equals(bytes), 'exact bytes');

  t.comment('a single POST');
  const other = bytesOf(80_000, 4);
  inflight = begin(registry, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha256(other)}`, { ...OCTETS, 'Content-Length': other.length });
  inflight.req.write(other.subarray(0, 30_000));
  await until('30000 bytes of the POST in flight', async () => (await uploadBytes(registry)) === 30_000);
  inflight.req.destroy();
  await inflight.closed;
  await until('the POST is dropped', async () => {
    const usage = await registry.store.usage();
    return usage.uploads === 0 && usage.uploadBytes === 0;
  });
  checkError(t, await call(t, registry.url, 'GET', `/v2/${name}/blobs/${sha256(other)}`), 404, 'BLOB_UNKNOWN', 'aborted single POST stored nothing');
  checkNoInternalErrors(t, registry);
});

t.test('a second PATCH while one is writing is refused and changes nothing; the first completes', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/concurrent';
  const bytes = bytesOf(3000, 5);
  const { location } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 1000));

  const first = begin(registry, 'PATCH', location, { ...OCTETS, 'Content-Range': '1000-1999', 'Content-Length': 1000 });
  first.req.write(bytes.subarray(1000, 1500));
  await until('the first PATCH is writing', async () => (await uploadBytes(registry)) === 1500);

  for (const headers of [{ ...OCTETS, 'Content-Range': '1000-1999' }, OCTETS]) {
    const second = await call(t, registry.url, 'PATCH', location, { body: bytes.subarray(1000, 2000), headers });
    t.ok(second.status === 416 || second.status === 409 || second.status === 400, `concurrent PATCH refused (${second.status})`);
    t.equal(second.headers['content-type'], 'application/json');
    t.ok((SPEC_ERROR_CODES as readonly string[]).includes(second.json?.errors?.[0]?.code), 'with a spec error code');
  }
  t.equal(await uploadBytes(registry), 1500, 'the refused PATCHes wrote nothing');

  first.req.end(bytes.subarray(1500, 2000));
  const reply = await first.response;
  t.equal(reply.status, 202, 'the first PATCH completes');
  t.equal(reply.headers.range, '0-1999');
  await patchChunk(t, registry, location, 2000, bytes.subarray(2000));
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }));
  t.equal(put.status, 201);
  t.ok((await call(t, registry.url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`)).body.equals(bytes));
  checkNoInternalErrors(t, registry);
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits what a raw socket received into HTTP/1.1 responses (Content-Length framed). */
function parseResponses(raw: string): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`truncated response: ${JSON.stringify(rest.slice(0, 200))}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = status === 204 ? 0 : Number(headers['content-length'] ?? 0);
    responses.push({ status, headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return responses;
}

t.test('a body longer than its Content-Length on a keep-alive connection: a 4xx OCI envelope, and the server keeps serving', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/too-long';
  const extras: [string, Buffer][] = [
    ['text', Buffer.from('EXTRA BYTES THE HEADER DID NOT DECLARE')],
    ['binary', bytesOf(300, 9)],
  ];
  for (const [kind, extra] of extras) {
    const { location, id } = await open(t, registry, name);
    const declared = bytesOf(10, 8);
    const head =
      `PATCH ${location} HTTP/1.1\r\nHost: ${registry.host}\r\nConnection: keep-alive\r\n` +
      'Content-Type: application/octet-stream\r\nContent-Range: 0-9\r\nContent-Length: 10\r\n\r\n';
    const raw = await sendRaw(registry.port, Buffer.concat([Buffer.from(head, 'latin1'), declared, extra]));
    const responses = parseResponses(raw);
    t.ok(responses.length >= 1, `${kind}: the server answered (${responses.map((r) => r.status).join(', ')})`);
    for (const response of responses) {
      t.equal(response.headers['docker-distribution-api-version'], API_VERSION, `${kind} ${response.status}: Docker-Distribution-API-Version`);
    }
    const errors = responses.filter((r) => r.status >= 400);
    t.equal(errors.length, 1, `${kind}: one error response`);
    const error = errors[0];
    t.ok(error && error.status >= 400 && error.status < 500, `${kind}: the error is a 4xx (${error?.status})`);
    t.equal(error?.headers['content-type'], 'application/json', `${kind}: error Content-Type`);
    const envelope = JSON.parse(error?.body || '{}');
    t.ok((SPEC_ERROR_CODES as readonly string[]).includes(envelope.errors?.[0]?.code), `${kind}: OCI error envelope with a spec code (${envelope.errors?.[0]?.code})`);
    t.type(envelope.errors?.[0]?.message, 'string');
    t.equal(error?.headers.connection, 'close', `${kind}: the connection is closed after the error`);

    // The server keeps serving.
    const base = await call(t, registry.url, 'GET', '/v2/');
    t.equal(base.status, 200, `${kind}: GET /v2/ still served`);
    await until('the session is idle', async () => !(await registry.store.upload(name, id)).busy);

    // HTTP/1.1 answers in request order, so the first response belongs to the PATCH.
    // The session must agree with what the client was told about its PATCH.
    const range = await rangeOf(t, registry, location);
    const answer = responses[0]!;
    if (answer.status === 202) {
      t.equal(answer.headers.range, '0-9', `${kind}: the PATCH was answered 202 Range 0-9`);
      t.equal(range, '0-9', `${kind}: the session holds the 10 declared bytes, as its 202 said`);
    } else {
      t.equal(range, '0-0', `${kind}: the PATCH was answered ${answer.status}, so the session must not have changed (it reports Range ${range})`);
    }
    // Either way the client can go on from what GET reports.
    const offset = range === '0-0' ? 0 : Number(range?.split('-')[1]) + 1;
    if (offset === 0) await patchChunk(t, registry, location, 0, declared);
    const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(declared) }));
    t.equal(put.status, 201, `${kind}: the upload completes from the reported offset`);
  }
  checkNoInternalErrors(t, registry);
});

t.test('malformed chunked encoding in the middle of a PATCH body: a 4xx OCI envelope, nothing changes, the upload goes on', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/bad-chunking';
  const bytes = bytesOf(30, 7);
  const { location, id } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 10));

  // [what, body bytes after the headers] — the first chunk is well formed and reaches the session.
  const rows: [string, string][] = [
    ['a chunk size that is not hex', '5\r\nhello\r\nZZZ\r\nmore\r\n0\r\n\r\n'],
    ['a chunk longer than its size', '5\r\nhello, and more than five\r\n0\r\n\r\n'],
  ];
  for (const [what, body] of rows) {
    const head = `PATCH ${location} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const raw = sendRaw(registry.port, head + body);
    raw.catch(() => undefined); // awaited below; if the registry never answers, teardown closes the socket
    await settled(registry, name, id, 10);
    const responses = parseResponses(await raw);
    t.equal(responses.length, 1, `${what}: one response`);
    const [response] = responses;
    t.ok(response && response.status >= 400 && response.status < 500, `${what}: a 4xx (${response?.status})`);
    t.equal(response?.headers['docker-distribution-api-version'], API_VERSION, `${what}: Docker-Distribution-API-Version`);
    t.equal(response?.headers['content-type'], 'application/json', `${what}: error Content-Type`);
    const envelope = JSON.parse(response?.body || '{}');
    t.ok((SPEC_ERROR_CODES as readonly string[]).includes(envelope.errors?.[0]?.code), `${what}: OCI error envelope with a spec code`);
    t.equal(await rangeOf(t, registry, location), '0-9', `${what}: the half-read PATCH added nothing`);
  }
  await patchChunk(t, registry, location, 10, bytes.subarray(10, 30));
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }));
  t.equal(put.status, 201, 'the upload completes');
  checkNoInternalErrors(t, registry);
});

t.test('PATCH with chunked encoding and a Content-Range that the bytes do not match: 400 SIZE_INVALID, nothing changes', async (t) => {
  const registry = await registryFor(t);
  const name = 'abort/size';
  const bytes = bytesOf(300, 6);
  const { location, id } = await open(t, registry, name);
  await patchChunk(t, registry, location, 0, bytes.subarray(0, 100));

  // [method, Content-Range, bytes actually sent]
  const rows: [string, string, number][] = [
    ['PATCH', '100-199', 50], // fewer than declared
    ['PATCH', '100-199', 1], // far fewer
    ['PATCH', '100-149', 100], // more than declared
    ['PATCH', '100-100', 2],
    ['PUT', '100-299', 150],
    ['PUT', '100-199', 200],
  ];
  for (const [method, range, sent] of rows) {
    const what = `${method} chunked, Content-Range ${range}, ${sent} bytes sent`;
    const path = method === 'PUT' ? at(location, { digest: sha256(bytes.subarray(0, 100 + sent)) }) : location;
    const reply = await call(t, registry.url, method, path, {
      body: bytes.subarray(100, 100 + sent),
      headers: { ...OCTETS, 'Transfer-Encoding': 'chunked', 'Content-Range': range },
    });
    checkError(t, reply, 400, 'SIZE_INVALID', what);
    await settled(registry, name, id, 100);
    t.equal(await rangeOf(t, registry, location), '0-99', `${what}: status still 0-99`);
    if (method === 'PUT') {
      checkError(t, await call(t, registry.url, 'GET', `/v2/${name}/blobs/${sha256(bytes.subarray(0, 100 + sent))}`), 404, 'BLOB_UNKNOWN', `${what}: nothing stored`);
    }
  }

  // The right chunk, chunked, with a matching Content-Range, works.
  const good = await call(t, registry.url, 'PATCH', location, {
    body: bytes.subarray(100, 200),
    headers: { ...OCTETS, 'Transfer-Encoding': 'chunked', 'Content-Range': '100-199' },
  });
  t.equal(good.status, 202);
  t.equal(good.headers.range, '0-199');
  const put = await call(t, registry.url, 'PUT', at(location, { digest: sha256(bytes) }), {
    body: bytes.subarray(200),
    headers: { ...OCTETS, 'Transfer-Encoding': 'chunked', 'Content-Range': '200-299' },
  });
  t.equal(put.status, 201);
  t.ok((await call(t, registry.url, 'GET', `/v2/${name}/blobs/${sha256(bytes)}`)).body.equals(bytes));
  checkNoInternalErrors(t, registry);
});
