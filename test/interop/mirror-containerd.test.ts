// containerd's mirror path through the pull-through mirror: `ctr images pull
// --hosts-dir` with a hosts.toml that names the mirror for the upstream's
// host, as a Kubernetes node is set up. containerd adds `?ns=<host>` to every
// request it sends a mirror; the mirror routes by it to the matching
// `upstreams` entry. When the mirror fails, containerd goes on to the
// upstream host itself. Needs containerd and ctr; .ci/run installs them.
import t from 'tap';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry } from '../../src/index.js';
import { succeeded } from './client-run.js';
import { startContainerd } from './daemons.js';
import { pseudoRandomBytes, tar } from './layout.js';
import { tempDir } from './skopeo-run.js';

const containerd = await startContainerd(t);
const ctr = (args: string[]) => containerd.ctr(args, { env: { ...process.env, CONTAINERD_SNAPSHOTTER: 'native' } });

t.test('ctr with a hosts.toml mirror: pulls through it with ?ns=, and falls back to the upstream when it fails', async (t) => {
  const upstream = await startRegistry({ teardown: t });
  const image = await upstream.store.pushImage('team/app', {
    tag: 'v1',
    layers: [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'through containerd\n' }]), tar([{ name: 'opt/big.bin', content: pseudoRandomBytes(512 * 1024, 'ctr-mirror') }])],
  });
  const mirror = await startRegistry({ teardown: t, upstreams: { [upstream.host]: { url: upstream.url } } });

  // containerd's registry host configuration: the upstream's host, with the mirror first.
  const hostsDir = await tempDir(t, 'ctr-hosts');
  await mkdir(join(hostsDir, upstream.host));
  await writeFile(join(hostsDir, upstream.host, 'hosts.toml'), [
    `server = "http://${upstream.host}"`,
    '',
    `[host."http://${mirror.host}"]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n'));
  const reference = `${upstream.host}/team/app:v1`;
  const fromContainerd = (e: { requestHeaders: Record<string, string | string[] | undefined> }) => /containerd/.test(String(e.requestHeaders['user-agent']));

  succeeded(t, await ctr(['images', 'pull', '--hosts-dir', hostsDir, reference]), 'ctr images pull through the mirror');
  const viaMirror = mirror.journal.filter({ route: 'manifest' });
  t.ok(viaMirror.length >= 1, 'containerd asked the mirror for the manifest');
  for (const e of mirror.journal.all().filter((e) => e.route === 'manifest' || e.route === 'blob')) {
    t.equal(new URL(e.path, 'http://x').searchParams.get('ns'), upstream.host, `${e.method} ${e.path.split('?')[0]} carries ns=<upstream host>`);
  }
  t.ok(mirror.journal.filter({ route: 'blob', upstream: 'miss' }).length >= 3, 'config and layers read through from the upstream');
  t.equal(upstream.journal.all().filter(fromContainerd).length, 0, 'containerd itself never asked the upstream');
  const manifest = await ctr(['content', 'get', image.digest]);
  t.ok(manifest.stdout.equals(image.bytes), 'the manifest in containerd is the upstream one, byte for byte');
  for (const layer of image.manifest.layers as { digest: string }[]) {
    const got = await ctr(['content', 'get', layer.digest]);
    t.ok(got.stdout.equals((await upstream.store.getBlob('team/app', layer.digest))!), `layer ${layer.digest} byte for byte`);
  }
  t.ok((await mirror.store.getManifest('team/app', image.digest)) !== undefined, 'the mirror cached the manifest');

  // The mirror fails every read: containerd tries the next host, the upstream itself.
  succeeded(t, await ctr(['images', 'remove', '--sync', reference]), 'ctr images remove');
  const cleared = await ctr(['content', 'list', '--quiet']);
  for (const digest of cleared.stdout.toString('utf8').split('\n').filter(Boolean)) await ctr(['content', 'remove', digest]);
  mirror.faults.add({ match: { route: 'manifest' }, action: { status: 503 }, times: Infinity });
  mirror.faults.add({ match: { route: 'blob' }, action: { status: 503 }, times: Infinity });
  succeeded(t, await ctr(['images', 'pull', '--hosts-dir', hostsDir, reference]), 'ctr images pull with the mirror failing');
  t.ok(mirror.journal.filter({ route: 'manifest', status: 503 }).length >= 1, 'the mirror was tried first');
  t.ok(upstream.journal.all().filter(fromContainerd).length >= 1, 'then containerd read the upstream directly');
  t.ok((await ctr(['content', 'get', image.digest])).stdout.equals(image.bytes), 'and got the same manifest');
});
