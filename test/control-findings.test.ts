// GET /_oci-test-registry/findings (README "Control endpoint"): the verdict
// of `check`'s rules over what clients did so far, for tests in any language
// that drive their client against a registry started with --control.
import t from 'tap';
import { send, sha256, startFor } from './helpers/http.js';
import { assertError } from './helpers/fixtures.js';
import { OCTETS } from './helpers/upload.js';

const FINDINGS = '/_oci-test-registry/findings';

t.test('a clean push has no findings; a hand-built upload URL and an open session are named with their requests', async (t) => {
  const { url } = await startFor(t, { control: true, uploadState: true });
  const blob = Buffer.from('a layer');

  // As a client should: POST, then PUT to the Location it was given.
  const opened = await send(url, 'POST', '/v2/team/app/blobs/uploads/');
  t.equal(opened.status, 202);
  const location = new URL(String(opened.headers.location), url);
  location.searchParams.set('digest', sha256(blob));
  t.equal((await send(url, 'PUT', location.pathname + location.search, { body: blob, headers: OCTETS })).status, 201);
  const clean = await send(url, 'GET', FINDINGS);
  t.equal(clean.status, 200);
  t.strictSame(clean.json, { findings: [] }, 'nothing to say about a client that followed Location');

  // A client that builds the URL itself (no _state) and leaves a session open.
  const second = await send(url, 'POST', '/v2/team/app/blobs/uploads/');
  const id = String(second.headers['docker-upload-uuid']);
  const patched = await send(url, 'PATCH', `/v2/team/app/blobs/uploads/${id}`, { body: 'part', headers: { ...OCTETS, 'Content-Range': '0-3' } });
  t.equal(patched.status, 202, 'the registry still serves a URL without _state');
  const seqOf = async (method: string) => (await send(url, 'GET', `/_oci-test-registry/journal?method=${method}&route=upload`)).json.entries.at(-1).seq as number;
  const patchSeq = await seqOf('PATCH');
  const postSeq = await seqOf('POST');

  const found = (await send(url, 'GET', FINDINGS)).json.findings as { rule: string; severity: string; seq: number; source: string; message: string }[];
  t.strictSame(
    found.map(({ rule, severity, seq }) => ({ rule, severity, seq })),
    [
      { rule: 'upload-never-closed', severity: 'MUST', seq: postSeq },
      { rule: 'upload-url-built', severity: 'MUST', seq: patchSeq },
    ],
    'each finding names its rule, severity and request, in request order',
  );
  for (const f of found) t.match(f.source, /distribution-spec/, `${f.rule} cites the spec`);
  t.match(found[0]!.message, id, 'the open session is named');

  // Some rules only matter for a client that claims success.
  const failed = (await send(url, 'GET', `${FINDINGS}?client=failed`)).json.findings as { rule: string; severity: string }[];
  t.strictSame(failed.find((f) => f.rule === 'upload-never-closed')?.severity, 'info', 'a failed client leaving a session open: info');
});

t.test('a bad client value is a 400 naming the parameter; HEAD has no body', async (t) => {
  const { url } = await startFor(t, { control: true });
  const bad = await send(url, 'GET', `${FINDINGS}?client=maybe`);
  assertError(t, bad, 400, 'UNSUPPORTED');
  t.strictSame(bad.json.errors[0].detail, { parameter: 'client' });
  const head = await send(url, 'HEAD', FINDINGS);
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
});

t.test('control off: findings is 404', async (t) => {
  const { url } = await startFor(t);
  t.equal((await send(url, 'GET', FINDINGS)).status, 404);
});
