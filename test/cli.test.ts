// The command line, driven as CI jobs drive it: spawn the real bin (which
// loads the built dist/cli.js: run `npm run build` first), read its ready
// line, talk HTTP to it, signal it. No sleeps: every wait is on an event.
import t, { type Test } from 'tap';
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { Agent, request } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { parseCommandLine } from '../src/cli/command-line.js';
import { send } from './helpers/http.js';
import { pushImage } from './helpers/push.js';
import { LayoutBuilder, REF_NAME, blobPath, readLayout } from './helpers/layout.js';

const BIN = fileURLToPath(new URL('../bin/oci-test-registry.cjs', import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL('../package.json', import.meta.url));
const READY = /^oci-test-registry listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

/** The environment of a CI job: ours, less $PORT and tap's loaders. */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('PORT' in extra)) delete env.PORT;
  delete env.NODE_OPTIONS;
  return env;
}

interface Run {
  child: ChildProcess;
  /** The first line on stdout. Rejects if the process ends first. */
  ready: Promise<string>;
  /** Exit code and signal, once the process has ended and its output is read. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr satisfies `test`. */
  stderrUntil(test: (text: string) => boolean): Promise<string>;
}

function watch(child: ChildProcess): Run {
  let stdout = '';
  let stderr = '';
  const stderrWaiters: { test: (text: string) => boolean; resolve: (text: string) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    for (const waiter of [...stderrWaiters]) {
      if (waiter.test(stderr)) {
        stderrWaiters.splice(stderrWaiters.indexOf(waiter), 1);
        waiter.resolve(stderr);
      }
    }
  });
  // Not the 'close' event: it never comes after the parent itself disconnects an IPC channel (Node 20).
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const drained = (stream: NodeJS.ReadableStream) => new Promise((resolve) => stream.once('close', resolve));
  const closed = Promise.all([exited, drained(child.stdout!), drained(child.stderr!)]).then(([status]) => status);
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end >= 0) resolve(stdout.slice(0, end));
    });
    void closed.then(({ code }) => reject(new Error(`exited with ${code} before its ready line; stderr: ${stderr}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    closed,
    stdout: () => stdout,
    stderr: () => stderr,
    stderrUntil: (test) => (test(stderr) ? Promise.resolve(stderr) : new Promise((resolve) => stderrWaiters.push({ test, resolve }))),
  };
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Spawns the bin with `args`; killed at teardown if still running. */
function run(t: Teardown, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return watch(child);
}

/** Spawns the bin on a free port and resolves with its URL once it is ready. */
async function start(t: Teardown, args: string[] = []): Promise<Run & { url: string; port: number }> {
  const running = run(t, ['--port', '0', ...args]);
  const line = await running.ready;
  const match = READY.exec(line);
  if (!match) throw new Error(`unexpected ready line ${JSON.stringify(line)}`);
  return { ...running, url: match[1]!, port: Number(match[2]) };
}

/** Whether a port can be listened on again (the registry let it go). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function listenSomewhere(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** A usage error: exit 2, one line on stderr, no stack trace, nothing on stdout. */
async function expectUsageError(t: Test, running: Run, message: RegExp): Promise<void> {
  const { code } = await running.closed;
  t.equal(code, 2, 'exit code 2');
  const lines = running.stderr().trimEnd().split('\n');
  t.equal(lines.length, 1, 'one line on stderr');
  t.match(lines[0], /^oci-test-registry: /);
  t.match(lines[0], message);
  t.notMatch(running.stderr(), /\n\s+at /, 'no stack trace');
  t.equal(running.stdout(), '', 'nothing on stdout');
}

t.test('the ready line comes once the port listens; SIGTERM closes it and exits 0', async (t) => {
  const running = await start(t);
  // Asked at once: nothing is printed before the port really listens.
  const reply = await send(running.url, 'GET', '/v2/');
  t.equal(reply.status, 200);
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0');
  t.equal(running.stdout(), `oci-test-registry listening on ${running.url}\n`, 'exactly one line on stdout');
  running.child.kill('SIGTERM');
  t.same(await running.closed, { code: 0, signal: null });
  t.equal(running.stderr(), '', 'silent by default');
  t.ok(await portIsFree(running.port), 'the port is free again');
});

t.test('SIGINT exits 0 too, even with a keep-alive connection open (close() does not wait for idle sockets)', async (t) => {
  // The keep-alive and idle timeouts are ten minutes: the process can only exit (rather than hit
  // tap's timeout) if closing ends the idle connection itself. The event, not a stopwatch.
  const running = await start(t, ['--keep-alive-timeout', '10m', '--idle-timeout', '10m']);
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const socket = await new Promise<Socket>((resolve, reject) => {
    const req = request(`${running.url}/v2/`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(req.socket!));
    });
    req.on('error', reject).end();
  });
  t.notOk(socket.destroyed, 'the keep-alive connection is open when the signal comes');
  running.child.kill('SIGINT');
  t.same(await running.closed, { code: 0, signal: null });
  t.ok(await portIsFree(running.port), 'the port is free again');
});

t.test('--json prints one JSON object', async (t) => {
  const running = run(t, ['--port', '0', '--json']);
  const ready = JSON.parse(await running.ready);
  t.same(Object.keys(ready).sort(), ['host', 'pid', 'port', 'url']);
  t.equal(ready.pid, running.child.pid);
  t.equal(ready.url, `http://127.0.0.1:${ready.port}`);
  t.equal(ready.host, `127.0.0.1:${ready.port}`, 'host is host:port, ready for image references');
  t.equal((await send(ready.url, 'GET', '/v2/')).status, 200);
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
});

t.test('forked, it sends {ready, url} over IPC, and leaves when the channel closes', async (t) => {
  // execArgv: [] — not the test runner's loaders (tsx, tap), which fork would pass on.
  const child = fork(BIN, ['--port', '0'], { silent: true, env: childEnv(), execArgv: [] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const running = watch(child);
  const message = await new Promise<any>((resolve) => child.once('message', resolve));
  t.match(message, { ready: true, url: /^http:\/\/127\.0\.0\.1:\d+$/ });
  t.equal(await running.ready, `oci-test-registry listening on ${message.url}`, 'the ready line is printed too');
  t.equal((await send(message.url, 'GET', '/v2/')).status, 200);
  child.disconnect();
  t.same(await running.closed, { code: 0, signal: null });
});

t.test('$PORT is read when --port is not given; --port wins over it', async (t) => {
  const fromEnv = run(t, [], { PORT: '0' });
  const line = await fromEnv.ready;
  t.match(line, READY);
  t.not(Number(READY.exec(line)![2]), 5000, '$PORT=0 picked a free port instead of the default 5000');
  fromEnv.child.kill('SIGTERM');
  t.equal((await fromEnv.closed).code, 0);

  const flagWins = run(t, ['--port', '0'], { PORT: 'not a port' });
  t.match(await flagWins.ready, READY);
  flagWins.child.kill('SIGTERM');
  t.equal((await flagWins.closed).code, 0);

  await expectUsageError(t, run(t, [], { PORT: 'nope' }), /invalid \$PORT "nope".*--port/);
});

t.test('a port in use: exit 2 with one line naming the problem and the fix', async (t) => {
  const holder = await listenSomewhere();
  t.teardown(() => holder.close());
  const { port } = holder.address() as { port: number };
  await expectUsageError(t, run(t, ['--port', String(port)]), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: .*--port 0 for a free one`));
});

t.test('bad flags and bad values: exit 2 with one clear line', async (t) => {
  const rows: [string[], RegExp][] = [
    [['--bogus'], /unknown option --bogus: see --help/],
    [['--prot', '5000'], /unknown option --prot \(did you mean --port\?\)/],
    [['--port'], /--port needs a value, e\.g\. --port 5000/],
    [['--port', '65536'], /invalid value "65536" for --port: .*0 to 65535/],
    [['--port', 'http'], /invalid value "http" for --port/],
    [['--max-manifest-bytes', 'lots'], /invalid value "lots" for --max-manifest-bytes: .*e\.g\. --max-manifest-bytes 4MiB/],
    [['--max-manifest-bytes', '0'], /--max-manifest-bytes must be a positive number, got 0/],
    [['--upload-timeout', '10 parsecs'], /invalid value "10 parsecs" for --upload-timeout/],
    [['--max-page-size', '0'], /--max-page-size must be a positive integer/],
    [['--deletes=perhaps'], /invalid value "perhaps" for --deletes: use --deletes or --no-deletes/],
    [['--json=yes'], /--json takes no value/],
    [['--log', 'xml'], /invalid value "xml" for --log: use --log \(text lines\) or --log json/],
    [['serve'], /unexpected argument "serve"/],
    [['--seed', 'Bad_Name=./x'], /invalid repository name "Bad_Name" in --seed/],
  ];
  // All at once (each is a process start), then checked one by one.
  const runs = rows.map(([args]) => run(t, args));
  for (const [i, [args, message]] of rows.entries()) {
    await t.test(args.join(' '), (t) => expectUsageError(t, runs[i]!, message));
  }
});

t.test('--help lists every registry option with its default; --version prints package.json version', async (t) => {
  const help = run(t, ['--help']);
  t.same(await help.closed, { code: 0, signal: null });
  const text = help.stdout();
  t.match(text, /^Usage: oci-test-registry \[options\]/);
  // Options a process outside cannot give (functions, objects) have no flag.
  const apiOnly = new Set(['onError', 'onRequest', 'store', 'teardown']);
  for (const key of Object.keys(DEFAULT_OPTIONS).filter((k) => !apiOnly.has(k))) {
    const flag = key.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    t.match(text, new RegExp(`\\n  --(\\[no-\\])?${flag}\\b[^\\n]*(\\n {4,}[^\\n]*)*\\(default: [^)]+\\)`), `--${flag} is listed with its default`);
  }
  t.match(text, new RegExp(`--max-manifest-bytes SIZE[\\s\\S]*?\\(default: ${DEFAULT_OPTIONS.maxManifestBytes / 1024 ** 2}MiB\\)`), 'defaults come from DEFAULT_OPTIONS');
  t.match(text, /--max-page-size N/);
  for (const flag of ['--seed', '--export', '--json', '--log', '--help', '--version']) t.match(text, flag);

  const version = run(t, ['--version']);
  t.same(await version.closed, { code: 0, signal: null });
  const { version: expected } = JSON.parse(await readFile(PACKAGE_JSON, 'utf8'));
  t.equal(version.stdout(), `${expected}\n`);

  const short = run(t, ['-h']);
  t.equal((await short.closed).code, 0);
  t.equal(short.stdout(), text, '-h is --help');
});

t.test('registry flags reach the registry: --no-deletes, --deletes=false, --max-page-size', async (t) => {
  for (const flag of ['--no-deletes', '--deletes=false']) {
    const running = await start(t, [flag, '--max-page-size', '1']);
    const image = await pushImage(running.url, 'flags/app', 'v1');
    await pushImage(running.url, 'flags/app', 'v2');
    const removed = await send(running.url, 'DELETE', `/v2/flags/app/manifests/${image.digest}`);
    t.equal(removed.status, 405, `${flag}: DELETE answers 405`);
    const tags = await send(running.url, 'GET', '/v2/flags/app/tags/list');
    t.same(tags.json.tags, ['v1'], 'pages are capped at 1');
    running.child.kill('SIGTERM');
    t.equal((await running.closed).code, 0);
  }
});

t.test('the journal is kept with --control, which alone can read it; without it none is, unless --journal-limit asks', async (t) => {
  const limit = (argv: string[], env: NodeJS.ProcessEnv = {}) => resolveOptions(parseCommandLine(argv, env).options).journalLimit;
  t.equal(limit([]), 0, 'no --control: no journal');
  t.equal(limit(['--control', '--no-control']), 0, 'the last of --control and --no-control counts');
  t.equal(limit(['--control']), DEFAULT_OPTIONS.journalLimit, '--control: the library default');
  t.equal(limit([], { OCI_TEST_REGISTRY_CONTROL: 'true' }), DEFAULT_OPTIONS.journalLimit, 'OCI_TEST_REGISTRY_CONTROL=true as --control');
  t.equal(limit(['--journal-limit', '50']), 50, 'an explicit limit is kept without --control');
  t.equal(limit(['--control', '--journal-limit', '0']), 0, 'and --journal-limit 0 turns it off with --control');
});

t.test('JSON-valued and repeatable flags: --auth, --faults, --warnings, --control', async (t) => {
  const dir = t.testdir();
  const rules = join(dir, 'faults.json');
  await writeFile(rules, JSON.stringify([{ match: { route: 'tags' }, action: { status: 503 }, times: 1 }]));
  const running = await start(t, ['--auth', 'basic:ci:s3cret,bob:pw', '--faults', `@${rules}`, '--warnings', 'one', '--warnings', 'two', '--control']);
  const authorization = `Basic ${Buffer.from('ci:s3cret').toString('base64')}`;
  t.equal((await send(running.url, 'GET', '/v2/')).status, 401, 'credentials required');
  const base = await send(running.url, 'GET', '/v2/', { headers: { authorization } });
  t.equal(base.status, 200);
  t.same(base.headers.warning, '299 - "one", 299 - "two"', 'both warnings');
  t.equal((await send(running.url, 'GET', '/v2/x/tags/list', { headers: { authorization } })).status, 503, 'the fault from @FILE fired');
  t.equal((await send(running.url, 'GET', '/v2/x/tags/list', { headers: { authorization } })).status, 404, 'once');
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);

  // A bad --auth value is refused without echoing the password.
  const refused = run(t, ['--port', '0', '--auth', 'basic:no-password-here']);
  await expectUsageError(t, refused, /invalid value for --auth: give MODE:USER:PASSWORD/);
  t.notMatch(refused.stderr(), /no-password-here/);
});

t.test('--seed loads an OCI image layout; it is pulled back byte for byte', async (t) => {
  const dir = join(t.testdir(), 'seeded');
  const layout = new LayoutBuilder();
  const image = layout.image({ layers: ['layer one', 'layer two'] });
  const other = layout.image({ layers: ['other'] });
  layout.entry(image, 'v1').entry(other, 'registry.example.com/team/other:2.0');
  await layout.write(dir);

  const running = await start(t, ['--seed', dir]);
  const manifest = await send(running.url, 'GET', '/v2/seeded/manifests/v1');
  t.equal(manifest.status, 200);
  t.ok(manifest.body.equals(image.bytes), 'manifest bytes as in the layout');
  t.equal(manifest.headers['content-type'], image.mediaType);
  t.equal(manifest.headers['docker-content-digest'], image.digest);
  for (const descriptor of [manifest.json.config, ...manifest.json.layers]) {
    const blob = await send(running.url, 'GET', `/v2/seeded/blobs/${descriptor.digest}`);
    t.equal(blob.status, 200);
    t.ok(blob.body.equals(layout.blobs.get(descriptor.digest)!), `blob ${descriptor.digest} byte for byte`);
  }
  const otherManifest = await send(running.url, 'GET', '/v2/team/other/manifests/2.0');
  t.ok(otherManifest.body.equals(other.bytes), 'a full reference in ref.name names its repository');
  t.same((await send(running.url, 'GET', '/v2/_catalog')).json.repositories, ['seeded', 'team/other']);
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
});

t.test('--seed NAME:TAG=DIR, repeated', async (t) => {
  const base = t.testdir();
  const first = new LayoutBuilder();
  const a = first.image({ layers: ['a'] });
  first.entry(a, 'whatever');
  await first.write(join(base, 'first'));
  const second = new LayoutBuilder();
  const b = second.image({ layers: ['b'] });
  second.entry(b);
  await second.write(join(base, 'second'));

  const running = await start(t, ['--seed', `team/app:1.0=${join(base, 'first')}`, '--seed', `team/app=${join(base, 'second')}`]);
  t.ok((await send(running.url, 'GET', '/v2/team/app/manifests/1.0')).body.equals(a.bytes));
  t.ok((await send(running.url, 'GET', `/v2/team/app/manifests/${b.digest}`)).body.equals(b.bytes), 'an entry without ref.name is stored by digest');
  t.same((await send(running.url, 'GET', '/v2/team/app/tags/list')).json.tags, ['1.0']);
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
});

t.test('a bad layout: exit 2 naming the file and the problem', async (t) => {
  const dir = join(t.testdir(), 'broken');
  const layout = new LayoutBuilder();
  const image = layout.image({ layers: ['precious'] });
  layout.entry(image, 'v1');
  await layout.write(dir);
  const [digest] = [...layout.blobs].find(([, bytes]) => bytes.toString() === 'precious')!;
  await writeFile(blobPath(dir, digest), 'tampered');
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await expectUsageError(t, run(t, ['--port', '0', '--seed', dir]), new RegExp(`--seed ${escape(dir)}: ${escape(blobPath(dir, digest))}: content does not match its digest: it hashes to sha256:\\w+ \\(named by `));

  await expectUsageError(t, run(t, ['--port', '0', '--seed', join(dir, 'nope')]), /nope: cannot open the layout directory: does not exist/);
});

t.test('--export round trip: seed, push, stop, and the export holds both', async (t) => {
  const base = t.testdir();
  const input = join(base, 'in', 'app');
  const layout = new LayoutBuilder();
  const { one, two, index } = layout.twoImages();
  const sbom = layout.artifact(one, 'application/vnd.example.sbom', 'sbom');
  layout.entry(index, 'latest').entry(one, 'one').entry(two, 'two');
  layout.entry(sbom, undefined, { artifactType: 'application/vnd.example.sbom' });
  await layout.write(input);
  const output = join(base, 'out');

  const running = await start(t, ['--seed', input, '--export', output]);
  const pushed = await pushImage(running.url, 'pushed/img', 'v1', { layers: ['pushed layer'] });
  running.child.kill('SIGTERM');
  t.same(await running.closed, { code: 0, signal: null });
  t.equal(running.stderr(), '');

  const [expected, actual] = await Promise.all([readLayout(input), readLayout(join(output, 'app'))]);
  t.same(actual.ociLayout, expected.ociLayout, 'oci-layout');
  t.same(actual.index, expected.index, 'index.json: the same entries, tags as ref.name');
  t.same([...actual.blobs.keys()].sort(), [...expected.blobs.keys()].sort(), 'the same blob files');
  for (const [file, bytes] of expected.blobs) t.ok(actual.blobs.get(file)?.equals(bytes), `${file} byte for byte`);

  const exported = await readLayout(join(output, 'pushed', 'img'));
  t.same(exported.index.manifests, [{ mediaType: pushed.manifest.mediaType, digest: pushed.digest, size: pushed.bytes.length, annotations: { [REF_NAME]: 'v1' } }]);
  t.ok(exported.blobs.get(`blobs/sha256/${pushed.digest.slice(7)}`)?.equals(pushed.bytes), 'the pushed manifest');
  t.ok(exported.blobs.get(`blobs/sha256/${pushed.layers[0]!.digest.slice(7)}`)?.equals(Buffer.from('pushed layer')), 'the pushed layer');

  // The export seeds a new registry.
  const again = await start(t, ['--seed', `pushed/img=${join(output, 'pushed', 'img')}`]);
  t.ok((await send(again.url, 'GET', '/v2/pushed/img/manifests/v1')).body.equals(pushed.bytes));
  again.child.kill('SIGTERM');
  t.equal((await again.closed).code, 0);
});

t.test('--log json prints one JSON line per request; --log prints text lines', async (t) => {
  const json = await start(t, ['--log', 'json']);
  await send(json.url, 'GET', '/v2/');
  await send(json.url, 'GET', '/v2/missing/manifests/v1');
  const text = await json.stderrUntil((s) => s.split('\n').length > 2);
  const records = text.trimEnd().split('\n').map((line) => JSON.parse(line));
  t.match(records, [
    { method: 'GET', path: '/v2/', status: 200, bytesIn: 0, bytesOut: 2, durationMs: Number, completed: true },
    { method: 'GET', path: '/v2/missing/manifests/v1', status: 404, code: 'NAME_UNKNOWN' },
  ]);
  json.child.kill('SIGTERM');
  t.equal((await json.closed).code, 0);

  const plain = await start(t, ['--log']);
  await send(plain.url, 'GET', '/v2/');
  await send(plain.url, 'GET', '/v2/missing/manifests/v1');
  const lines = (await plain.stderrUntil((s) => s.split('\n').length > 2)).trimEnd().split('\n');
  t.match(lines[0], /^GET \/v2\/ 200 in=0B out=2B [\d.]+ms$/);
  t.match(lines[1], /^GET \/v2\/missing\/manifests\/v1 404 NAME_UNKNOWN in=0B out=\d+B [\d.]+ms$/);
  t.equal(plain.stdout().split('\n').length, 2, 'logs never go to stdout');
  plain.child.kill('SIGTERM');
  t.equal((await plain.closed).code, 0);
});

t.test('--host 0.0.0.0 warns on stderr', async (t) => {
  const running = run(t, ['--host', '0.0.0.0', '--port', '0']);
  t.match(await running.ready, /^oci-test-registry listening on http:\/\/0\.0\.0\.0:\d+$/);
  t.match(await running.stderrUntil((s) => s.includes('\n')), /^oci-test-registry: warning: listening on 0\.0\.0\.0: .*--host 127\.0\.0\.1/);
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
});

t.test('OCI_TEST_REGISTRY_* variables: one per flag, reaching the registry; the flag wins; a bad one names the variable', async (t) => {
  const running = run(t, ['--port', '0', '--no-deletes'], {
    OCI_TEST_REGISTRY_HOST: '0.0.0.0',
    OCI_TEST_REGISTRY_WARNINGS: 'from the environment',
    OCI_TEST_REGISTRY_MAX_PAGE_SIZE: '1',
    OCI_TEST_REGISTRY_DELETES: 'true',
    OCI_TEST_REGISTRY_LOG: 'json',
  });
  const port = Number(/^oci-test-registry listening on http:\/\/0\.0\.0\.0:(\d+)$/.exec(await running.ready)?.[1]);
  const url = `http://127.0.0.1:${port}`;
  await pushImage(url, 'env/app', 'v1');
  await pushImage(url, 'env/app', 'v2');
  const tags = await send(url, 'GET', '/v2/env/app/tags/list');
  t.equal(tags.headers.warning, '299 - "from the environment"', 'OCI_TEST_REGISTRY_WARNINGS reached the registry');
  t.same(JSON.parse(tags.body.toString()).tags, ['v1'], 'OCI_TEST_REGISTRY_MAX_PAGE_SIZE=1 caps the page');
  const head = await send(url, 'HEAD', '/v2/env/app/manifests/v1');
  const removal = await send(url, 'DELETE', `/v2/env/app/manifests/${head.headers['docker-content-digest']}`);
  t.equal(removal.status, 405, '--no-deletes on the command line wins over OCI_TEST_REGISTRY_DELETES=true');
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
  const lines = running.stderr().trimEnd().split('\n');
  t.equal(lines.filter((line) => line.includes('warning')).length, 1, 'OCI_TEST_REGISTRY_HOST=0.0.0.0: one warning line');
  t.match(lines[0], /^oci-test-registry: warning: listening on 0\.0\.0\.0: anyone who can reach this machine can push to and pull from this registry/);
  t.match(JSON.parse(lines.at(-1)!), { method: 'DELETE', status: 405 }, 'OCI_TEST_REGISTRY_LOG=json: JSON request lines');

  await expectUsageError(t, run(t, [], { OCI_TEST_REGISTRY_UPLOAD_PATCH_STATUS: '200' }), /^oci-test-registry: invalid \$OCI_TEST_REGISTRY_UPLOAD_PATCH_STATUS: invalid value "200" for --upload-patch-status: give one of 202, 204/);
  await expectUsageError(t, run(t, [], { OCI_TEST_REGISTRY_DELETES: 'maybe' }), /invalid \$OCI_TEST_REGISTRY_DELETES: .*--deletes or --no-deletes/);
  const empty = await start(t, []);
  t.equal(empty.stderr(), '', 'unset variables change nothing: loopback, no warning');
  empty.child.kill('SIGTERM');
  await empty.closed;
});

t.test('--help names the variables', async (t) => {
  const help = run(t, ['--help']);
  await help.closed;
  const text = help.stdout().replaceAll('\n', ' ');
  for (const variable of ['OCI_TEST_REGISTRY_HOST', 'OCI_TEST_REGISTRY_DELETES', 'OCI_TEST_REGISTRY_MAX_PAGE_SIZE', 'OCI_TEST_REGISTRY_AUTH', 'OCI_TEST_REGISTRY_LOG']) {
    t.match(text, variable, `lists ${variable}`);
  }
  t.notMatch(text, 'OCI_TEST_REGISTRY_PORT', 'the port is $PORT, not a second variable');
});

t.test('with --auth, a non-loopback host warns once that credentials can be tried, not that anyone can push', async (t) => {
  const running = run(t, ['--host', '0.0.0.0', '--port', '0', '--auth', 'basic:ci:secret']);
  await running.ready;
  running.child.kill('SIGTERM');
  t.equal((await running.closed).code, 0);
  const lines = running.stderr().trimEnd().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /^oci-test-registry: warning: listening on 0\.0\.0\.0: anyone who can reach this machine can try credentials on this registry/);
});

t.test('the image health check: exit 0 when GET /v2/ answers on $PORT, 1 when nothing listens', async (t) => {
  const healthCheck = fileURLToPath(new URL('../dist/cli/health-check.js', import.meta.url));
  const check = (env: NodeJS.ProcessEnv) => watch(spawn(process.execPath, [healthCheck], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(env) }));
  const registry = await start(t, ['--auth', 'basic:ci:secret']);
  const up = check({ PORT: String(registry.port) });
  t.equal((await up.closed).code, 0, 'a registry answering 401 (auth on) is up');
  t.equal(up.stdout(), `GET http://127.0.0.1:${registry.port}/v2/ → 401\n`);
  registry.child.kill('SIGTERM');
  await registry.closed;

  const free = await listenSomewhere();
  const port = (free.address() as { port: number }).port;
  await new Promise((resolve) => free.close(resolve));
  const down = check({ PORT: String(port), OCI_TEST_REGISTRY_HOST: '0.0.0.0' });
  t.equal((await down.closed).code, 1, 'nothing listening: exit 1');
  t.match(down.stdout(), `GET /v2/ on 127.0.0.1:${port} failed: connect ECONNREFUSED`, 'a wildcard host is asked on loopback');
});
