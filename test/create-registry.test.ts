// createRegistry(): a request listener mounted in a user's own node:http server.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistry } from '../src/index.js';
import { send } from './helpers/http.js';
import { pushImage } from './helpers/push.js';

t.test('mounted under a plain http.createServer, beside routes of its own', async (t) => {
  const registry = createRegistry();
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    registry.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await registry.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  t.equal((await send(url, 'GET', '/health')).body.toString(), 'ok');
  const base = await send(url, 'GET', '/v2/');
  t.equal(base.status, 200);
  t.equal(base.headers['docker-distribution-api-version'], 'registry/2.0');

  const image = await pushImage(url, 'mounted/app', 'v1');
  const pulled = await send(url, 'GET', '/v2/mounted/app/manifests/v1');
  t.equal(pulled.status, 200);
  t.same(pulled.body, image.bytes);
  // The store is the same one the handler writes to.
  const stored = await registry.store.manifest('mounted/app', 'v1');
  t.equal(stored?.digest, image.digest);
});

t.test('createRegistry gives each call its own store', async (t) => {
  const a = createRegistry();
  const b = createRegistry();
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.not(a.store, b.store);
});
