// end-12a / end-12b referrers (spec "Listing Referrers", "Pushing Manifests
// with Subject", "Unavailable Referrers API", "Referrers Tag Schema").
import t from 'tap';
import { send, sha256, sha512, startFor, type Reply } from './helpers/http.js';
import {
  EMPTY,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
  assertError,
  headerLines,
  json,
  ociImageManifest,
  pushDescriptor,
  sendRawHeaders,
  type Asserts,
} from './helpers/fixtures.js';

interface ReferrerDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Pushes a manifest and returns the descriptor the referrers API must list for it, plus the OCI-Subject header lines. */
async function pushReferrer(
  url: string,
  name: string,
  reference: string | undefined,
  body: Record<string, unknown>,
  listed: { artifactType?: string; annotations?: Record<string, string> },
): Promise<{ descriptor: ReferrerDescriptor; bytes: Buffer; subjectHeaders: string[] }> {
  const bytes = json(body);
  const mediaType = body.mediaType as string;
  const digest = sha256(bytes);
  const reply = await sendRawHeaders(url, 'PUT', `/v2/${name}/manifests/${reference ?? digest}`, { body: bytes, headers: { 'Content-Type': mediaType } });
  if (reply.status !== 201) throw new Error(`push answered ${reply.status}: ${reply.body}`);
  const descriptor: ReferrerDescriptor = { mediaType, size: bytes.length, digest };
  if (listed.artifactType !== undefined) descriptor.artifactType = listed.artifactType;
  if (listed.annotations !== undefined) descriptor.annotations = listed.annotations;
  return { descriptor, bytes, subjectHeaders: headerLines(reply.rawHeaders, 'OCI-Subject') };
}

const byDigest = (a: { digest: string }, b: { digest: string }) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);

/** A referrers response: 200, the index Content-Type, and exactly these descriptors (in any order). */
function assertReferrers(t: Asserts, reply: Reply, expected: ReferrerDescriptor[], filtered: boolean): void {
  t.equal(reply.status, 200, `status 200 (${reply.body.toString('utf8').slice(0, 200)})`);
  t.equal(reply.headers['content-type'], OCI_INDEX, 'Content-Type is the OCI image index');
  t.equal(reply.headers['oci-filters-applied'], filtered ? 'artifactType' : undefined, filtered ? 'OCI-Filters-Applied: artifactType' : 'no OCI-Filters-Applied');
  const index = reply.json;
  t.strictSame(Object.keys(index ?? {}).sort(), ['manifests', 'mediaType', 'schemaVersion'], 'an image index');
  t.equal(index?.schemaVersion, 2);
  t.equal(index?.mediaType, OCI_INDEX);
  const manifests = Array.isArray(index?.manifests) ? [...index.manifests].sort(byDigest) : index?.manifests;
  t.strictSame(manifests, [...expected].sort(byDigest), `${expected.length} referrer(s)`);
}

const subjectDescriptor = (seed: string) => ({ mediaType: OCI_MANIFEST, digest: sha256(`subject ${seed}, never pushed`), size: 1234 });
const ref = (url: string, name: string, digest: string, query = '') => send(url, 'GET', `/v2/${name}/referrers/${digest}${query}`);

t.test('every kind of referrer is listed with the descriptor the spec asks for', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/kinds';
  const subject = subjectDescriptor('kinds');
  const sbom = await pushDescriptor(url, name, 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
  const annotations = { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z', 'org.example.format': 'json' };
  const pushed = [
    // artifactType present: listed as is, annotations copied.
    await pushReferrer(url, name, 'sbom', { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sbom.v1', config: EMPTY, layers: [sbom], subject, annotations }, { artifactType: 'application/vnd.example.sbom.v1', annotations }),
    // No artifactType in an image manifest: the config media type.
    await pushReferrer(url, name, undefined, { ...(await ociImageManifest(url, name, 'plain image')), subject }, { artifactType: OCI_CONFIG }),
    // Empty artifactType in an image manifest: the config media type too.
    await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: '', config: { ...EMPTY, mediaType: 'application/vnd.example.config.v1+json' }, layers: [EMPTY], subject }, { artifactType: 'application/vnd.example.config.v1+json' }),
    // An index with artifactType.
    await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_INDEX, artifactType: 'application/vnd.example.bundle', manifests: [], subject, annotations: { a: 'b' } }, { artifactType: 'application/vnd.example.bundle', annotations: { a: 'b' } }),
    // An index without artifactType: artifactType omitted.
    await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], subject }, {}),
  ];
  for (const { subjectHeaders } of pushed) t.strictSame(subjectHeaders, [subject.digest], 'OCI-Subject: <subject digest>');
  assertReferrers(t, await ref(url, name, subject.digest), pushed.map((p) => p.descriptor), false);
  const head = await send(url, 'HEAD', `/v2/${name}/referrers/${subject.digest}`);
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD has no body');
  t.equal(head.headers['content-type'], OCI_INDEX);
});

