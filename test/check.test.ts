// `oci-test-registry check` and checkClient: timeouts, the in-process API,
// the findings' rules on real requests, the uploadState option, and the
// command line's exit codes, flags and report files.
import t from 'tap';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { access, readFile, watch } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkClient, commandClient, runCheck, startRegistry } from '../src/index.js';
import { formatCatalogue } from '../src/check/scenarios.js';
import { byName, CHECK_CLIENT as CLIENT, CHECK_TEST_TIMEOUT_MS, rulesOf as rules } from './helpers/check.js';
import { runCli } from './helpers/cli-source.js';
import { send, sha256 } from './helpers/http.js';
import { LayoutBuilder } from './helpers/layout.js';
import { tempDir } from './interop/skopeo-run.js';

t.setTimeout(CHECK_TEST_TIMEOUT_MS);

/**
 * A client that starts a grandchild (sleep) holding the write end of the
 * FIFO `dir/alive`; once the grandchild holds it, `dir/holding` appears, and
 * the client waits for the grandchild. `exited` resolves when the grandchild
 * has exited: the kernel closes its end of the FIFO then, and the reader
 * here sees the end of the file. An event, not a look at /proc: on a busy
 * machine a process killed an instant ago can still show as running there.
 *
 * `holding` is made by the grandchild after its stdout is the FIFO, not by
 * the shell after `&`: a grandchild killed before it opened the FIFO leaves
 * the reader's open waiting for a writer for ever, which a busy machine made
 * happen when `dir/pid` (written from `$!`) came first.
 */
function hungClient(dir: string): { command: string[]; exited: Promise<void> } {
  const fifo = join(dir, 'alive');
  const holding = join(dir, 'holding');
  execFileSync('mkfifo', [fifo]);
  // Opened before the client starts, so the grandchild's open for writing does not wait.
  const exited = once(createReadStream(fifo).resume(), 'end').then(() => undefined);
  return { command: ['/bin/sh', '-c', `{ : > ${holding}.tmp && mv ${holding}.tmp ${holding} && exec sleep 300; } > ${fifo} & wait`], exited };
}

/** Resolves once `name` exists in `dir` (watched, not polled). */
async function fileAppears(dir: string, name: string): Promise<void> {
  const stop = new AbortController();
  const watcher = watch(dir, { signal: stop.signal });
  try {
    if (await access(join(dir, name)).then(() => true, () => false)) return;
    for await (const event of watcher) if (event.filename === name) return;
  } finally {
    stop.abort();
  }
}

t.test('a client still running at the timeout is killed with everything it started', async (t) => {
  const dir = await tempDir(t, 'check-timeout');
  const client = hungClient(dir);
  const [r] = (await runCheck(commandClient(client.command), { scenarios: ['baseline'], timeoutMs: 500 })).results;
  t.equal(r!.timedOut, true);
  t.equal(r!.result, 'fail');
  t.equal(r!.exitCode, null);
  t.match(r!.reasons, [/timed out after 0.5 s/]);
  await client.exited;
  t.pass('the grandchild sleep was killed (it would sleep 300 s)');
});

t.test('an interrupted check ends the client it started (its process group is not the terminal\'s)', async (t) => {
  const dir = await tempDir(t, 'check-interrupt');
  let child: ChildProcess | undefined;
  const client = hungClient(dir);
  const ended = runCli(['check', '--scenarios', 'baseline', '--', ...client.command], { onSpawn: (c) => (child = c) });
  await fileAppears(dir, 'holding');
  child!.kill('SIGINT');
  const run = await ended;
  t.equal(run.code, 130);
  t.match(run.stderr, /SIGINT: stopped/);
  await client.exited;
  t.pass('the grandchild sleep was killed (it would sleep 300 s)');
});

t.test('checkClient runs a Node client in-process and returns the results as objects', async (t) => {
  // Pushes one blob with a single POST, as a naive client does.
  const naive = async (target: { url: string; repository: string }) => {
    const blob = Buffer.from('hello');
    const res = await fetch(`${target.url}/v2/${target.repository}/blobs/uploads/?digest=${sha256(blob)}`, { method: 'POST', body: blob });
    if (res.status !== 201) throw new Error(`POST answered ${res.status}`);
  };
  const report = await checkClient(naive, { scenarios: ['baseline', 'no-single-post'] });
  const named = byName(report.results);
  t.equal(named.baseline!.result, 'pass');
  t.equal(named['no-single-post']!.result, 'fail');
  t.match(named['no-single-post']!.output, /POST answered 202/);
  t.same(rules(named['no-single-post']!), ['upload-never-closed'], 'the session the 202 opened was left open');
  t.equal(named['no-single-post']!.findings[0]!.severity, 'info', 'info only, since the client failed anyway');
  t.equal(report.passed, 1);
  t.equal(report.ok, false);

  const never = await checkClient(() => new Promise(() => undefined), { scenarios: ['baseline'], timeoutMs: 200 });
  t.equal(never.results[0]!.timedOut, true, 'a run that never settles is abandoned at the timeout');
});

