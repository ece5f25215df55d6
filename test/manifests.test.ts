// end-3 / end-7 manifests: push, pull, validation (spec "Pulling manifests",
// "Pushing Manifests", "Pushing Manifests with Subject"). Every test drives
// a real registry over loopback HTTP.
import t from 'tap';
import { send, sha256, sha512, startFor, type Reply } from './helpers/http.js';
import {
  DOCKER_CONFIG,
  DOCKER_FOREIGN_LAYER,
  DOCKER_LAYER,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  EMPTY,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  OCI_NONDISTRIBUTABLE_LAYER,
  assertError,
  dockerImageManifest,
  headerLines,
  json,
  ociImageManifest,
  pushByDigest,
  pushDescriptor,
  putManifest,
  sendRawHeaders,
  type Asserts,
} from './helpers/fixtures.js';

/**
 * Serialises like no JSON library does: keys reversed, tabs, CRLF, spaces
 * around ':' and non-ASCII written as \u escapes. A registry that parsed and
 * re-serialised would change these bytes (and their digest).
 */
function oddJson(value: unknown, depth = 0): string {
  const pad = '\t'.repeat(depth + 1);
  if (Array.isArray(value)) return value.length === 0 ? '[ ]' : `[\r\n${pad}${value.map((v) => oddJson(v, depth + 1)).join(` ,\n${pad}`)}  ]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).reverse();
    return `{ ${keys.map((k) => `${JSON.stringify(k)} :  ${oddJson((value as Record<string, unknown>)[k], depth + 1)}`).join(`,\r\n${pad}`)} }`;
  }
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return JSON.stringify(value);
}
const oddBytes = (value: unknown): Buffer => Buffer.from(`\n  ${oddJson(value)}\n\n`);

/** Codes a 413 may carry: the spec names the status ("Pushing Manifests"), not a code. */
const TOO_LARGE_CODES = ['MANIFEST_INVALID', 'SIZE_INVALID', 'DENIED'];
/** Codes for a 400 the spec names no code for (`?tag=` on a push by tag). */
const BAD_REQUEST_CODES = ['MANIFEST_INVALID', 'UNSUPPORTED'];

/** GET and HEAD of one manifest reference: status 200, exact bytes, and the headers the spec names. */
async function assertPull(t: Asserts, url: string, path: string, bytes: Buffer, mediaType: string, digest: string): Promise<void> {
  const get = await send(url, 'GET', path);
  t.equal(get.status, 200, `GET ${path}`);
  t.ok(get.body.equals(bytes), `GET ${path} returns the exact pushed bytes`);
  t.equal(get.headers['content-type'], mediaType, 'Content-Type is the pushed media type');
  t.equal(get.headers['docker-content-digest'], digest, 'Docker-Content-Digest');
  t.equal(get.headers['content-length'], String(bytes.length), 'Content-Length');
  const head = await send(url, 'HEAD', path);
  t.equal(head.status, 200, `HEAD ${path}`);
  t.equal(head.body.length, 0, 'HEAD has no body');
  t.equal(head.headers['content-type'], mediaType, 'HEAD Content-Type');
  t.equal(head.headers['docker-content-digest'], digest, 'HEAD Docker-Content-Digest');
  t.equal(head.headers['content-length'], String(bytes.length), 'HEAD Content-Length');
}

function assertCreated(t: Asserts, reply: Reply, name: string, digest: string): void {
  t.equal(reply.status, 201, `push answered 201: ${reply.body.toString('utf8').slice(0, 300)}`);
  t.equal(reply.headers.location, `/v2/${name}/manifests/${digest}`, 'Location is the manifest by digest');
  t.equal(reply.headers['docker-content-digest'], digest, 'Docker-Content-Digest');
}

/** Builds the bytes of one kind of manifest in `name`, pushing whatever it references first. */
type Build = (url: string, name: string) => Promise<Buffer>;

const KINDS: { kind: string; mediaType: string; build: Build }[] = [
  {
    kind: 'OCI image manifest',
    mediaType: OCI_MANIFEST,
    build: async (url, name) => oddBytes(await ociImageManifest(url, name, 'oci', { annotations: { 'org.example.note': 'café ☕' } })),
  },
  {
    kind: 'OCI image index',
    mediaType: OCI_INDEX,
    build: async (url, name) => {
      const child = await pushByDigest(url, name, await ociImageManifest(url, name, 'child'));
      const platform = { architecture: 'amd64', os: 'linux' };
      return oddBytes({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: child.mediaType, digest: child.digest, size: child.size, platform }] });
    },
  },
  {
    kind: 'Docker schema 2 manifest',
    mediaType: DOCKER_MANIFEST,
    build: async (url, name) => oddBytes(await dockerImageManifest(url, name, 'docker')),
  },
  {
    kind: 'Docker manifest list',
    mediaType: DOCKER_LIST,
    build: async (url, name) => {
      const child = await pushByDigest(url, name, await dockerImageManifest(url, name, 'docker child'));
      const platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
      return oddBytes({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: child.digest, size: child.size, platform }] });
    },
  },
  {
    // image-spec "Guidelines for Artifact Usage": artifactType + the empty config, which need not be pushed.
    kind: 'artifact (artifactType, empty config)',
    mediaType: OCI_MANIFEST,
    build: async (url, name) => {
      const sbom = await pushDescriptor(url, name, 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
      return oddBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sbom.v1', config: EMPTY, layers: [sbom] });
    },
  },
];

t.test('each manifest kind pushes by tag and by digest and pulls back byte for byte', async (t) => {
  const registry = await startFor(t);
  const { url } = registry;
  for (const [i, { kind, mediaType, build }] of KINDS.entries()) {
    await t.test(`${kind}, pushed by tag`, async (t) => {
      const name = `kinds/by-tag-${i}`;
      const bytes = await build(url, name);
      const digest = sha256(bytes);
      assertCreated(t, await putManifest(url, name, 'v1', bytes, mediaType), name, digest);
      await assertPull(t, url, `/v2/${name}/manifests/v1`, bytes, mediaType, digest);
      await assertPull(t, url, `/v2/${name}/manifests/${digest}`, bytes, mediaType, digest);
    });
    await t.test(`${kind}, pushed by digest`, async (t) => {
      const name = `kinds/by-digest-${i}`;
      const bytes = await build(url, name);
      const digest = sha256(bytes);
      assertCreated(t, await putManifest(url, name, digest, bytes, mediaType), name, digest);
      await assertPull(t, url, `/v2/${name}/manifests/${digest}`, bytes, mediaType, digest);
      // A push by digest tags nothing.
      t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json, { name, tags: [] }, 'no tag was created');
    });
  }
});

t.test('Content-Type parameters are ignored; a body without mediaType takes the Content-Type', async (t) => {
  const { url } = await startFor(t);
  const rows = [
    { contentType: `${OCI_MANIFEST}; charset=utf-8`, stored: OCI_MANIFEST, withMediaType: true },
    { contentType: `${DOCKER_MANIFEST};charset="utf-8"`, stored: DOCKER_MANIFEST, withMediaType: true, docker: true },
    { contentType: OCI_MANIFEST, stored: OCI_MANIFEST, withMediaType: false },
    { contentType: `${DOCKER_MANIFEST}; q=1`, stored: DOCKER_MANIFEST, withMediaType: false, docker: true },
  ];
  for (const [i, row] of rows.entries()) {
    await t.test(`Content-Type ${row.contentType}, mediaType ${row.withMediaType ? 'in body' : 'absent'}`, async (t) => {
      const name = `params/r${i}`;
      const manifest = row.docker ? await dockerImageManifest(url, name, `p${i}`) : await ociImageManifest(url, name, `p${i}`);
      if (!row.withMediaType) delete manifest.mediaType;
      const bytes = json(manifest);
      const digest = sha256(bytes);
      assertCreated(t, await putManifest(url, name, 'v1', bytes, row.contentType), name, digest);
      await assertPull(t, url, `/v2/${name}/manifests/v1`, bytes, row.stored, digest);
    });
  }
});

t.test('mediaType in the body must equal the Content-Type → 400 MANIFEST_INVALID, nothing stored', async (t) => {
  const { url } = await startFor(t);
  const name = 'mismatch/repo';
  const oci = await ociImageManifest(url, name, 'm');
  const docker = await dockerImageManifest(url, name, 'm');
  const child = await pushByDigest(url, name, await ociImageManifest(url, name, 'child'));
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.size }] };
  const rows: { body: object; contentType: string }[] = [
    { body: oci, contentType: DOCKER_MANIFEST },
    { body: docker, contentType: OCI_MANIFEST },
    { body: index, contentType: OCI_MANIFEST },
    { body: oci, contentType: OCI_INDEX },
    { body: index, contentType: DOCKER_LIST },
  ];
  for (const [i, { body, contentType }] of rows.entries()) {
    const tag = `m${i}`;
    const reply = await putManifest(url, name, tag, json(body), contentType);
    assertError(t, reply, 400, 'MANIFEST_INVALID');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(json(body))}`), 404, 'MANIFEST_UNKNOWN');
  }
});

