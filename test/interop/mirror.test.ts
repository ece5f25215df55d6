// Interop with a real client through the pull-through mirror: skopeo
// (containers/image) pulls from the mirror directly, and through a
// registries.conf `[[registry.mirror]]`, falling back to the upstream when
// the mirror fails. Needs `skopeo` on PATH (or $SKOPEO); .ci/run installs it.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry } from '../../src/index.js';
import { pseudoRandomBytes, readLayout, taggedEntry, tar } from './layout.js';
import { runSkopeo, tempDir } from './skopeo-run.js';

async function seededPair(t: Tap.Test) {
  const upstream = await startRegistry({ teardown: t });
  const image = await upstream.store.pushImage('team/app', {
    tag: 'v1',
    layers: [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'mirrored\n' }]), tar([{ name: 'opt/big.bin', content: pseudoRandomBytes(1024 * 1024, 'mirror') }])],
  });
  const mirror = await startRegistry({ teardown: t, upstream: { url: upstream.url } });
  return { upstream, mirror, image };
}

t.test('skopeo copies through the mirror; the second copy reads no blob from the upstream', async (t) => {
  const { upstream, mirror, image } = await seededPair(t);
  const dir = await tempDir(t, 'mirror');
  const copy = (tag: string) => runSkopeo(['copy', '--preserve-digests', '--src-tls-verify=false', `docker://${mirror.host}/team/app:v1`, `oci:${join(dir, 'layout')}:${tag}`]);
  const first = await copy('first');
  t.equal(first.code, 0, 'skopeo copy through the mirror exits 0', { stderr: first.stderr });
  const layout = await readLayout(join(dir, 'layout'));
  t.equal(taggedEntry(layout, 'first')?.digest, image.digest, 'the upstream manifest, digest unchanged');
  const blobReads = upstream.journal.filter({ method: 'GET', route: 'blob' }).length;
  t.equal(blobReads, 3, 'config and two layers read from the upstream once');
  t.ok(mirror.journal.filter({ route: 'blob', upstream: 'miss' }).length >= 3);

  const second = await copy('second');
  t.equal(second.code, 0, { stderr: second.stderr });
  t.equal(upstream.journal.filter({ method: 'GET', route: 'blob' }).length, blobReads, 'no new blob read upstream');
  t.equal(mirror.journal.filter({ route: 'manifest', reference: 'v1' }).at(-1)?.upstream, 'hit', 'the tag checked upstream (HEAD), served locally');
});

t.test('skopeo with a registries.conf mirror: pulls through it, falls back to the upstream when it fails', async (t) => {
  const { upstream, mirror, image } = await seededPair(t);
  const dir = await tempDir(t, 'mirror-conf');
  const conf = join(dir, 'registries.conf');
  await writeFile(conf, [
    '[[registry]]',
    `location = "${upstream.host}"`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = "${mirror.host}"`,
    'insecure = true',
    '',
  ].join('\n'));
  const inspect = () => runSkopeo(['--registries-conf', conf, 'inspect', '--raw', `docker://${upstream.host}/team/app:v1`]);
  const through = await inspect();
  t.equal(through.code, 0, { stderr: through.stderr });
  t.same(through.stdout, image.bytes);
  t.equal(mirror.journal.filter({ route: 'manifest', reference: 'v1' }).length >= 1, true, 'the request went to the mirror');
  const upstreamDirect = upstream.journal.filter({ route: 'manifest' }).filter((e) => !String(e.requestHeaders['user-agent']).includes('oci-test-registry-mirror')).length;
  t.equal(upstreamDirect, 0, 'skopeo itself never asked the upstream');

  // The mirror fails every manifest read: containers/image tries the next endpoint, the upstream itself.
  mirror.faults.add({ match: { route: 'manifest' }, action: { status: 503 } });
  const fallback = await inspect();
  t.equal(fallback.code, 0, { stderr: fallback.stderr });
  t.same(fallback.stdout, image.bytes);
  t.ok(mirror.journal.filter({ route: 'manifest', status: 503 }).length >= 1, 'the mirror was tried first');
  const direct = upstream.journal.filter({ route: 'manifest' }).filter((e) => String(e.requestHeaders['user-agent']).includes('skopeo'));
  t.ok(direct.length >= 1, 'then skopeo read the upstream directly');
});
