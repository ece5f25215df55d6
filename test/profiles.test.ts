// Profiles (README "Profiles"): named bundles of quirk switches that mimic a
// real registry. Every behaviour a profile lists has a row here: an HTTP probe
// and the answer the real registry gives, written out in the row (never read
// back from PROFILES), so the table, the code and the README cannot drift.
// The 'distribution' rows are also what Debian's docker-registry 2.8.2
// (in-memory storage, deletes enabled) answered to curl on loopback.
import t from 'tap';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { OCI_MANIFEST, pushBlob, pushImage } from './helpers/push.js';
import { assertError, EMPTY, json, putManifest } from './helpers/fixtures.js';
import { createRegistry, DEFAULT_OPTIONS, PROFILES, type RegistryOptions, type RunningRegistry } from '../src/index.js';
import { parseManifest } from '../src/oci/manifest.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const OCTETS = { 'Content-Type': 'application/octet-stream' };

interface Row {
  /** Options added to the profile for this row (setup, not expectation). */
  with?: RegistryOptions;
  probe(t: Test, registry: RunningRegistry): Promise<void>;
}

const errorOf = (reply: Reply) => reply.json?.errors?.[0] as { code?: string; message?: string } | undefined;

/** Tags v1…vN on one image, written through the store in one call. */
async function tagMany(registry: RunningRegistry, name: string, count: number): Promise<string[]> {
  const image = await registry.store.pushImage(name, { layers: [`layer of ${name}`] });
  const tags = Array.from({ length: count }, (_, i) => `t${String(i).padStart(5, '0')}`);
  await registry.store.putManifest(name, parseManifest(image.bytes, OCI_MANIFEST), tags);
  return tags;
}

/** A second, different manifest for `name` (its blobs pushed first). */
async function otherManifest(url: string, name: string): Promise<Buffer> {
  const layer = Buffer.from(`another layer of ${name}`);
  const config = Buffer.from('{"architecture":"arm64","os":"linux"}');
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await pushBlob(url, name, config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await pushBlob(url, name, layer), size: layer.length }],
  };
  return json(manifest);
}

const referrers404: Row = {
  async probe(t, registry) {
    const image = await registry.store.pushImage('p/a', { tag: 'v1', layers: ['a'] });
    t.equal((await send(registry.url, 'GET', `/v2/p/a/referrers/${image.digest}`)).status, 404);
  },
};

const mountNeedsFrom: Row = {
  async probe(t, registry) {
    const layer = await registry.store.seedBlob('p/a', 'a layer to mount');
    const reply = await send(registry.url, 'POST', `/v2/p/b/blobs/uploads/?mount=${layer.digest}`);
    t.equal(reply.status, 202, 'a session');
    t.equal(reply.headers.range, '0-0');
    t.equal((await send(registry.url, 'HEAD', `/v2/p/b/blobs/${layer.digest}`)).status, 404, 'not mounted');
    t.equal((await send(registry.url, 'POST', `/v2/p/c/blobs/uploads/?mount=${layer.digest}&from=p/a`)).status, 201, 'with from: mounted');
  },
};

const noSinglePost: Row = {
  async probe(t, registry) {
    const bytes = Buffer.from('single post body');
    const reply = await send(registry.url, 'POST', `/v2/p/a/blobs/uploads/?digest=${sha256(bytes)}`, { body: bytes, headers: OCTETS });
    t.equal(reply.status, 202);
    t.equal(reply.headers.range, '0-0');
    t.equal((await send(registry.url, 'HEAD', `/v2/p/a/blobs/${sha256(bytes)}`)).status, 404, 'nothing stored');
  },
};

const tagDelete202: Row = {
  async probe(t, registry) {
    await registry.store.pushImage('p/a', { tag: 'v1', layers: ['a'] });
    t.equal((await send(registry.url, 'DELETE', '/v2/p/a/manifests/v1')).status, 202);
    t.equal((await send(registry.url, 'GET', '/v2/p/a/manifests/v1')).status, 404, 'the tag is gone');
  },
};

