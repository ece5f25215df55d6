// GET /_oci-test-registry/events (README "Control endpoint"): server-sent
// events read by a raw-socket client. One frame per registry event (`event:`
// the kind, `id:` its sequence number, `data:` the JSON registry.events
// gives), heartbeat comments, Last-Event-ID resumes from the history, many
// subscribers at once, and a reader that never reads is ended (with a final
// `end` event saying why) before it can hold more than the bounded history.
// Nothing sleeps: every wait is for bytes or an event.
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { send, startFor } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';
import { pushImage } from './helpers/push.js';
import { SseReader, type SseFrame } from './helpers/sse.js';
import { createRegistry, type RunningRegistry } from '../src/index.js';

const EVENTS = '/_oci-test-registry/events';

type Logged = { kind: string; data: unknown };

/** Every event registry.events emits, as JSON travels. */
function recordNode(registry: RunningRegistry): Logged[] {
  const log: Logged[] = [];
  for (const kind of ['request', 'push', 'delete', 'upload'] as const) {
    registry.events.on(kind, (event: unknown) => log.push({ kind, data: JSON.parse(JSON.stringify(event)) }));
  }
  return log;
}

const asLogged = (frames: { event: string; data: string }[]): Logged[] => frames.map((f) => ({ kind: f.event, data: JSON.parse(f.data) }));

/** Until the stream holds the request event of `method path` (so everything before it is in too). */
const requestSeen = (method: string, path: string) => (frames: SseFrame[]) =>
  frames.some((f) => 'event' in f && f.event === 'request' && JSON.parse(f.data).method === method && JSON.parse(f.data).path === path);

t.test('one frame per event: kind, consecutive ids, and the very JSON registry.events gives, in order', async (t) => {
  const registry = await startFor(t, { control: true });
  const reader = await SseReader.open(registry.port, EVENTS);
  t.teardown(() => reader.close());
  t.equal(reader.status, 200);
  t.equal(reader.headers['content-type'], 'text/event-stream; charset=utf-8');
  t.equal(reader.headers['cache-control'], 'no-store');
  const node = recordNode(registry);

  const image = await pushImage(registry.url, 'sse/app', 'v1', { layers: ['layer'] });
  t.equal((await send(registry.url, 'DELETE', '/v2/sse/app/manifests/v1')).status, 202);
  await registry.store.seedBlob('sse/seeded', 'seeded bytes');
  t.equal((await send(registry.url, 'GET', '/v2/sse/app/manifests/v1')).status, 404);
  await reader.until(requestSeen('GET', '/v2/sse/app/manifests/v1'));

  const events = reader.events();
  t.strictSame(asLogged(events), node, 'the same events, in the same order, with the same JSON as registry.events');
  t.strictSame(
    events.map((e) => e.event),
    ['upload', 'request', 'upload', 'request', 'push', 'request', 'delete', 'request', 'upload', 'request'],
  );
  const ids = events.map((e) => Number(e.id));
  t.ok(ids.every((id, i) => Number.isInteger(id) && (i === 0 || id === ids[i - 1]! + 1)), `ids are consecutive sequence numbers: ${ids.join(' ')}`);
  t.match(JSON.parse(events[4]!.data), { name: 'sse/app', reference: 'v1', digest: image.digest, tags: ['v1'] });
  t.equal(registry.events.subscriptions.size, 1);
});

t.test('two subscribers at once get the same frames; one that hangs up is unsubscribed', async (t) => {
  const registry = await startFor(t, { control: true });
  const one = await SseReader.open(registry.port, EVENTS);
  const two = await SseReader.open(registry.port, EVENTS);
  t.teardown(() => (one.close(), two.close()));
  t.equal(registry.events.subscriptions.size, 2);
  await pushImage(registry.url, 'sse/two', 'v1');
  const last = requestSeen('PUT', '/v2/sse/two/manifests/v1');
  await one.until(last);
  await two.until(last);
  t.strictSame(one.events(), two.events(), 'identical frames, ids included');
  t.strictSame(one.events().map((e) => e.event), ['upload', 'request', 'upload', 'request', 'push', 'request'], 'two blob uploads and their requests, the push and its request');

  // The registry records the stream's own request when its response closes: by then its subscription is gone.
  const closed = registry.waitFor({ event: 'request', route: 'control', reference: 'events', status: 200 });
  one.close();
  await closed;
  t.equal(registry.events.subscriptions.size, 1, 'the subscriber that hung up is gone');
  await pushImage(registry.url, 'sse/two', 'v2');
  await two.until(requestSeen('PUT', '/v2/sse/two/manifests/v2'));
  t.pass('the other one still streams');
});