t.test('malformed manifests → 400 MANIFEST_INVALID, nothing stored', async (t) => {
  const { url } = await startFor(t);
  const name = 'invalid/repo';
  const good = await ociImageManifest(url, name, 'good');
  const { config, layers } = good as { config: object; layers: object[] };
  const rows: { why: string; body: string | Buffer; contentType?: string }[] = [
    { why: 'not JSON', body: '{"schemaVersion": 2,' },
    { why: 'empty body', body: '' },
    { why: 'JSON array', body: '[{"schemaVersion":2}]' },
    { why: 'JSON string', body: '"manifest"' },
    { why: 'JSON null', body: 'null' },
    { why: 'JSON number', body: '2' },
    { why: 'schemaVersion 1 (Docker schema 1 type)', body: JSON.stringify({ schemaVersion: 1, name, tag: 'x', fsLayers: [], history: [] }), contentType: 'application/vnd.docker.distribution.manifest.v1+json' },
    { why: 'schemaVersion 1 (signed schema 1 type)', body: JSON.stringify({ schemaVersion: 1, name, tag: 'x', fsLayers: [], history: [], signatures: [] }), contentType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' },
    { why: 'schemaVersion 1 with an OCI type', body: JSON.stringify({ ...good, schemaVersion: 1 }) },
    { why: 'schemaVersion missing', body: JSON.stringify({ mediaType: OCI_MANIFEST, config, layers }) },
    { why: 'unknown media type (Content-Type)', body: JSON.stringify({ schemaVersion: 2, config, layers }), contentType: 'application/vnd.example.unknown+json' },
    { why: 'unknown media type (body and Content-Type)', body: JSON.stringify({ ...good, mediaType: 'application/vnd.example.unknown+json' }), contentType: 'application/vnd.example.unknown+json' },
    { why: 'plain application/json', body: JSON.stringify({ schemaVersion: 2, config, layers }), contentType: 'application/json' },
    { why: 'image manifest without config', body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, layers }) },
    { why: 'layers not an array', body: JSON.stringify({ ...good, layers: layers[0] }) },
    { why: 'descriptor with a malformed digest', body: JSON.stringify({ ...good, layers: [{ ...layers[0], digest: 'sha256:1234' }] }) },
    { why: 'descriptor with a negative size', body: JSON.stringify({ ...good, layers: [{ ...layers[0], size: -1 }] }) },
    { why: 'index without manifests', body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX }), contentType: OCI_INDEX },
    { why: 'schemaVersion "2" (a string)', body: JSON.stringify({ ...good, schemaVersion: '2' }) },
    { why: 'config an array', body: JSON.stringify({ ...good, config: [config] }) },
    { why: 'annotations with a non-string value', body: JSON.stringify({ ...good, annotations: { 'org.example.n': 1 } }) },
    { why: 'artifactType not a string', body: JSON.stringify({ ...good, artifactType: 42 }) },
    { why: 'subject with a malformed digest', body: JSON.stringify({ ...good, subject: { mediaType: OCI_MANIFEST, digest: 'sha256:nope', size: 1 } }) },
  ];
  for (const [i, { why, body, contentType }] of rows.entries()) {
    await t.test(why, async (t) => {
      const tag = `bad${i}`;
      assertError(t, await putManifest(url, name, tag, body, contentType ?? OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
    });
  }
});

