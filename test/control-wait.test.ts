// GET /_oci-test-registry/wait (README "Control endpoint"): waitFor as a long
// poll. 200 with the event (already in the history, or when it happens), for
// every event kind waitFor knows; 504 with an OCI error naming the timeout;
// 409 when a reset cancels it; 400 for a query it cannot wait on; a client
// that hangs up cancels the wait and leaves no listener behind. Nothing
// sleeps: a wait still to come is known pending by its listener being added.
import t from 'tap';
import { once } from 'node:events';
import { rawSocket, send, sha256, startFor, type Reply } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';
import { pushImage } from './helpers/push.js';
import type { RunningRegistry } from '../src/index.js';

const WAIT = '/_oci-test-registry/wait';

const wait = (url: string, query: string) => send(url, 'GET', `${WAIT}?${query}`);

/** Resolves when a listener for `event` is added (node:events 'newListener'). */
function listenerAdded(registry: RunningRegistry, event: string): Promise<void> {
  return new Promise((resolve) => {
    const added = (name: string | symbol) => {
      if (name !== event) return;
      registry.events.off('newListener', added);
      resolve();
    };
    registry.events.on('newListener', added);
  });
}

/**
 * Starts a wait and resolves once the registry is listening for it (so what
 * follows is "still to come"), with its reply still to await.
 */
async function pendingWait(registry: RunningRegistry, query: string): Promise<{ reply: Promise<Reply> }> {
  const listening = listenerAdded(registry, new URLSearchParams(query).get('event')!);
  const reply = wait(registry.url, query);
  await listening;
  return { reply };
}

