// Interop with docker-registry-client (npm, joyent), the v2 client behind
// Triton's sdc-docker and imgapi: ping, login, listTags, getManifest (an
// image, and a manifest list / index with acceptManifestLists), headBlob and
// createBlobReadStream to pull; blobUpload and putManifest (a Docker v2
// manifest, the only kind it puts) to push. Anonymous, Basic and token mode
// (it logs in and follows the challenge); every byte checked. Run with
// `npm run test:interop`.
import t from 'tap';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { importLayout, type RegistryOptions, type RunningRegistry } from '../../src/index.js';
import { send, startFor } from '../helpers/http.js';
import { buildImage, buildIndex, sha256, writeLayout, OCI_INDEX, OCI_MANIFEST, type Image } from './layout.js';
import { sampleImage, tempDir } from './skopeo-run.js';
import { join } from 'node:path';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const require = createRequire(import.meta.url);
const VERSION = (require('docker-registry-client/package.json') as { version: string }).version;
// No type declarations are published: the calls used here, typed as the library documents them.
type Callback<A extends unknown[]> = (err: (Error & { statusCode?: number }) | null, ...rest: A) => void;
interface ClientV2 {
  ping(cb: Callback<[unknown, IncomingMessage]>): void;
  login(cb: Callback<[]>): void;
  listTags(cb: Callback<[{ name: string; tags: string[] }]>): void;
  getManifest(opts: { ref: string; maxSchemaVersion?: number; acceptManifestLists?: boolean }, cb: Callback<[Record<string, any>, IncomingMessage, string]>): void;
  headBlob(opts: { digest: string }, cb: Callback<[IncomingMessage[]]>): void;
  createBlobReadStream(opts: { digest: string }, cb: Callback<[NodeJS.ReadableStream, IncomingMessage[]]>): void;
  blobUpload(opts: { digest: string; stream: NodeJS.ReadableStream; contentLength: number; contentType?: string }, cb: Callback<[IncomingMessage]>): void;
  putManifest(opts: { manifest: string; ref: string }, cb: Callback<[IncomingMessage, string, string]>): void;
  close(): void;
}
const drc = require('docker-registry-client') as { createClientV2(opts: Record<string, unknown>): ClientV2 };

