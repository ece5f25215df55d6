// auth.access: per-user, per-repository rights. Without rules every listed
// user may pull, push and delete everywhere; with rules, only what a rule
// grants. An authenticated user without the right gets 403 DENIED with Basic,
// and a token without the scope (401 insufficient_scope) with Bearer.
// Cross-repository mount needs pull on `from` as well as push on the target;
// without it, the registry opens a normal upload (202). The CLI takes the
// rules as `--auth` JSON or @FILE.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryOptions } from '../src/index.js';
import { startCli } from './helpers/cli-source.js';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { parseChallenge } from './helpers/challenge.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST } from './helpers/push.js';

type AccessRules = NonNullable<NonNullable<RegistryOptions['auth']>['access']>;

const USERS = { alice: 'a-pass', bob: 'b-pass', carol: 'c-pass', admin: 'root-pass' };
const ACCESS: AccessRules = [
  // `*` matches any characters, `/` included.
  { user: 'alice', repositories: 'team/*', actions: ['pull', 'push'] },
  // Several rules for one user add up; a rule may list several patterns.
  { user: 'bob', repositories: ['team/app', 'bob/app'], actions: ['pull'] },
  { user: 'bob', repositories: 'bob/app', actions: ['push', 'delete'] },
  { user: 'admin', repositories: '*', actions: ['pull', 'push', 'delete'] },
  // carol has no rule: she can authenticate, and do nothing.
];

function basic(user: keyof typeof USERS | string, password = USERS[user as keyof typeof USERS]): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Pushes a one-layer image with `authorization`; returns its digests. */
async function pushImage(url: string, authorization: string, name: string, tag: string, layerText = `layer of ${name}`): Promise<{ manifest: string; layer: string; config: string }> {
  const headers = { authorization };
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.from(layerText);
  for (const blob of [config, layer]) {
    const pushed = await send(url, 'POST', `/v2/${name}/blobs/uploads/?digest=${sha256(blob)}`, { headers, body: blob });
    if (pushed.status !== 201) throw new Error(`blob push to ${name} answered ${pushed.status}: ${pushed.body}`);
  }
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: [{ mediaType: OCI_LAYER, digest: sha256(layer), size: layer.length }],
  }));
  const put = await send(url, 'PUT', `/v2/${name}/manifests/${tag}`, { headers: { ...headers, 'Content-Type': OCI_MANIFEST }, body: manifest });
  if (put.status !== 201) throw new Error(`manifest push to ${name} answered ${put.status}: ${put.body}`);
  return { manifest: sha256(manifest), layer: sha256(layer), config: sha256(config) };
}

interface Denial {
  user: string;
  scope: string;
}

/** What a 403 must tell a client: DENIED, the scope that was missing (detail.scope), and for whom. */
function denied(user: string, scope: string): Denial {
  return { user, scope };
}

/** A 403 DENIED: no challenge (the credentials are right; the right is missing). */
function assertDenied(t: Test, reply: Reply, expected: Denial, what: string): void {
  t.equal(reply.status, 403, `${what}: 403`);
  t.equal(reply.headers['www-authenticate'], undefined, `${what}: no challenge`);
  t.equal(reply.headers['content-type'], 'application/json', `${what}: JSON`);
  const error = reply.json?.errors?.[0];
  t.equal(reply.json?.errors?.length, 1, `${what}: one error`);
  t.equal(error?.code, 'DENIED', `${what}: DENIED`);
  t.strictSame(error?.detail, { scope: expected.scope }, `${what}: detail names the scope`);
  t.match(error?.message, new RegExp(`\\b${expected.user}\\b`), `${what}: the message names the user`);
}

