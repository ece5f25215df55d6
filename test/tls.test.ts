// HTTPS and HTTP/2 (README "HTTPS and HTTP/2"): the generated CA and server
// certificate, node's own clients over both protocols, refusals (wrong CA,
// unknown name, plain HTTP, mutual TLS without a valid client certificate),
// bad cert/key options, faults over h2, and node:http2's limits.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as http2Connect, constants as h2, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { startRegistry, type RunningRegistry } from '../src/index.js';
import { collectReply, sendRaw, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import { HTTP2_CONNECTION_WINDOW, HTTP2_LIMITS } from '../src/server.js';

/** A temp directory removed after the test. */
function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** startFor with TLS options: it registers the registry's CA with the shared send/pushBlob helpers. */
const start = startFor;

/** One HTTPS/1.1 request; rejects with the TLS error when the handshake fails. */
function get(url: string, options: RequestOptions = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent: false, method, ...options }, (res) => collectReply(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

/** One request on an HTTP/2 session; the stream's error (a reset) rejects. */
function h2get(session: ClientHttp2Session, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ [h2.HTTP2_HEADER_PATH]: path, [h2.HTTP2_HEADER_METHOD]: method });
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve({ status: Number(headers[':status']), headers, body: Buffer.concat(chunks) }));
    stream.end();
  });
}

function h2session(t: { teardown(fn: () => unknown): void }, url: string, ca: string | undefined): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url, { ca });
    // The server's SETTINGS (its limits) arrive first on every h2 connection.
    session.once('remoteSettings', () => resolve(session));
    session.once('error', reject);
    t.teardown(() => session.destroy());
  });
}

t.test('the generated certificates: ECDSA P-256, random serials, SANs for loopback and tls.hosts; openssl and node:crypto verify them', async (t) => {
  const registry = await start(t, { tls: { hosts: ['registry.test', '10.9.8.7'] } });
  const tls = registry.tls!;
  t.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = new X509Certificate(tls.ca!);
  const cert = new X509Certificate(tls.cert);
  t.ok(ca.ca, 'the CA certificate is a CA');
  t.notOk(cert.ca, 'the server certificate is not');
  t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the CA');
  t.ok(ca.verify(ca.publicKey), 'the CA is self-signed');
  t.equal(cert.subjectAltName, 'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, DNS:registry.test, IP Address:10.9.8.7');
  t.equal(cert.checkHost('registry.test'), 'registry.test');
  t.equal(cert.checkIP('::1'), '::1');
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  t.ok(lifetime >= 24 * 3600_000 && lifetime <= 48 * 3600_000, `valid for a day or so (${lifetime / 3600_000} h)`);
  const other = await start(t, { tls: true });
  t.not(new X509Certificate(other.tls!.cert).serialNumber, cert.serialNumber, 'serial numbers differ between registries');
  t.not(new X509Certificate(other.tls!.ca!).serialNumber, ca.serialNumber);

  const dir = tempDir(t);
  writeFileSync(join(dir, 'ca.pem'), tls.ca!);
  writeFileSync(join(dir, 'cert.pem'), tls.cert);
  writeFileSync(join(dir, 'other-ca.pem'), other.tls!.ca!);
  t.equal(execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'cert.pem')], { encoding: 'utf8' }).trim(), `${join(dir, 'cert.pem')}: OK`);
  const text = execFileSync('openssl', ['x509', '-text', '-noout', '-in', join(dir, 'cert.pem')], { encoding: 'utf8' });
  t.match(text, /Version: 3 \(0x2\)/);
  t.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  t.match(text, /NIST CURVE: P-256/);
  t.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  t.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
  t.match(text, /IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, DNS:registry\.test, IP Address:10\.9\.8\.7/);
  const caText = execFileSync('openssl', ['x509', '-text', '-noout', '-in', join(dir, 'ca.pem')], { encoding: 'utf8' });
  t.match(caText, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
  t.match(caText, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
  let refused = '';
  try {
    execFileSync('openssl', ['verify', '-CAfile', join(dir, 'other-ca.pem'), join(dir, 'cert.pem')], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    refused = String((error as { stdout: string }).stdout) + String((error as { stderr: string }).stderr);
  }
  t.match(refused, /unable to get local issuer certificate/, 'another registry\'s CA does not verify it');
});

t.test('HTTPS/1.1 and h2 from node\'s own clients; the journal records the protocol of each request', async (t) => {
  const plain = await start(t, { tls: true });
  const reply = await get(`${plain.url}/v2/`, { ca: plain.tls!.ca });
  t.equal(reply.status, 200);
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(plain.journal.all().at(-1)!.httpVersion, '1.1');

  const both = await start(t, { tls: true, http2: true });
  const session = await h2session(t, both.url, both.tls!.ca);
  t.equal(session.alpnProtocol, 'h2', 'ALPN chose h2');
  const many = await Promise.all(Array.from({ length: 20 }, () => h2get(session, '/v2/')));
  t.strictSame(many.map((r) => r.status), Array(20).fill(200), 'twenty streams on one session');
  t.equal(many[0]!.headers['docker-distribution-api-version'], 'registry/2.0');
  const h1 = await get(`${both.url}/v2/`, { ca: both.tls!.ca });
  t.equal(h1.status, 200, 'an HTTP/1.1-only client still gets served (allowHTTP1)');
  const versions = both.journal.all().map((e) => e.httpVersion);
  t.strictSame(versions, [...Array(20).fill('2.0'), '1.1']);
  t.equal(both.journal.all()[0]!.requestHeaders.host, `127.0.0.1:${both.port}`, ':authority is recorded as host');
  t.notOk(Object.keys(both.journal.all()[0]!.requestHeaders).some((h) => h.startsWith(':')), 'no pseudo-headers in the journal');
});

t.test('fetch (undici) trusts the CA given as NODE_EXTRA_CA_CERTS, over HTTPS and h2-enabled servers', async (t) => {
  for (const http2 of [false, true]) {
    const registry = await start(t, { tls: true, http2 });
    const dir = tempDir(t);
    writeFileSync(join(dir, 'ca.pem'), registry.tls!.ca!);
    const script = `const r = await fetch(${JSON.stringify(`${registry.url}/v2/`)}); process.stdout.write(r.status + ' ' + r.headers.get('docker-distribution-api-version'));`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') } });
      let text = '';
      child.stdout.on('data', (c) => (text += c));
      child.stderr.on('data', (c) => (text += c));
      child.on('error', reject);
      child.on('close', () => resolve(text));
    });
    t.equal(out, '200 registry/2.0', `fetch over ${http2 ? 'an h2-enabled' : 'an HTTPS'} server`);
  }
});