t.test('findings over real requests', async (t) => {
  const manifest = (config: { digest: string; size: number }) =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [] }));
  const [r] = (
    await checkClient(
      async ({ url, repository }) => {
        const config = Buffer.from('{}');
        const digest = sha256(config);
        // Pushed twice, the second time without asking first.
        for (let i = 0; i < 2; i++) await send(url, 'POST', `/v2/${repository}/blobs/uploads/?digest=${digest}`, { body: config });
        const body = manifest({ digest, size: 2 });
        await send(url, 'PUT', `/v2/${repository}/manifests/v1`, { body }); // no Content-Type
        await send(url, 'PUT', `/v2/${repository}/manifests/v2`, { body, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' } });
        // Two PATCHes, the second without Content-Range, and the session left open.
        const opened = await send(url, 'POST', `/v2/${repository}/blobs/uploads/`);
        const location = opened.headers.location as string;
        const patched = await send(url, 'PATCH', location, { body: 'ab', headers: { 'content-range': '0-1' } });
        await send(url, 'PATCH', patched.headers.location as string, { body: 'cd' });
        // Tags: n above the page size, and the next page never asked for.
        await send(url, 'GET', `/v2/${repository}/tags/list?n=50`);
      },
      { scenarios: ['tags-paged'] },
    )
  ).results;
  const found = Object.fromEntries(r!.findings.map((f) => [f.rule, f]));
  t.same(Object.keys(found).sort(), [
    'blob-pushed-again', 'chunk-without-content-range', 'link-not-followed', 'manifest-content-type-mismatch',
    'manifest-put-without-content-type', 'page-size-exceeded', 'upload-never-closed',
  ]);
  const request = (rule: string) => r!.requests.find((e) => e.seq === found[rule]!.seq)!;
  t.equal(found['manifest-put-without-content-type']!.severity, 'MUST', 'MUST: the body says mediaType');
  t.equal(request('manifest-put-without-content-type').reference, 'v1');
  t.equal(request('manifest-content-type-mismatch').status, 400);
  t.equal(request('blob-pushed-again').seq, r!.requests.filter((e) => e.method === 'POST')[1]!.seq);
  t.equal(request('upload-never-closed').status, 202);
  t.equal(request('chunk-without-content-range').method, 'PATCH');
  t.match(request('page-size-exceeded').path, /n=50/);
  t.equal(found['upload-never-closed']!.severity, 'MUST', 'the client claimed success');
  t.equal(r!.result, 'fail');
  for (const f of r!.findings) t.ok(f.source.length > 0, `${f.rule} names its source`);
});

t.test('uploadState: an opaque _state on upload Locations; requests without it are still served', async (t) => {
  const registry = await startRegistry({ teardown: t, uploadState: true });
  const opened = await send(registry.url, 'POST', '/v2/team/app/blobs/uploads/');
  t.match(opened.headers.location, /^\/v2\/team\/app\/blobs\/uploads\/[^?]+\?_state=[A-Za-z0-9_-]+$/);
  const patched = await send(registry.url, 'PATCH', opened.headers.location as string, { body: 'ab', headers: { 'content-range': '0-1' } });
  t.equal(patched.status, 202);
  t.not(patched.headers.location, opened.headers.location, 'the state moves with the offset');
  const bare = (patched.headers.location as string).split('?')[0]!;
  const closed = await send(registry.url, 'PUT', `${bare}?digest=${sha256(Buffer.from('ab'))}`);
  t.equal(closed.status, 201, 'a URL without _state is served all the same');
  const plain = await startRegistry({ teardown: t });
  t.notMatch((await send(plain.url, 'POST', '/v2/team/app/blobs/uploads/')).headers.location, /\?/, 'off by default');
});

