// The control endpoint (README "Control endpoint"): with `control: true`,
// JSON routes under /_oci-test-registry/ let a test in any language read the
// journal, set and remove fault rules, reset the registry and check its
// health; they are never rate limited or faulted; off, they are 404. Proved
// in-process and against a spawned CLI (`--control --faults @FILE`).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { pushImage } from './helpers/push.js';
import { assertCodeSays } from './helpers/fixtures.js';

/** The `t` a subtest callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const CONTROL = '/_oci-test-registry';
const OCTETS = { 'Content-Type': 'application/octet-stream' };
const JSON_TYPE = { 'Content-Type': 'application/json' };

function assertJson(t: Test, reply: Reply, status: number): any {
  t.equal(reply.status, status, `${status} (${reply.body.toString('utf8').slice(0, 300)})`);
  t.equal(reply.headers['content-type'], 'application/json');
  return reply.json;
}

const postFaults = (url: string, rules: unknown) => send(url, 'POST', `${CONTROL}/faults`, { body: typeof rules === 'string' ? rules : JSON.stringify(rules), headers: JSON_TYPE });

t.test('off by default: every control route is 404', async (t) => {
  const { url } = await startFor(t);
  for (const [method, path] of [['GET', 'health'], ['GET', 'journal'], ['GET', 'faults'], ['POST', 'faults'], ['DELETE', 'faults'], ['DELETE', 'faults/fault-1'], ['POST', 'reset']] as const) {
    const reply = await send(url, method, `${CONTROL}/${path}`, method === 'POST' ? { body: '{"action":{"status":503}}', headers: JSON_TYPE } : {});
    t.equal(reply.status, 404, `${method} ${path}`);
    assertCodeSays(t, reply.json, 'UNSUPPORTED', new RegExp(`${CONTROL}/${path}$`), `${method} ${path}`);
  }
});

t.test('GET health: 200 with the storage usage', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/health`), 200), { status: 'ok', usage: await registry.store.usage() });
  await pushImage(url, 'control/app', 'v1');
  await send(url, 'POST', '/v2/control/app/blobs/uploads/');
  const health = assertJson(t, await send(url, 'GET', `${CONTROL}/health`), 200);
  t.strictSame(health, { status: 'ok', usage: await registry.store.usage() });
  t.equal(health.usage.uploads, 1);
  t.equal(health.usage.repositories, 1);
  const head = await send(url, 'HEAD', `${CONTROL}/health`);
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD: no body');
});

t.test('GET journal: every request, filtered by method, route, name, reference, status, code and digest (as journal.filter)', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  const image = await pushImage(url, 'control/app', 'v1', { layers: ['one layer'] });
  await send(url, 'GET', '/v2/control/app/manifests/v1');
  await send(url, 'GET', '/v2/control/app/manifests/v2');
  await send(url, 'HEAD', `/v2/control/app/blobs/${image.layers[0]!.digest}`);
  await send(url, 'GET', '/v2/control/other/tags/list');

  const all = assertJson(t, await send(url, 'GET', `${CONTROL}/journal`), 200);
  t.strictSame(Object.keys(all), ['entries']);
  t.strictSame(
    all.entries.map((e: any) => `${e.method} ${e.path} ${e.status}`),
    [
      `POST /v2/control/app/blobs/uploads/?digest=${image.config.digest} 201`,
      `POST /v2/control/app/blobs/uploads/?digest=${image.layers[0]!.digest} 201`,
      'PUT /v2/control/app/manifests/v1 201',
      'GET /v2/control/app/manifests/v1 200',
      'GET /v2/control/app/manifests/v2 404',
      `HEAD /v2/control/app/blobs/${image.layers[0]!.digest} 200`,
      'GET /v2/control/other/tags/list 404',
    ],
    'every request so far, oldest first (the journal request itself is recorded after it answers)',
  );
  t.match(all.entries[3], { seq: 4, method: 'GET', route: 'manifest', name: 'control/app', reference: 'v1', status: 200, digest: image.digest, completed: true, requestHeaders: { host: `127.0.0.1:${registry.port}` } });
  t.strictSame(all.entries, JSON.parse(JSON.stringify(registry.journal.all().slice(0, 7))), 'the same entries as registry.journal');
  const control = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?route=control`), 200).entries;
  t.strictSame(control.map((e: any) => `${e.method} ${e.path} ${e.status}`), [`GET ${CONTROL}/journal 200`], 'control requests are recorded too, as route control');

  const rows: { query: string; want: string[] }[] = [
    { query: 'method=GET', want: ['GET /v2/control/app/manifests/v1', 'GET /v2/control/app/manifests/v2', 'GET /v2/control/other/tags/list'] },
    { query: 'method=head', want: [`HEAD /v2/control/app/blobs/${image.layers[0]!.digest}`] },
    { query: 'route=manifest', want: ['PUT /v2/control/app/manifests/v1', 'GET /v2/control/app/manifests/v1', 'GET /v2/control/app/manifests/v2'] },
    { query: 'name=control/other', want: ['GET /v2/control/other/tags/list'] },
    { query: 'reference=v2', want: ['GET /v2/control/app/manifests/v2'] },
    { query: 'status=404', want: ['GET /v2/control/app/manifests/v2', 'GET /v2/control/other/tags/list'] },
    { query: 'code=NAME_UNKNOWN', want: ['GET /v2/control/other/tags/list'] },
    { query: `digest=${image.digest}`, want: ['PUT /v2/control/app/manifests/v1', 'GET /v2/control/app/manifests/v1'] },
    { query: 'method=GET&route=manifest&status=200', want: ['GET /v2/control/app/manifests/v1'] },
    { query: 'name=nobody', want: [] },
  ];
  for (const { query, want } of rows) {
    const entries = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?${query}`), 200).entries;
    // The control endpoint's own requests are left out here: each query adds one.
    t.strictSame(entries.filter((e: any) => e.route !== 'control').map((e: any) => `${e.method} ${e.path.split('?')[0]}`), want, `?${query}`);
  }
  const bad = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?status=abc`), 400);
  assertCodeSays(t, bad, 'UNSUPPORTED', /\bstatus\b.*integer/, 'status=abc');
});

t.test('POST faults: a rule or an array as JSON → 201 with ids; GET lists them with counts; DELETE removes one or all', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  const added = assertJson(t, await postFaults(url, { match: { method: 'PATCH' }, after: 2, action: { status: 503 } }), 201);
  t.strictSame(added, { faults: [{ id: 'fault-1', hits: 0, seen: 0, rule: { match: { method: 'PATCH' }, after: 2, action: { status: 503 } } }] });

  // The third PATCH fails with 503, the retry succeeds.
  const location = String((await send(url, 'POST', '/v2/control/up/blobs/uploads/')).headers.location);
  const chunks = [Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)];
  const patch = (i: number) => send(url, 'PATCH', location, { body: chunks[i]!, headers: { ...OCTETS, 'Content-Range': `${i * 10}-${i * 10 + 9}` } });
  t.equal((await patch(0)).status, 202);
  t.equal((await patch(1)).status, 202);
  const failed = await patch(2);
  t.equal(failed.status, 503);
  assertCodeSays(t, failed.json, 'UNKNOWN', /\bfault-1\b/, 'the injected 503');
  t.equal((await patch(2)).status, 202, 'the retry succeeds');
  t.equal((await send(url, 'PUT', `${location}?digest=${sha256(Buffer.concat(chunks))}`)).status, 201);

  const listed = assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200);
  t.strictSame(listed, { faults: [{ id: 'fault-1', hits: 1, seen: 4, rule: { match: { method: 'PATCH' }, after: 2, action: { status: 503 } } }] });
  const marked = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?status=503`), 200).entries;
  t.equal(marked.length, 1);
  t.equal(marked[0]?.fault, 'fault-1', 'the journal entry names the rule');

  await pushImage(url, 'team/app', 'v1');
  await pushImage(url, 'solo/app', 'v1');
  const many = assertJson(t, await postFaults(url, [
    { match: { name: '/^team\\//', route: 'manifest' }, times: 'Infinity', action: { status: 404 } },
    { match: { route: 'catalog' }, action: { rateLimit: { retryAfterSeconds: 4 } } },
    { match: { route: 'tags' }, action: { delayMs: 5 } },
  ]), 201);
  t.strictSame(many.faults.map((f: any) => f.id), ['fault-2', 'fault-3', 'fault-4']);
  t.strictSame(many.faults[0].rule, { match: { name: '/^team\\//', route: 'manifest' }, times: 'Infinity', action: { status: 404 } }, 'patterns and Infinity travel as strings');
  t.strictSame(registry.faults.list()[1]!.rule.match, { name: /^team\//, route: 'manifest' }, 'in force as a RegExp');
  t.equal(registry.faults.list()[1]!.rule.times, Infinity);
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).status, 404, 'the pattern matches team/app');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).status, 404, 'every time');
  t.equal((await send(url, 'GET', '/v2/solo/app/manifests/v1')).status, 200, 'and not solo/app');
  const limited = await send(url, 'GET', '/v2/_catalog');
  t.equal(limited.status, 429);
  t.equal(limited.headers['retry-after'], '4');

  t.equal((await send(url, 'DELETE', `${CONTROL}/faults/fault-2`)).status, 204, 'DELETE faults/<id> → 204');
  t.equal((await send(url, 'GET', '/v2/team/app/manifests/v1')).status, 200, 'the rule is gone');
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200).faults.map((f: any) => f.id), ['fault-1', 'fault-3', 'fault-4']);
  const unknown = assertJson(t, await send(url, 'DELETE', `${CONTROL}/faults/fault-2`), 404);
  t.match(unknown.errors[0].message, /\bfault-2\b/, 'the message names the rule');
  t.equal(unknown.errors[0].code, 'UNSUPPORTED', 'a code for "no such thing" that is not about a repository (README: errors the spec has no code for use UNSUPPORTED)');
  const deleted = await send(url, 'DELETE', `${CONTROL}/faults`);
  t.equal(deleted.status, 204, 'DELETE faults → 204');
  t.equal(deleted.body.length, 0);
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200), { faults: [] });
  t.strictSame(registry.faults.list(), []);
});

t.test('POST faults refuses what is not a rule: 400, and nothing is added', async (t) => {
  const registry = await startFor(t, { control: true });
  const { url } = registry;
  // The message is for people: each row checks only the words that say what was wrong.
  const rows: { body: string; message: RegExp }[] = [
    { body: 'not json', message: /^invalid fault rule: Unexpected token/ },
    { body: '{"action":{"status":503,"delayMs":1}}', message: /exactly one of.*"status","delayMs"/ },
    { body: '{"action":{"drop":"later"}}', message: /action\.drop.*'before-response'.*'mid-body'/ },
    { body: '{"times":null,"action":{"status":503}}', message: /\btimes\b/ },
    { body: '{"match":{"host":"x"},"action":{"status":503}}', message: /match\.host/ },
    { body: '[{"action":{"status":503}},{"action":{}}]', message: /^invalid fault rule: a fault action has exactly one of/ },
    { body: '5', message: /must be an object/ },
  ];
  for (const { body, message } of rows) {
    const reply = assertJson(t, await postFaults(url, body), 400);
    assertCodeSays(t, reply, 'UNSUPPORTED', message, body);
  }
  t.strictSame(registry.faults.list(), [], 'an array with one bad rule adds none of them');
  const huge = assertJson(t, await postFaults(url, JSON.stringify({ action: { status: 503 }, pad: 'x'.repeat(1024 * 1024) })), 400);
  assertCodeSays(t, huge, 'UNSUPPORTED', /1 MiB/, 'a rule body over 1 MiB');
});

t.test('POST reset: 204; content, sessions, journal and fault rules are gone; options stay', async (t) => {
  const registry = await startFor(t, { control: true, tagDeletes: false });
  const { url } = registry;
  await pushImage(url, 'control/app', 'v1');
  await send(url, 'POST', '/v2/control/app/blobs/uploads/');
  await postFaults(url, { match: { route: 'catalog' }, times: 'Infinity', action: { status: 503 } });
  const reset = await send(url, 'POST', `${CONTROL}/reset`);
  t.equal(reset.status, 204);
  t.equal(reset.body.length, 0);
  t.equal((await send(url, 'GET', '/v2/control/app/manifests/v1')).status, 404, 'content gone');
  t.strictSame(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 });
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 200, 'fault rules gone');
  const journal = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?route=control`), 200).entries;
  t.strictSame(journal.map((e: any) => `${e.method} ${e.path} ${e.status}`), [`POST ${CONTROL}/reset 204`], 'the journal starts again with the reset itself');
  const image = await pushImage(url, 'control/app', 'v1');
  t.equal((await send(url, 'DELETE', '/v2/control/app/manifests/v1')).status, 405, 'options stay');
  t.equal((await send(url, 'GET', `/v2/control/app/manifests/${image.digest}`)).status, 200);
});

t.test('the control endpoint is never faulted nor rate limited, and rules do not count its requests', async (t) => {
  const registry = await startFor(t, { control: true, rateLimit: { requests: 1, perSeconds: 3600 } });
  const { url } = registry;
  const fault = registry.faults.add({ times: Infinity, action: { status: 503 } });
  t.equal((await send(url, 'GET', '/v2/')).status, 503, 'the rule matches everything else');
  for (const [method, path] of [['GET', 'health'], ['GET', 'journal'], ['GET', 'faults']] as const) {
    t.equal((await send(url, method, `${CONTROL}/${path}`)).status, 200, `${method} ${path}`);
  }
  t.equal(fault.seen, 1, 'control requests are not seen by rules');
  t.equal((await send(url, 'GET', '/v2/')).status, 429, 'the rate limit applies elsewhere');
  t.equal((await send(url, 'DELETE', `${CONTROL}/faults`)).status, 204);
});

t.test('unknown control paths are 404, other methods 405 with the path\'s Allow', async (t) => {
  const { url } = await startFor(t, { control: true });
  for (const [method, path] of [['GET', 'nothing'], ['GET', ''], ['GET', 'faults/fault-1/more'], ['POST', 'faults/'], ['GET', 'journal/']] as const) {
    const reply = await send(url, method, `${CONTROL}/${path}`, method === 'POST' ? { body: '{}', headers: JSON_TYPE } : {});
    t.equal(reply.status, 404, `${method} ${path || '(empty)'}`);
    t.equal(reply.json?.errors?.[0]?.code, 'UNSUPPORTED');
  }
  // RFC 9110 §15.5.6: a 405 lists the methods the target resource supports.
  for (const [method, path, allow] of [
    ['POST', 'journal', 'GET, HEAD'],
    ['POST', 'health', 'GET, HEAD'],
    ['DELETE', 'reset', 'POST'],
    ['DELETE', 'journal', 'GET, HEAD'],
    ['GET', 'faults/fault-1', 'DELETE'],
    ['GET', 'seed', 'POST'],
    ['POST', 'wait', 'GET, HEAD'],
    ['DELETE', 'events', 'GET, HEAD'],
  ] as const) {
    const reply = await send(url, method, `${CONTROL}/${path}`, method === 'POST' ? { body: '{}', headers: JSON_TYPE } : {});
    t.equal(reply.status, 405, `${method} ${path}`);
    t.equal(reply.headers.allow, allow, `${method} ${path}: Allow`);
    t.equal(reply.json?.errors?.[0]?.code, 'UNSUPPORTED');
  }
  const put = await send(url, 'PUT', `${CONTROL}/faults`, { body: '[]', headers: JSON_TYPE });
  t.equal(put.status, 405, 'a method no control route takes');
  t.equal(put.headers.allow, 'GET, HEAD, POST, DELETE');
});

// ---------------------------------------------------------------------------
// From a spawned CLI: the way a test in another language drives it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'src/cli.ts');
const READY = /^oci-test-registry listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

interface Cli {
  child: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs the CLI from source (src/cli.ts through tsx, so no build is needed)
 * and resolves with its URL once it printed its ready line.
 */
