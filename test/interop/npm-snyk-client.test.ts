// Interop with @snyk/docker-registry-v2-client (npm), the library the Snyk
// CLI reads images with before it scans them: support check, catalog, tags
// (link-header and last-marker pagination), the manifest of a platform out
// of an index, the config and the layers. Anonymous, with Basic, and in
// token mode with and without credentials; every byte checked against the
// content the test built. Run with `npm run test:interop`.
import t from 'tap';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as snyk from '@snyk/docker-registry-v2-client';
import { importLayout, type RegistryOptions, type RunningRegistry } from '../../src/index.js';
import { startFor } from '../helpers/http.js';
import { buildImage, buildIndex, sha256, writeLayout, OCI_INDEX, OCI_MANIFEST, type Image, type ImageIndex } from './layout.js';
import { sampleImage, tempDir } from './skopeo-run.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const require = createRequire(import.meta.url);
const VERSION = (require('@snyk/docker-registry-v2-client/package.json') as { version: string }).version;

const USERS = { ci: 'secret' };
/** What the Snyk CLI asks manifests with: OCI and Docker types alike. */
const ACCEPT = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');
const TAGS = ['1.0', '1.1', '2.0', 'latest', 'multi'];

interface Mode {
  name: string;
  options: RegistryOptions;
  credentials?: [string, string];
}

const MODES: Mode[] = [
  { name: 'anonymous', options: {} },
  { name: 'Basic, with credentials', options: { auth: { basic: { users: USERS } } }, credentials: ['ci', 'secret'] },
  { name: 'token, with credentials', options: { auth: { token: { users: USERS } } }, credentials: ['ci', 'secret'] },
  { name: 'token, anonymous pull, no credentials', options: { auth: { token: { users: USERS, anonymous: 'pull' } } } },
];

/** team/app: one image under four tags and a two-platform index under `multi`, imported from a layout. */
async function seed(t: Test, registry: RunningRegistry): Promise<{ image: Image; index: ImageIndex }> {
  const image = sampleImage('snyk-app');
  const index = buildIndex([
    buildImage({ architecture: 'amd64', layers: [[{ name: 'etc/' }, { name: 'etc/platform', content: 'amd64\n' }]] }),
    buildImage({ architecture: 'arm64', layers: [[{ name: 'etc/' }, { name: 'etc/platform', content: 'arm64\n' }]] }),
  ]);
  const dir = await tempDir(t, 'npm-snyk');
  await writeLayout(join(dir, 'layout'), { '1.0': image, '1.1': image, '2.0': image, latest: image, multi: index });
  await importLayout(registry.store, join(dir, 'layout'), { name: 'team/app' });
  await registry.store.pushImage('other/lib', { tag: 'v1' });
  return { image, index };
}

t.test(`@snyk/docker-registry-v2-client ${VERSION} reads tags, manifests, configs and layers`, async (t) => {
  for (const mode of MODES) {
    await t.test(mode.name, async (t) => {
      // maxPageSize 2: every listing takes several pages, so pagination is exercised.
      const registry = await startFor(t, { ...mode.options, maxPageSize: 2 });
      const { image, index } = await seed(t, registry);
      const [user, password] = mode.credentials ?? [undefined, undefined];
      const options = { protocol: 'http:', acceptManifest: ACCEPT };
      const host = registry.host;

      await snyk.checkSupport(host, user, password, options);
      t.pass('checkSupport: GET /v2/ answered');
      if (mode.name !== 'token, anonymous pull, no credentials') {
        // The catalog is refused to anonymous tokens (no registry:catalog:* for them).
        t.strictSame(await snyk.getRepos(host, user, password, 2, undefined, options), ['other/lib', 'team/app'], 'getRepos: every repository, over pages');
      }
      t.strictSame(await snyk.getTags(host, 'team/app', user, password, 2, undefined, options), TAGS, 'getTags (Link header pagination): every tag, exactly');
      t.strictSame(await snyk.getTagsPaginated(host, 'team/app', user, password, 2, options), TAGS, 'getTagsPaginated (last marker): every tag, exactly');

      const manifest = await snyk.getManifest(host, 'team/app', 'latest', user, password, options);
      const expected = JSON.parse(image.manifest.bytes.toString('utf8'));
      const { manifestContentType, manifestDigest: _m, indexDigest: _i, ...fields } = manifest as typeof manifest & { manifestContentType?: string };
      t.strictSame(fields, expected, 'getManifest(latest): the pushed manifest, field for field');
      t.equal(manifestContentType, OCI_MANIFEST, 'with the pushed media type');
      const config = await snyk.getImageConfig(host, 'team/app', image.config.descriptor.digest, user, password, options);
      t.strictSame(config, JSON.parse(image.config.bytes.toString('utf8')), 'getImageConfig: the pushed config');
      for (const layer of image.layers) {
        const bytes = await snyk.getLayer(host, 'team/app', layer.descriptor.digest, user, password, options);
        t.equal(sha256(bytes), layer.descriptor.digest, `getLayer ${layer.descriptor.digest}: the pushed digest`);
        t.ok(bytes.equals(layer.bytes), 'byte for byte');
      }

      for (const child of index.children) {
        const architecture = child.config.bytes.toString('utf8').includes('"arm64"') ? 'arm64' : 'amd64';
        const picked = await snyk.getManifest(host, 'team/app', 'multi', user, password, options, { os: 'linux', architecture });
        t.equal(picked.indexDigest, index.index.descriptor.digest, `getManifest(multi, ${architecture}): the index digest`);
        t.equal(picked.manifestDigest, child.manifest.descriptor.digest, `getManifest(multi, ${architecture}): the platform's manifest digest`);
        t.strictSame(picked.layers, JSON.parse(child.manifest.bytes.toString('utf8')).layers, `getManifest(multi, ${architecture}): its layers`);
        const layer = await snyk.getLayer(host, 'team/app', child.layers[0]!.descriptor.digest, user, password, options);
        t.ok(layer.equals(child.layers[0]!.bytes), `getLayer of the ${architecture} layer: byte for byte`);
      }
      await t.rejects(snyk.getManifest(host, 'team/app', 'nope', user, password, options), { statusCode: 404 }, 'an unknown tag is a 404 error');
      if (mode.credentials) {
        // Without the credentials the registry asks for, the client gets the 401.
        await t.rejects(snyk.getTags(host, 'team/app', undefined, undefined, 2, undefined, options), { statusCode: 401 }, 'without credentials: 401');
      }
      const statuses = new Set(registry.journal.all().map((e) => e.status));
      t.ok(!statuses.has(500), 'no 500 anywhere');
      if (mode.options.auth?.token) t.ok(registry.journal.filter({ route: 'token', status: 200 }).length > 0, 'the client fetched tokens from the realm');
    });
  }
});