t.test('a manifest without subject gets no OCI-Subject; subjects and repositories do not mix', async (t) => {
  const { url } = await startFor(t);
  const subjectA = subjectDescriptor('a');
  const subjectB = subjectDescriptor('b');
  const artifact = (subject: object, note: string) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [EMPTY], subject, annotations: { note } });
  const plain = await pushReferrer(url, 'mix/one', 'plain', await ociImageManifest(url, 'mix/one', 'no subject'), {});
  t.strictSame(plain.subjectHeaders, [], 'no subject, no OCI-Subject');
  const a = await pushReferrer(url, 'mix/one', undefined, artifact(subjectA, 'a'), { artifactType: 'application/vnd.example.sig', annotations: { note: 'a' } });
  const b = await pushReferrer(url, 'mix/one', undefined, artifact(subjectB, 'b'), { artifactType: 'application/vnd.example.sig', annotations: { note: 'b' } });
  const elsewhere = await pushReferrer(url, 'mix/two', undefined, artifact(subjectA, 'other repo'), { artifactType: 'application/vnd.example.sig', annotations: { note: 'other repo' } });
  assertReferrers(t, await ref(url, 'mix/one', subjectA.digest), [a.descriptor], false);
  assertReferrers(t, await ref(url, 'mix/one', subjectB.digest), [b.descriptor], false);
  assertReferrers(t, await ref(url, 'mix/two', subjectA.digest), [elsewhere.descriptor], false);
  assertReferrers(t, await ref(url, 'mix/two', subjectB.digest), [], false);
});

t.test('referrers of a subject that exists, pushed before or after it', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/order';
  // The subject's bytes are known before it is pushed (a client signing first).
  const subjectBytes = json(await ociImageManifest(url, name, 'the subject'));
  const subject = { mediaType: OCI_MANIFEST, digest: sha256(subjectBytes), size: subjectBytes.length };
  const artifact = (artifactType: string) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: EMPTY, layers: [EMPTY], subject });
  const before = await pushReferrer(url, name, undefined, artifact('application/vnd.example.early'), { artifactType: 'application/vnd.example.early' });
  t.strictSame(before.subjectHeaders, [subject.digest], 'accepted before its subject exists');
  t.equal((await send(url, 'PUT', `/v2/${name}/manifests/v1`, { body: subjectBytes, headers: { 'Content-Type': OCI_MANIFEST } })).status, 201);
  const after = await pushReferrer(url, name, undefined, artifact('application/vnd.example.late'), { artifactType: 'application/vnd.example.late' });
  t.strictSame(after.subjectHeaders, [subject.digest]);
  assertReferrers(t, await ref(url, name, subject.digest), [before.descriptor, after.descriptor], false);
});

t.test('a sha512 subject: OCI-Subject names it and the API lists by it', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/sha512';
  const subject = { mediaType: OCI_MANIFEST, digest: sha512('a sha512 subject'), size: 16 };
  const pushed = await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [EMPTY], subject }, { artifactType: 'application/vnd.example.sig' });
  t.strictSame(pushed.subjectHeaders, [subject.digest]);
  assertReferrers(t, await ref(url, name, subject.digest), [pushed.descriptor], false);
  assertReferrers(t, await ref(url, name, sha256('a sha512 subject')), [], false);
});