t.test('references to blobs or manifests not in the repository → 400 MANIFEST_BLOB_UNKNOWN, nothing stored', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/repo';
  const other = 'refs/other';
  const good = (await ociImageManifest(url, name, 'good')) as { config: { digest: string; size: number; mediaType: string }; layers: object[] };
  const elsewhere = await pushDescriptor(url, other, OCI_LAYER, 'a layer only in refs/other');
  const childElsewhere = await pushByDigest(url, other, await ociImageManifest(url, other, 'child elsewhere'));
  const dockerChildElsewhere = await pushByDigest(url, other, await dockerImageManifest(url, other, 'docker child elsewhere'));
  const phantom = (what: string) => ({ digest: sha256(`never pushed: ${what}`), size: 42 });
  const rows: { why: string; body: object }[] = [
    { why: 'config missing', body: { ...good, config: { ...good.config, ...phantom('config') } } },
    { why: 'layer missing', body: { ...good, layers: [...good.layers, { mediaType: OCI_LAYER, ...phantom('layer') }] } },
    { why: 'layer only in another repository', body: { ...good, layers: [elsewhere] } },
    { why: 'index child missing', body: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, ...phantom('child') }] } },
    { why: 'index child only in another repository', body: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: childElsewhere.digest, size: childElsewhere.size }] } },
    { why: 'Docker manifest list child only in another repository', body: { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: dockerChildElsewhere.digest, size: dockerChildElsewhere.size, platform: { architecture: 'amd64', os: 'linux' } }] } },
  ];
  for (const [i, { why, body }] of rows.entries()) {
    await t.test(why, async (t) => {
      const tag = `missing${i}`;
      const bytes = json(body);
      assertError(t, await putManifest(url, name, tag, bytes, (body as { mediaType: string }).mediaType), 400, 'MANIFEST_BLOB_UNKNOWN');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(bytes)}`), 404, 'MANIFEST_UNKNOWN');
    });
  }
  await t.test('a refused push to a new repository does not create it', async (t) => {
    const bytes = json({ ...good, config: { ...good.config, ...phantom('config') } });
    assertError(t, await putManifest(url, 'refs/brand-new', 'v1', bytes, OCI_MANIFEST), 400, 'MANIFEST_BLOB_UNKNOWN');
    assertError(t, await send(url, 'GET', '/v2/refs/brand-new/manifests/v1'), 404, 'NAME_UNKNOWN');
    assertError(t, await send(url, 'GET', '/v2/refs/brand-new/tags/list'), 404, 'NAME_UNKNOWN');
  });
});

t.test('a descriptor size that differs from the stored content → 400 MANIFEST_INVALID', async (t) => {
  const { url } = await startFor(t);
  const name = 'sizes/repo';
  const good = (await ociImageManifest(url, name, 'sizes')) as { config: { size: number }; layers: { size: number }[] };
  const child = await pushByDigest(url, name, await ociImageManifest(url, name, 'child'));
  // The empty blob pushed for real: its descriptor must then say size 2 like any other.
  const empty = await pushDescriptor(url, name, EMPTY.mediaType, '{}');
  t.equal(empty.digest, EMPTY.digest, 'the empty blob has the well-known digest');
  const rows: { why: string; body: object }[] = [
    { why: 'config size + 1', body: { ...good, config: { ...good.config, size: good.config.size + 1 } } },
    { why: 'layer size - 1', body: { ...good, layers: [{ ...good.layers[0], size: good.layers[0]!.size - 1 }] } },
    { why: 'layer size 0', body: { ...good, layers: [{ ...good.layers[0], size: 0 }] } },
    { why: 'index child size + 10', body: { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.size + 10 }] } },
    { why: 'empty config (stored in the repository) with size 3', body: { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.x', config: { ...EMPTY, size: 3 }, layers: [] } },
  ];
  for (const [i, { why, body }] of rows.entries()) {
    await t.test(why, async (t) => {
      const tag = `size${i}`;
      assertError(t, await putManifest(url, name, tag, json(body), (body as { mediaType: string }).mediaType), 400, 'MANIFEST_INVALID');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
    });
  }
});

t.test('blobs a registry need not hold: foreign / non-distributable layers and the empty descriptor', async (t) => {
  const { url } = await startFor(t);
  const name = 'exempt/repo';
  const foreign = { digest: sha256('a foreign layer never pushed'), size: 1234, urls: ['https://example.com/layer.tar.gz'] };
  const rows: { why: string; build: () => Promise<object> }[] = [
    {
      why: 'OCI non-distributable layer',
      build: async () => {
        const m = (await ociImageManifest(url, name, 'nd')) as { layers: object[] };
        return { ...m, layers: [{ mediaType: OCI_NONDISTRIBUTABLE_LAYER, ...foreign }, ...m.layers] };
      },
    },
    {
      why: 'OCI non-distributable layers, tar and zstd',
      build: async () => {
        const m = (await ociImageManifest(url, name, 'nd2')) as { layers: object[] };
        const types = ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd'];
        return { ...m, layers: [...m.layers, ...types.map((mediaType, i) => ({ mediaType, ...foreign, digest: sha256(`foreign ${i}`) }))] };
      },
    },
    {
      why: 'Docker foreign layer',
      build: async () => {
        const m = (await dockerImageManifest(url, name, 'foreign')) as { layers: object[] };
        return { ...m, layers: [{ mediaType: DOCKER_FOREIGN_LAYER, ...foreign }, ...m.layers] };
      },
    },
    {
      why: 'empty descriptor as config and as layer, in a registry that never saw it',
      build: async () => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.empty', config: EMPTY, layers: [EMPTY] }),
    },
  ];
  for (const [i, { why, build }] of rows.entries()) {
    await t.test(why, async (t) => {
      const body = (await build()) as { mediaType: string };
      const bytes = json(body);
      assertCreated(t, await putManifest(url, name, `ok${i}`, bytes, body.mediaType), name, sha256(bytes));
      await assertPull(t, url, `/v2/${name}/manifests/ok${i}`, bytes, body.mediaType, sha256(bytes));
    });
  }
});

t.test('the empty descriptor is exactly two bytes: any other size → 400 MANIFEST_INVALID, even when it is absent', async (t) => {
  const { url } = await startFor(t);
  const name = 'exempt/empty-size';
  const rows = [
    { why: 'config of size 3', body: { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.x', config: { ...EMPTY, size: 3 }, layers: [] } },
    { why: 'layer of size 0', body: { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.x', config: EMPTY, layers: [{ ...EMPTY, size: 0 }] } },
  ];
  for (const [i, { why, body }] of rows.entries()) {
    await t.test(why, async (t) => {
      assertError(t, await putManifest(url, name, `e${i}`, json(body), OCI_MANIFEST), 400, 'MANIFEST_INVALID');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/e${i}`), 404, 'NAME_UNKNOWN');
    });
  }
});