t.test('Last-Event-ID resumes after that id from the history: nothing missed, nothing twice', async (t) => {
  const registry = await startFor(t, { control: true });
  await pushImage(registry.url, 'sse/resume', 'v1');
  const first = await SseReader.open(registry.port, EVENTS, { 'Last-Event-ID': '0' });
  await first.until(requestSeen('PUT', '/v2/sse/resume/manifests/v1'));
  const seen = first.events();
  t.equal(seen.length, 6, 'Last-Event-ID: 0 replays the whole history (two uploads, a push, their requests)');
  const closed = registry.waitFor({ event: 'request', route: 'control', reference: 'events' });
  first.close();
  await closed;

  // While nobody listens: a push, and the request event of the stream itself.
  await pushImage(registry.url, 'sse/resume', 'v2');
  const lastId = seen.at(-1)!.id!;
  const second = await SseReader.open(registry.port, EVENTS, { 'Last-Event-ID': lastId });
  t.teardown(() => second.close());
  await second.until(requestSeen('PUT', '/v2/sse/resume/manifests/v2'));
  const resumed = second.events();
  t.equal(Number(resumed[0]!.id), Number(lastId) + 1, 'the first frame is the one after Last-Event-ID');
  t.strictSame(
    resumed.map((e) => e.event),
    ['request', 'upload', 'request', 'upload', 'request', 'push', 'request'],
    'the first stream\'s own request, then the second push',
  );
  t.match(JSON.parse(resumed[0]!.data), { route: 'control', reference: 'events' });

  const bad = await send(registry.url, 'GET', EVENTS, { headers: { 'Last-Event-ID': 'yesterday' } });
  assertError(t, bad, 400, 'UNSUPPORTED');
  t.equal(bad.json.errors[0].detail.field, 'Last-Event-ID');
});

t.test('heartbeats: comment lines at the configured interval', async (t) => {
  const registry = await startFor(t, { control: true, eventStreamHeartbeatMs: 5 });
  const reader = await SseReader.open(registry.port, EVENTS);
  t.teardown(() => reader.close());
  const frames = await reader.until((f) => f.filter((x) => 'comment' in x).length >= 2);
  t.strictSame(frames.slice(0, 2), [{ comment: 'heartbeat' }, { comment: 'heartbeat' }]);
  t.equal(reader.events().length, 0, 'a heartbeat is no event');
});

t.test('a reader that never reads is ended once it falls behind the history, holding nothing of its own; a reader that keeps up is not', async (t) => {
  const limit = 50;
  const registry = await startFor(t, { control: true, journalLimit: limit });
  const stalled = await SseReader.open(registry.port, EVENTS, {}, { read: false });
  const keeping = await SseReader.open(registry.port, EVENTS);
  t.teardown(() => (stalled.close(), keeping.close()));
  const [subscription, other] = [...registry.events.subscriptions];
  t.ok(subscription && other);

  // Large request events (a 12 KiB header each) fill the stalled socket's buffers quickly.
  const pad = 'x'.repeat(12 * 1024);
  let sent = 0;
  let mostPending = 0;
  while (subscription!.ended === undefined) {
    if (sent > 20_000) break;
    await send(registry.url, 'GET', '/v2/', { headers: { 'X-Pad': pad } });
    sent++;
    mostPending = Math.max(mostPending, subscription!.pending);
  }
  t.match(subscription!.ended, /^slow reader: more than 50 events behind/, `ended after ${sent} requests`);
  // The backlog is never more than the history the registry keeps anyway (trimmed in batches of limit/16).
  t.ok(mostPending <= limit + Math.max(1, limit >> 4) + 1, `its backlog stayed bounded: at most ${mostPending} events`);
  t.notOk(registry.events.subscriptions.has(subscription!), 'it is unsubscribed');
  t.ok(registry.events.subscriptions.has(other!), 'the reader that keeps up is still subscribed');
  t.equal(other!.ended, undefined);

  // Once it reads, the last frame says why it was ended, and the server closes the stream.
  stalled.resume();
  await stalled.until(() => stalled.closed);
  const last = stalled.frames.at(-1)!;
  t.match(last, { event: 'end' });
  t.match(JSON.parse((last as { data: string }).data).reason, /^slow reader: more than 50 events behind/);
  await keeping.until(requestSeen('GET', '/v2/'));
});

t.test('closing the registry ends every stream with an end event', async (t) => {
  const registry = await startFor(t, { control: true });
  const readers = [await SseReader.open(registry.port, EVENTS), await SseReader.open(registry.port, EVENTS)];
  await registry.close();
  for (const reader of readers) {
    await reader.until(() => reader.closed);
    t.strictSame(reader.frames.at(-1), { event: 'end', data: '{"reason":"the registry was closed"}' });
  }
  t.equal(registry.events.subscriptions.size, 0);
});

t.test('HEAD: the stream\'s headers, no body, no subscription', async (t) => {
  const registry = await startFor(t, { control: true });
  const head = await send(registry.url, 'HEAD', EVENTS);
  t.equal(head.status, 200);
  t.equal(head.headers['content-type'], 'text/event-stream; charset=utf-8');
  t.equal(head.body.length, 0);
  t.equal(registry.events.subscriptions.size, 0);
});

t.test('a registry already closed (its handler mounted elsewhere): events 503, wait 409', async (t) => {
  const registry = createRegistry({ control: true });
  const server = createServer(registry.handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  await registry.close();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  assertError(t, await send(url, 'GET', EVENTS), 503, 'UNSUPPORTED');
  t.equal(registry.events.subscriptions.size, 0);
  assertError(t, await send(url, 'GET', '/_oci-test-registry/wait?event=push'), 409, 'UNSUPPORTED');
});
