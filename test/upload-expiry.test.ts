// Abandoned uploads expire after uploadTimeoutMs and their bytes are freed;
// the expiry timer never keeps the process alive.
import t from 'tap';
import { mock } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startRegistry } from '../src/index.js';
import { send } from './helpers/http.js';

t.test('an idle session expires after uploadTimeoutMs, a fresh one does not', async (t) => {
  // Mock setInterval and Date so minutes pass in a tick, without sleeping.
  mock.timers.enable({ apis: ['setInterval', 'Date'] });
  t.teardown(() => mock.timers.reset());
  const registry = await startRegistry({ uploadTimeoutMs: 60_000 });
  t.teardown(() => registry.close());

  const idle = (await send(registry.url, 'POST', '/v2/expiry/blobs/uploads/')).headers.location!;
  const patched = await send(registry.url, 'PATCH', idle, { body: Buffer.alloc(1000, 1), headers: { 'Content-Range': '0-999' } });
  t.equal(patched.status, 202);
  t.equal((await registry.store.usage()).uploadBytes, 1000, 'the session holds its bytes');

  mock.timers.tick(60_000);
  t.equal((await send(registry.url, 'GET', idle)).status, 204, 'idle for exactly the timeout: still there');

  const fresh = (await send(registry.url, 'POST', '/v2/expiry/blobs/uploads/')).headers.location!;
  mock.timers.tick(60_000);
  const gone = await send(registry.url, 'GET', idle);
  t.equal(gone.status, 404, 'idle past the timeout: expired');
  t.equal(gone.json.errors[0].code, 'BLOB_UPLOAD_UNKNOWN');
  t.equal((await send(registry.url, 'GET', fresh)).status, 204, 'a session opened later is still there');
  t.equal((await registry.store.usage()).uploadBytes, 0, 'the expired session\'s bytes are freed');
  t.equal((await registry.store.usage()).uploads, 1);
});

t.test('the expiry timer does not keep the process alive', async (t) => {
  const source = new URL('../src/index.ts', import.meta.url).pathname;
  const script = `import { createRegistry } from ${JSON.stringify(source)}; createRegistry({ uploadTimeoutMs: 3600000 }); console.log('created');`;
  // No time limit: a process the timer keeps alive fails on tap's timeout; the teardown ends it.
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { signal: stop.signal });
  t.equal(stdout.trim(), 'created', 'the process ended on its own');
});