/** Calls a callback-style client method as a promise of its results after `err`. */
function call<A extends unknown[]>(fn: (cb: Callback<A>) => void): Promise<A> {
  return new Promise((resolve, reject) => fn((err, ...rest) => (err ? reject(err) : resolve(rest))));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

const USERS = { ci: 'secret' };
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

interface Mode {
  name: string;
  options: RegistryOptions;
  credentials?: { username: string; password: string };
}

const MODES: Mode[] = [
  { name: 'anonymous', options: {} },
  { name: 'Basic', options: { auth: { basic: { users: USERS } } }, credentials: { username: 'ci', password: 'secret' } },
  { name: 'token', options: { auth: { token: { users: USERS } } }, credentials: { username: 'ci', password: 'secret' } },
];

async function pull(t: Test, client: ClientV2, image: Image): Promise<void> {
  const [manifest, res, text] = await call<[Record<string, any>, IncomingMessage, string]>((cb) => client.getManifest({ ref: 'v1', maxSchemaVersion: 2 }, cb));
  t.equal(text, image.manifest.bytes.toString('utf8'), 'getManifest(v1): the manifest text, byte for byte');
  t.equal(res.headers['docker-content-digest'], image.manifest.descriptor.digest, 'and its digest');
  t.equal(manifest.config.digest, image.config.descriptor.digest, 'parsed: its config');
  for (const blob of [image.config, ...image.layers]) {
    const [ress] = await call<[IncomingMessage[]]>((cb) => client.headBlob({ digest: blob.descriptor.digest }, cb));
    t.equal(ress.at(-1)?.headers['content-length'], String(blob.descriptor.size), `headBlob ${blob.descriptor.digest}: its size`);
    const [stream] = await call<[NodeJS.ReadableStream, IncomingMessage[]]>((cb) => client.createBlobReadStream({ digest: blob.descriptor.digest }, cb));
    const bytes = await readAll(stream);
    t.equal(sha256(bytes), blob.descriptor.digest, 'createBlobReadStream: the pushed digest');
    t.ok(bytes.equals(blob.bytes), 'byte for byte');
  }
}

t.test(`docker-registry-client ${VERSION} pulls and pushes`, async (t) => {
  for (const mode of MODES) {
    await t.test(mode.name, async (t) => {
      const registry: RunningRegistry = await startFor(t, mode.options);
      const image = sampleImage('drc-app');
      const index = buildIndex([buildImage({ architecture: 'amd64' }), buildImage({ architecture: 'arm64' })]);
      const dir = await tempDir(t, 'npm-drc');
      await writeLayout(join(dir, 'layout'), { v1: image, 'v1.0': image, multi: index });
      await importLayout(registry.store, join(dir, 'layout'), { name: 'team/app' });
      const client = drc.createClientV2({ name: `${registry.host}/team/app`, scheme: 'http', ...mode.credentials });
      t.teardown(() => client.close());

      // ping sends no credentials (it only asks whether the registry speaks v2): under auth its answer is the 401 challenge.
      if (mode.credentials) await t.rejects(call((cb) => client.ping(cb)), { statusCode: 401 }, 'ping: GET /v2/ → 401 under auth');
      else t.equal((await call<[unknown, IncomingMessage]>((cb) => client.ping(cb)))[1].statusCode, 200, 'ping: GET /v2/ → 200');
      await call((cb) => client.login(cb));
      t.pass('login');
      const [tags] = await call<[{ name: string; tags: string[] }]>((cb) => client.listTags(cb));
      t.strictSame(tags, { name: 'team/app', tags: ['multi', 'v1', 'v1.0'] }, 'listTags: every tag, exactly');
      await pull(t, client, image);
      const [list, listRes, listText] = await call<[Record<string, any>, IncomingMessage, string]>((cb) => client.getManifest({ ref: 'multi', maxSchemaVersion: 2, acceptManifestLists: true }, cb));
      t.equal(listText, index.index.bytes.toString('utf8'), 'getManifest(multi, acceptManifestLists): the index, byte for byte');
      t.equal(listRes.headers['content-type'], OCI_INDEX, 'as an OCI index');
      t.strictSame(list.manifests.map((m: { digest: string }) => m.digest), index.children.map((c) => c.manifest.descriptor.digest), 'its manifests');
      await t.rejects(call((cb) => client.getManifest({ ref: 'nope', maxSchemaVersion: 2 }, cb)), { statusCode: 404 }, 'an unknown tag: 404');

      // Push: the layers and config as blobUpload, then a Docker v2 manifest.
      const pushed = buildImage({ architecture: 'arm64', layers: [[{ name: 'srv/' }, { name: 'srv/pushed', content: 'pushed by docker-registry-client\n' }]] });
      const push = drc.createClientV2({ name: `${registry.host}/team/pushed`, scheme: 'http', ...mode.credentials });
      t.teardown(() => push.close());
      for (const blob of [pushed.config, ...pushed.layers]) {
        const [res] = await call<[IncomingMessage]>((cb) => push.blobUpload({ digest: blob.descriptor.digest, stream: Readable.from([blob.bytes]), contentLength: blob.bytes.length, contentType: 'application/octet-stream' }, cb));
        t.equal(res.statusCode, 201, `blobUpload ${blob.descriptor.digest}: 201`);
      }
      const dockerManifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: DOCKER_MANIFEST,
        config: { ...pushed.config.descriptor, mediaType: 'application/vnd.docker.container.image.v1+json' },
        layers: pushed.layers.map((l) => ({ ...l.descriptor, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' })),
      });
      const [putRes, digest] = await call<[IncomingMessage, string, string]>((cb) => push.putManifest({ manifest: dockerManifest, ref: 'v2' }, cb));
      t.equal(putRes.statusCode, 201, 'putManifest: 201');
      t.equal(digest, sha256(Buffer.from(dockerManifest)), 'the digest of the manifest bytes');
      const [pushedTags] = await call<[{ name: string; tags: string[] }]>((cb) => push.listTags(cb));
      t.strictSame(pushedTags, { name: 'team/pushed', tags: ['v2'] }, 'listTags after the push: exactly v2');
      // Read back with plain HTTP (and the registry's store): the same bytes.
      const stored = await registry.store.getBlob('team/pushed', pushed.layers[0]!.descriptor.digest);
      t.ok(stored?.equals(pushed.layers[0]!.bytes), 'the registry holds the layer byte for byte');
      const journalPut = registry.journal.filter({ method: 'PUT', route: 'manifest', name: 'team/pushed' }).at(-1);
      t.equal(journalPut?.requestHeaders['content-type'], DOCKER_MANIFEST, 'the manifest went up as a Docker v2 manifest');
      if (!mode.credentials) {
        const got = await send(registry.url, 'GET', '/v2/team/pushed/manifests/v2', { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` } });
        t.equal(got.body.toString('utf8'), dockerManifest, 'GET returns the manifest byte for byte');
      }
      t.strictSame(registry.journal.all().filter((e) => e.status >= 500), [], 'no 5xx');
    });
  }
});
