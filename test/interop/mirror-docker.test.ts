// The Docker engine's mirror path: `registry-mirrors` in daemon.json, which
// dockerd uses for Docker Hub images only, so the mirror's upstream is a test
// registry standing in for Docker Hub, holding `library/<name>`. A pull of
// `<name>:v1` asks the mirror, which reads the upstream through and caches.
// When the mirror fails, dockerd goes on to registry-1.docker.io, which no
// test can reach; that path is not exercised here. Needs dockerd (.ci/run
// installs docker.io).
import t from 'tap';
import { startRegistry } from '../../src/index.js';
import { succeeded } from './client-run.js';
import { startDockerd } from './daemons.js';
import { tar } from './layout.js';

t.test('dockerd with registry-mirrors pulls a Docker Hub image through the mirror', async (t) => {
  const hub = await startRegistry({ teardown: t });
  const image = await hub.store.pushImage('library/mirrored', { tag: 'v1', layers: [tar([{ name: 'etc/' }, { name: 'etc/name', content: 'from the hub stand-in\n' }])] });
  const mirror = await startRegistry({ teardown: t, upstream: { url: hub.url } });
  const dockerd = await startDockerd(t, { config: { 'registry-mirrors': [mirror.url] } });

  succeeded(t, await dockerd.docker(['pull', 'mirrored:v1']), 'docker pull mirrored:v1');
  const digests = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'mirrored:v1']);
  t.strictSame(JSON.parse(digests.stdout.toString('utf8')), [`mirrored@${image.digest}`], 'docker holds the manifest the hub stand-in has');
  const config = await dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', 'mirrored:v1']);
  t.equal(config.stdout.toString('utf8').trim(), image.manifest.config.digest, 'and its config');
  t.ok(mirror.journal.filter({ route: 'manifest', name: 'library/mirrored' }).length >= 1, 'dockerd asked the mirror for library/mirrored');
  t.strictSame(
    mirror.journal.filter({ route: 'blob' }).map((e) => `${e.status} ${e.upstream}`).sort(),
    ['200 miss', '200 miss'],
    'config and layer read through from the hub stand-in',
  );
  const direct = hub.journal.all().filter((e) => !String(e.requestHeaders['user-agent']).includes('oci-test-registry-mirror'));
  t.equal(direct.length, 0, 'dockerd never asked the hub stand-in itself');
});
