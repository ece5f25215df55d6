// podman pulls through a registries.conf mirror, and falls back to the
// upstream when the mirror fails. A private --root/--runroot (vfs driver) in
// a temporary directory keeps the machine's image store untouched. Needs
// `podman` on PATH (or $PODMAN); .ci/run installs it.
import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry } from '../../src/index.js';
import { tar } from './layout.js';
import { privateStorage, tempDir } from './skopeo-run.js';

const PODMAN = process.env.PODMAN ?? 'podman';

t.test('podman pulls through a registries.conf mirror and falls back to the upstream when it fails', async (t) => {
  const upstream = await startRegistry({ teardown: t });
  const layers = [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'through the mirror\n' }])];
  const image = await upstream.store.pushImage('team/app', { tag: 'v1', layers });
  const other = await upstream.store.pushImage('team/app', { tag: 'v2', layers: [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'around it\n' }])] });
  const mirror = await startRegistry({ teardown: t, upstream: { url: upstream.url } });
  const dir = await tempDir(t, 'podman-mirror');
  const conf = join(dir, 'registries.conf');
  await writeFile(conf, ['[[registry]]', `location = "${upstream.host}"`, 'insecure = true', '[[registry.mirror]]', `location = "${mirror.host}"`, 'insecure = true', ''].join('\n'));
  const storage = await privateStorage(t, dir);
  const podman = (...args: string[]) =>
    promisify(execFile)(PODMAN, [...storage, ...args], {
      env: { ...process.env, CONTAINERS_REGISTRIES_CONF: conf },
      timeout: 120_000,
    });
  const fromPodman = (e: { requestHeaders: Record<string, string | string[]> }) => !String(e.requestHeaders['user-agent']).includes('oci-test-registry-mirror');

  await podman('pull', '--quiet', `${upstream.host}/team/app:v1`);
  const { stdout } = await podman('images', '--digests', '--format', '{{.Digest}}');
  t.equal(stdout.trim(), image.digest, 'podman holds the upstream manifest');
  t.same(mirror.journal.filter({ route: 'blob' }).map((e) => `${e.status} ${e.upstream}`), ['200 miss', '200 miss'], 'config and layer pulled through');
  t.equal(upstream.journal.all().filter(fromPodman).length, 0, 'podman never asked the upstream itself');

  // The mirror fails every manifest read: podman goes to the upstream.
  mirror.faults.add({ match: { route: 'manifest' }, action: { status: 503 } });
  await podman('pull', '--quiet', `${upstream.host}/team/app:v2`);
  t.ok(mirror.journal.filter({ route: 'manifest', status: 503 }).length >= 1, 'the mirror was tried first');
  t.ok(upstream.journal.filter({ route: 'manifest', reference: 'v2' }).some(fromPodman), 'then podman read the upstream itself');
  const images = await podman('images', '--digests', '--format', '{{.Digest}}');
  t.ok(images.stdout.includes(other.digest), 'and got the image');
});