t.test('an unknown subject or repository → 200 and an empty index', async (t) => {
  const { url } = await startFor(t);
  await pushReferrer(url, 'refs/empty', undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'x/y', config: EMPTY, layers: [EMPTY], subject: subjectDescriptor('known') }, {});
  for (const path of [`/v2/refs/empty/referrers/${sha256('nobody refers to this')}`, `/v2/no/such/repo/referrers/${sha256('x')}`]) {
    const reply = await send(url, 'GET', path);
    assertReferrers(t, reply, [], false);
    t.equal(reply.body.toString('utf8'), `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[]}`, 'manifests is an empty list');
    const filtered = await send(url, 'GET', `${path}?artifactType=x%2Fy`);
    assertReferrers(t, filtered, [], true);
  }
});

t.test('?artifactType= filters and says so with OCI-Filters-Applied', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/filter';
  const subject = subjectDescriptor('filter');
  const artifact = (artifactType: string, note: string) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: EMPTY, layers: [EMPTY], subject, annotations: { note } });
  const sig1 = await pushReferrer(url, name, undefined, artifact('application/vnd.example.signature.v1', '1'), { artifactType: 'application/vnd.example.signature.v1', annotations: { note: '1' } });
  const sig2 = await pushReferrer(url, name, undefined, artifact('application/vnd.example.signature.v1', '2'), { artifactType: 'application/vnd.example.signature.v1', annotations: { note: '2' } });
  const sbom = await pushReferrer(url, name, undefined, artifact('application/spdx+json', '3'), { artifactType: 'application/spdx+json', annotations: { note: '3' } });
  const image = await pushReferrer(url, name, undefined, { ...(await ociImageManifest(url, name, 'image referrer')), subject }, { artifactType: OCI_CONFIG });
  const rows: { type: string; expected: ReferrerDescriptor[] }[] = [
    { type: 'application/vnd.example.signature.v1', expected: [sig1.descriptor, sig2.descriptor] },
    { type: 'application/spdx+json', expected: [sbom.descriptor] },
    { type: OCI_CONFIG, expected: [image.descriptor] },
    { type: 'application/vnd.example.none', expected: [] },
  ];
  for (const { type, expected } of rows) {
    assertReferrers(t, await ref(url, name, subject.digest, `?artifactType=${encodeURIComponent(type)}`), expected, true);
  }
  assertReferrers(t, await ref(url, name, subject.digest), [sig1, sig2, sbom, image].map((p) => p.descriptor), false);
  // An empty ?artifactType= is a filter for the type "", which no referrer has (a manifest without
  // artifactType is listed under its config's mediaType): none, and the filter is said to be applied,
  // so a client that meant "no filter" sees from the header that it asked for one.
  assertReferrers(t, await ref(url, name, subject.digest, '?artifactType='), [], true);
});

t.test('an invalid digest → 400', async (t) => {
  const { url } = await startFor(t);
  await pushReferrer(url, 'refs/invalid', undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'x/y', config: EMPTY, layers: [EMPTY], subject: subjectDescriptor('invalid') }, {});
  const hex = sha256('x').slice('sha256:'.length);
  for (const digest of ['sha256:abc', `sha256:${hex.toUpperCase()}`, 'latest', `sha512:${hex}`, 'sha256:', `md5:${hex.slice(0, 32)}`]) {
    assertError(t, await send(url, 'GET', `/v2/refs/invalid/referrers/${digest}`), 400, 'DIGEST_INVALID');
    assertError(t, await send(url, 'HEAD', `/v2/refs/invalid/referrers/${digest}`), 400, 'DIGEST_INVALID', true);
  }
});

t.test('deleting a referrer removes it at once; deleting its tag or pushing it again does not', async (t) => {
  const { url } = await startFor(t);
  const name = 'refs/delete';
  const subject = subjectDescriptor('delete');
  const artifact = (note: string) => ({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [EMPTY], subject, annotations: { note } });
  const one = await pushReferrer(url, name, 'sig-one', artifact('one'), { artifactType: 'application/vnd.example.sig', annotations: { note: 'one' } });
  const two = await pushReferrer(url, name, undefined, artifact('two'), { artifactType: 'application/vnd.example.sig', annotations: { note: 'two' } });
  assertReferrers(t, await ref(url, name, subject.digest), [one.descriptor, two.descriptor], false);

  // The same referrer pushed again (by digest, then by another tag) is listed once.
  await pushReferrer(url, name, undefined, artifact('one'), {});
  await pushReferrer(url, name, 'sig-one-again', artifact('one'), {});
  assertReferrers(t, await ref(url, name, subject.digest), [one.descriptor, two.descriptor], false);

  // Deleting tags leaves the manifest, so it is still a referrer.
  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/sig-one`)).status, 202);
  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/sig-one-again`)).status, 202);
  assertReferrers(t, await ref(url, name, subject.digest), [one.descriptor, two.descriptor], false);

  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/${one.descriptor.digest}`)).status, 202);
  assertReferrers(t, await ref(url, name, subject.digest), [two.descriptor], false);
  assertReferrers(t, await ref(url, name, subject.digest, '?artifactType=application%2Fvnd.example.sig'), [two.descriptor], true);
  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/${two.descriptor.digest}`)).status, 202);
  assertReferrers(t, await ref(url, name, subject.digest), [], false);
});

