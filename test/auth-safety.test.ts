// Safety of auth: a malformed Authorization header is a 401 (never a 500,
// never a crash); forged, tampered and foreign tokens are refused; passwords
// and tokens never reach the journal, the onRequest records, or the CLI's
// `--log` output (JSON or text).
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { startRegistry, type RegistryOptions, type RequestRecord, type RunningRegistry } from '../src/index.js';
import { startCli } from './helpers/cli-source.js';
import { send, sendRaw, sha256, startFor, type Reply } from './helpers/http.js';

const PASSWORD = 'pw-Xq7!s3cr3t';
const USERS = { alice: PASSWORD };
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const b64url = (text: string | Buffer) => Buffer.from(text).toString('base64url');
const ALICE = `Basic ${b64(`alice:${PASSWORD}`)}`;
const BASIC_CHALLENGE = 'Basic realm="oci-test-registry"';
const PATH = '/v2/team/app/tags/list';

/** Starts a registry that fails the test on any internal error (a 500). */
async function startStrict(t: Test, options: RegistryOptions): Promise<RunningRegistry & { records: RequestRecord[] }> {
  const records: RequestRecord[] = [];
  const registry = await startFor(t, { ...options, onError: (error) => t.fail(`internal error: ${error.stack}`), onRequest: (record) => records.push(record) });
  return Object.assign(registry, { records });
}

function body(message: string): unknown {
  return { errors: [{ code: 'UNAUTHORIZED', message }] };
}

function assertExact401(t: Test, reply: Reply, challenge: string, message: string, what: string): void {
  t.equal(reply.status, 401, `${what}: 401`);
  t.equal(reply.headers['www-authenticate'], challenge, `${what}: challenge`);
  t.equal(reply.headers['content-type'], 'application/json', `${what}: JSON`);
  t.strictSame(reply.json, body(message), `${what}: body`);
}

const LONG = 8 * 1024;
/** Malformed or wrong Authorization values every auth mode must answer 401. */
const MALFORMED: [what: string, value: string][] = [
  ['empty', ''],
  ['Basic', 'Basic'],
  ['Basic and spaces', 'Basic    '],
  ['Basic !!!', 'Basic !!!'],
  ['Basic, base64 without a colon', `Basic ${b64('alicesecret')}`],
  ['Basic, base64 of nothing', 'Basic ===='],
  ['Basic, not base64 at all', 'Basic %%%%'],
  ['Basic, two words', `${ALICE} extra`],
  ['Basic, base64url alphabet', `Basic ${b64url('al?ce:>>>?')}`],
  ['Bearer', 'Bearer'],
  ['Bearer a.b', 'Bearer a.b'],
  ['Bearer garbage', 'Bearer !@#$%^&*()'],
  ['Bearer a.b.c', 'Bearer a.b.c'],
  ['Bearer, two tokens', 'Bearer a.b.c d.e.f'],
  ['Digest x', 'Digest x'],
  ['Negotiate', 'Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg'],
  ['a scheme alone', 'Token'],
  ['credentials without a scheme', b64(`alice:${PASSWORD}`)],
  ['long Basic', `Basic ${'A'.repeat(LONG)}`],
  ['long Basic with a colon', `Basic ${b64(`alice:${'p'.repeat(LONG)}`)}`],
  ['long Bearer', `Bearer ${'x'.repeat(LONG)}`],
  ['long dotted Bearer', `Bearer ${'a.'.repeat(LONG / 2)}a`],
  ['long Digest', `Digest ${'username="a", '.repeat(LONG / 16)}`],
];

/** Forged tokens: the header, the payload or the signature is not this registry's. */
function forgeries(genuine: string): [string, string][] {
  const [header, payload, signature] = genuine.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const escalated = b64url(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }], exp: claims.exp + 3600 }));
  const none = b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }));
  const guessedKey = createHmac('sha256', '').update(`${header}.${escalated}`).digest('base64url');
  return [
    ['alg none, no signature', `${none}.${escalated}.`],
    ['alg none, the genuine signature', `${none}.${payload}.${signature}`],
    ['escalated payload, the genuine signature', `${header}.${escalated}.${signature}`],
    ['escalated payload signed with an empty key', `${header}.${escalated}.${guessedKey}`],
    ['signature cut short', `${header}.${payload}.${signature.slice(0, -2)}`],
    ['signature one byte longer', `${header}.${payload}.${signature}AA`],
    // A character in the middle: all six of its bits count (the last one's low bits are padding).
    ['signature changed', `${header}.${payload}.${signature.slice(0, 10)}${signature[10] === 'A' ? 'g' : 'A'}${signature.slice(11)}`],
    ['signature empty', `${header}.${payload}.`],
    ['payload not JSON', `${header}.${b64url('not json')}.${signature}`],
    ['four parts', `${genuine}.${signature}`],
    ['audience changed, the genuine signature', genuine.replace(payload, b64url(JSON.stringify({ ...claims, aud: 'elsewhere' })))],
  ];
}

