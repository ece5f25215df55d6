// startRegistry({ teardown }): the registry hands its close() to a test
// framework's hook — tap's t.teardown(fn) or node:test's t.after(fn) — and
// is closed, port freed, when that test ends.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry, type RunningRegistry } from '../src/index.js';
import { send } from './helpers/http.js';

const root = new URL('..', import.meta.url).pathname;

/** Resolves true when nothing listens on the port (the connection is refused). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

const servers = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;

t.test('tap: startRegistry({ teardown: t }) closes the registry when t ends', async (t) => {
  let registry: RunningRegistry | undefined;
  let cancelled: Promise<string> | undefined;
  await t.test('a test that never calls close()', async (t) => {
    registry = await startRegistry({ teardown: t });
    t.equal((await send(registry.url, 'GET', '/v2/')).status, 200);
    cancelled = registry.waitFor({ event: 'push', name: 'teardown/never' }, { timeoutMs: 60_000 }).then(
      () => 'resolved',
      (error: Error) => error.message,
    );
  });
  t.equal(await portIsFree(registry!.port), true, 'the port is free once the subtest has ended');
  t.equal(await cancelled, 'waitFor cancelled: the registry was closed', 'its pending waitFor was rejected');
  await registry!.close(); // idempotent: the teardown's close already ran
});

t.test('any object with teardown(fn) or after(fn) will do', async (t) => {
  const hooks: (() => unknown)[] = [];
  const tapLike = { teardown: (fn: () => unknown) => void hooks.push(fn) };
  const a = await startRegistry({ teardown: tapLike });
  t.equal(hooks.length, 1, 'teardown(fn) was called once, with close');
  t.equal(await portIsFree(a.port), false, 'still listening until the hook runs');
  await hooks[0]!();
  t.equal(await portIsFree(a.port), true, 'the hook closed it');

  const afters: (() => unknown)[] = [];
  const nodeTestLike = { after: (fn: () => unknown) => void afters.push(fn) };
  const b = await startRegistry({ teardown: nodeTestLike });
  t.equal(afters.length, 1, 'after(fn) was called once');
  await afters[0]!();
  t.equal(await portIsFree(b.port), true);

  const used: string[] = [];
  const both = { teardown: () => void used.push('teardown'), after: () => void used.push('after') };
  const c = await startRegistry({ teardown: both });
  t.teardown(() => c.close());
  t.strictSame(used, ['teardown'], 'teardown(fn) is preferred when both exist');
});

t.test('an object with neither method is refused before anything listens', async (t) => {
  const before = servers();
  await t.rejects(startRegistry({ teardown: {} as never }), new TypeError('option teardown must have a teardown(fn) or after(fn) method'));
  await t.rejects(startRegistry({ teardown: { teardown: 'not a function' } as never }), new TypeError('option teardown must have a teardown(fn) or after(fn) method'));
  t.equal(servers(), before, 'no server was left listening');
});

t.test('a registry that fails to listen registers no teardown', async (t) => {
  const first = await startRegistry({ teardown: t });
  const hooks: (() => unknown)[] = [];
  await t.rejects(startRegistry({ port: first.port, teardown: { teardown: (fn) => void hooks.push(fn) } }), { code: 'EADDRINUSE' });
  t.equal(hooks.length, 0);
});

t.test('node:test: t.after and the suite-level after hook close the registry', async (t) => {
  mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
  const dir = mkdtempSync(join(root, 'node_modules/.cache/teardown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'node-test.mts');
  writeFileSync(
    file,
    `import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { get } from 'node:http';
import { startRegistry } from ${JSON.stringify(join(root, 'src/index.ts'))};

const refused = (port) => new Promise((resolve) => {
  const socket = connect(port, '127.0.0.1');
  socket.on('connect', () => { socket.destroy(); resolve(false); });
  socket.on('error', (error) => resolve(error.code === 'ECONNREFUSED'));
});
const status = (url) => new Promise((resolve, reject) => {
  get(url, { agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); }).on('error', reject);
});

// Suite level: closed by the root's after hook once every test has run.
const shared = await startRegistry({ teardown: { after } });
let perTest;

test('a registry started with teardown: t', async (t) => {
  const registry = await startRegistry({ teardown: t });
  perTest = registry.port;
  assert.equal(await status(registry.url + '/v2/'), 200);
});

test('is closed when that test ends', async () => {
  assert.equal(await refused(perTest), true);
  assert.equal(await status(shared.url + '/v2/'), 200, 'the suite-level one still answers');
});

after(() => console.log('PORTS ' + perTest + ' ' + shared.port));
`,
  );
  // The process exits on its own only if both registries were closed: a listening server would keep it alive.
  // No time limit: a process kept alive by a listening server fails on tap's timeout; the teardown ends it.
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const outcome = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--test-reporter=tap', file], { cwd: root, signal: stop.signal }).then(
    ({ stdout, stderr }) => ({ code: 0 as number | string | null, stdout, stderr }),
    (error: { code: number | string | null; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
  const { stdout } = outcome;
  t.equal(outcome.code, 0, 'the node:test file exits 0, on its own', { stdout, stderr: outcome.stderr });
  t.match(stdout, /^# pass 2$/m, 'both node:test tests passed');
  t.match(stdout, /^# fail 0$/m);
  const ports = /^PORTS (\d+) (\d+)$/m.exec(stdout);
  t.ok(ports, 'the file printed its ports');
  for (const port of (ports ?? []).slice(1).map(Number)) t.equal(await portIsFree(port), true, `port ${port} is free afterwards`);
});