t.test('a client given the wrong CA, or none, refuses the server; an unknown SNI name fails the name check', async (t) => {
  const registry = await start(t, { tls: { hosts: ['registry.test'] }, http2: true });
  const other = await start(t, { tls: true });
  await t.rejects(get(`${registry.url}/v2/`, { ca: other.tls!.ca }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'another registry\'s CA');
  await t.rejects(get(`${registry.url}/v2/`), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'the system CAs');
  await t.rejects(h2session(t, registry.url, other.tls!.ca), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'h2 with the wrong CA');
  await t.rejects(get(`${registry.url}/v2/`, { ca: registry.tls!.ca, servername: 'unknown.example' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'a name the certificate does not hold');
  const named = await get(`${registry.url}/v2/`, { ca: registry.tls!.ca, servername: 'registry.test', headers: { host: `registry.test:${registry.port}` } });
  t.equal(named.status, 200, 'a tls.hosts name is accepted');
  t.strictSame(registry.journal.all().map((e) => e.status), [200], 'refused handshakes never reach the registry');
});

t.test('plain HTTP sent to the TLS port gets no HTTP answer, and the server goes on serving', async (t) => {
  for (const http2 of [false, true]) {
    const registry = await start(t, { tls: true, http2 });
    const answer = await sendRaw(registry.port, `GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1:${registry.port}\r\n\r\n`);
    t.notMatch(answer, /^HTTP\//, 'no HTTP response in the clear');
    t.equal((await get(`${registry.url}/v2/`, { ca: registry.tls!.ca })).status, 200);
    t.equal(registry.journal.all().length, 1, 'only the TLS request was served');
  }
});

t.test('mutual TLS: a client certificate from the CA is required; none, a foreign or an expired one is refused', async (t) => {
  for (const http2 of [false, true]) {
    const registry = await start(t, { tls: { clientCa: true }, http2 });
    const other = await start(t, { tls: true });
    const ca = registry.tls!.ca;
    const mine = registry.tls!.issueClientCertificate('ci');
    const reply = await get(`${registry.url}/v2/`, { ca, ...mine });
    t.equal(reply.status, 200, `with the client certificate (${http2 ? 'h2 server' : 'https'})`);
    const clientCert = new X509Certificate(mine.cert);
    t.match(clientCert.subject, /CN=ci/);
    t.ok(clientCert.checkIssued(new X509Certificate(ca!)));
    const withoutCert = await get(`${registry.url}/v2/`, { ca }).catch((e: NodeJS.ErrnoException) => e);
    t.match((withoutCert as NodeJS.ErrnoException).code, /^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET)$/, 'no client certificate');
    const foreign = await get(`${registry.url}/v2/`, { ca, ...other.tls!.issueClientCertificate('stranger') }).catch((e: NodeJS.ErrnoException) => e);
    t.match((foreign as NodeJS.ErrnoException).code, /^(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET)$/, 'a certificate from another CA');
    const expiredPair = registry.tls!.issueClientCertificate('old', { notBefore: new Date(Date.now() - 3 * 86400_000), notAfter: new Date(Date.now() - 86400_000) });
    const expired = await get(`${registry.url}/v2/`, { ca, ...expiredPair }).catch((e: NodeJS.ErrnoException) => e);
    t.match((expired as NodeJS.ErrnoException).code, /^(ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED|ECONNRESET)$/, 'an expired certificate');
    t.equal(registry.journal.all().length, 1, 'only the request with a valid certificate reached the registry');
  }
});

t.test('tls: { cert, key } serves the caller\'s certificate (PEM text or a file path); bad ones reject naming the option', async (t) => {
  const issuer = await start(t, { tls: { hosts: ['mine.test'] } });
  const dir = tempDir(t);
  writeFileSync(join(dir, 'cert.pem'), issuer.tls!.cert);
  writeFileSync(join(dir, 'key.pem'), issuer.tls!.key);
  const fromFiles = await start(t, { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
  t.equal(fromFiles.tls!.cert, issuer.tls!.cert, 'serves the given certificate');
  t.equal(fromFiles.tls!.ca, undefined, 'no generated CA to hand out');
  t.equal((await get(`${fromFiles.url}/v2/`, { ca: issuer.tls!.ca })).status, 200, 'the caller\'s CA verifies it');
  const fromText = await start(t, { tls: { cert: issuer.tls!.cert, key: issuer.tls!.key } });
  t.equal((await get(`${fromText.url}/v2/`, { ca: issuer.tls!.ca })).status, 200);

  const other = await start(t, { tls: true });
  await t.rejects(startRegistry({ tls: { cert: issuer.tls!.cert, key: other.tls!.key } }), { message: /^option tls\.key does not match tls\.cert/ });
  await t.rejects(startRegistry({ tls: { cert: join(dir, 'missing.pem'), key: issuer.tls!.key } }), { message: /^option tls\.cert: cannot read .*missing\.pem/ });
  await t.rejects(startRegistry({ tls: { cert: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n', key: issuer.tls!.key } }), { message: /^option tls\.cert is not a PEM certificate/ });
  await t.rejects(startRegistry({ tls: { cert: issuer.tls!.cert, key: issuer.tls!.cert } }), { message: /^option tls\.key is not a PEM private key/ });
  await t.rejects(startRegistry({ tls: { cert: issuer.tls!.cert } }), { message: /^option tls\.key is missing/ });
  await t.rejects(startRegistry({ tls: { clientCa: join(dir, 'nope.pem') } }), { message: /^option tls\.clientCa: cannot read/ });
  await t.rejects(startRegistry({ http2: true }), { message: /^option http2 needs tls/ });
  await t.rejects(startRegistry({ tls: { hosts: ['bad name'] } }), { message: /^option tls\.hosts must be DNS names or IP addresses/ });
});

t.test('over TLS, blob redirects point at https on the same certificate, and the token realm is https', async (t) => {
  const registry = await start(t, { tls: true, http2: true, blobRedirect: true });
  const ca = registry.tls!.ca;
  const bytes = Buffer.from('redirected over TLS');
  const digest = await pushOver(registry, 'tls/redirect', bytes);
  const reply = await get(`${registry.url}/v2/tls/redirect/blobs/${digest}`, { ca });
  t.equal(reply.status, 307);
  const location = new URL(String(reply.headers.location));
  t.equal(location.protocol, 'https:');
  t.equal(location.host, `localhost:${registry.port}`);
  const followed = await get(location.href, { ca });
  t.equal(followed.status, 200, 'localhost is in the certificate');
  t.ok(followed.body.equals(bytes));

  const token = await start(t, { tls: true, auth: { token: { users: { ci: 'secret' } } } });
  const challenge = await get(`${token.url}/v2/`, { ca: token.tls!.ca });
  t.equal(challenge.status, 401);
  t.match(challenge.headers['www-authenticate'], new RegExp(`^Bearer realm="https://127\\.0\\.0\\.1:${token.port}/token"`));
});

/** Pushes a blob over HTTPS/1.1 with the shared helper. */
function pushOver(registry: RunningRegistry, name: string, bytes: Buffer): Promise<string> {
  return pushBlob(registry.url, name, bytes);
}

t.test('faults over h2: drop resets only its stream (RST_STREAM), truncate ends it short, delay and statuses as over HTTP/1.1', async (t) => {
  const registry = await start(t, { tls: true, http2: true });
  const bytes = Buffer.alloc(64 * 1024, 7);
  const digest = await pushOver(registry, 'tls/faults', bytes);
  const path = `/v2/tls/faults/blobs/${digest}`;
  const session = await h2session(t, registry.url, registry.tls!.ca);

  registry.faults.add({ match: { route: 'blob' }, action: { drop: 'before-response' }, times: 1 });
  const [dropped, sibling] = await Promise.allSettled([h2get(session, path), h2get(session, '/v2/')]);
  t.equal(dropped.status, 'rejected');
  t.match((dropped as PromiseRejectedResult).reason, { code: 'ERR_HTTP2_STREAM_ERROR', message: /NGHTTP2_INTERNAL_ERROR/ }, 'the stream was reset');
  t.equal(sibling.status === 'fulfilled' && sibling.value.status, 200, 'another stream of the same session is answered');
  t.notOk(session.destroyed, 'the session survives');

  registry.faults.add({ match: { route: 'blob' }, action: { drop: 'mid-body' }, times: 1 });
  await t.rejects(h2get(session, path), { code: 'ERR_HTTP2_STREAM_ERROR' }, 'mid-body drop resets the stream');

  registry.faults.add({ match: { route: 'blob' }, action: { truncate: 1000 }, times: 1 });
  // node's h2 client checks DATA against content-length (RFC 9113 §8.1.1): a stream ended short is an error, never a short success.
  await t.rejects(h2get(session, path), { code: 'ERR_HTTP2_STREAM_ERROR', message: /NGHTTP2_PROTOCOL_ERROR/ }, 'truncate ends the stream short of its content-length');

  registry.faults.add({ match: { route: 'blob' }, action: { status: 503 }, times: 1 });
  t.equal((await h2get(session, path)).status, 503);
  registry.faults.add({ match: { route: 'blob' }, action: { delayMs: 50 }, times: 1 });
  const late = await h2get(session, path);
  t.equal(late.status, 200);
  t.ok(late.body.equals(bytes));
  const entries = registry.journal.filter({ route: 'blob' });
  t.strictSame(entries.map((e) => [e.httpVersion, e.status, e.completed]), [
    ['2.0', 0, false],
    ['2.0', 200, false],
    ['2.0', 200, false],
    ['2.0', 503, true],
    ['2.0', 200, true],
  ]);
  t.ok(entries.every((e, i) => i === 4 || e.fault !== undefined), 'the faulted requests name their rule');
});

t.test('node:http2 limits are set: a session may open thousands of streams (at most maxConcurrentStreams at once)', async (t) => {
  const registry = await start(t, { tls: true, http2: true, journalLimit: 0 });
  const session = await h2session(t, registry.url, registry.tls!.ca);
  t.equal(session.remoteSettings.maxConcurrentStreams, HTTP2_LIMITS.settings.maxConcurrentStreams, 'the server announces its stream limit');
  const replies = await Promise.all(Array.from({ length: 3000 }, () => h2get(session, '/v2/')));
  t.equal(replies.filter((r) => r.status === 200).length, 3000, 'every stream answered, the client queueing past the limit');
});

t.test('h2 flow control: uploads get a 1 MiB stream window and a 4 MiB connection window, not the 64 KiB default (RFC 9113 §6.9.2)', async (t) => {
  const registry = await start(t, { tls: true, http2: true });
  const session = await h2session(t, registry.url, registry.tls!.ca);
  t.equal(session.remoteSettings.initialWindowSize, 1 << 20, 'SETTINGS_INITIAL_WINDOW_SIZE is 1 MiB');
  // The connection's WINDOW_UPDATE goes out when the session opens, before any reply on it.
  t.equal((await h2get(session, '/v2/')).status, 200);
  t.equal(session.state.remoteWindowSize, HTTP2_CONNECTION_WINDOW, 'the connection window the client may fill is 4 MiB');
  t.equal(HTTP2_CONNECTION_WINDOW, 4 << 20);
  // A body larger than both windows still arrives whole: the registry reads it and the windows are given back.
  const bytes = Buffer.alloc(9 << 20, 5);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const put = await new Promise<number>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': `/v2/flow/blobs/uploads/?digest=${digest}`, 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) });
    stream.on('response', (h) => resolve(Number(h[':status'])));
    stream.on('error', reject);
    stream.resume();
    stream.end(bytes);
  });
  t.equal(put, 201, 'a 9 MiB monolithic push over h2 is stored');
  const got = await h2get(session, `/v2/flow/blobs/${digest}`);
  t.equal(got.status, 200);
  t.ok(got.body.equals(bytes), 'and reads back byte for byte');
});

/** An upload request on an h2 session: its status once answered, and the stream (to write, end or reset). */
function h2upload(session: ClientHttp2Session, method: string, path: string, length: number) {
  const stream = session.request({ ':method': method, ':path': path, 'content-type': 'application/octet-stream', 'content-length': String(length) });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const answer = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    let status = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
    stream.on('error', reject);
  });
  answer.catch(() => undefined);
  return { stream, answer };
}

t.test('h2: a client that resets its upload stream mid-body is gone, not an internal error; the chunk rolls back', async (t) => {
  const errors: Error[] = [];
  const registry = await start(t, { tls: true, http2: true, onError: (error) => errors.push(error) });
  const session = await h2session(t, registry.url, registry.tls!.ca);
  const opened = await h2get(session, '/v2/h2/abort/blobs/uploads/', 'POST');
  t.equal(opened.status, 202);
  const location = String(opened.headers.location);
  const id = location.split('/').pop()!;
  for (const length of [300_000, 3 << 20]) {
    // Inline hashing below 1 MiB, the hashing thread above it.
    const { stream } = h2upload(session, 'PATCH', location, length);
    stream.write(Buffer.alloc(200_000, 1));
    while ((await registry.store.usage()).uploadBytes < 200_000) await new Promise<void>((resolve) => setImmediate(resolve));
    stream.close(h2.NGHTTP2_CANCEL);
    while ((await registry.store.upload('h2/abort', id)).busy) await new Promise<void>((resolve) => setImmediate(resolve));
    t.equal((await registry.store.usage()).uploadBytes, 0, `${length}: the chunk is rolled back`);
  }
  const next = h2upload(session, 'PATCH', location, 5);
  next.stream.end(Buffer.alloc(5, 2));
  t.equal((await next.answer).status, 202, 'the session takes the next chunk');
  t.same(errors.map((e) => e.message), [], 'no internal error reported');
});

t.test('h2: an error answered before the body is read resets the stream with NO_ERROR once the answer is out (RFC 9113 §8.1), freeing it', async (t) => {
  const registry = await start(t, { tls: true, http2: true });
  const session = await h2session(t, registry.url, registry.tls!.ca);
  // Recorded when the response closes: a stream left open with its body paused never did.
  const recorded = registry.waitFor({ event: 'request', method: 'PATCH', status: 404 }, { timeoutMs: 20_000 });
  // More than the registry drains (1 MiB) and the stream window (1 MiB) together.
  const { stream, answer } = h2upload(session, 'PATCH', '/v2/h2/early/blobs/uploads/nope', 8 << 20);
  stream.end(Buffer.alloc(8 << 20));
  const reply = await answer;
  t.equal(reply.status, 404);
  t.equal(JSON.parse(reply.body.toString()).errors[0].code, 'BLOB_UPLOAD_UNKNOWN', 'the whole error envelope came before the reset');
  const entry = await recorded;
  t.equal(entry.completed, true, 'the response completed (a NO_ERROR reset is no failure)');
  for (let looks = 0; !stream.closed && looks < 100_000; looks++) await new Promise<void>((resolve) => setImmediate(resolve));
  t.ok(stream.closed, 'the client saw its stream closed');
  t.equal(stream.rstCode, h2.NGHTTP2_NO_ERROR, 'by RST_STREAM NO_ERROR');
  t.ok(stream.writableLength > 0, `with body bytes still unsent (${stream.writableLength}): it was told to stop, not read to the end`);
  t.equal((await h2get(session, '/v2/')).status, 200, 'the session serves on');
});

/** An HTTP/2 frame (RFC 9113 §4.1). */
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** What the server sent on a raw h2 connection before it closed it. */
interface RawOutcome {
  /** Frames received, by type. */
  frames: Map<number, number>;
  /** RST_STREAM error codes received. */
  resets: number[];
  /** The GOAWAY error code, when one came. */
  goaway?: number;
}

/** Opens TLS with ALPN h2 and writes the client preface and `frames`; resolves once the server has closed the connection. */
function rawH2(registry: RunningRegistry, frames: Buffer[]): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: registry.port, ca: registry.tls!.ca, ALPNProtocols: ['h2'] }, () => {
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(4, 0, 0), ...frames]));
    });
    let buffered = Buffer.alloc(0);
    const outcome: RawOutcome = { frames: new Map(), resets: [] };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const type = buffered[3]!;
        outcome.frames.set(type, (outcome.frames.get(type) ?? 0) + 1);
        if (type === 3) outcome.resets.push(buffered.readUInt32BE(9));
        if (type === 7) outcome.goaway = buffered.readUInt32BE(9 + 4);
        buffered = buffered.subarray(9 + length);
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    socket.on('close', () => resolve(outcome));
  });
}

