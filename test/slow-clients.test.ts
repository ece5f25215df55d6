// Slow and stuck clients cannot pin sockets or memory: idleTimeoutMs closes
// a connection on which nothing moves (silent, stalled mid-headers, stalled
// mid-body, a reader that stopped reading), keepAliveTimeoutMs closes an
// idle keep-alive connection, headersTimeoutMs cuts a slowloris that
// trickles its headers, requestTimeoutMs cuts a body trickled too slowly.
// A PATCH cut half-way leaves its session as it was before that PATCH,
// resumable, until the session itself expires.
//
// The timeouts are small options (hundreds of ms). Every wait is on an event
// (the server closing the socket, a response, a journal entry) or on state
// the registry reports; the only timers are the trickling clients themselves.
// No watchdogs: each test sets every other timeout to ten minutes, so the
// server closing the socket at all proves which timeout did it, however busy
// the machine (a registry that never closes fails on tap's test timeout).
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { mock } from 'node:test';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { DEFAULT_OPTIONS, startRegistry, type JournalEntry, type RegistryOptions, type RunningRegistry } from '../src/index.js';
import { send, sha256, type Reply } from './helpers/http.js';
import { seededBytes as bytesOf } from './helpers/bytes.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const OCTETS = { 'Content-Type': 'application/octet-stream' };
/** Every timeout a test is not about: far longer than any test runs. */
const NEVER = 10 * 60_000;


async function registryFor(t: Test, options: RegistryOptions): Promise<RunningRegistry> {
  const registry = await startRegistry({ ...options, onError: (error) => t.fail(`internal error (500): ${error.stack ?? error.message}`) });
  t.teardown(() => registry.close());
  return registry;
}

/** A raw TCP client: what it received, and when the server closed the connection. */
interface Raw {
  socket: Socket;
  received(): string;
  /** Resolves with ms from `mark()` to the server closing the connection. */
  closed(): Promise<number>;
  /** The moment the measured interval starts (set by the test; defaults to the connect). */
  mark(): void;
  connected: Promise<void>;
}

function raw(t: Test, registry: RunningRegistry): Raw {
  const socket = connect(registry.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let start = performance.now();
  const connected = new Promise<void>((resolve) => socket.once('connect', () => {
    start = performance.now();
    resolve();
  }));
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined); // a reset by the server is one of the ways it closes
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  t.teardown(() => socket.destroy());
  return {
    socket,
    connected,
    received: () => Buffer.concat(chunks).toString('latin1'),
    mark: () => {
      start = performance.now();
    },
    closed: () => closedAt.then((at) => at - start),
  };
}

/** Writes `pieces` one every `everyMs` (a slow client), until the socket closes. */
function trickle(socket: Socket, pieces: () => string, everyMs: number): void {
  const next = () => {
    if (socket.destroyed || !socket.writable) return;
    socket.write(pieces());
    setTimeout(next, everyMs).unref();
  };
  next();
}

/** One HTTP/1.1 response parsed from raw bytes (the first one). */
function firstResponse(text: string): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4, end + 4 + length) };
}

function checkEnvelope(t: Test, response: ReturnType<typeof firstResponse>, status: number, what: string): void {
  t.equal(response?.status, status, `${what}: ${status}`);
  t.equal(response?.headers['content-type'], 'application/json', `${what}: JSON body`);
  const body = response ? JSON.parse(response.body) : undefined;
  t.ok((SPEC_ERROR_CODES as readonly string[]).includes(body?.errors?.[0]?.code), `${what}: a spec error code (${body?.errors?.[0]?.code})`);
  t.type(body?.errors?.[0]?.message, 'string', `${what}: a message`);
}

/** Yields to the event loop (never a timer) until the registry reports a state. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  for (let looks = 0; !(await condition()); looks++) {
    if (looks > 100_000) throw new Error(`gave up waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function openSession(registry: RunningRegistry, name: string): Promise<{ location: string; id: string }> {
  const reply = await send(registry.url, 'POST', `/v2/${name}/blobs/uploads/`);
  if (reply.status !== 202) throw new Error(`POST answered ${reply.status}`);
  return { location: String(reply.headers.location), id: String(reply.headers['docker-upload-uuid']) };
}

function patch(registry: RunningRegistry, location: string, offset: number, chunk: Buffer): Promise<Reply> {
  return send(registry.url, 'PATCH', location, { body: chunk, headers: { ...OCTETS, 'Content-Range': `${offset}-${offset + chunk.length - 1}` } });
}

/** The registry still answers, promptly, on a fresh connection. */
async function stillServing(t: Test, registry: RunningRegistry): Promise<void> {
  const reply = await send(registry.url, 'GET', '/v2/');
  t.equal(reply.status, 200, 'the registry still serves');
}

