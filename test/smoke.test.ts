import t from 'tap';
import { send, startFor } from './helpers/http.js';
import { pushImage } from './helpers/push.js';

t.test('push an image and pull it back', async (t) => {
  const registry = await startFor(t);
  const image = await pushImage(registry.url, 'smoke/test', 'v1');
  const reply = await send(registry.url, 'GET', '/v2/smoke/test/manifests/v1');
  t.equal(reply.status, 200);
  t.same(reply.body, image.bytes);
  t.equal(reply.headers['docker-content-digest'], image.digest);
});