t.test('option referrers: false → 404 on the API, no OCI-Subject, and the tag-schema fallback works', async (t) => {
  const { url } = await startFor(t, { referrers: false });
  const name = 'refs/fallback';
  const image = await ociImageManifest(url, name, 'fallback subject');
  const subjectBytes = json(image);
  t.equal((await send(url, 'PUT', `/v2/${name}/manifests/v1`, { body: subjectBytes, headers: { 'Content-Type': OCI_MANIFEST } })).status, 201);
  const subject = { mediaType: OCI_MANIFEST, digest: sha256(subjectBytes), size: subjectBytes.length };

  const signature = await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig', config: EMPTY, layers: [EMPTY], subject, annotations: { who: 'me' } }, { artifactType: 'application/vnd.example.sig', annotations: { who: 'me' } });
  t.strictSame(signature.subjectHeaders, [], 'no OCI-Subject: the client must fall back');

  const api = await send(url, 'GET', `/v2/${name}/referrers/${subject.digest}`);
  t.equal(api.status, 404, 'the referrers API answers 404');
  assertError(t, api, 404, ['UNSUPPORTED', 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN']);
  assertError(t, await send(url, 'HEAD', `/v2/${name}/referrers/${subject.digest}`), 404, ['UNSUPPORTED', 'NAME_UNKNOWN', 'MANIFEST_UNKNOWN'], true);

  // spec "Referrers Tag Schema": <alg>-<encoded>, here sha256-<hex>.
  const tag = subject.digest.replace(':', '-');
  t.match(tag, /^sha256-[0-9a-f]{64}$/);
  // spec "Pushing Manifests with Subject": a 404 on the tag means begin with an empty index.
  assertError(t, await send(url, 'GET', `/v2/${name}/manifests/${tag}`), 404, 'MANIFEST_UNKNOWN');

  const pushIndex = async (manifests: ReferrerDescriptor[]): Promise<Buffer> => {
    const bytes = json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
    const reply = await send(url, 'PUT', `/v2/${name}/manifests/${tag}`, { body: bytes, headers: { 'Content-Type': OCI_INDEX } });
    t.equal(reply.status, 201, `referrers index pushed to ${tag}`);
    return bytes;
  };
  const readBack = async (bytes: Buffer, expected: ReferrerDescriptor[]) => {
    const reply = await send(url, 'GET', `/v2/${name}/manifests/${tag}`);
    t.equal(reply.status, 200);
    t.equal(reply.headers['content-type'], OCI_INDEX);
    t.ok(reply.body.equals(bytes), 'the index comes back byte for byte');
    t.strictSame(reply.json.manifests, expected, 'the client reads its referrers list');
  };
  await readBack(await pushIndex([signature.descriptor]), [signature.descriptor]);

  // A second referrer: pull, append, push again.
  const sbom = await pushReferrer(url, name, undefined, { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: EMPTY, layers: [EMPTY], subject }, { artifactType: 'application/spdx+json' });
  t.strictSame(sbom.subjectHeaders, []);
  const current = (await send(url, 'GET', `/v2/${name}/manifests/${tag}`)).json.manifests as ReferrerDescriptor[];
  await readBack(await pushIndex([...current, sbom.descriptor]), [signature.descriptor, sbom.descriptor]);
  t.equal((await send(url, 'GET', `/v2/${name}/referrers/${subject.digest}`)).status, 404, 'the API stays off');
});