t.test('a push by digest whose digest does not match the bytes → 400 DIGEST_INVALID, nothing stored', async (t) => {
  const { url } = await startFor(t);
  const name = 'digests/repo';
  const bytes = json(await ociImageManifest(url, name, 'd'));
  const wrong = [sha256(Buffer.concat([bytes, Buffer.from(' ')])), sha512(Buffer.concat([bytes, Buffer.from(' ')]))];
  for (const digest of wrong) {
    assertError(t, await putManifest(url, name, digest, bytes, OCI_MANIFEST), 400, 'DIGEST_INVALID');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${digest}`), 404, 'MANIFEST_UNKNOWN');
  }
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(bytes)}`), 404, 'MANIFEST_UNKNOWN');
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha512(bytes)}`), 404, 'MANIFEST_UNKNOWN');
});

t.test('sha512: a push by sha512 digest is verified and pulled by it', async (t) => {
  const { url } = await startFor(t);
  const name = 'digests/sha512';
  const bytes = json(await ociImageManifest(url, name, 's'));
  const digest = sha512(bytes);
  t.match(digest, /^sha512:[0-9a-f]{128}$/);
  assertCreated(t, await putManifest(url, name, digest, bytes, OCI_MANIFEST), name, digest);
  await assertPull(t, url, `/v2/${name}/manifests/${digest}`, bytes, OCI_MANIFEST, digest);
  // With end-7b tags: the tag resolves to the sha512-addressed manifest.
  const tagged = await putManifest(url, name, `${digest}?tag=v512`, bytes, OCI_MANIFEST);
  assertCreated(t, tagged, name, digest);
  await assertPull(t, url, `/v2/${name}/manifests/v512`, bytes, OCI_MANIFEST, digest);
});

/** A valid manifest of exactly `size` bytes (annotations padded), its blobs in `name`. */
async function manifestOfSize(url: string, name: string, size: number): Promise<Buffer> {
  const base = await ociImageManifest(url, name, `size ${size}`);
  const empty = json({ ...base, annotations: { pad: '' } }).length;
  if (size < empty) throw new Error(`cannot build a manifest of ${size} bytes`);
  const bytes = json({ ...base, annotations: { pad: 'x'.repeat(size - empty) } });
  if (bytes.length !== size) throw new Error('padding arithmetic is off');
  return bytes;
}

t.test('manifest size limit: 4 MiB accepted, one byte more → 413, nothing stored', async (t) => {
  const { url } = await startFor(t);
  const name = 'limits/default';
  const limit = 4 * 1024 * 1024;
  const atLimit = await manifestOfSize(url, name, limit);
  assertCreated(t, await putManifest(url, name, 'at-limit', atLimit, OCI_MANIFEST), name, sha256(atLimit));
  await assertPull(t, url, `/v2/${name}/manifests/at-limit`, atLimit, OCI_MANIFEST, sha256(atLimit));

  const over = await manifestOfSize(url, name, limit + 1);
  // With Content-Length (refused before the body is read) …
  const declared = await putManifest(url, name, 'over', over, OCI_MANIFEST);
  t.equal(declared.status, 413, 'Content-Length over the limit → 413');
  assertError(t, declared, 413, TOO_LARGE_CODES);
  // … and chunked, without a length (refused as the bytes pass the limit).
  const chunked = await send(url, 'PUT', `/v2/${name}/manifests/over`, { body: over, headers: { 'Content-Type': OCI_MANIFEST, 'Transfer-Encoding': 'chunked' } });
  assertError(t, chunked, 413, TOO_LARGE_CODES);
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/over`), 404, 'MANIFEST_UNKNOWN');
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(over)}`), 404, 'MANIFEST_UNKNOWN');
});

t.test('option maxManifestBytes lowers the limit', async (t) => {
  const { url } = await startFor(t, { maxManifestBytes: 1024 });
  const name = 'limits/small';
  const atLimit = await manifestOfSize(url, name, 1024);
  assertCreated(t, await putManifest(url, name, 'at-limit', atLimit, OCI_MANIFEST), name, sha256(atLimit));
  const over = await manifestOfSize(url, name, 1025);
  assertError(t, await putManifest(url, name, 'over', over, OCI_MANIFEST), 413, TOO_LARGE_CODES);
  assertError(t, await putManifest(url, name, sha256(over), over, OCI_MANIFEST), 413, TOO_LARGE_CODES);
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/over`), 404, 'MANIFEST_UNKNOWN');
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(over)}`), 404, 'MANIFEST_UNKNOWN');
});

t.test('pushing a tag again moves it; the old manifest stays reachable by digest', async (t) => {
  const { url } = await startFor(t);
  const name = 'moves/repo';
  const first = json(await ociImageManifest(url, name, 'first'));
  const second = json(await dockerImageManifest(url, name, 'second'));
  assertCreated(t, await putManifest(url, name, 'latest', first, OCI_MANIFEST), name, sha256(first));
  await assertPull(t, url, `/v2/${name}/manifests/latest`, first, OCI_MANIFEST, sha256(first));
  assertCreated(t, await putManifest(url, name, 'latest', second, DOCKER_MANIFEST), name, sha256(second));
  await assertPull(t, url, `/v2/${name}/manifests/latest`, second, DOCKER_MANIFEST, sha256(second));
  await assertPull(t, url, `/v2/${name}/manifests/${sha256(first)}`, first, OCI_MANIFEST, sha256(first));
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json, { name, tags: ['latest'] }, 'the tag is listed once');
  // Pushing the same bytes under the same tag again is idempotent.
  assertCreated(t, await putManifest(url, name, 'latest', second, DOCKER_MANIFEST), name, sha256(second));
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json, { name, tags: ['latest'] });
});

t.test('tags: valid at 128 characters; invalid ones → 400 MANIFEST_INVALID', async (t) => {
  const { url } = await startFor(t);
  const name = 'tagnames/repo';
  const bytes = json(await ociImageManifest(url, name, 't'));
  for (const tag of ['a'.repeat(128), '_underscore', 'V1.2.3-rc_1', '0']) {
    assertCreated(t, await putManifest(url, name, tag, bytes, OCI_MANIFEST), name, sha256(bytes));
    t.equal((await send(url, 'GET', `/v2/${name}/manifests/${tag}`)).status, 200, `tag ${tag.slice(0, 20)} resolves`);
  }
  for (const tag of ['-bad', '.bad', 'a'.repeat(129), 'bad%21', 'bad%20tag', 'caf%C3%A9']) {
    await t.test(`tag ${tag.length > 20 ? `of ${tag.length} characters` : tag}`, async (t) => {
      assertError(t, await putManifest(url, name, tag, bytes, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
    });
  }
  t.strictSame(
    (await send(url, 'GET', `/v2/${name}/tags/list`)).json.tags,
    ['0', '_underscore', 'a'.repeat(128), 'V1.2.3-rc_1'],
    'only the valid tags exist',
  );
});

t.test('malformed digest references → 400 DIGEST_INVALID on PUT, GET and HEAD', async (t) => {
  const { url } = await startFor(t);
  const name = 'badrefs/repo';
  const bytes = json(await ociImageManifest(url, name, 'b'));
  const hex = sha256(bytes).slice('sha256:'.length);
  const rows = [
    'sha256:abc',
    `sha256:${hex.toUpperCase()}`,
    `sha256:${hex.slice(1)}`,
    `sha256:${hex}0`,
    `sha512:${hex}`,
    'sha256:',
    `sha256:${'g'.repeat(64)}`,
    'md5:d41d8cd98f00b204e9800998ecf8427e',
    `SHA256:${hex}`,
  ];
  for (const reference of rows) {
    await t.test(reference.slice(0, 24), async (t) => {
      assertError(t, await putManifest(url, name, reference, bytes, OCI_MANIFEST), 400, 'DIGEST_INVALID');
      assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${reference}`), 400, 'DIGEST_INVALID');
      assertError(t, await send(url, 'HEAD', `/v2/${name}/manifests/${reference}`), 400, 'DIGEST_INVALID', true);
    });
  }
});