t.test('Basic mode: every malformed header is an exact 401, never a 500', async (t) => {
  const registry = await startStrict(t, { auth: { basic: { users: USERS } } });
  for (const [what, value] of MALFORMED) {
    const reply = await send(registry.url, 'GET', PATH, { headers: { authorization: value } });
    const wrongPair = what === 'long Basic with a colon';
    assertExact401(t, reply, BASIC_CHALLENGE, wrongPair ? 'invalid username or password' : 'malformed Authorization header: expected Basic credentials', what);
  }
  // Bytes that are not UTF-8, straight on the socket.
  const raw = await sendRaw(registry.port, Buffer.concat([Buffer.from(`GET ${PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic `), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('\r\nConnection: close\r\n\r\n')]));
  t.match(raw, /^HTTP\/1\.1 401 Unauthorized\r\n/, 'non-UTF-8 bytes in the header: 401');
  t.match(raw, /\r\nWWW-Authenticate: Basic realm="oci-test-registry"\r\n/i, 'with the challenge');
  const rawPair = await sendRaw(registry.port, Buffer.concat([Buffer.from(`GET ${PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${b64(Buffer.from([0x61, 0x3a, 0xff, 0xfe]))}\r\nConnection: close\r\n\r\n`)]));
  t.match(rawPair, /^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*"invalid username or password"/, 'a pair whose password is not UTF-8: 401 invalid');
});

t.test('token mode: every malformed header and every forged token is an exact 401, never a 500', async (t) => {
  const registry = await startStrict(t, { auth: { token: { users: USERS } } });
  const challenge = (error?: string) => `Bearer realm="${registry.url}/token",service="${registry.host}",scope="repository:team/app:pull"${error ? `,error="${error}"` : ''}`;
  for (const [what, value] of MALFORMED) {
    const reply = await send(registry.url, 'GET', PATH, { headers: { authorization: value } });
    // A value that looks like a token (Bearer + token68) reaches the signature check; the rest is malformed.
    const looksLikeToken = /^Bearer +[A-Za-z0-9._~+/=-]+ *$/i.test(value);
    if (looksLikeToken) assertExact401(t, reply, challenge('invalid_token'), 'the token is not valid for this registry', what);
    else assertExact401(t, reply, challenge(), 'malformed Authorization header: expected a Bearer token', what);
  }
  const query = new URLSearchParams([['service', registry.host], ['scope', 'repository:team/app:pull']]);
  const genuine = (await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: ALICE } })).json.token as string;
  t.equal((await send(registry.url, 'GET', PATH, { headers: { authorization: `Bearer ${genuine}` } })).status, 404, 'the genuine token is accepted (404 NAME_UNKNOWN)');
  for (const [what, token] of forgeries(genuine)) {
    const reply = await send(registry.url, 'GET', PATH, { headers: { authorization: `Bearer ${token}` } });
    assertExact401(t, reply, challenge('invalid_token'), 'the token is not valid for this registry', what);
  }
  // The token endpoint, too, answers malformed Basic headers with 401.
  for (const [what, value] of MALFORMED.filter(([w]) => w !== 'long Basic with a colon')) {
    const reply = await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: value } });
    assertExact401(t, reply, BASIC_CHALLENGE, 'malformed Authorization header: expected Basic credentials', `GET /token, ${what}`);
  }
  // POST /token with bodies that are not what a form should be.
  const posts: [string, Buffer | string, number][] = [
    ['empty body', '', 400],
    ['JSON instead of a form', JSON.stringify({ grant_type: 'password', username: 'alice', password: PASSWORD }), 400],
    ['bad percent escapes', `grant_type=password&username=%ZZ&password=%`, 401],
    ['bytes that are not UTF-8', Buffer.from([0x67, 0x3d, 0xff, 0xfe, 0x26]), 400],
  ];
  for (const [what, form, status] of posts) {
    const reply = await send(registry.url, 'POST', '/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
    t.equal(reply.status, status, `POST /token, ${what}: ${status}`);
  }
  const huge = await send(registry.url, 'POST', '/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.alloc(65 * 1024, 'a') });
  t.equal(huge.status, 413, 'POST /token with a body over 64 KiB: 413');
  t.equal(huge.json.errors[0].code, 'UNSUPPORTED', 'code');
});