t.test('Basic with access rules: allowed requests are served, the rest is 403 DENIED naming the scope', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: USERS }, access: ACCESS } });
  const app = await pushImage(registry.url, basic('admin'), 'team/app', 'v1');
  await pushImage(registry.url, basic('admin'), 'bob/app', 'v1');
  await pushImage(registry.url, basic('admin'), 'private/x', 'v1');

  type Row = [user: string, method: string, path: string, status: number, body?: unknown];
  const rows: Row[] = [
    ['alice', 'GET', '/v2/', 200],
    ['alice', 'GET', '/v2/team/app/manifests/v1', 200],
    ['alice', 'HEAD', `/v2/team/app/blobs/${app.layer}`, 200],
    ['alice', 'GET', '/v2/team/app/tags/list', 200],
    ['alice', 'GET', `/v2/team/app/referrers/${app.manifest}`, 200],
    ['alice', 'GET', '/v2/team/a/b/tags/list', 404], // team/* covers nested names: authorized, unknown
    ['alice', 'POST', '/v2/team/new/blobs/uploads/', 202],
    ['alice', 'DELETE', `/v2/team/app/manifests/${app.manifest}`, 403, denied('alice', 'repository:team/app:delete')],
    ['alice', 'DELETE', `/v2/team/app/blobs/${app.layer}`, 403, denied('alice', 'repository:team/app:delete')],
    ['alice', 'GET', '/v2/private/x/manifests/v1', 403, denied('alice', 'repository:private/x:pull')],
    ['alice', 'POST', '/v2/private/x/blobs/uploads/', 403, denied('alice', 'repository:private/x:pull,push')],
    ['alice', 'GET', '/v2/team/tags/list', 403, denied('alice', 'repository:team:pull')], // 'team/*' needs the slash
    ['alice', 'GET', '/v2/teams/app/tags/list', 403, denied('alice', 'repository:teams/app:pull')],
    ['alice', 'GET', '/v2/_catalog', 403, denied('alice', 'registry:catalog:*')],
    ['bob', 'GET', '/v2/team/app/manifests/v1', 200],
    ['bob', 'POST', '/v2/team/app/blobs/uploads/', 403, denied('bob', 'repository:team/app:pull,push')],
    ['bob', 'GET', '/v2/team/other/tags/list', 403, denied('bob', 'repository:team/other:pull')],
    ['bob', 'POST', '/v2/bob/app/blobs/uploads/', 202],
    ['bob', 'GET', '/v2/_catalog', 403, denied('bob', 'registry:catalog:*')],
    ['carol', 'GET', '/v2/', 200],
    ['carol', 'GET', '/v2/team/app/tags/list', 403, denied('carol', 'repository:team/app:pull')],
    ['carol', 'HEAD', '/v2/team/app/manifests/v1', 403], // HEAD: status and headers only
    ['admin', 'GET', '/v2/_catalog', 200],
    ['admin', 'GET', '/v2/private/x/tags/list', 200],
  ];
  for (const [user, method, path, status, body] of rows) {
    const reply = await send(registry.url, method, path, { headers: { authorization: basic(user) } });
    const what = `${user}: ${method} ${path}`;
    if (status === 403 && body) assertDenied(t, reply, body, what);
    else if (status === 403) {
      t.equal(reply.status, 403, `${what}: 403`);
      t.equal(reply.body.length, 0, `${what}: no body on HEAD`);
    } else t.equal(reply.status, status, `${what}: ${status}`);
  }
  // Writes that are allowed go through; bob deletes in his own repository.
  t.equal((await send(registry.url, 'DELETE', `/v2/bob/app/manifests/v1`, { headers: { authorization: basic('bob') } })).status, 202, 'bob deletes the tag in bob/app');
  t.strictSame((await send(registry.url, 'GET', '/v2/_catalog', { headers: { authorization: basic('admin') } })).json, { repositories: ['bob/app', 'private/x', 'team/app'] }, 'nothing was written by a refused request');
  // Wrong password with rules: still 401, never 403.
  t.equal((await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: basic('alice', 'b-pass') } })).status, 401, 'a wrong password is 401 before any rule');
});