t.test('every event kind: an event already in the history, and one still to come, answered 200 with the event as waitFor gives it', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  const image = await pushImage(url, 'wait/app', 'v1', { layers: ['layer one'] });
  await send(url, 'PUT', `/v2/wait/app/manifests/${image.digest}?tag=also`, { body: image.bytes, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });

  const rows: { query: string; node: Parameters<RunningRegistry['waitFor']>[0] }[] = [
    { query: 'event=push&name=wait/app&reference=v1', node: { event: 'push', name: 'wait/app', reference: 'v1' } },
    { query: 'event=push&reference=also', node: { event: 'push', reference: 'also' } },
    { query: `event=push&digest=${image.digest}`, node: { event: 'push', digest: image.digest } },
    { query: `event=upload&name=wait/app&digest=${image.layers[0]!.digest}`, node: { event: 'upload', name: 'wait/app', digest: image.layers[0]!.digest } },
    { query: 'event=request&method=put&route=manifest&status=201', node: { event: 'request', method: 'put', route: 'manifest', status: 201 } },
  ];
  for (const { query, node } of rows) {
    const reply = await wait(url, query);
    t.equal(reply.status, 200, `${query}: ${reply.body.toString().slice(0, 200)}`);
    t.strictSame(reply.json, JSON.parse(JSON.stringify(await registry.waitFor(node))), `${query}: the event waitFor gives`);
  }

  // Still to come: the wait is pending (its listener is in) before the event happens.
  const push = await pendingWait(registry, 'event=push&name=wait/later&reference=v2&timeoutMs=30000');
  const later = await pushImage(url, 'wait/later', 'v2');
  t.strictSame((await push.reply).json, { name: 'wait/later', reference: 'v2', digest: later.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', tags: ['v2'] });

  const deleted = await pendingWait(registry, 'event=delete&name=wait/app&kind=tag&timeoutMs=30000');
  t.equal((await send(url, 'DELETE', '/v2/wait/app/manifests/also')).status, 202);
  t.strictSame((await deleted.reply).json, { name: 'wait/app', kind: 'tag', reference: 'also' });

  const uploaded = await pendingWait(registry, `event=upload&digest=${sha256('fresh')}&timeoutMs=30000`);
  await registry.store.seedBlob('wait/blob', 'fresh');
  t.strictSame((await uploaded.reply).json, { name: 'wait/blob', digest: sha256('fresh'), size: 5, mounted: false });

  const requested = await pendingWait(registry, 'event=request&route=tags&status=404&code=NAME_UNKNOWN&timeoutMs=30000');
  t.equal((await send(url, 'GET', '/v2/wait/none/tags/list')).status, 404);
  t.match((await requested.reply).json, { method: 'GET', route: 'tags', name: 'wait/none', status: 404, code: 'NAME_UNKNOWN' });
  t.equal(registry.events.listenerCount('push') + registry.events.listenerCount('delete') + registry.events.listenerCount('upload') + registry.events.listenerCount('request'), 0, 'every answered wait removed its listener');
});

t.test('no matching event within timeoutMs: 504 with an OCI error naming the timeout and what was awaited', async (t) => {
  const registry = await startFor(t, { control: true });
  const reply = await wait(registry.url, 'event=push&name=never/app&timeoutMs=20');
  assertError(t, reply, 504, 'UNSUPPORTED');
  t.strictSame(reply.json.errors[0], {
    code: 'UNSUPPORTED',
    message: 'wait timed out after 20 ms waiting for a push event with name="never/app"',
    detail: { event: 'push', name: 'never/app', timeoutMs: 20 },
  });
  t.equal(registry.events.listenerCount('push'), 0, 'the listener is gone');
});

t.test('a reset cancels a pending wait: 409', async (t) => {
  const registry = await startFor(t, { control: true });
  const pending = await pendingWait(registry, 'event=push&timeoutMs=30000');
  t.equal((await send(registry.url, 'POST', '/_oci-test-registry/reset')).status, 204);
  const reply = await pending.reply;
  assertError(t, reply, 409, 'UNSUPPORTED');
  t.equal(reply.json.errors[0].message, 'wait cancelled: the registry was reset');
});

t.test('a query it cannot wait on: 400 naming the parameter', async (t) => {
  const registry = await startFor(t, { control: true, idleTimeoutMs: 1000 });
  const rows: [string, string][] = [
    ['', 'event'],
    ['event=pull', 'event'],
    ['event=push&kind=tag', 'kind'],
    ['event=upload&reference=v1', 'reference'],
    ['event=delete&kind=everything', 'kind'],
    ['event=push&timeoutMs=soon', 'timeoutMs'],
    ['event=push&timeoutMs=-1', 'timeoutMs'],
    ['event=push&timeoutMs=501', 'timeoutMs'],
  ];
  for (const [query, field] of rows) {
    const reply = await wait(registry.url, query);
    assertError(t, reply, 400, 'UNSUPPORTED');
    t.equal(reply.json.errors[0].detail?.field, field, `?${query}: ${reply.json.errors[0].message}`);
  }
  const status = await wait(registry.url, 'event=request&status=abc');
  assertError(t, status, 400, 'UNSUPPORTED');
  t.equal(status.json.errors[0].message, 'status must be an integer');
  t.equal((await wait(registry.url, 'event=push&timeoutMs=500&name=x')).status, 504, 'timeoutMs up to half of idleTimeoutMs is taken');
});

t.test('a client that hangs up cancels its wait: no listener is left and nothing is answered or broken', async (t) => {
  const registry = await startFor(t, { control: true });
  for (const kind of ['push', 'request'] as const) {
    const listening = listenerAdded(registry, kind);
    const socket = rawSocket(registry.port);
    socket.on('error', () => {});
    socket.write(`GET ${WAIT}?event=${kind}&name=gone/app&timeoutMs=30000 HTTP/1.1\r\nHost: ${registry.host}\r\n\r\n`);
    await listening;
    t.equal(registry.events.listenerCount(kind), 1, `${kind}: the wait is listening`);
    const removed = once(registry.events, 'removeListener');
    socket.destroy();
    await removed;
    t.equal(registry.events.listenerCount(kind), 0, `${kind}: the listener is removed once the socket closes`);
  }
  // The registry carries on: a push now is waited for by a new wait, and answered.
  await registry.store.pushImage('gone/app', { tag: 'v1' });
  t.equal((await wait(registry.url, 'event=push&name=gone/app')).status, 200);
});
