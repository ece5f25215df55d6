// `await using registry = await startRegistry()` closes the registry at scope end.
import t from 'tap';
import { startRegistry } from '../src/index.js';
import { send } from './helpers/http.js';

t.test('Symbol.asyncDispose closes the registry', async (t) => {
  let url = '';
  {
    await using registry = await startRegistry();
    url = registry.url;
    t.equal((await send(url, 'GET', '/v2/')).status, 200);
  }
  await t.rejects(send(url, 'GET', '/v2/'), { code: 'ECONNREFUSED' }, 'closed at the end of the block');
});

t.test('asyncDispose and close are the same operation', async (t) => {
  const registry = await startRegistry();
  const disposed = registry[Symbol.asyncDispose]();
  t.equal(registry.close(), disposed, 'close() after dispose returns the same promise');
  await disposed;
});