t.test('unknown manifests and repositories → 404 MANIFEST_UNKNOWN / NAME_UNKNOWN; HEAD has no body', async (t) => {
  const { url } = await startFor(t);
  const name = 'unknown/repo';
  await pushByDigest(url, name, await ociImageManifest(url, name, 'u'));
  const rows: { path: string; code: string }[] = [
    { path: `/v2/${name}/manifests/nope`, code: 'MANIFEST_UNKNOWN' },
    { path: `/v2/${name}/manifests/${sha256('no such manifest')}`, code: 'MANIFEST_UNKNOWN' },
    { path: `/v2/${name}/manifests/${sha512('no such manifest')}`, code: 'MANIFEST_UNKNOWN' },
    { path: '/v2/no/such/repo/manifests/latest', code: 'NAME_UNKNOWN' },
    { path: `/v2/no/such/repo/manifests/${sha256('x')}`, code: 'NAME_UNKNOWN' },
  ];
  for (const { path, code } of rows) {
    assertError(t, await send(url, 'GET', path), 404, code);
    assertError(t, await send(url, 'HEAD', path), 404, code, true);
  }
});

t.test('end-7b: PUT by digest with ?tag=a&tag=b → 201, one OCI-Tag header, both tags resolve', async (t) => {
  const { url } = await startFor(t);
  const name = 'multitag/repo';
  const bytes = json(await ociImageManifest(url, name, 'mt'));
  const digest = sha256(bytes);
  const reply = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/${digest}?tag=a&tag=b`, { body: bytes, headers: { 'Content-Type': OCI_MANIFEST } });
  assertCreated(t, reply, name, digest);
  t.strictSame(headerLines(reply.rawHeaders, 'OCI-Tag'), ['a, b'], 'one OCI-Tag header listing both tags');
  for (const tag of ['a', 'b']) await assertPull(t, url, `/v2/${name}/manifests/${tag}`, bytes, OCI_MANIFEST, digest);
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json, { name, tags: ['a', 'b'] });

  await t.test('ten tags in one request (spec: SHOULD support at least 10)', async (t) => {
    const tags = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const many = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/${digest}?${tags.map((x) => `tag=${x}`).join('&')}`, { body: bytes, headers: { 'Content-Type': OCI_MANIFEST } });
    assertCreated(t, many, name, digest);
    t.strictSame(headerLines(many.rawHeaders, 'OCI-Tag'), [tags.join(', ')]);
    for (const tag of tags) t.equal((await send(url, 'GET', `/v2/${name}/manifests/${tag}`)).headers['docker-content-digest'], digest, `${tag} resolves`);
  });
  await t.test('a push by digest without ?tag= sends no OCI-Tag', async (t) => {
    const plain = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/${digest}`, { body: bytes, headers: { 'Content-Type': OCI_MANIFEST } });
    assertCreated(t, plain, name, digest);
    t.strictSame(headerLines(plain.rawHeaders, 'OCI-Tag'), []);
  });
  await t.test('an invalid ?tag= → 400 MANIFEST_INVALID, nothing stored', async (t) => {
    const other = json(await ociImageManifest(url, name, 'other'));
    assertError(t, await putManifest(url, name, `${sha256(other)}?tag=ok&tag=-bad`, other, OCI_MANIFEST), 400, 'MANIFEST_INVALID');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(other)}`), 404, 'MANIFEST_UNKNOWN');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/ok`), 404, 'MANIFEST_UNKNOWN');
  });
  await t.test('?tag= on a push by tag → 400, nothing stored', async (t) => {
    const other = json(await ociImageManifest(url, name, 'by tag'));
    const refused = await putManifest(url, name, 'main?tag=extra', other, OCI_MANIFEST);
    t.equal(refused.status, 400);
    assertError(t, refused, 400, BAD_REQUEST_CODES);
    for (const ref of ['main', 'extra', sha256(other)]) assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${ref}`), 404, 'MANIFEST_UNKNOWN');
  });
});