t.test('the command line', async (t) => {
  t.test('--list prints the catalogue; bad usage exits 2', async (t) => {
    const list = await runCli(['check', '--list']);
    t.equal(list.code, 0);
    t.equal(list.stdout, formatCatalogue());
    const some = await runCli(['check', '--list', '--scenarios', '503-*,baseline']);
    t.same(some.stdout.split('\n\n')[0]!.split('\n').filter((l) => /^\S/.test(l)).map((l) => l.split(' ')[0]), ['baseline', '503-once-blob-upload', '503-once-manifest-put']);
    for (const args of [['check', '--scenarios', 'nope-*', '--', 'true'], ['check'], ['check', '--timeout', 'soon', '--', 'true'], ['check', '--bogus', '--', 'true']]) {
      const run = await runCli(args);
      t.equal(run.code, 2, args.join(' '));
      t.match(run.stderr, /oci-test-registry check: /);
    }
  });

  t.test('placeholders, env, --expect, --verify and the report files', async (t) => {
    const dir = await tempDir(t, 'check-cli');
    const seen = join(dir, 'seen');
    const args = ['check', '--scenarios', 'baseline,auth-basic', '--report', join(dir, 'report'), '--expect', '{repository}:v1', '--verify', `test -s ${seen}`, '--'];
    // The client writes what it was given, then pushes with the fixture client.
    const script = `printf '%s %s %s %s' "$1" "$OCI_REGISTRY" "$OCI_REPOSITORY" "\${OCI_USERNAME:-none}" > ${seen} && exec ${process.execPath} ${CLIENT}`;
    const good = await runCli([...args, '/bin/sh', '-c', script, 'sh', '{url}/v2/{repository}']);
    if (good.code !== 0) t.comment(good.stdout + good.stderr);
    t.equal(good.code, 0, 'every scenario passed');
    t.match(good.stdout, /^scenario +result +requests +findings +seconds$/m);
    t.match(good.stdout, /^baseline +PASS +\d+ +- +[\d.]+$/m);
    t.match(good.stdout, /^2 of 2 scenarios passed, 0 failed, 0 findings, [\d.]+ s$/m);
    t.match(await readFile(seen, 'utf8'), /^http:\/\/127\.0\.0\.1:\d+\/v2\/check\/auth-basic 127\.0\.0\.1:\d+ check\/auth-basic oci-check$/);

    const json = JSON.parse(await readFile(join(dir, 'report', 'report.json'), 'utf8'));
    t.same(json.results.map((r: { name: string; result: string }) => [r.name, r.result]), [['baseline', 'pass'], ['auth-basic', 'pass']]);
    t.ok(json.results[0].requests.length > 0);
    const junit = await readFile(join(dir, 'report', 'junit.xml'), 'utf8');
    t.match(junit, /<testsuite name="oci-test-registry check" tests="2" failures="0"/);
    t.equal(junit.match(/<testcase /g)?.length, 2);
    t.match(await readFile(join(dir, 'report', 'report.html'), 'utf8'), /^<!doctype html>/);

    const missing = await runCli(['check', '--scenarios', 'baseline', '--expect', 'v9', '--verify', 'exit 3', '--', process.execPath, CLIENT]);
    t.equal(missing.code, 1);
    t.match(missing.stdout, /--expect v9: check\/baseline holds no v9/);
    t.match(missing.stdout, /--verify exit 3/);
  });

  t.test('a MUST finding fails the JUnit testcase', async (t) => {
    const dir = await tempDir(t, 'check-junit');
    const run = await runCli(['check', '--scenarios', 'baseline', '--report', dir, '--', process.execPath, CLIENT, '--broken=builds-upload-urls']);
    t.equal(run.code, 1);
    const junit = await readFile(join(dir, 'junit.xml'), 'utf8');
    t.match(junit, /failures="1"/);
    t.match(junit, /<failure message="\d+ MUST findings: upload-url-built" type="check">/);
  });

  t.test('--seed gives a pull command content', async (t) => {
    const dir = await tempDir(t, 'check-seed');
    const layout = new LayoutBuilder();
    layout.entry(layout.image({ layers: ['seeded layer'] }), 'v1');
    await layout.write(join(dir, 'layout'));
    const pull = `curl -sf "$OCI_REGISTRY_URL/v2/$OCI_REPOSITORY/manifests/v1" -H 'Accept: application/vnd.oci.image.manifest.v1+json' > ${join(dir, 'm')}`;
    const run = await runCli(['check', '--scenarios', 'baseline', '--seed', join(dir, 'layout'), '--shell', '--', pull]);
    if (run.code !== 0) t.comment(run.stdout + run.stderr);
    t.equal(run.code, 0, 'the pull passed');
    t.match(JSON.parse(await readFile(join(dir, 'm'), 'utf8')), { schemaVersion: 2 });
  });
});

t.test('README "Checking a client" shows the catalogue the code has', async (t) => {
  const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## Checking a client'), readme.indexOf('## Control endpoint'));
  const block = /```text\n([\s\S]*?)```/.exec(section)?.[1];
  t.equal(block, formatCatalogue(), 'paste the output of `oci-test-registry check --list` into README "Checking a client"');
});