t.test('the timeouts have documented defaults, and refuse nonsense', async (t) => {
  t.equal(DEFAULT_OPTIONS.headersTimeoutMs, 60_000);
  t.equal(DEFAULT_OPTIONS.requestTimeoutMs, 0, 'no request timeout by default: a large push is never cut');
  t.equal(DEFAULT_OPTIONS.keepAliveTimeoutMs, 5_000);
  t.equal(DEFAULT_OPTIONS.idleTimeoutMs, 60_000, 'what bounds a stalled client by default');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const [option, value] of [['headersTimeoutMs', '60 000'], ['requestTimeoutMs', '0'], ['keepAliveTimeoutMs', '5 000'], ['idleTimeoutMs', '60 000']]) {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${option}\` |`));
    t.ok(row?.split('|')[2]?.includes(value!), `README documents ${option} with its default ${value}`);
  }
  for (const option of ['headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'idleTimeoutMs']) {
    await t.rejects(startRegistry({ [option]: -1 }), { name: 'TypeError', message: new RegExp(`option ${option} must be`) }, `${option}: -1 refused`);
  }
});

t.test('idleTimeoutMs: a connection that sends nothing, or stops mid-headers, is closed; others are served meanwhile', async (t) => {
  const registry = await registryFor(t, { idleTimeoutMs: 200, headersTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const silent = raw(t, registry);
  await silent.connected;
  const midHeaders = raw(t, registry);
  await midHeaders.connected;
  midHeaders.socket.write('GET /v2/ HTTP/1.1\r\nHost: registry\r\nX-Half');
  midHeaders.mark();
  await stillServing(t, registry);

  const [silentMs, midMs] = await Promise.all([silent.closed(), midHeaders.closed()]);
  t.ok(silentMs >= 150, `a silent connection is closed by the server, not before the idle timeout (${silentMs} ms)`);
  t.equal(silent.received(), '', 'nothing was answered to a request never sent');
  t.ok(midMs >= 150, `a connection stalled mid-headers is closed, not before the idle timeout (${midMs} ms)`);
  await stillServing(t, registry);
});

t.test('idleTimeoutMs: 100 stalled connections at once are all closed, and never block a normal client', async (t) => {
  const registry = await registryFor(t, { idleTimeoutMs: 300, headersTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const stalled = Array.from({ length: 100 }, (_, i) => {
    const client = raw(t, registry);
    client.socket.write(i % 2 ? 'GET /v2/ HTTP/1.1\r\nHo' : `PATCH /v2/a/blobs/uploads/x HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n${'x'.repeat(10)}`);
    return client;
  });
  await Promise.all(stalled.map((c) => c.connected));
  const agent = new Agent({ keepAlive: true, maxSockets: 10 });
  t.teardown(() => agent.destroy());
  const statuses = await Promise.all(Array.from({ length: 50 }, () => new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: registry.port, path: '/v2/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  })));
  t.same(new Set(statuses), new Set([200]), '50 normal requests served while 100 connections stall');
  const closes = await Promise.all(stalled.map((c) => c.closed()));
  t.equal(closes.length, 100, 'every stalled connection was closed by the server');
});

t.test('keepAliveTimeoutMs: an idle keep-alive connection is closed after it, well before idleTimeoutMs', async (t) => {
  // node:http (20+) waits keepAliveTimeout plus a 1 s buffer before closing, so that it is never the one to race a client reusing the socket.
  const registry = await registryFor(t, { keepAliveTimeoutMs: 200, idleTimeoutMs: NEVER, headersTimeoutMs: NEVER });
  const client = raw(t, registry);
  await client.connected;
  const answered = new Promise<void>((resolve) => client.socket.on('data', () => {
    if (firstResponse(client.received())) resolve();
  }));
  client.socket.write('GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n');
  await answered;
  client.mark();
  const response = firstResponse(client.received());
  t.equal(response?.status, 200);
  t.not(response?.headers.connection, 'close', 'the connection was kept alive');
  const ms = await client.closed();
  t.ok(ms >= 150, `closed by keepAliveTimeoutMs (the idle timeout is ten minutes), not before it (${Math.round(ms)} ms)`);
});

t.test('headersTimeoutMs: a slowloris trickling header lines faster than the idle timeout is cut with 408', async (t) => {
  // Each line comes well within idleTimeoutMs, so only headersTimeoutMs can end this.
  const registry = await registryFor(t, { headersTimeoutMs: 300, idleTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const client = raw(t, registry);
  await client.connected;
  let line = 0;
  trickle(client.socket, () => (line++ === 0 ? 'GET /v2/ HTTP/1.1\r\nHost: registry\r\n' : `X-Slow-${line}: ${'a'.repeat(10)}\r\n`), 50);
  // node:http checks headersTimeout only every connectionsCheckingInterval (30 s by default): the
  // registry must shorten that, or this close comes after tap's timeout.
  const ms = await client.closed();
  t.ok(ms >= 250, `closed by headersTimeoutMs, not before it (${ms} ms)`);
  checkEnvelope(t, firstResponse(client.received()), 408, 'headers timeout');
  await stillServing(t, registry);
});

t.test('requestTimeoutMs: a PATCH body trickled slower than it is cut with 408; the session is as before, and resumes', async (t) => {
  const registry = await registryFor(t, { requestTimeoutMs: 500, idleTimeoutMs: NEVER, headersTimeoutMs: NEVER });
  const { location, id } = await openSession(registry, 'slow/request');
  const blob = bytesOf(2000, 1);
  t.equal((await patch(registry, location, 0, blob.subarray(0, 1000))).status, 202);

  const client = raw(t, registry);
  await client.connected;
  client.socket.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Range: 1000-1999\r\nContent-Length: 1000\r\n\r\n`);
  trickle(client.socket, () => 'x', 50);
  // node:http 20 never enforces a requestTimeout set below headersTimeout (here ten minutes), and
  // checks only every connectionsCheckingInterval: the registry must handle both, or this hangs.
  const ms = await client.closed();
  t.ok(ms >= 450, `closed by requestTimeoutMs, not before it (${ms} ms)`);
  checkEnvelope(t, firstResponse(client.received()), 408, 'request timeout');
  await until('the cut PATCH to be rolled back', async () => !(await registry.store.upload('slow/request', id)).busy);
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-999', 'the cut chunk left nothing');
  t.equal((await registry.store.usage()).uploadBytes, 1000);
  t.equal((await patch(registry, location, 1000, blob.subarray(1000))).status, 202, 'the upload resumes');
  t.equal((await send(registry.url, 'PUT', `${location}?digest=${sha256(blob)}`)).status, 201);
  t.ok((await send(registry.url, 'GET', `/v2/slow/request/blobs/${sha256(blob)}`)).body.equals(blob), 'stored byte for byte');
});

t.test('a client that stops mid-PATCH: cut at idleTimeoutMs, its chunk rolled back, the session resumable until it expires', async (t) => {
  // Mocked setInterval and Date drive the upload expiry; socket timeouts run on real time.
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  t.teardown(() => mock.timers.reset());
  const registry = await registryFor(t, { idleTimeoutMs: 200, uploadTimeoutMs: 60_000, headersTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const name = 'slow/stalled';
  const blob = bytesOf(3000, 2);

  // The client opens the session and sends a first chunk on one keep-alive connection, as real clients do,
  // then starts the second chunk on it and stops after 300 of its 1000 bytes.
  const client = raw(t, registry);
  await client.connected;
  const responses = (n: number) => new Promise<void>((resolve) => {
    const look = () => {
      if (client.received().split('HTTP/1.1 ').length - 1 >= n && client.received().endsWith('\r\n\r\n')) {
        client.socket.off('data', look);
        resolve();
      }
    };
    client.socket.on('data', look);
  });
  let answered = responses(1);
  client.socket.write(`POST /v2/${name}/blobs/uploads/ HTTP/1.1\r\nHost: registry\r\nContent-Length: 0\r\n\r\n`);
  await answered;
  const location = firstResponse(client.received())!.headers.location!;
  const id = firstResponse(client.received())!.headers['docker-upload-uuid']!;
  answered = responses(2);
  client.socket.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Range: 0-999\r\nContent-Length: 1000\r\n\r\n`);
  client.socket.write(blob.subarray(0, 1000));
  await answered;
  t.match(client.received(), /HTTP\/1\.1 202 Accepted[\s\S]*Range: 0-999/, 'the first chunk was accepted');
  client.socket.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Range: 1000-1999\r\nContent-Length: 1000\r\n\r\n`);
  client.socket.write(blob.subarray(1000, 1300));
  client.mark();

  // While it stalls, the session is held by that request: a second writer is turned away, the session stays.
  await until('the stalled chunk to reach the session', async () => (await registry.store.usage()).uploadBytes === 1300);
  const concurrent = await patch(registry, location, 1000, blob.subarray(1000, 2000));
  t.equal(concurrent.status, 416, 'a second writer meanwhile: 416');
  t.equal(concurrent.headers.range, '0-999', 'reporting the committed range');

  const ms = await client.closed();
  t.ok(ms >= 150, `the stalled connection is closed by the server, not before idleTimeoutMs (${ms} ms)`);
  await until('the stalled chunk to be rolled back', async () => !(await registry.store.upload(name, id)).busy);
  const status = await send(registry.url, 'GET', location);
  t.equal(status.status, 204);
  t.equal(status.headers.range, '0-999', 'the stalled chunk left nothing: the session is as after the first chunk');
  t.match(await registry.store.usage(), { uploads: 1, uploadBytes: 1000 }, 'the 300 stalled bytes are freed');

  // Resumable: the next chunk from where GET says.
  t.equal((await patch(registry, location, 1000, blob.subarray(1000, 2000))).status, 202, 'resumed from byte 1000');
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-1999');

  // Then abandoned for good: idle past uploadTimeoutMs, it expires and its bytes are freed.
  mock.timers.tick(59_000);
  t.equal((await send(registry.url, 'GET', location)).status, 204, 'still there before uploadTimeoutMs');
  mock.timers.tick(2_000);
  const gone = await send(registry.url, 'GET', location);
  t.equal(gone.status, 404, 'expired');
  t.equal(gone.json?.errors?.[0]?.code, 'BLOB_UPLOAD_UNKNOWN');
  t.match(await registry.store.usage(), { uploads: 0, uploadBytes: 0 }, 'and its bytes are freed');
});

t.test('stalled streamed PATCH, single POST and manifest PUT: each cut at idleTimeoutMs, nothing half-stored', async (t) => {
  const registry = await registryFor(t, { idleTimeoutMs: 200, headersTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const { location, id } = await openSession(registry, 'slow/others');
  const blob = bytesOf(1000, 3);
  const cases: [string, string][] = [
    ['streamed PATCH (chunked encoding)', `PATCH ${location} HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n${'y'.repeat(100)}\r\n`],
    ['single POST', `POST /v2/slow/others/blobs/uploads/?digest=${sha256(blob)} HTTP/1.1\r\nHost: r\r\nContent-Length: 1000\r\n\r\n${blob.subarray(0, 400).toString('latin1')}`],
    ['manifest PUT', 'PUT /v2/slow/others/manifests/v1 HTTP/1.1\r\nHost: r\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 500\r\n\r\n{"schemaVersion":2,'],
  ];
  for (const [what, bytes] of cases) {
    const client = raw(t, registry);
    await client.connected;
    client.socket.write(bytes);
    client.mark();
    const ms = await client.closed();
    t.ok(ms >= 150, `${what}: closed by the server, not before idleTimeoutMs (${ms} ms)`);
  }
  await until('the stalled requests to be rolled back', async () => {
    const usage = await registry.store.usage();
    return usage.uploads === 1 && usage.uploadBytes === 0 && !(await registry.store.upload('slow/others', id)).busy;
  });
  t.equal((await send(registry.url, 'GET', location)).headers.range, '0-0', 'the streamed PATCH left nothing');
  t.equal((await send(registry.url, 'HEAD', `/v2/slow/others/blobs/${sha256(blob)}`)).status, 404, 'the single POST stored nothing');
  t.equal((await send(registry.url, 'GET', '/v2/slow/others/manifests/v1')).status, 404, 'the manifest PUT stored nothing');
  t.match(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 1 }, 'only the open session remains, empty');
});

t.test('a reader that stops reading a large blob is cut at idleTimeoutMs; others read the same blob meanwhile', async (t) => {
  const registry = await registryFor(t, { idleTimeoutMs: 300, headersTimeoutMs: NEVER, keepAliveTimeoutMs: NEVER });
  const name = 'slow/reader';
  const blob = bytesOf(1024, 4);
  const big = Buffer.concat(Array.from({ length: 32 * 1024 }, () => blob)); // 32 MiB: more than the socket buffers hold
  const digest = sha256(big);
  t.equal((await send(registry.url, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: big, headers: OCTETS })).status, 201);

  const stuck = raw(t, registry);
  await stuck.connected;
  stuck.socket.pause(); // reads nothing: the server's writes back up
  // The journal records a request once its response is over: finished, or cut.
  const cut = new Promise<JournalEntry>((resolve) => {
    const listener = (entry: JournalEntry) => {
      if (entry.route !== 'blob' || entry.name !== name || entry.completed) return;
      registry.events.off('request', listener);
      resolve(entry);
    };
    registry.events.on('request', listener);
  });
  stuck.socket.write(`GET /v2/${name}/blobs/${digest} HTTP/1.1\r\nHost: registry\r\n\r\n`);
  const started = performance.now();

  const other = await send(registry.url, 'GET', `/v2/${name}/blobs/${digest}`);
  t.equal(other.status, 200);
  t.ok(other.body.equals(big), 'another client reads all 32 MiB meanwhile');

  const record = await cut;
  t.equal(record.status, 200, 'the stuck reader\'s response was cut mid-body (completed: false)');
  t.ok(record.bytesOut < big.length, `it got only what the socket buffers took (${record.bytesOut} of ${big.length} bytes)`);
  t.ok(performance.now() - started >= 250, 'not before idleTimeoutMs');
  await stillServing(t, registry);
});

t.test('stalled uploads that declare a huge Content-Length hold memory for the bytes they sent, not for what they declared', async (t) => {
  // A slowloris variant: declare 100 MB, send 1000 bytes, stall. The quota counts 1000 bytes per
  // request; the memory the registry sets aside must be of that order too, or 100 such clients
  // reserve gigabytes that maxStorageBytes never sees.
  const registry = await registryFor(t, { idleTimeoutMs: NEVER, headersTimeoutMs: NEVER });
  const sessions = await Promise.all(Array.from({ length: 50 }, () => openSession(registry, 'slow/declared')));
  const clients = Array.from({ length: 100 }, (_, i) => {
    const client = raw(t, registry);
    const body = 'x'.repeat(1000);
    client.socket.write(i < 50
      ? `PATCH ${sessions[i]!.location} HTTP/1.1\r\nHost: r\r\nContent-Range: 0-99999999\r\nContent-Length: 100000000\r\n\r\n${body}`
      : `POST /v2/slow/declared/blobs/uploads/?digest=sha256:${'a'.repeat(64)} HTTP/1.1\r\nHost: r\r\nContent-Length: 100000000\r\n\r\n${body}`);
    return client;
  });
  await until('every stalled request to have delivered its 1000 bytes', async () => (await registry.store.usage()).uploadBytes === 100 * 1000);
  t.match(await registry.store.usage(), { uploads: 100, uploadBytes: 100_000 }, 'the quota counts what was sent');
  // Measured on the sessions that hold the bytes, not the process: each has one first segment
  // (64 KiB), where sizing from the declared length would have set aside 8 MiB (the largest segment).
  const reserved = await Promise.all(sessions.map(async ({ id }) => (await registry.store.upload('slow/declared', id)).reservedBytes));
  t.same(reserved.filter((bytes) => bytes > 64 * 1024), [], 'no stalled PATCH session set aside more than one 64 KiB segment for its 1000 bytes');
  t.equal(reserved.filter((bytes) => bytes > 0).length, 50, 'every stalled PATCH session holds its bytes');
  for (const client of clients) client.socket.destroy();
  await until('the stalled requests to be rolled back', async () => (await registry.store.usage()).uploads === 50);
  t.match(await registry.store.usage(), { uploads: 50, uploadBytes: 0 }, 'everything freed once they are gone');
});