t.test('a manifest with a subject gets OCI-Subject; a tag resolves only in its own repository', async (t) => {
  const { url } = await startFor(t);
  const name = 'subject/repo';
  const subject = { mediaType: OCI_MANIFEST, digest: sha256('a subject never pushed'), size: 99 };
  const bytes = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [EMPTY], subject });
  const reply = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/sig`, { body: bytes, headers: { 'Content-Type': OCI_MANIFEST } });
  assertCreated(t, reply, name, sha256(bytes));
  t.strictSame(headerLines(reply.rawHeaders, 'OCI-Subject'), [subject.digest]);
  assertError(t, await send(url, 'GET', '/v2/subject/elsewhere/manifests/sig'), 404, 'NAME_UNKNOWN');
});

t.test('a manifest is served as stored even when Accept leaves its type out (no conversion)', async (t) => {
  const { url } = await startFor(t);
  const name = 'docker/types';
  const manifest = (await dockerImageManifest(url, name, 'types')) as { config: { mediaType: string }; layers: { mediaType: string }[] };
  t.equal(manifest.config.mediaType, DOCKER_CONFIG);
  t.equal(manifest.layers[0]!.mediaType, DOCKER_LAYER);
  const bytes = json(manifest);
  assertCreated(t, await putManifest(url, name, 'v1', bytes, DOCKER_MANIFEST), name, sha256(bytes));
  const pulled = await send(url, 'GET', `/v2/${name}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
  t.equal(pulled.status, 200, 'served as stored even when Accept leaves its type out');
  t.equal(pulled.headers['content-type'], DOCKER_MANIFEST);
  t.ok(pulled.body.equals(bytes));
});