t.test('Bearer with access rules: the token endpoint grants the intersection; a missing right is 401 insufficient_scope', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: USERS }, access: ACCESS } });
  const grants: [user: string, asked: string[], granted: string][] = [
    ['alice', ['repository:team/app:pull,push,delete'], 'repository:team/app:pull,push'],
    ['alice', ['repository:team/a/b:pull'], 'repository:team/a/b:pull'],
    ['alice', ['repository:private/x:pull', 'registry:catalog:*'], ''],
    ['alice', ['repository:team/app:pull', 'repository:private/x:pull,push'], 'repository:team/app:pull'],
    ['bob', ['repository:bob/app:pull,push,delete', 'repository:team/app:pull,push'], 'repository:bob/app:pull,push,delete repository:team/app:pull'],
    ['carol', ['repository:team/app:pull', 'registry:catalog:*'], ''],
    ['admin', ['repository:private/x:delete,pull', 'registry:catalog:*'], 'repository:private/x:delete,pull registry:catalog:*'],
  ];
  const tokens = new Map<string, string>();
  for (const [user, asked, granted] of grants) {
    const query = new URLSearchParams({ service: registry.host });
    for (const scope of asked) query.append('scope', scope);
    const reply = await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: basic(user) } });
    t.equal(reply.status, 200, `${user} asks ${asked.join(' ')}: 200 (what is not allowed is left out, not refused)`);
    t.equal(reply.json.scope, granted, `${user} is granted ${JSON.stringify(granted)}`);
    tokens.set(`${user} ${asked.join(' ')}`, reply.json.token);
  }
  const aliceToken = tokens.get('alice repository:team/app:pull repository:private/x:pull,push')!;
  const refused = await send(registry.url, 'GET', '/v2/private/x/tags/list', { headers: { authorization: `Bearer ${aliceToken}` } });
  t.equal(refused.status, 401, 'a token without the right: 401, not 403');
  t.strictSame(
    parseChallenge(String(refused.headers['www-authenticate'])),
    { scheme: 'Bearer', params: { realm: `${registry.url}/token`, service: registry.host, scope: 'repository:private/x:pull', error: 'insufficient_scope' } },
    'insufficient_scope names the scope',
  );
  t.equal(refused.json?.errors?.[0]?.code, 'UNAUTHORIZED', 'UNAUTHORIZED');
  t.strictSame(refused.json?.errors?.[0]?.detail, { scope: 'repository:private/x:pull' }, 'detail names the scope not granted');
  t.equal((await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: `Bearer ${aliceToken}` } })).status, 404, 'the granted scope works (404 NAME_UNKNOWN: authorized, nothing there)');
  // POST /token applies the same rules.
  const posted = await send(registry.url, 'POST', '/token', {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([['grant_type', 'password'], ['username', 'bob'], ['password', 'b-pass'], ['scope', 'repository:team/app:pull,push,delete']]).toString(),
  });
  t.equal(posted.json.scope, 'repository:team/app:pull', 'POST /token: bob gets pull only on team/app');
});

t.test('without access rules every user may pull, push and delete everywhere, and read the catalog', async (t) => {
  for (const mode of ['basic', 'token'] as const) {
    await t.test(mode, async (t) => {
      const users = { alice: 'a-pass', bob: 'b-pass' };
      const registry = await startFor(t, { auth: mode === 'basic' ? { basic: { users } } : { token: { users } } });
      for (const [user, name] of [['alice', 'bob/private'], ['bob', 'alice/private'], ['bob', 'x/y/z']] as const) {
        let authorization = basic(user, users[user]);
        if (mode === 'token') {
          const query = new URLSearchParams([['service', registry.host], ['scope', `repository:${name}:pull,push,delete`], ['scope', 'registry:catalog:*']]);
          const reply = await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization } });
          t.equal(reply.json.scope, `repository:${name}:pull,push,delete registry:catalog:*`, `${user} is granted everything asked on ${name}`);
          authorization = `Bearer ${reply.json.token}`;
        }
        const { manifest } = await pushImage(registry.url, authorization, name, 'v1');
        t.equal((await send(registry.url, 'GET', `/v2/${name}/manifests/v1`, { headers: { authorization } })).status, 200, `${user} pulls ${name}`);
        t.equal((await send(registry.url, 'GET', '/v2/_catalog', { headers: { authorization } })).status, 200, `${user} reads the catalog`);
        t.equal((await send(registry.url, 'DELETE', `/v2/${name}/manifests/${manifest}`, { headers: { authorization } })).status, 202, `${user} deletes in ${name}`);
      }
    });
  }
});

t.test('anonymous pull with access rules: a signed-in user can still pull what anyone may pull', async (t) => {
  // Clients with stored credentials always send them; logging in must not take rights away.
  const registry = await startFor(t, { auth: { token: { users: USERS, anonymous: 'pull' }, access: ACCESS } });
  const ask = async (authorization: string | undefined, scope: string) => {
    const query = new URLSearchParams([['service', registry.host], ['scope', scope]]);
    return (await send(registry.url, 'GET', `/token?${query}`, { headers: authorization ? { authorization } : {} })).json.scope as string;
  };
  t.equal(await ask(undefined, 'repository:public/lib:pull'), 'repository:public/lib:pull', 'anonymous may pull public/lib');
  t.equal(await ask(basic('alice'), 'repository:team/app:pull,push'), 'repository:team/app:pull,push', 'alice gets her rule on team/app');
  t.equal(await ask(basic('alice'), 'repository:public/lib:pull,push'), 'repository:public/lib:pull', 'alice may pull public/lib too');
  t.equal(await ask(basic('carol'), 'repository:public/lib:pull'), 'repository:public/lib:pull', 'carol, with no rule, may pull as anyone may');
});