function runCli(t: Test, args: string[]): Promise<Cli> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.PORT;
  const script = `import { main } from ${JSON.stringify(CLI)}; await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n')[0]!;
      if (stdout.includes('\n')) {
        const match = READY.exec(line);
        if (match) resolve({ child, url: match[1]!, stderr: () => stderr, exited });
        else reject(new Error(`unexpected ready line ${JSON.stringify(line)}`));
      }
    });
    void exited.then(({ code }) => reject(new Error(`the CLI exited with ${code} before its ready line; stderr: ${stderr}`)));
  });
}

async function rulesFile(t: Test, rules: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-control-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'faults.json');
  await writeFile(file, JSON.stringify(rules));
  return file;
}

const FILE_RULES = [
  { match: { method: 'PATCH' }, after: 2, action: { status: 503 } },
  { match: { route: '/^catalog$/' }, times: 'Infinity', action: { rateLimit: { retryAfterSeconds: 2 } } },
];

t.test('a spawned CLI with --control --faults @FILE: rules from the file, the journal, faults, reset and health over HTTP', async (t) => {
  const cli = await runCli(t, ['--port', '0', '--control', '--faults', `@${await rulesFile(t, FILE_RULES)}`]);
  const { url } = cli;

  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200), {
    faults: [
      { id: 'fault-1', hits: 0, seen: 0, rule: FILE_RULES[0] },
      { id: 'fault-2', hits: 0, seen: 0, rule: FILE_RULES[1] },
    ],
  }, 'the rules from the file are in force');
  const limited = await send(url, 'GET', '/v2/_catalog');
  t.equal(limited.status, 429);
  t.equal(limited.headers['retry-after'], '2');

  const location = String((await send(url, 'POST', '/v2/cli/app/blobs/uploads/')).headers.location);
  const chunks = [Buffer.alloc(8, 1), Buffer.alloc(8, 2), Buffer.alloc(8, 3)];
  const patch = (i: number) => send(url, 'PATCH', location, { body: chunks[i]!, headers: { ...OCTETS, 'Content-Range': `${i * 8}-${i * 8 + 7}` } });
  t.equal((await patch(0)).status, 202);
  t.equal((await patch(1)).status, 202);
  t.equal((await patch(2)).status, 503, 'the third PATCH fails');
  t.equal((await patch(2)).status, 202, 'its retry succeeds');
  t.equal((await send(url, 'PUT', `${location}?digest=${sha256(Buffer.concat(chunks))}`)).status, 201);

  const patches = assertJson(t, await send(url, 'GET', `${CONTROL}/journal?method=PATCH`), 200).entries;
  t.strictSame(patches.map((e: any) => e.status), [202, 202, 503, 202]);
  t.strictSame(patches.map((e: any) => e.fault ?? null), [null, null, 'fault-1', null], 'the journal names the rule that failed the third PATCH');
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200).faults.map((f: any) => [f.id, f.hits, f.seen]), [['fault-1', 1, 4], ['fault-2', 1, 1]]);

  const added = assertJson(t, await postFaults(url, { match: { route: 'base' }, action: { status: 500 } }), 201);
  t.equal(added.faults[0].id, 'fault-3');
  t.equal((await send(url, 'GET', '/v2/')).status, 500);
  t.equal((await send(url, 'DELETE', `${CONTROL}/faults/fault-2`)).status, 204);
  t.equal((await send(url, 'GET', '/v2/_catalog')).status, 200, 'the removed rule no longer applies');
  t.equal((await send(url, 'DELETE', `${CONTROL}/faults`)).status, 204);
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/faults`), 200), { faults: [] });

  t.equal((await send(url, 'POST', `${CONTROL}/reset`)).status, 204);
  const health = assertJson(t, await send(url, 'GET', `${CONTROL}/health`), 200);
  t.strictSame(health, { status: 'ok', usage: { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 } }, 'reset emptied the registry');
  t.strictSame(assertJson(t, await send(url, 'GET', `${CONTROL}/journal`), 200).entries.map((e: any) => `${e.method} ${e.path}`), [`POST ${CONTROL}/reset`, `GET ${CONTROL}/health`]);

  cli.child.kill('SIGTERM');
  t.strictSame(await cli.exited, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.equal(cli.stderr(), '', 'nothing on stderr');
});

t.test('a spawned CLI without --control answers 404 on the control routes', async (t) => {
  const cli = await runCli(t, ['--port', '0']);
  t.equal((await send(cli.url, 'GET', `${CONTROL}/health`)).status, 404);
  cli.child.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});

t.test('--faults FILE.json (a plain path, as the issue writes it) loads the rules too', async (t) => {
  const file = await rulesFile(t, FILE_RULES);
  let cli: Cli;
  try {
    cli = await runCli(t, ['--port', '0', '--control', '--faults', file]);
  } catch (error) {
    t.fail(`the CLI did not start with --faults ${file}`, { error: (error as Error).message });
    return;
  }
  t.equal(assertJson(t, await send(cli.url, 'GET', `${CONTROL}/faults`), 200).faults.length, 2);
  cli.child.kill('SIGTERM');
  t.equal((await cli.exited).code, 0);
});
