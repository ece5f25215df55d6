// The command line's TLS flags (README "HTTPS and HTTP/2"): --tls, --http2,
// --tls-cert/--tls-key, --tls-client-ca, --tls-host, --ca-out, --certs-dir.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { parseCommandLine } from '../src/cli/command-line.js';
import { helpText } from '../src/cli/flags.js';
import { startCli } from './helpers/cli-source.js';
import { collectReply, type Reply } from './helpers/http.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-cli-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function get(url: string, ca: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, ca }, (res) => collectReply(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
}

t.test('the flags map onto the tls option; the parts imply --tls', async (t) => {
  t.strictSame(parseCommandLine(['--tls', '--http2'], {}).options, { host: '127.0.0.1', port: 5000, tls: true, http2: true, journalLimit: 0 });
  const line = parseCommandLine(['--tls-host', 'registry.local', '--tls-host', '10.0.0.5', '--tls-client-ca', 'ca.pem', '--ca-out', 'out.pem', '--certs-dir', 'certs'], {});
  t.strictSame(line.options.tls, { hosts: ['registry.local', '10.0.0.5'], clientCa: 'ca.pem' });
  t.strictSame(line.ca, { caOut: 'out.pem', certsDir: 'certs' });
  t.strictSame(parseCommandLine(['--ca-out', 'x.pem'], {}).options.tls, true);
  t.throws(() => parseCommandLine(['--http2'], {}), { message: /^--http2 needs tls/ });
  t.throws(() => parseCommandLine(['--tls-cert', 'a.pem'], {}), { message: /^--tls-key is missing/ });
  for (const flag of ['--[no-]tls ', '--[no-]http2', '--tls-cert FILE', '--tls-key FILE', '--tls-client-ca FILE', '--tls-host NAME', '--ca-out FILE', '--certs-dir DIR']) t.ok(helpText().includes(flag), `--help lists ${flag.trim()}`);
});

t.test('--tls --http2 --json --ca-out --certs-dir: https ready line with the CA path; the CA files verify the server', async (t) => {
  const dir = tempDir(t);
  const cli = await startCli(t, ['--tls', '--http2', '--tls-host', 'registry.local', '--ca-out', join(dir, 'ca.pem'), '--certs-dir', join(dir, 'certs')]);
  t.match(cli.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the ready line shows the https URL');
  const port = new URL(cli.url).port;
  const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  t.ok(new X509Certificate(ca).ca, '--ca-out holds the CA certificate');
  for (const host of ['127.0.0.1', 'localhost', 'registry.local']) t.equal(readFileSync(join(dir, 'certs', `${host}:${port}`, 'ca.crt'), 'utf8'), ca, `certs.d layout for ${host}:${port}`);
  t.equal((await get(`${cli.url}/v2/`, ca)).status, 200);
  t.equal(await cli.stop(), 0);

  const json = await startCli(t, ['--tls', '--json']);
  const ready = JSON.parse(json.stdout());
  t.match(ready, { url: /^https:/, host: /^127\.0\.0\.1:/, port: Number, pid: Number, ca: String });
  t.ok(existsSync(ready.ca), 'without --ca-out the CA goes to a temp file named in the JSON');
  t.equal((await get(`${ready.url}/v2/`, readFileSync(ready.ca, 'utf8'))).status, 200);
  t.equal(await json.stop(), 0);
  t.notOk(existsSync(dirname(ready.ca)), 'the temp directory is removed when the registry stops');
});

t.test('bad --tls-cert / --tls-key: exit 2 naming the flag', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'not-a-cert.pem'), 'hello');
  await t.rejects(startCli(t, ['--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'missing.key')]), { message: /exited with 2 .*--tls-cert: cannot read/s });
  await t.rejects(startCli(t, ['--tls-cert', join(dir, 'not-a-cert.pem'), '--tls-key', join(dir, 'not-a-cert.pem')]), { message: /exited with 2 .*--tls-cert is not a PEM certificate/s });
});