/** A 202 that opened an ordinary upload session instead of mounting. */
function assertUploadOpened(t: Test, reply: Reply, name: string, what: string): void {
  t.equal(reply.status, 202, `${what}: 202, a normal upload`);
  t.match(String(reply.headers.location), new RegExp(`^/v2/${name}/blobs/uploads/[0-9a-f-]{36}$`), `${what}: Location of an upload session`);
  t.equal(reply.headers['docker-content-digest'], undefined, `${what}: no digest, nothing was mounted`);
}

function assertMounted(t: Test, reply: Reply, name: string, digest: string, what: string): void {
  t.equal(reply.status, 201, `${what}: 201`);
  t.equal(reply.headers.location, `/v2/${name}/blobs/${digest}`, `${what}: Location of the blob`);
  t.equal(reply.headers['docker-content-digest'], digest, `${what}: Docker-Content-Digest`);
}

t.test('mount with Basic: pull on `from` and push on the target, else a normal upload (202) or 403', async (t) => {
  const registry = await startFor(t, { auth: { basic: { users: USERS }, access: ACCESS } });
  const shared = await pushImage(registry.url, basic('admin'), 'team/a', 'v1', 'team layer');
  const secret = await pushImage(registry.url, basic('admin'), 'private/x', 'v1', 'secret layer');
  const alice = { authorization: basic('alice') };
  const mount = (target: string, digest: string, from?: string) =>
    send(registry.url, 'POST', `/v2/${target}/blobs/uploads/?mount=${digest}${from === undefined ? '' : `&from=${from}`}`, { headers: alice });

  assertMounted(t, await mount('team/b', shared.layer, 'team/a'), 'team/b', shared.layer, 'pull on team/a, push on team/b');
  assertUploadOpened(t, await mount('team/b', secret.layer, 'private/x'), 'team/b', 'no pull on private/x');
  t.equal((await send(registry.url, 'HEAD', `/v2/team/b/blobs/${secret.layer}`, { headers: alice })).status, 404, 'the secret blob is not in team/b');
  assertDenied(t, await mount('private/y', shared.layer, 'team/a'), denied('alice', 'repository:private/y:pull,push'), 'no push on private/y');
  // Without `from`, the registry looks for the blob in every repository (mountWithoutFrom):
  // only repositories alice may pull from may be searched.
  assertUploadOpened(t, await mount('team/c', secret.layer), 'team/c', 'no from, the blob only in private/x');
  t.equal((await send(registry.url, 'HEAD', `/v2/team/c/blobs/${secret.layer}`, { headers: alice })).status, 404, 'the secret blob is not in team/c');
  assertMounted(t, await mount('team/d', shared.layer), 'team/d', shared.layer, 'no from, the blob in team/a which alice may pull');
});