t.test('a header past the HTTP parser\'s limit (16 KiB) is 431, not 500 and not a crash', async (t) => {
  for (const mode of ['basic', 'token'] as const) {
    const registry = await startStrict(t, { auth: mode === 'basic' ? { basic: { users: USERS } } : { token: { users: USERS } } });
    const reply = await send(registry.url, 'GET', PATH, { headers: { authorization: `Bearer ${'x'.repeat(20 * 1024)}` } });
    t.equal(reply.status, 431, `${mode}: 431`);
    t.strictSame(reply.json, { errors: [{ code: 'UNSUPPORTED', message: 'malformed HTTP request: HPE_HEADER_OVERFLOW' }] }, `${mode}: body`);
    t.equal((await send(registry.url, 'GET', '/v2/', { headers: mode === 'basic' ? { authorization: ALICE } : {} })).status, mode === 'basic' ? 200 : 401, `${mode}: the registry still serves`);
  }
});

t.test('a token from one registry is refused by another with the same users', async (t) => {
  const options: RegistryOptions = { auth: { token: { users: USERS } } };
  const one = await startFor(t, options);
  const two = await startFor(t, options);
  const tokenOf = async (registry: RunningRegistry) =>
    (await send(registry.url, 'GET', `/token?service=${registry.host}&scope=repository:team/app:pull`, { headers: { authorization: ALICE } })).json.token as string;
  for (const [from, to] of [[one, two], [two, one]] as const) {
    const reply = await send(to.url, 'GET', PATH, { headers: { authorization: `Bearer ${await tokenOf(from)}` } });
    assertExact401(t, reply, `Bearer realm="${to.url}/token",service="${to.host}",scope="repository:team/app:pull",error="invalid_token"`, 'the token is not valid for this registry', `${from.port} → ${to.port}`);
    t.equal((await send(to.url, 'GET', PATH, { headers: { authorization: `Bearer ${await tokenOf(to)}` } })).status, 404, `its own token works on ${to.port}`);
  }
  // A refresh token, too.
  const form = new URLSearchParams([['grant_type', 'password'], ['username', 'alice'], ['password', PASSWORD], ['access_type', 'offline']]).toString();
  const refresh = (await send(one.url, 'POST', '/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form })).json.refresh_token as string;
  const refused = await send(two.url, 'POST', '/token', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([['grant_type', 'refresh_token'], ['refresh_token', refresh]]).toString() });
  t.equal(refused.status, 401, 'a refresh token from another registry: 401');
  // A registry restarted with the same options makes a new key: old tokens die with the old instance.
  const restarted = await startRegistry(options);
  t.teardown(() => restarted.close());
  t.equal((await send(restarted.url, 'GET', PATH, { headers: { authorization: `Bearer ${await tokenOf(one)}` } })).status, 401, 'a new instance refuses the old instance\'s token');
});

/** Every form of a secret that must not appear in anything recorded. */
function secretsOf(values: string[]): string[] {
  return values.flatMap((v) => [v, b64(v), encodeURIComponent(v)]).filter((v) => v.length >= 8);
}

function assertNoSecrets(t: Test, text: string, secrets: string[], what: string): void {
  const found = secrets.filter((s) => text.includes(s));
  t.strictSame(found, [], `${what}: no password, credential or token in plain text`);
}

t.test('the journal and onRequest records hold no password and no token', async (t) => {
  await t.test('basic', async (t) => {
    const registry = await startStrict(t, { auth: { basic: { users: USERS } } });
    await send(registry.url, 'GET', '/v2/', { headers: { authorization: ALICE } });
    await send(registry.url, 'GET', PATH, { headers: { authorization: `Basic ${b64(`alice:${PASSWORD}-wrong`)}` } });
    await send(registry.url, 'GET', PATH, { headers: { authorization: `Basic ${b64(`alice:${PASSWORD}`)} trailing` } });
    await send(registry.url, 'HEAD', PATH, { headers: { authorization: ALICE } });
    await send(registry.url, 'POST', `/v2/team/app/blobs/uploads/?digest=${sha256('x')}`, { headers: { authorization: ALICE }, body: 'x' });
    const recorded = JSON.stringify(registry.journal.all()) + JSON.stringify(registry.records);
    assertNoSecrets(t, recorded, secretsOf([PASSWORD, `alice:${PASSWORD}`, `alice:${PASSWORD}-wrong`]), 'journal and records');
    t.strictSame(registry.journal.all().map((e) => e.requestHeaders.authorization), ['Basic [redacted]', 'Basic [redacted]', 'Basic [redacted]', 'Basic [redacted]', 'Basic [redacted]'], 'Authorization kept as its scheme only');
    t.strictSame(registry.journal.all().map((e) => e.status), [200, 401, 401, 404, 201], 'each request recorded (HEAD of an unknown repository: 404)');
  });

  await t.test('token', async (t) => {
    const registry = await startStrict(t, { auth: { token: { users: USERS } } });
    const scope = 'repository:team/app:pull,push';
    const got = await send(registry.url, 'GET', `/token?service=${registry.host}&scope=${scope}&offline_token=true`, { headers: { authorization: ALICE } });
    const form = (pairs: [string, string][]) => ({ headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(pairs).toString() });
    const posted = await send(registry.url, 'POST', '/token', form([['grant_type', 'password'], ['username', 'alice'], ['password', PASSWORD], ['scope', scope], ['access_type', 'offline']]));
    const refreshed = await send(registry.url, 'POST', '/token', form([['grant_type', 'refresh_token'], ['refresh_token', posted.json.refresh_token], ['scope', scope]]));
    await send(registry.url, 'POST', '/token', form([['grant_type', 'password'], ['username', 'alice'], ['password', `${PASSWORD}-wrong`]]));
    const tokens = [got.json.token, got.json.refresh_token, posted.json.token, posted.json.refresh_token, refreshed.json.token] as string[];
    t.equal(new Set(tokens).size, 5, 'five different tokens');
    for (const token of tokens.filter((_, i) => i !== 1 && i !== 3)) {
      await send(registry.url, 'POST', `/v2/team/app/blobs/uploads/?digest=${sha256('y')}`, { headers: { authorization: `Bearer ${token}` }, body: 'y' });
    }
    await send(registry.url, 'GET', PATH, { headers: { authorization: `Bearer ${got.json.refresh_token}` } });
    await send(registry.url, 'GET', PATH, { headers: { authorization: `Bearer ${tokens[0]!.slice(0, -3)}xyz` } });
    const recorded = JSON.stringify(registry.journal.all()) + JSON.stringify(registry.records);
    // Each token whole, and its signature alone (the part that makes it a credential).
    const signatures = tokens.map((token) => token.split('.')[2]!);
    assertNoSecrets(t, recorded, [...secretsOf([PASSWORD, `alice:${PASSWORD}`, `${PASSWORD}-wrong`]), ...tokens, ...signatures], 'journal and records');
    t.strictSame(
      registry.journal.all().map((e) => `${e.method} ${e.route} ${e.status} ${e.requestHeaders.authorization ?? '-'}`),
      [
        'GET token 200 Basic [redacted]',
        'POST token 200 -',
        'POST token 200 -',
        'POST token 401 -',
        'POST upload 201 Bearer [redacted]',
        'POST upload 201 Bearer [redacted]',
        'POST upload 201 Bearer [redacted]',
        'GET tags 401 Bearer [redacted]',
        'GET tags 401 Bearer [redacted]',
      ],
      'every request recorded, Authorization as its scheme only',
    );
  });

  await t.test('a value without a known scheme is redacted whole', async (t) => {
    // Some clients send a raw token or password with no scheme; its first word is not a scheme to show.
    const registry = await startStrict(t, { auth: { basic: { users: USERS } } });
    await send(registry.url, 'GET', PATH, { headers: { authorization: `${PASSWORD} ${PASSWORD}` } });
    await send(registry.url, 'GET', PATH, { headers: { authorization: PASSWORD } });
    const recorded = JSON.stringify(registry.journal.all());
    assertNoSecrets(t, recorded, [PASSWORD], 'journal');
    t.strictSame(registry.journal.all().map((e) => e.requestHeaders.authorization), ['[redacted]', '[redacted]'], 'nothing of the value is kept');
  });
});

// --- the CLI ---------------------------------------------------------------


t.test('CLI --auth basic:USER:PASSWORD with --log json: the log holds no credential', async (t) => {
  for (const format of ['json', 'text'] as const) {
    const cli = await startCli(t, ['--auth', `basic:ci:${PASSWORD},bob:other-${PASSWORD}`, '--log', format]);
    const ci = `Basic ${b64(`ci:${PASSWORD}`)}`;
    const replies = [
      await send(cli.url, 'GET', '/v2/'),
      await send(cli.url, 'GET', '/v2/', { headers: { authorization: ci } }),
      await send(cli.url, 'GET', '/v2/', { headers: { authorization: `Basic ${b64(`bob:other-${PASSWORD}`)}` } }),
      await send(cli.url, 'GET', '/v2/', { headers: { authorization: `Basic ${b64(`ci:${PASSWORD}x`)}` } }),
      await send(cli.url, 'POST', `/v2/ci/app/blobs/uploads/?digest=${sha256('z')}`, { headers: { authorization: ci }, body: 'z' }),
      await send(cli.url, 'GET', '/v2/', { headers: { authorization: 'Basic !!!' } }),
    ];
    t.strictSame(replies.map((r) => r.status), [401, 200, 200, 401, 201, 401], `${format}: the users of the flag, comma-separated, are the users`);
    t.equal(replies[0]!.headers['www-authenticate'], BASIC_CHALLENGE, `${format}: Basic challenge`);
    t.equal(await cli.stop(), 0, `${format}: exits 0 on SIGTERM`);
    const log = cli.stderr();
    assertNoSecrets(t, log + cli.stdout(), secretsOf([PASSWORD, `ci:${PASSWORD}`, `bob:other-${PASSWORD}`, `ci:${PASSWORD}x`]), `${format}: stderr and stdout`);
    const lines = log.trimEnd().split('\n');
    t.equal(lines.length, 6, `${format}: one line per request`);
    if (format === 'json') {
      t.strictSame(lines.map((l) => (JSON.parse(l) as RequestRecord).status), [401, 200, 200, 401, 201, 401], 'JSON lines with the statuses');
    } else {
      t.strictSame(lines.map((l) => l.split(' ').slice(0, 3).join(' ')), ['GET /v2/ 401', 'GET /v2/ 200', 'GET /v2/ 200', 'GET /v2/ 401', `POST /v2/ci/app/blobs/uploads/?digest=${sha256('z')} 201`, 'GET /v2/ 401'], 'text lines');
    }
  }
});

t.test('CLI --auth token:USER:PASSWORD with --log json: the token flow works and the log holds no credential or token', async (t) => {
  const cli = await startCli(t, ['--auth', `token:ci:${PASSWORD}`, '--log', 'json']);
  const challenge = await send(cli.url, 'GET', '/v2/ci/app/tags/list');
  t.equal(challenge.status, 401, '401 without a token');
  t.equal(challenge.headers['www-authenticate'], `Bearer realm="${cli.url}/token",service="${cli.host}",scope="repository:ci/app:pull"`, 'the Bearer challenge');
  const got = await send(cli.url, 'GET', `/token?service=${cli.host}&scope=repository:ci/app:pull,push&offline_token=true`, { headers: { authorization: `Basic ${b64(`ci:${PASSWORD}`)}` } });
  t.equal(got.status, 200, 'GET /token with the flag\'s user');
  t.equal(got.json.scope, 'repository:ci/app:pull,push', 'granted');
  const posted = await send(cli.url, 'POST', '/token', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([['grant_type', 'password'], ['username', 'ci'], ['password', PASSWORD], ['scope', 'repository:ci/app:pull']]).toString(),
  });
  t.equal(posted.status, 200, 'POST /token with the flag\'s user');
  t.equal((await send(cli.url, 'POST', `/v2/ci/app/blobs/uploads/?digest=${sha256('z')}`, { headers: { authorization: `Bearer ${got.json.token}` }, body: 'z' })).status, 201, 'push with the token');
  const tags = await send(cli.url, 'GET', '/v2/ci/app/tags/list', { headers: { authorization: `Bearer ${posted.json.token}` } });
  t.equal(tags.status, 200, 'pull with the other token');
  t.strictSame(tags.json, { name: 'ci/app', tags: [] }, 'the repository holds the pushed blob, no tag');
  t.equal((await send(cli.url, 'GET', '/token?service=x', { headers: { authorization: `Basic ${b64(`ci:${PASSWORD}-wrong`)}` } })).status, 401, 'a wrong password at the token endpoint');
  t.equal(await cli.stop(), 0, 'exits 0 on SIGTERM');
  const tokens = [got.json.token, got.json.refresh_token, posted.json.token] as string[];
  assertNoSecrets(t, cli.stderr() + cli.stdout(), [...secretsOf([PASSWORD, `ci:${PASSWORD}`, `${PASSWORD}-wrong`]), ...tokens, ...tokens.map((x) => x.split('.')[2]!)], 'stderr and stdout');
  const records = cli.stderr().trimEnd().split('\n').map((l) => JSON.parse(l) as RequestRecord);
  t.strictSame(records.map((r) => `${r.method} ${r.route} ${r.status}`), ['GET tags 401', 'GET token 200', 'POST token 200', 'POST upload 201', 'GET tags 200', 'GET token 401'], 'one JSON line per request');
});
