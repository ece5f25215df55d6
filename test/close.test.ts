// registry.close(): idempotent, drops keep-alive sockets, frees the port.
import t from 'tap';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { startRegistry } from '../src/index.js';
import { send } from './helpers/http.js';

/** Resolves true when the port can be bound again (i.e. the registry let go of it). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

t.test('close twice: the second call waits for the first and both resolve', async (t) => {
  const registry = await startRegistry();
  const first = registry.close();
  const second = registry.close();
  t.equal(first, second, 'the same promise');
  await Promise.all([first, second]);
  t.ok(await portIsFree(registry.port), 'port free once close resolved');
  await registry.close();
  t.pass('a third call after completion resolves too');
});

t.test('close with an open keep-alive socket does not hang and frees the port', async (t) => {
  const registry = await startRegistry();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const status = await new Promise<number>((resolve, reject) => {
    request(`${registry.url}/v2/`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject).end();
  });
  t.equal(status, 200);
  const [socket] = Object.values(agent.freeSockets).flat();
  t.ok(socket, 'the agent holds an idle keep-alive socket');
  // The agent unrefs idle sockets; ref it so the process waits for its close.
  socket!.ref();
  const socketClosed = new Promise<void>((resolve) => socket!.once('close', () => resolve()));
  await registry.close();
  await socketClosed;
  t.ok(await portIsFree(registry.port), 'port free once close resolved');
});

t.test('close lets an in-flight request finish', async (t) => {
  const registry = await startRegistry();
  // Start an upload whose body we hold back, then close while it is in flight.
  const location = (await send(registry.url, 'POST', '/v2/inflight/blobs/uploads/')).headers.location!;
  const session = await registry.store.upload('inflight', location.split('/').pop()!);
  // Learn, without polling, the moment the server starts reading the PATCH body.
  const reading = new Promise<void>((resolve) => {
    const chunk = session.chunk.bind(session);
    session.chunk = (...args) => {
      resolve();
      return chunk(...args);
    };
  });
  const body = Buffer.from('in flight');
  const req = request(`${registry.url}${location}`, { method: 'PATCH', headers: { 'Content-Length': body.length }, agent: false });
  const answered = new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, 3));
  await reading;
  const closing = registry.close();
  req.end(body.subarray(3));
  const reply = await answered;
  t.equal(reply.status, 202, 'the PATCH completed after close() began');
  t.equal(reply.connection, 'close', 'and its connection is not kept alive');
  await closing;
  t.ok(await portIsFree(registry.port));
});

t.test('no new connections after close', async (t) => {
  const registry = await startRegistry();
  await registry.close();
  await t.rejects(send(registry.url, 'GET', '/v2/'), { code: 'ECONNREFUSED' });
});