/** HEADERS (END_STREAM | END_HEADERS) for GET https://127.0.0.1/v2/ from HPACK static-table entries and one literal. */
function getHeaders(stream: number): Buffer {
  const authority = Buffer.from('127.0.0.1');
  // :method GET (2), :scheme https (7), :path / (4), :authority literal without indexing (name index 1).
  const block = Buffer.concat([Buffer.from([0x82, 0x87, 0x84, 0x01, authority.length]), authority]);
  return frame(1, 0x5, stream, block);
}

t.test('a client ignoring the stream limit, or flooding PINGs and SETTINGS, loses its session (GOAWAY); the registry serves on', async (t) => {
  const registry = await start(t, { tls: true, http2: true, journalLimit: 0 });
  const { settings } = HTTP2_LIMITS;
  // Each outcome is read once the server has closed the connection: these sessions are ended by the server.
  const rude = await rawH2(registry, Array.from({ length: 2000 }, (_, i) => getHeaders(2 * i + 1)));
  t.ok(rude.resets.length > 0 && rude.resets.every((code) => code === h2.NGHTTP2_REFUSED_STREAM), `streams past the limit are refused with REFUSED_STREAM (${rude.resets.length})`);
  t.ok((rude.frames.get(1) ?? 0) <= settings.maxConcurrentStreams, `at most ${settings.maxConcurrentStreams} answered (${rude.frames.get(1)})`);
  t.ok(rude.resets.length <= HTTP2_LIMITS.maxSessionRejectedStreams * 5 && (rude.frames.get(1) ?? 0) + rude.resets.length < 2000, 'the session was closed long before its 2000 streams were dealt with');

  const pinged = await rawH2(registry, Array.from({ length: 20_000 }, () => frame(6, 0, 0, Buffer.alloc(8))));
  t.ok((pinged.frames.get(6) ?? 0) < 20_000, `a PING flood is cut off (${pinged.frames.get(6)} of 20000 acknowledged)`);
  const set = await rawH2(registry, Array.from({ length: 20_000 }, () => frame(4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]))));
  t.ok((set.frames.get(4) ?? 0) < 20_000, `a SETTINGS flood is cut off (${set.frames.get(4)} frames back)`);
  t.not(set.goaway, undefined, 'with GOAWAY');

  t.equal((await get(`${registry.url}/v2/`, { ca: registry.tls!.ca })).status, 200, 'the registry still answers');
});