function linkRow(name: string, link: string): Row {
  return {
    async probe(t, registry) {
      const image = await registry.store.pushImage(name, { tag: 'v1', layers: ['a'] });
      t.equal((await putManifest(registry.url, name, 'v2', image.bytes, OCI_MANIFEST)).status, 201);
      const reply = await send(registry.url, 'GET', `/v2/${name}/tags/list?n=1`);
      t.strictSame(reply.json, { name, tags: ['v1'] });
      t.equal(reply.headers.link, link);
    },
  };
}

/** A push into `refused` answers status/code/message; a push into `taken` works. */
function refusedPush(refused: string, status: number, code: string, message: string, taken: string, options?: RegistryOptions): Row {
  return {
    with: options,
    async probe(t, registry) {
      const reply = await send(registry.url, 'POST', `/v2/${refused}/blobs/uploads/`);
      assertError(t, reply, status, code);
      t.equal(errorOf(reply)?.message, message);
      await pushImage(registry.url, taken, 'v1');
      t.equal((await send(registry.url, 'GET', `/v2/${taken}/manifests/v1`)).status, 200, `a push into ${taken} works`);
    },
  };
}

/** profile → behaviour → its probe. Keys must match PROFILES exactly. */
const ROWS: Record<string, Record<string, Row>> = {
  distribution: {
    'no referrers API': referrers404,
    'tag delete is DIGEST_INVALID': {
      async probe(t, registry) {
        await registry.store.pushImage('p/a', { tag: 'v1', layers: ['a'] });
        for (const name of ['p/a', 'p/nope']) assertError(t, await send(registry.url, 'DELETE', `/v2/${name}/manifests/v1`), 400, 'DIGEST_INVALID');
        t.equal((await send(registry.url, 'GET', '/v2/p/a/manifests/v1')).status, 200, 'the tag is still there');
      },
    },
    'mount needs from': mountNeedsFrom,
    'no single-POST upload': noSinglePost,
    'tags/list ignores n and last': {
      async probe(t, registry) {
        const image = await registry.store.pushImage('p/a', { tag: 'v1', layers: ['a'] });
        for (const tag of ['v2', 'v3', 'v4']) t.equal((await putManifest(registry.url, 'p/a', tag, image.bytes, OCI_MANIFEST)).status, 201);
        for (const query of ['', '?n=1', '?n=2', '?last=v2', '?n=1&last=v2']) {
          const reply = await send(registry.url, 'GET', `/v2/p/a/tags/list${query}`);
          t.strictSame(reply.json, { name: 'p/a', tags: ['v1', 'v2', 'v3', 'v4'] }, `${query || '(no query)'}: every tag`);
          t.equal(reply.headers.link, undefined, `${query || '(no query)'}: no Link`);
        }
      },
    },
  },
  'distribution-3': {
    'no referrers API': referrers404,
    'mount needs from': mountNeedsFrom,
    'no single-POST upload': noSinglePost,
    'tag delete': tagDelete202,
    'tags/list pages with Link': linkRow('d3/app', '</v2/d3/app/tags/list?n=1&last=v1>; rel="next"'),
  },
  dockerhub: {
    'pull limit headers': {
      async probe(t, registry) {
        await registry.store.pushImage('library/app', { tag: 'v1', layers: ['a'] });
        const head = await send(registry.url, 'HEAD', '/v2/library/app/manifests/v1');
        t.equal(head.headers['ratelimit-limit'], '100;w=21600');
        t.equal(head.headers['ratelimit-remaining'], '100;w=21600', 'a HEAD does not count');
        t.equal(head.headers['docker-ratelimit-source'], '127.0.0.1');
        const get = await send(registry.url, 'GET', '/v2/library/app/manifests/v1');
        t.equal(get.status, 200);
        t.equal(get.headers['ratelimit-remaining'], '99;w=21600', 'a GET counts');
        t.equal((await send(registry.url, 'HEAD', '/v2/library/app/manifests/v1')).headers['ratelimit-remaining'], '99;w=21600');
        t.equal((await send(registry.url, 'GET', '/v2/library/app/blobs/sha256:' + '0'.repeat(64))).headers['ratelimit-remaining'], undefined, 'blobs are not pulls');
      },
    },
    'pull limit reached': {
      with: { pullLimit: { requests: 2, perSeconds: 3600 } },
      async probe(t, registry) {
        await registry.store.pushImage('library/app', { tag: 'v1', layers: ['a'] });
        for (const left of ['1;w=3600', '0;w=3600']) t.equal((await send(registry.url, 'GET', '/v2/library/app/manifests/v1')).headers['ratelimit-remaining'], left);
        const refused = await send(registry.url, 'GET', '/v2/library/app/manifests/v1');
        assertError(t, refused, 429, 'TOOMANYREQUESTS');
        t.equal(errorOf(refused)?.message, 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit');
        t.equal((await send(registry.url, 'HEAD', '/v2/library/app/manifests/v1')).status, 200, 'a HEAD still answers');
      },
    },
    'no catalog': {
      async probe(t, registry) {
        assertError(t, await send(registry.url, 'GET', '/v2/_catalog'), 401, 'UNAUTHORIZED');
      },
    },
  },
  ghcr: {
    'no referrers API': {
      async probe(t, registry) {
        const image = await pushImage(registry.url, 'ghcr/app', 'v1');
        t.equal((await send(registry.url, 'GET', `/v2/ghcr/app/referrers/${image.digest}`)).status, 404);
        await pushBlob(registry.url, 'ghcr/app', '{}');
        const artifact = json({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          artifactType: 'application/vnd.example.sbom',
          config: EMPTY,
          layers: [EMPTY],
          subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.bytes.length },
        });
        const pushed = await putManifest(registry.url, 'ghcr/app', sha256(artifact), artifact, OCI_MANIFEST);
        t.equal(pushed.status, 201, 'a manifest with a subject is taken');
        t.equal(pushed.headers['oci-subject'], undefined, 'without OCI-Subject');
      },
    },
    'chunk limit': {
      async probe(t, registry) {
        const location = String((await send(registry.url, 'POST', '/v2/ghcr/app/blobs/uploads/')).headers.location);
        const limit = 4 * 1024 * 1024;
        const over = await send(registry.url, 'PATCH', location, { body: Buffer.alloc(limit + 1, 1), headers: { ...OCTETS, 'Content-Range': `0-${limit}` } });
        assertError(t, over, 416, 'BLOB_UPLOAD_INVALID');
        t.equal(over.headers.range, '0-0');
        const exact = await send(registry.url, 'PATCH', location, { body: Buffer.alloc(limit, 1), headers: { ...OCTETS, 'Content-Range': `0-${limit - 1}` } });
        t.equal(exact.status, 202, '4 MiB: taken');
      },
    },
  },
  ecr: {
    'repository must exist': {
      with: { repositories: ['team/app'] },
      async probe(t, registry) {
        const message = "The repository with name 'team/other' does not exist in the registry with id '123456789012'";
        for (const [method, path] of [['POST', '/v2/team/other/blobs/uploads/'], ['PUT', '/v2/team/other/manifests/v1'], ['GET', '/v2/team/other/manifests/v1']]) {
          const reply = await send(registry.url, method!, path!, method === 'PUT' ? { body: '{}', headers: { 'Content-Type': OCI_MANIFEST } } : {});
          assertError(t, reply, 404, 'NAME_UNKNOWN');
          t.equal(errorOf(reply)?.message, message, `${method} ${path}`);
        }
        t.equal((await send(registry.url, 'GET', '/v2/team/app/tags/list')).status, 200, 'a created repository exists while empty');
        await pushImage(registry.url, 'team/app', 'v1');
        t.equal((await send(registry.url, 'GET', '/v2/team/app/manifests/v1')).status, 200, 'a push into it works');
      },
    },
    'immutable tags': {
      with: { immutableTags: true, repositories: ['team/app'] },
      async probe(t, registry) {
        const first = await pushImage(registry.url, 'team/app', 'v1');
        const moved = await putManifest(registry.url, 'team/app', 'v1', await otherManifest(registry.url, 'team/app'), OCI_MANIFEST);
        assertError(t, moved, 400, 'TAG_INVALID');
        t.equal(errorOf(moved)?.message, "The image tag 'v1' already exists in the 'team/app' repository and cannot be overwritten because the tag is immutable.");
        t.equal((await putManifest(registry.url, 'team/app', 'v1', first.bytes, OCI_MANIFEST)).status, 201, 'the same manifest again is taken');
        t.equal((await send(registry.url, 'GET', '/v2/team/app/manifests/v1')).headers['docker-content-digest'], first.digest, 'the tag did not move');
      },
    },
  },
  gar: {
    'repository must exist': refusedPush('my-project/other-repo/app', 404, 'NAME_UNKNOWN', 'Repository "other-repo" not found', 'my-project/my-repo/app', { createOnPush: ['my-project/my-repo/**'] }),
  },
  acr: {
    'tag page cap': {
      async probe(t, registry) {
        const tags = await tagMany(registry, 'acr/app', 1001);
        const reply = await send(registry.url, 'GET', '/v2/acr/app/tags/list?n=10000');
        t.equal(reply.json?.tags?.length, 1000);
        t.equal(reply.headers.link, `</v2/acr/app/tags/list?n=1000&last=${tags[999]}>; rel="next"`);
      },
    },
    'relative Link': linkRow('acr/app', '</v2/acr/app/tags/list?n=1&last=v1>; rel="next"'),
    catalog: {
      async probe(t, registry) {
        await registry.store.pushImage('acr/app', { tag: 'v1', layers: ['a'] });
        const reply = await send(registry.url, 'GET', '/v2/_catalog');
        t.equal(reply.status, 200);
        t.strictSame(reply.json, { repositories: ['acr/app'] });
      },
    },
  },
  quay: {
    'tag pages of 50': {
      async probe(t, registry) {
        const tags = await tagMany(registry, 'quay/app', 51);
        const reply = await send(registry.url, 'GET', '/v2/quay/app/tags/list');
        t.strictSame(reply.json?.tags, tags.slice(0, 50));
        t.equal(reply.headers.link, `</v2/quay/app/tags/list?n=50&last=${tags[49]}>; rel="next"`);
      },
    },
  },
  harbor: {
    'project must exist': refusedPush('team/app', 401, 'UNAUTHORIZED', 'authentication required', 'library/app'),
    'immutable tags': {
      with: { immutableTags: true },
      async probe(t, registry) {
        await pushImage(registry.url, 'library/app', 'v1');
        const moved = await putManifest(registry.url, 'library/app', 'v1', await otherManifest(registry.url, 'library/app'), OCI_MANIFEST);
        t.equal(moved.status, 412);
        t.strictSame(moved.json, { errors: [{ code: 'PRECONDITION', message: "Failed to process request due to 'app:v1' configured as immutable." }] });
      },
    },
    'catalog for admins only': {
      async probe(t, registry) {
        const reply = await send(registry.url, 'GET', '/v2/_catalog');
        assertError(t, reply, 401, 'UNAUTHORIZED');
        t.equal(reply.headers['www-authenticate'], 'Basic realm="harbor"');
      },
    },
  },
  gitlab: {
    'tag delete': tagDelete202,
  },
  zot: {
    'referrers of anything': {
      async probe(t, registry) {
        const reply = await send(registry.url, 'GET', `/v2/zot/nothing/referrers/sha256:${'1'.repeat(64)}`);
        t.equal(reply.status, 200);
        t.strictSame(reply.json, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] });
      },
    },
    'tags/list pages with Link': linkRow('zot/app', '</v2/zot/app/tags/list?n=1&last=v1>; rel="next"'),
  },
};