t.test('mount with Bearer: the token must carry pull on `from`', async (t) => {
  for (const mode of ['challenge', 'upload'] as const) {
    await t.test(`mountWithoutSourceAccess: '${mode}'`, async (t) => {
      const registry = await startFor(t, { auth: { token: { users: USERS }, access: ACCESS }, ...(mode === 'upload' && { mountWithoutSourceAccess: mode }) });
      const admin = await send(registry.url, 'GET', `/token?${new URLSearchParams([['service', registry.host], ['scope', 'repository:team/a:pull,push'], ['scope', 'repository:private/x:pull,push']])}`, { headers: { authorization: basic('admin') } });
      const shared = await pushImage(registry.url, `Bearer ${admin.json.token}`, 'team/a', 'v1', 'team layer');
      const secret = await pushImage(registry.url, `Bearer ${admin.json.token}`, 'private/x', 'v1', 'secret layer');
      const token = async (...scopes: string[]) => {
        const query = new URLSearchParams({ service: registry.host });
        for (const scope of scopes) query.append('scope', scope);
        return (await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: basic('alice') } })).json.token as string;
      };
      const mount = async (tokenValue: string, target: string, digest: string, from?: string) =>
        send(registry.url, 'POST', `/v2/${target}/blobs/uploads/?mount=${digest}${from === undefined ? '' : `&from=${from}`}`, { headers: { authorization: `Bearer ${tokenValue}` } });

      // As docker and containers/image ask: the target's pull,push and the source's pull in one token.
      const both = await token('repository:team/b:pull,push', 'repository:team/a:pull');
      assertMounted(t, await mount(both, 'team/b', shared.layer, 'team/a'), 'team/b', shared.layer, 'token with pull on team/a');
      // A token cached for the target alone: alice may pull team/a, the token does not say so.
      const targetOnly = await token('repository:team/c:pull,push');
      const cached = await mount(targetOnly, 'team/c', shared.layer, 'team/a');
      if (mode === 'upload') assertUploadOpened(t, cached, 'team/c', 'token without pull on team/a, quietly');
      else {
        const scopes = 'repository:team/c:pull,push repository:team/a:pull';
        t.equal(cached.status, 401, 'token without pull on team/a: 401, so the client fetches a token that can mount');
        t.strictSame(
          parseChallenge(String(cached.headers['www-authenticate'])),
          { scheme: 'Bearer', params: { realm: `${registry.url}/token`, service: registry.host, scope: scopes, error: 'insufficient_scope' } },
          'the challenge names both scopes',
        );
        const [error] = cached.json.errors;
        t.strictSame({ code: error.code, detail: error.detail }, { code: 'UNAUTHORIZED', detail: { scope: scopes } }, 'UNAUTHORIZED naming both scopes');
        t.match(error.message, /repository:team\/a:pull/, 'the message names the scope not granted');
        t.equal(registry.journal.last()?.mount, undefined, 'refused before the handler: no mount was tried');
      }
      t.equal((await send(registry.url, 'HEAD', `/v2/team/c/blobs/${shared.layer}`, { headers: { authorization: `Bearer ${targetOnly}` } })).status, 404, 'nothing mounted into team/c');
      // alice may never pull private/x: a challenge would only repeat itself, so in both modes the mount is declined.
      const askedSecret = await token('repository:team/d:pull,push', 'repository:private/x:pull');
      assertUploadOpened(t, await mount(askedSecret, 'team/d', secret.layer, 'private/x'), 'team/d', 'pull on private/x asked but not granted');
      t.strictSame(registry.journal.last()?.mount, { digest: secret.layer, from: 'private/x', result: 'declined', reason: 'from-not-readable' }, 'the journal says why');
      // Without `from`: the blob sits only in private/x, which the token does not cover.
      assertUploadOpened(t, await mount(askedSecret, 'team/d', secret.layer), 'team/d', 'no from, the blob only in private/x');
      t.strictSame(registry.journal.last()?.mount, { digest: secret.layer, result: 'declined', reason: 'blob-unknown' }, 'without from: no repository the caller may pull has it');
      t.equal((await send(registry.url, 'HEAD', `/v2/team/d/blobs/${secret.layer}`, { headers: { authorization: `Bearer ${askedSecret}` } })).status, 404, 'the secret blob is not in team/d');
    });
  }
});

// --- the CLI ---------------------------------------------------------------


t.test('CLI: --auth @FILE takes the auth option as JSON, access rules included', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-auth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'auth.json');
  await writeFile(file, JSON.stringify({ basic: { users: { alice: 'a-pass', admin: 'root-pass' } }, access: ACCESS }));
  const cli = await startCli(t, ['--auth', `@${file}`]);
  t.equal((await send(cli.url, 'GET', '/v2/')).status, 401, 'credentials required');
  t.equal((await send(cli.url, 'GET', '/v2/team/app/tags/list', { headers: { authorization: basic('alice') } })).status, 404, 'alice may pull team/app (404 NAME_UNKNOWN)');
  const refused = await send(cli.url, 'GET', '/v2/private/x/tags/list', { headers: { authorization: basic('alice') } });
  assertDenied(t, refused, denied('alice', 'repository:private/x:pull'), 'alice on private/x');

  const inline = await startCli(t, ['--auth', JSON.stringify({ token: { users: { alice: 'a-pass' }, anonymous: 'pull', expiresInSeconds: 30 }, access: ACCESS })]);
  const reply = await send(inline.url, 'GET', `/token?${new URLSearchParams([['service', 'x'], ['scope', 'repository:team/app:pull,push']])}`, { headers: { authorization: basic('alice') } });
  t.equal(reply.json.expires_in, 30, 'inline JSON: expiresInSeconds');
  t.equal(reply.json.scope, 'repository:team/app:pull,push', 'inline JSON: access rules');
  t.equal((await send(inline.url, 'GET', '/token?service=x&scope=repository:any/thing:pull')).json.scope, 'repository:any/thing:pull', 'inline JSON: anonymous pull');
  t.equal(await cli.stop(), 0, 'exits 0 on SIGTERM');
  t.equal(await inline.stop(), 0, 'exits 0 on SIGTERM');
  t.notMatch(cli.stderr() + inline.stderr(), /a-pass|root-pass/, 'no password on stderr');
});
