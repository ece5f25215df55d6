// Interop with @sigstore/oci (npm), which sigstore-js / npm provenance use to
// attach a signature bundle to an image: getImageDigest, then
// attachArtifactToImage (blob uploads, an artifact manifest whose subject is
// the image, and either the referrers API or, without it, the referrers tag
// schema). The library has no read API, so the artifact is fetched back
// the way a verifier does (referrers, manifest, blob) and every byte is
// compared. The journal shows which way the client went. Run with
// `npm run test:interop`.
import t from 'tap';
import { createRequire } from 'node:module';
import { attachArtifactToImage, getImageDigest, type Credentials } from '@sigstore/oci';
import type { RegistryOptions, RunningRegistry } from '../../src/index.js';
import { send, startFor } from '../helpers/http.js';
import { OCI_INDEX, OCI_MANIFEST, sha256 } from './layout.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const require = createRequire(import.meta.url);
const VERSION = (require('@sigstore/oci/package.json') as { version: string }).version;

const USERS = { ci: 'secret' };
const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const ZERO_DIGEST = `sha256:${'0'.repeat(64)}`;

interface Mode {
  name: string;
  options: RegistryOptions;
  credentials?: Credentials;
}

const AUTH_MODES: Mode[] = [
  { name: 'anonymous', options: {} },
  { name: 'Basic', options: { auth: { basic: { users: USERS } } }, credentials: { username: 'ci', password: 'secret' } },
  { name: 'token', options: { auth: { token: { users: USERS } } }, credentials: { username: 'ci', password: 'secret' } },
];

/** GET with the mode's credentials: Basic, or a token fetched for `scope`. */
async function reader(registry: RunningRegistry, mode: Mode): Promise<(path: string, accept?: string) => ReturnType<typeof send>> {
  let authorization: string | undefined;
  if (mode.credentials) {
    const basic = `Basic ${Buffer.from(`${mode.credentials.username}:${mode.credentials.password}`).toString('base64')}`;
    authorization = basic;
    if (mode.options.auth?.token) {
      const token = await send(registry.url, 'GET', `/token?service=${registry.host}&scope=repository:team/app:pull`, { headers: { authorization: basic } });
      authorization = `Bearer ${token.json.token}`;
    }
  }
  return (path, accept) => send(registry.url, 'GET', path, { headers: { ...(authorization && { authorization }), ...(accept && { Accept: accept }) } });
}

async function attachAndFetch(t: Test, mode: Mode, referrers: boolean): Promise<void> {
  const registry = await startFor(t, { ...mode.options, referrers });
  const image = await registry.store.pushImage('team/app', { tag: 'v1', layers: ['the image layer'] });
  const imageName = `${registry.host}/team/app`;
  // The library's types require credentials; without them it skips signing in.
  const credentials = mode.credentials as Credentials;

  const digest = await getImageDigest({ imageName, imageTag: 'v1', credentials });
  t.equal(digest, image.digest, 'getImageDigest: the digest of team/app:v1');

  const bundle = Buffer.from(JSON.stringify({ mediaType: BUNDLE_TYPE, verificationMaterial: {}, dsseEnvelope: { payload: 'e30=', signatures: [] } }));
  const attached = await attachArtifactToImage({ imageName, imageDigest: image.digest, artifact: bundle, mediaType: BUNDLE_TYPE, credentials, annotations: { 'dev.sigstore.bundle.predicateType': 'https://slsa.dev/provenance/v1' } });
  t.equal(attached.mediaType, OCI_MANIFEST, 'the artifact is an OCI image manifest');

  const get = await reader(registry, mode);
  const manifest = await get(`/v2/team/app/manifests/${attached.digest}`, OCI_MANIFEST);
  t.equal(manifest.status, 200, 'the artifact manifest is there');
  t.equal(sha256(manifest.body), attached.digest, 'under the digest the library returned');
  t.equal(manifest.body.length, attached.size, 'and the size');
  const body = manifest.json as { artifactType: string; subject: { digest: string }; layers: { digest: string; size: number; mediaType: string }[]; config: { digest: string } };
  t.equal(body.artifactType, BUNDLE_TYPE, 'artifactType');
  t.equal(body.subject.digest, image.digest, 'its subject is the image');
  t.equal(body.config.digest, sha256(Buffer.from('{}')), 'the empty config');
  const layer = await get(`/v2/team/app/blobs/${body.layers[0]!.digest}`);
  t.ok(layer.body.equals(bundle), 'the bundle blob, byte for byte');
  t.equal(body.layers[0]!.digest, sha256(bundle), 'under its digest');

  // Found from the image, as a verifier finds it: the referrers API, else the tag schema.
  const found = referrers ? await get(`/v2/team/app/referrers/${image.digest}`, OCI_INDEX) : await get(`/v2/team/app/manifests/${image.digest.replace(':', '-')}`, OCI_INDEX);
  t.equal(found.status, 200, referrers ? 'GET referrers of the image' : 'GET the referrers tag sha256-<hex>');
  t.strictSame((found.json as { manifests: { digest: string; artifactType: string }[] }).manifests.map((m) => `${m.digest} ${m.artifactType}`), [`${attached.digest} ${BUNDLE_TYPE}`], 'lists exactly the artifact');

  // The journal tells which way the client went.
  const ping = registry.journal.filter({ method: 'GET', route: 'referrers', reference: ZERO_DIGEST });
  t.strictSame(ping.map((e) => e.status), [referrers ? 200 : 404], 'it probed the referrers API once');
  const puts = registry.journal.filter({ method: 'PUT', route: 'manifest' });
  const artifactPut = puts.find((e) => e.digest === attached.digest);
  const tagSchema = puts.filter((e) => e.reference === image.digest.replace(':', '-'));
  if (referrers) {
    t.equal(artifactPut?.responseHeaders['oci-subject'], image.digest, 'the artifact PUT was answered with OCI-Subject');
    t.strictSame(tagSchema, [], 'so it wrote no referrers tag');
  } else {
    t.equal(artifactPut?.status, 201, 'the artifact PUT');
    t.equal(artifactPut?.responseHeaders['oci-subject'], undefined, 'no OCI-Subject on the artifact PUT');
    t.strictSame(tagSchema.map((e) => e.status), [201], 'so it wrote the referrers tag schema index');
  }
  t.strictSame(registry.journal.all().filter((e) => e.status >= 500), [], 'no 5xx');
}

t.test(`@sigstore/oci ${VERSION} attaches a signature bundle to an image`, async (t) => {
  for (const mode of AUTH_MODES) {
    for (const referrers of [true, false]) {
      await t.test(`${mode.name}, ${referrers ? 'with the referrers API' : 'referrers: false (tag schema)'}`, (t) => attachAndFetch(t, mode, referrers));
    }
  }
});