t.test('every profile behaviour has a probe here, names sources, and its options are the profile\'s', async (t) => {
  t.strictSame(Object.keys(ROWS).sort(), Object.keys(PROFILES).sort(), 'one row set per profile');
  for (const [name, profile] of Object.entries(PROFILES)) {
    t.ok(profile.description.length > 0, `${name}: has a description`);
    t.strictSame(Object.keys(ROWS[name]!).sort(), Object.keys(profile.behaviours).sort(), `${name}: one probe per behaviour`);
    const used = new Set<string>();
    for (const [behaviour, { sources, options }] of Object.entries(profile.behaviours)) {
      t.ok(sources.length > 0, `${name} / ${behaviour}: has a source`);
      for (const source of sources) t.match(source, /^https:\/\/(github\.com|gitlab\.com|docs\.docker\.com)\/\S+$/, `${name} / ${behaviour}: ${source}`);
      for (const option of options) {
        t.ok(Object.hasOwn(profile.options, option), `${name} / ${behaviour}: ${option} is set by the profile`);
        used.add(option);
      }
    }
    for (const option of Object.keys(profile.options)) {
      t.ok(used.has(option), `${name}: option ${option} belongs to a behaviour`);
      t.not((profile.options as Record<string, unknown>)[option], (DEFAULT_OPTIONS as Record<string, unknown>)[option], `${name}.${option} differs from the default`);
    }
  }
  t.ok(Object.isFrozen(PROFILES) && Object.isFrozen(PROFILES.ecr.options.answers), 'the table cannot be changed at run time');
});

