// A mirror of an https upstream: `ca` trusts its certificate, given as PEM
// text or as a file path; without it the upstream's certificate is refused.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createRegistry, startRegistry } from '../src/index.js';
import { send } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';

t.test('an https upstream is trusted through ca (PEM text or file), refused without it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-mirror-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
  const upstream = createRegistry({ teardown: t });
  const image = await upstream.store.pushImage('team/app', { tag: 'v1', layers: ['tls layer'] });
  const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, upstream.handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accept = { headers: { Accept: image.mediaType } };
  for (const ca of [cert, await readFile(cert, 'utf8')]) {
    const mirror = await startRegistry({ teardown: t, upstream: { url, ca } });
    const reply = await send(mirror.url, 'GET', '/v2/team/app/manifests/v1', accept);
    t.equal(reply.status, 200, ca === cert ? 'ca as a file path' : 'ca as PEM text');
    t.equal(reply.headers['docker-content-digest'], image.digest);
  }
  const untrusting = await startRegistry({ teardown: t, upstream: { url } });
  const refused = await send(untrusting.url, 'GET', `/v2/team/app/manifests/${image.digest}`, accept);
  assertError(t, refused, 500, 'UNKNOWN');
  t.match(refused.json.errors[0].message, /certificate/);
});