t.test('GET / HEAD by a tag outside the grammar → 404 MANIFEST_UNKNOWN (the conformance suite relies on it), not 400', async (t) => {
  // spec "Pulling manifests": a reference that names no manifest is 404 MANIFEST_UNKNOWN; only a PUT
  // of such a tag is refused as MANIFEST_INVALID (see "tags: valid at 128 characters").
  const { url } = await startFor(t);
  const name = 'badtag/repo';
  await pushByDigest(url, name, await ociImageManifest(url, name, 'b'));
  for (const tag of ['-bad', '.bad', 'a'.repeat(129)]) {
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');
    assertError(t, await send(url, 'HEAD', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN', true);
  }
});

t.test('an index carrying config/layers, or an image carrying manifests → 400 MANIFEST_INVALID, nothing stored', async (t) => {
  // image-spec: an image manifest has config and layers, an index has manifests; a body that mixes
  // them is neither, and a client would read it by the wrong schema.
  const { url } = await startFor(t);
  const name = 'mixed/repo';
  const image = await pushByDigest(url, name, await ociImageManifest(url, name, 'm'));
  const { config, layers } = JSON.parse(image.bytes.toString()) as { config: object; layers: object[] };
  const child = { mediaType: OCI_MANIFEST, digest: image.digest, size: image.size };
  const rows: [string, Record<string, unknown>, string][] = [
    ['an index with config and layers', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child], config, layers }, OCI_INDEX],
    ['an index with layers only', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [child], layers }, OCI_INDEX],
    ['an image with manifests', { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, manifests: [child] }, OCI_MANIFEST],
  ];
  for (const [why, body, type] of rows) {
    const bytes = json(body);
    assertError(t, await putManifest(url, name, 'mixed', bytes, type), 400, 'MANIFEST_INVALID');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${sha256(bytes)}`), 404, 'MANIFEST_UNKNOWN');
    t.comment(why);
  }
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/mixed`), 404, 'MANIFEST_UNKNOWN');
});