for (const [profile, rows] of Object.entries(ROWS)) {
  t.test(`profile '${profile}'`, async (t) => {
    for (const [behaviour, row] of Object.entries(rows)) {
      await t.test(behaviour, async (t) => {
        const registry = await startFor(t, { profile: profile as keyof typeof PROFILES, ...row.with });
        await row.probe(t, registry);
      });
    }
  });
}

t.test('the profile option fills in the switches; explicit options win; an unknown profile is refused', async (t) => {
  for (const [name, profile] of Object.entries(PROFILES)) {
    const registry = createRegistry({ profile: name as keyof typeof PROFILES });
    t.teardown(() => registry.close());
    t.match(registry.options, { ...profile.options, profile: name }, `${name}: options in force`);
  }
  const overridden = createRegistry({ profile: 'distribution', referrers: true });
  t.teardown(() => overridden.close());
  t.equal(overridden.options.referrers, true, 'an explicit option overrides the profile');
  t.equal(overridden.options.mountWithoutFrom, false, 'the rest of the profile stays');
  const unset = createRegistry({ profile: 'ghcr', chunkMaxBytes: undefined });
  t.teardown(() => unset.close());
  t.equal(unset.options.chunkMaxBytes, 4 * 1024 * 1024, 'an option given as undefined does not undo the profile');
  const worded = createRegistry({ profile: 'harbor', answers: { catalog: { status: 404 } } });
  t.teardown(() => worded.close());
  t.strictSame(worded.options.answers.catalog, { status: 404 }, 'an explicit answer replaces the profile\'s for that refusal');
  t.equal(worded.options.answers.tagImmutable?.code, 'PRECONDITION', 'the profile\'s other answers stay');
  t.throws(() => createRegistry({ profile: 'artifactory' as never }), {
    name: 'TypeError',
    message: `option profile must be one of ${Object.keys(PROFILES).join(', ')}, got "artifactory"`,
  });
});

t.test("what docker-registry 2.8.2 shares with the spec: PATCH 202, no OCI-Chunk-Min-Length, DELETE by digest 202", async (t) => {
  const registry = await startFor(t, { profile: 'distribution' });
  const { url } = registry;
  const image = await registry.store.pushImage('dist/a', { tag: 'v1', layers: ['layer of dist/a:v1'] });
  const opened = await send(url, 'POST', '/v2/dist/up/blobs/uploads/');
  t.equal(opened.status, 202);
  t.equal(opened.headers['oci-chunk-min-length'], undefined);
  const patched = await send(url, 'PATCH', String(opened.headers.location), { body: 'sixteen bytes!!!', headers: { ...OCTETS, 'Content-Range': '0-15' } });
  t.equal(patched.status, 202);
  t.equal(patched.headers.range, '0-15');
  t.equal((await send(url, 'DELETE', `/v2/dist/a/manifests/${image.digest}`)).status, 202);
});
