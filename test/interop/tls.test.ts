// Real clients over HTTPS/1.1 and HTTP/2 (README "HTTPS and HTTP/2"):
// curl, skopeo, podman and buildah, each given the registry's generated CA
// the way its users give it (--cacert, --cert-dir with ca.crt) and with TLS
// verification on. The journal says which protocol each one negotiated:
// curl takes h2 when offered; skopeo, podman and buildah (containers/image)
// stay on HTTP/1.1 even then, because their Go http.Transport carries its own
// TLS config without ForceAttemptHTTP2, which turns Go's automatic h2 off.
// Docker engine and containerd over TLS: tls-daemons.test.ts.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFor } from '../helpers/http.js';
import { writeLayout } from './layout.js';
import { privateStorage, runSkopeo, sampleImage, tempDir } from './skopeo-run.js';
import type { RunningRegistry } from '../../src/index.js';

const execFileAsync = promisify(execFile);
const TIMEOUT_MS = 180_000;

/** Runs a client; resolves with its exit code and output instead of throwing. */
async function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n${e.message}` };
  }
}

/** The HTTP versions of the journal's entries after `seq`. */
function versionsSince(registry: RunningRegistry, seq: number): string[] {
  return [...new Set(registry.journal.all().filter((e) => e.seq > seq).map((e) => e.httpVersion))];
}

const last = (registry: RunningRegistry) => registry.journal.all().at(-1)?.seq ?? 0;

/** A registry over TLS (h2 offered or not) and a --cert-dir holding its CA as ca.crt. */
async function tlsRegistry(t: Parameters<Parameters<typeof t.test>[1]>[0], http2: boolean) {
  const registry = await startFor(t, { tls: true, http2 });
  const dir = await tempDir(t, 'tls');
  const certs = join(dir, 'certs');
  await mkdir(certs);
  await writeFile(join(certs, 'ca.crt'), registry.tls!.ca!);
  return { registry, dir, certs };
}

/** What containers/image negotiates: HTTP/1.1 over either server (see above). */
const CONTAINERS_IMAGE = '1.1';

for (const http2 of [false, true]) {
  const expected = http2 ? '2.0' : '1.1';
  const label = http2 ? 'h2 offered' : 'HTTPS/1.1 only';

  t.test(`curl --http2 --cacert (${label}): negotiates ${expected}`, async (t) => {
    const { registry, dir } = await tlsRegistry(t, http2);
    await writeFile(join(dir, 'ca.pem'), registry.tls!.ca!);
    const before = last(registry);
    const out = await run('curl', ['--silent', '--show-error', '--http2', '--cacert', join(dir, 'ca.pem'), '--write-out', '%{http_code} %{http_version}', '--output', '/dev/null', `${registry.url}/v2/`]);
    t.equal(out.code, 0, 'curl exits 0', { stderr: out.stderr });
    t.equal(out.stdout, `200 ${http2 ? '2' : '1.1'}`);
    t.strictSame(versionsSince(registry, before), [expected]);
    const refused = await run('curl', ['--silent', '--show-error', `${registry.url}/v2/`]);
    t.equal(refused.code, 60, 'without the CA curl refuses the certificate (exit 60)');
  });

  t.test(`skopeo --cert-dir with ca.crt, --tls-verify=true (${label}): pushes and inspects over HTTPS/${CONTAINERS_IMAGE}`, async (t) => {
    const { registry, dir, certs } = await tlsRegistry(t, http2);
    const image = sampleImage('tls');
    await writeLayout(join(dir, 'source'), { v1: image });
    const before = last(registry);
    const reference = `docker://${registry.host}/tls/skopeo:v1`;
    const push = await runSkopeo(['copy', '--dest-tls-verify=true', '--dest-cert-dir', certs, `oci:${join(dir, 'source')}:v1`, reference]);
    t.equal(push.code, 0, 'skopeo copy exits 0', { stderr: push.stderr });
    t.ok(await registry.store.manifest('tls/skopeo', 'v1'), 'the image is in the registry');
    const inspect = await runSkopeo(['inspect', '--raw', '--tls-verify=true', '--cert-dir', certs, reference]);
    t.equal(inspect.code, 0, 'skopeo inspect exits 0', { stderr: inspect.stderr });
    t.strictSame(versionsSince(registry, before), [CONTAINERS_IMAGE], `every request over ${CONTAINERS_IMAGE}`);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const refused = await runSkopeo(['inspect', '--raw', '--tls-verify=true', '--cert-dir', empty, reference]);
    t.not(refused.code, 0, 'without the CA skopeo refuses');
    t.match(refused.stderr, /x509: certificate signed by unknown authority|failed to verify certificate/);
  });

  for (const client of ['podman', 'buildah'] as const) {
    t.test(`${client} pull --cert-dir (${label}): pulls over HTTPS/${CONTAINERS_IMAGE}`, async (t) => {
      const { registry, dir, certs } = await tlsRegistry(t, http2);
      await writeLayout(join(dir, 'source'), { v1: sampleImage(client) });
      const reference = `${registry.host}/tls/${client}:v1`;
      const push = await runSkopeo(['copy', '--dest-cert-dir', certs, `oci:${join(dir, 'source')}:v1`, `docker://${reference}`]);
      t.equal(push.code, 0, 'seeded with skopeo', { stderr: push.stderr });
      const before = last(registry);
      // A private store: nothing of the machine's containers is touched.
      const storage = await privateStorage(t, dir);
      const pull = await run(client, [...storage, 'pull', '--tls-verify=true', '--cert-dir', certs, reference]);
      t.equal(pull.code, 0, `${client} pull exits 0`, { stderr: pull.stderr });
      const pulls = registry.journal.all().filter((e) => e.seq > before);
      t.ok(pulls.some((e) => e.route === 'manifest' && e.method === 'GET' && e.status === 200), 'the manifest was fetched');
      t.strictSame(versionsSince(registry, before), [CONTAINERS_IMAGE], `every request over ${CONTAINERS_IMAGE}`);
    });
  }
}