t.test('a manifest PUT without Content-Type takes the type from its mediaType field', async (t) => {
  // spec "Pushing Manifests": the type comes from Content-Type, which must match mediaType when both
  // are there; with no header the body's mediaType is all there is, and it is what GET serves.
  const { url } = await startFor(t);
  const name = 'notype/repo';
  for (const [i, build] of [() => ociImageManifest(url, name, 'n'), () => dockerImageManifest(url, name, 'n')].entries()) {
    const manifest = await build();
    const bytes = json(manifest);
    assertCreated(t, await putManifest(url, name, `v${i}`, bytes), name, sha256(bytes));
    await assertPull(t, url, `/v2/${name}/manifests/v${i}`, bytes, String(manifest.mediaType), sha256(bytes));
  }
});

t.test('?tag= repeated with the same value tags once, and OCI-Tag lists it once', async (t) => {
  const { url } = await startFor(t);
  const name = 'duptag/repo';
  const bytes = json(await ociImageManifest(url, name, 'd'));
  const digest = sha256(bytes);
  const reply = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/${digest}?tag=a&tag=a&tag=b&tag=a`, { body: bytes, headers: { 'Content-Type': OCI_MANIFEST } });
  assertCreated(t, reply, name, digest);
  t.strictSame(headerLines(reply.rawHeaders, 'OCI-Tag'), ['a, b'], 'each tag once, in first-seen order');
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json, { name, tags: ['a', 'b'] });
});

t.test('manifest responses: ETag is the quoted digest; a tag is never marked cacheable', async (t) => {
  // RFC 9110 §8.8.3: the digest is a strong validator of the bytes. A tag moves, so an answer by tag
  // must not be cached as if it were content-addressed.
  const { url } = await startFor(t);
  const name = 'etag/repo';
  const bytes = json(await ociImageManifest(url, name, 'e'));
  const digest = sha256(bytes);
  assertCreated(t, await putManifest(url, name, 'v1', bytes, OCI_MANIFEST), name, digest);
  for (const method of ['GET', 'HEAD']) {
    for (const reference of ['v1', digest]) {
      const reply = await send(url, method, `/v2/${name}/manifests/${reference}`);
      t.equal(reply.status, 200);
      t.equal(reply.headers.etag, `"${digest}"`, `${method} ${reference.slice(0, 12)}: ETag "<digest>"`);
      if (reference === 'v1') t.notMatch(String(reply.headers['cache-control'] ?? ''), /max-age=[1-9]|immutable/, `${method} by tag: not cacheable for long`);
    }
  }
});

t.test('405 with an exact Allow on the manifest, tags, catalog and referrers routes', async (t) => {
  // RFC 9110 §15.5.6: a 405 lists the methods the target supports; spec "Endpoints" names them.
  const { url } = await startFor(t);
  const name = 'allow/repo';
  const image = await pushByDigest(url, name, await ociImageManifest(url, name, 'a'));
  const rows: [string, string[], string[]][] = [
    [`/v2/${name}/manifests/v1`, ['POST', 'PATCH', 'OPTIONS'], ['DELETE', 'GET', 'HEAD', 'PUT']],
    [`/v2/${name}/manifests/${image.digest}`, ['POST', 'PATCH'], ['DELETE', 'GET', 'HEAD', 'PUT']],
    [`/v2/${name}/tags/list`, ['POST', 'PUT', 'PATCH', 'DELETE'], ['GET', 'HEAD']],
    ['/v2/_catalog', ['POST', 'PUT', 'DELETE'], ['GET', 'HEAD']],
    [`/v2/${name}/referrers/${image.digest}`, ['POST', 'PUT', 'DELETE'], ['GET', 'HEAD']],
  ];
  for (const [path, methods, allowed] of rows) {
    for (const method of methods) {
      const reply = await send(url, method, path, { headers: { 'Content-Length': 0 } });
      assertError(t, reply, 405, 'UNSUPPORTED');
      t.strictSame(String(reply.headers.allow).split(/\s*,\s*/).sort(), allowed, `${method} ${path.slice(0, 40)}: Allow ${allowed.join(', ')}`);
    }
  }
});
