// The Docker engine and containerd over HTTPS/1.1 and with HTTP/2 offered
// (README "HTTPS and HTTP/2"), each through its private daemon (daemons.ts).
// The journal says which protocol each negotiated: both stay on HTTP/1.1
// even with h2 offered (curl takes h2 from the same server, test/tls.test.ts):
// like containers/image, their Go transports carry a TLS config of their own
// without ForceAttemptHTTP2, which turns Go's automatic HTTP/2 off. The test
// asserts what they do, so a client release that starts taking h2 is seen.
//
// ctr is given the CA as containerd's users give it, in a hosts.toml
// (`--hosts-dir`, as /etc/containerd/certs.d) naming the https server and its
// `ca`; it verifies the certificate, so a wrong CA is refused. (`ctr
// --tlscacert` alone is not enough on loopback: containerd 1.6 speaks plain
// HTTP to a localhost registry unless a hosts.toml says https.) dockerd treats every 127.0.0.0/8 registry as an
// insecure one (built in, whatever daemon.json says): it speaks TLS to it
// but does not verify the certificate, so certs.d cannot be tested on
// loopback and no wrong-CA case is asserted for Docker.
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from '../../src/index.js';
import { succeeded } from './client-run.js';
import { startContainerd, startDockerd } from './daemons.js';
import { tar } from './layout.js';
import { tempDir } from './skopeo-run.js';

/** Which HTTP version containerd 1.6 and Docker 20.10 speak, with and without h2 offered. */
const PROTOCOLS = [
  ['HTTPS/1.1', { tls: true }, '1.1'],
  ['h2 offered', { tls: true, http2: true }, '1.1'],
] as const;

async function seeded(t: Tap.Test, options: { tls: true; http2?: true }): Promise<{ registry: RunningRegistry; digest: string; bytes: Buffer; config: string }> {
  const registry = await startRegistry({ teardown: t, ...options });
  const image = await registry.store.pushImage('team/app', { tag: 'v1', layers: [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'over tls\n' }])] });
  return { registry, digest: image.digest, bytes: image.bytes, config: image.manifest.config.digest };
}

/** A containerd hosts directory for `host`: the https server, verified with the CA in `caPem`. */
async function hostsDir(dir: string, host: string, caPem: string): Promise<string> {
  await mkdir(join(dir, host), { recursive: true });
  await writeFile(join(dir, host, 'ca.crt'), caPem);
  await writeFile(join(dir, host, 'hosts.toml'), `server = "https://${host}"\n\n[host."https://${host}"]\n  ca = "${join(dir, host, 'ca.crt')}"\n`);
  return dir;
}

const versions = (registry: RunningRegistry) => [...new Set(registry.journal.all().filter((e) => e.route !== 'control').map((e) => e.httpVersion))];

t.test('containerd ctr', async (t) => {
  const containerd = await startContainerd(t);
  const ctr = (args: string[]) => containerd.ctr(args, { env: { ...process.env, CONTAINERD_SNAPSHOTTER: 'native' } });
  const dir = await tempDir(t, 'ctr-tls');
  for (const [what, options, expected] of PROTOCOLS) {
    const { registry, digest, bytes } = await seeded(t, options);
    const hosts = await hostsDir(join(dir, `${registry.port}-right`), registry.host, registry.tls!.ca);
    const reference = `${registry.host}/team/app:v1`;
    succeeded(t, await ctr(['images', 'pull', '--hosts-dir', hosts, reference]), `${what}: ctr images pull --hosts-dir (hosts.toml with the CA)`);
    t.ok((await ctr(['content', 'get', digest])).stdout.equals(bytes), `${what}: the manifest byte for byte`);
    t.strictSame(versions(registry), [expected], `${what}: ctr spoke HTTP/${expected}`);
    const copy = `${registry.host}/team/copy:v1`;
    succeeded(t, await ctr(['images', 'tag', reference, copy]), 'ctr images tag');
    succeeded(t, await ctr(['images', 'push', '--hosts-dir', hosts, copy]), `${what}: ctr images push`);
    t.equal((await registry.store.getManifest('team/copy', 'v1'))?.digest, digest, `${what}: the pushed copy has the digest`);

    // Another registry's CA: containerd refuses the certificate.
    const other = await startRegistry({ teardown: t, tls: true });
    const wrong = await hostsDir(join(dir, `${registry.port}-wrong`), registry.host, other.tls!.ca);
    const refused = await ctr(['images', 'pull', '--hosts-dir', wrong, reference]);
    t.not(refused.code, 0, `${what}: a wrong CA fails the pull`);
    t.match(refused.stderr, /x509: certificate signed by unknown authority/, `${what}: with containerd's x509 error`);
    succeeded(t, await ctr(['images', 'remove', '--sync', reference, copy]), 'ctr images remove');
    for (const d of (await ctr(['content', 'list', '--quiet'])).stdout.toString('utf8').split('\n').filter(Boolean)) await ctr(['content', 'remove', d]);
  }
});

t.test('Docker engine', async (t) => {
  const dockerd = await startDockerd(t);
  for (const [what, options, expected] of PROTOCOLS) {
    const { registry, digest, config } = await seeded(t, options);
    const reference = `${registry.host}/team/app:v1`;
    succeeded(t, await dockerd.docker(['pull', reference]), `${what}: docker pull`);
    const digests = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', reference]);
    t.strictSame(JSON.parse(digests.stdout.toString('utf8')), [`${registry.host}/team/app@${digest}`], `${what}: docker holds the registry's manifest`);
    const copy = `${registry.host}/team/copy:v1`;
    succeeded(t, await dockerd.docker(['tag', reference, copy]), 'docker tag');
    succeeded(t, await dockerd.docker(['push', copy]), `${what}: docker push`);
    // dockerd writes its own manifest for a push (Docker media types), so the copy is known by its config.
    const pushed = await registry.store.getManifest('team/copy', 'v1');
    t.equal(pushed && JSON.parse(pushed.bytes.toString('utf8')).config.digest, config, `${what}: the pushed copy has the image's config`);
    const spoken = versions(registry);
    t.strictSame(spoken, [expected], `${what}: dockerd spoke HTTP/${expected}`);
    t.ok(registry.journal.all().length > 0 && registry.url.startsWith('https://'), `${what}: every request came over TLS`);
    succeeded(t, await dockerd.docker(['rmi', reference, copy]), 'docker rmi');
  }
});
