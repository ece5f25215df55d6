// Interop of auth with a real client: skopeo (containers/image) pushes with
// --dest-creds, inspects with --creds and pulls with --src-creds against a
// Basic registry and a token-flow registry; without credentials or with wrong
// ones it is refused and nothing is stored. With anonymous pull it pulls
// without credentials; with access rules a push outside the user's rights
// fails, and a mount from a repository the user may not pull falls back to an
// upload. skopeo runs as an asynchronous child process so the in-process registry
// keeps serving. Needs `skopeo` on PATH (or $SKOPEO).
import t, { type Test } from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalEntry, RegistryOptions, RunningRegistry } from '../../src/index.js';
import { send, startFor } from '../helpers/http.js';
import { blobsOf, readLayout, taggedEntry, writeLayout, type Image } from './layout.js';
import { succeeded } from './client-run.js';
import { checkMounted, checkTags } from './pushed.js';
import { runSkopeo, sampleImage, tempDir, type Outcome } from './skopeo-run.js';

/**
 * One skopeo run in its own HOME, so no auth file or docker config of the
 * machine is read (credentials come only from the flags) and the blob-info
 * cache is the test's own.
 */
function skopeo(home: string, ...args: string[]): Promise<Outcome> {
  return skopeoWith(home, undefined, ...args);
}

/** The same, with `input` on stdin (`login --password-stdin`). */
function skopeoWith(home: string, input: string | undefined, ...args: string[]): Promise<Outcome> {
  return runSkopeo(args, { PATH: process.env.PATH ?? '', HOME: home, XDG_RUNTIME_DIR: home, XDG_CONFIG_HOME: join(home, '.config'), REGISTRY_AUTH_FILE: join(home, 'auth.json') }, input);
}

/** skopeo exited 1 with a message matching `reason` (and not because it could not start). */
function refused(t: Test, outcome: Outcome, reason: RegExp, what: string): void {
  t.equal(outcome.code, 1, `${what}: skopeo exits 1`, { stderr: outcome.stderr });
  t.match(outcome.stderr, reason, `${what}: ${reason}`);
}

function tempHome(t: Test): Promise<string> {
  return tempDir(t, 'interop-auth');
}


function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** The registry holds `image` under name:tag, every blob byte for byte (read from the store: no credentials needed). */
async function checkStored(t: Test, registry: RunningRegistry, name: string, tag: string, image: Image): Promise<void> {
  const manifest = await registry.store.manifest(name, tag);
  t.equal(manifest?.digest, image.manifest.descriptor.digest, `${name}:${tag} is the pushed manifest`);
  for (const blob of [image.config, ...image.layers]) {
    const stored = await registry.store.blob(name, blob.descriptor.digest);
    t.equal(stored?.size, blob.descriptor.size, `${name} holds ${blob.descriptor.digest}`);
  }
}

async function checkLayout(t: Test, dir: string, tag: string, image: Image): Promise<void> {
  const layout = await readLayout(dir);
  t.equal(taggedEntry(layout, tag)?.digest, image.manifest.descriptor.digest, `pulled ${tag} has the pushed digest`);
  for (const blob of blobsOf(image)) t.ok(layout.blobs.get(blob.descriptor.digest)?.equals(blob.bytes), `pulled ${blob.descriptor.digest} byte for byte`);
}

function line(entry: JournalEntry): string {
  return `${entry.method} ${entry.route} ${entry.status}`;
}

t.test('skopeo is installed', async (t) => {
  const home = await tempHome(t);
  const outcome = await skopeo(home, '--version');
  succeeded(t, outcome, 'skopeo --version');
});

const MODES: [string, RegistryOptions['auth']][] = [
  ['basic', { basic: { users: { alice: 'alice-pass' } } }],
  ['token', { token: { users: { alice: 'alice-pass' } } }],
];

for (const [mode, auth] of MODES) {
  t.test(`${mode}: copy --dest-creds, inspect --creds, copy --src-creds; no or wrong credentials are refused`, async (t) => {
    const registry = await startFor(t, { auth });
    const home = await tempHome(t);
    const image = sampleImage(`auth-${mode}`);
    await writeLayout(join(home, 'source'), { v1: image });
    const source = `oci:${join(home, 'source')}:v1`;
    const reference = `docker://${registry.host}/team/app:v1`;

    const anonymous = await skopeo(home, 'copy', '--dest-tls-verify=false', source, reference);
    refused(t, anonymous, /unauthorized/, 'push without credentials');
    // Basic: skopeo's first request with credentials is a HEAD, whose 401 has no body to quote; token: the token endpoint's message.
    const wrongCredentials = mode === 'basic' ? /unauthorized: authentication required/ : /unable to retrieve auth token: invalid username\/password: unauthorized: invalid username or password/;
    const wrong = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'alice:wrong-pass', source, reference);
    refused(t, wrong, wrongCredentials, 'push with a wrong password');
    const stranger = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'mallory:alice-pass', source, reference);
    refused(t, stranger, wrongCredentials, 'push as an unknown user');
    t.strictSame(await registry.store.usage(), { storedBytes: 0, uploadBytes: 0, uploads: 0, repositories: 0, blobs: 0 }, 'nothing was stored by the refused pushes');

    registry.journal.clear();
    const digestFile = join(home, 'digest');
    const push = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pass', '--digestfile', digestFile, source, reference);
    if (!succeeded(t, push, 'skopeo copy --dest-creds')) return;
    t.equal(await readFile(digestFile, 'utf8'), image.manifest.descriptor.digest, 'skopeo reports the pushed digest');
    await checkStored(t, registry, 'team/app', 'v1', image);
    const pushed = registry.journal.all();
    if (mode === 'token') {
      const tokens = pushed.filter((e) => e.route === 'token');
      t.ok(tokens.length >= 1, 'skopeo went to the token endpoint');
      t.ok(tokens.every((e) => e.status === 200 && e.requestHeaders.authorization === 'Basic [redacted]'), 'with Basic credentials, and got tokens');
      t.ok(tokens.some((e) => new URL(e.path, 'http://x').searchParams.get('scope') === 'repository:team/app:pull,push'), 'asking for repository:team/app:pull,push, the scope of the challenge');
      t.ok(pushed.filter((e) => e.route !== 'token' && e.status !== 401).every((e) => e.requestHeaders.authorization === 'Bearer [redacted]'), 'every served request carried a Bearer token');
    } else {
      t.ok(pushed.filter((e) => e.status !== 401).every((e) => e.requestHeaders.authorization === 'Basic [redacted]'), 'every served request carried Basic credentials');
    }
    t.strictSame(pushed.filter((e) => e.status === 401).map(line), ['GET base 401'], 'one challenge, on GET /v2/, then no 401');

    const inspect = await skopeo(home, 'inspect', '--tls-verify=false', '--creds', 'alice:alice-pass', reference);
    if (succeeded(t, inspect, 'skopeo inspect --creds')) {
      const output = JSON.parse(inspect.stdout.toString('utf8')) as { Digest: string; RepoTags: string[]; Layers: string[] };
      t.equal(output.Digest, image.manifest.descriptor.digest, 'inspect: Digest');
      t.strictSame(output.RepoTags, ['v1'], 'inspect: RepoTags');
      t.strictSame(output.Layers, image.layers.map((l) => l.descriptor.digest), 'inspect: Layers');
    }
    const raw = await skopeo(home, 'inspect', '--tls-verify=false', '--creds', 'alice:alice-pass', '--raw', reference);
    if (succeeded(t, raw, 'skopeo inspect --creds --raw')) t.ok(raw.stdout.equals(image.manifest.bytes), 'inspect --raw prints the pushed bytes');
    refused(t, await skopeo(home, 'inspect', '--tls-verify=false', reference), /unauthorized/, 'inspect without credentials');
    refused(t, await skopeo(home, 'inspect', '--tls-verify=false', '--creds', 'alice:wrong-pass', reference), /unauthorized: invalid username or password/, 'inspect with a wrong password');

    const back = join(home, 'back');
    const pull = await skopeo(home, 'copy', '--src-tls-verify=false', '--src-creds', 'alice:alice-pass', '--preserve-digests', reference, `oci:${back}:v1`);
    if (succeeded(t, pull, 'skopeo copy --src-creds')) await checkLayout(t, back, 'v1', image);
    refused(t, await skopeo(home, 'copy', '--src-tls-verify=false', reference, `oci:${join(home, 'nothing')}:v1`), /unauthorized/, 'pull without credentials');
  });
}

for (const [mode, auth] of MODES) {
  t.test(`${mode}: skopeo login, then copy in, across repositories by mount and back without --creds; logout forgets`, async (t) => {
    const registry = await startFor(t, { auth });
    const home = await tempHome(t);
    const image = sampleImage(`login-${mode}`);
    await writeLayout(join(home, 'source'), { v1: image });
    const login = await skopeoWith(home, 'alice-pass\n', 'login', '--tls-verify=false', '--username', 'alice', '--password-stdin', registry.host);
    if (!succeeded(t, login, 'skopeo login --password-stdin')) return;
    t.match(await readFile(join(home, 'auth.json'), 'utf8'), registry.host, 'the credentials went to the private auth file');

    const push = await skopeo(home, 'copy', '--dest-tls-verify=false', `oci:${join(home, 'source')}:v1`, `docker://${registry.host}/team/app:v1`);
    if (!succeeded(t, push, 'skopeo copy oci: → docker:// (logged in)')) return;
    await checkStored(t, registry, 'team/app', 'v1', image);
    await checkTags(t, registry, 'team/app', ['v1']);

    registry.journal.clear();
    const copy = await skopeo(home, 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${registry.host}/team/app:v1`, `docker://${registry.host}/team/copy:v1`);
    if (!succeeded(t, copy, 'skopeo copy docker:// → docker:// (logged in)')) return;
    checkMounted(t, registry, 'team/copy', 'team/app', image.layers.map((l) => l.descriptor.digest));
    await checkStored(t, registry, 'team/copy', 'v1', image);
    await checkTags(t, registry, 'team/copy', ['v1']);

    const back = join(home, 'back');
    const pull = await skopeo(home, 'copy', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/team/copy:v1`, `oci:${back}:v1`);
    if (succeeded(t, pull, 'skopeo copy docker:// → oci: (logged in)')) await checkLayout(t, back, 'v1', image);

    if (!succeeded(t, await skopeo(home, 'logout', registry.host), 'skopeo logout')) return;
    refused(t, await skopeo(home, 'copy', '--src-tls-verify=false', `docker://${registry.host}/team/copy:v1`, `oci:${join(home, 'nothing')}:v1`), /unauthorized/, 'pull after logout');
  });
}

t.test('token with anonymous pull: skopeo pulls and inspects without credentials, and cannot push', async (t) => {
  const registry = await startFor(t, { auth: { token: { users: { alice: 'alice-pass' }, anonymous: 'pull' } } });
  const home = await tempHome(t);
  const image = sampleImage('auth-anonymous');
  await writeLayout(join(home, 'source'), { v1: image });
  const reference = `docker://${registry.host}/public/app:v1`;
  const push = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pass', `oci:${join(home, 'source')}:v1`, reference);
  if (!succeeded(t, push, 'alice pushes with --dest-creds')) return;

  registry.journal.clear();
  const inspect = await skopeo(home, 'inspect', '--tls-verify=false', '--raw', reference);
  if (succeeded(t, inspect, 'inspect without credentials')) t.ok(inspect.stdout.equals(image.manifest.bytes), 'the manifest bytes');
  const tokens = registry.journal.filter({ route: 'token' });
  t.ok(tokens.length >= 1 && tokens.every((e) => e.status === 200 && e.requestHeaders.authorization === undefined), 'skopeo got a token without credentials');
  const back = join(home, 'back');
  const pull = await skopeo(home, 'copy', '--src-tls-verify=false', '--preserve-digests', reference, `oci:${back}:v1`);
  if (succeeded(t, pull, 'copy from the registry without credentials')) await checkLayout(t, back, 'v1', image);

  const other = sampleImage('auth-anonymous-push');
  await writeLayout(join(home, 'other'), { v1: other });
  const anonymousPush = await skopeo(home, 'copy', '--dest-tls-verify=false', `oci:${join(home, 'other')}:v1`, `docker://${registry.host}/public/other:v1`);
  refused(t, anonymousPush, /unauthorized/, 'push without credentials');
  t.equal(await registry.store.manifest('public/other', 'v1'), undefined, 'nothing was pushed');
  t.equal(await registry.store.hasRepository('public/other'), false, 'no repository was made');
});

t.test('token with access rules: a push outside the rules is refused; a blob seen in a repository alice may not pull is uploaded, not mounted; within her rights it is mounted', async (t) => {
  const users = { alice: 'alice-pass', admin: 'admin-pass' };
  const registry = await startFor(t, {
    auth: {
      token: { users },
      access: [
        { user: 'alice', repositories: 'team/*', actions: ['pull', 'push'] },
        { user: 'admin', repositories: '*', actions: ['pull', 'push', 'delete'] },
      ],
    },
  });
  const home = await tempHome(t);
  const image = sampleImage('auth-access');
  await writeLayout(join(home, 'source'), { v1: image });
  const source = `oci:${join(home, 'source')}:v1`;

  refused(t, await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pass', source, `docker://${registry.host}/private/app:v1`), /unauthorized|denied/, 'alice pushes to private/app');
  t.equal(await registry.store.hasRepository('private/app'), false, 'nothing in private/app');

  // admin pushes to private/x: skopeo's blob-info cache now knows the layers are there.
  const adminPush = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'admin:admin-pass', source, `docker://${registry.host}/private/x:v1`);
  if (!succeeded(t, adminPush, 'admin pushes to private/x')) return;
  registry.journal.clear();
  const alicePush = await skopeo(home, 'copy', '--dest-tls-verify=false', '--dest-creds', 'alice:alice-pass', source, `docker://${registry.host}/team/app:v1`);
  if (!succeeded(t, alicePush, 'alice pushes the same image to team/app')) return;
  await checkStored(t, registry, 'team/app', 'v1', image);
  // containers/image checks that a cached location holds the blob before it mounts from there:
  // it asks a token with pull on private/x, is not granted it, gets 401 on the HEAD, and uploads instead.
  const entries = registry.journal.all();
  const journal = { journal: entries.map((e) => `${e.method} ${e.path} ${e.status}`) };
  const asked = entries.filter((e) => e.route === 'token' && new URL(e.path, 'http://x').searchParams.getAll('scope').includes('repository:private/x:pull'));
  t.ok(asked.length >= 1, 'skopeo asked for pull on private/x, where its cache saw the blobs', journal);
  const probes = entries.filter((e) => e.name === 'private/x');
  t.ok(probes.length >= 1, 'skopeo probed private/x', journal);
  t.strictSame(probes.map((e) => `${e.method} ${e.status}`), probes.map(() => 'HEAD 401'), 'and was refused there: the token does not cover it', journal);
  t.equal(entries.filter((e) => e.route === 'upload' && e.status === 201 && new URL(e.path, 'http://x').searchParams.has('mount')).length, 0, 'nothing was mounted', journal);
  t.equal(entries.filter((e) => e.method === 'PUT' && e.route === 'upload' && e.status === 201).length, image.layers.length + 1, 'the layers and config were uploaded', journal);

  // Within alice's rights the mount works: team/app → team/copy.
  registry.journal.clear();
  const copy = await skopeo(home, 'copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'alice:alice-pass', '--dest-creds', 'alice:alice-pass', `docker://${registry.host}/team/app:v1`, `docker://${registry.host}/team/copy:v1`);
  if (!succeeded(t, copy, 'alice copies team/app → team/copy')) return;
  await checkStored(t, registry, 'team/copy', 'v1', image);
  const copied = registry.journal.all();
  const mounted = copied.filter((e) => e.method === 'POST' && e.route === 'upload' && e.status === 201 && new URL(e.path, 'http://x').searchParams.get('from') === 'team/app');
  t.strictSame(
    mounted.map((e) => new URL(e.path, 'http://x').searchParams.get('mount')).sort(),
    image.layers.map((l) => l.descriptor.digest).sort(),
    'every layer mounted from team/app (201)',
    { journal: copied.map((e) => `${e.method} ${e.path} ${e.status}`) },
  );
  t.ok(
    copied.some((e) => e.route === 'token' && e.status === 200 && new URL(e.path, 'http://x').searchParams.getAll('scope').includes('repository:team/app:pull')),
    'with a token asking pull on the source',
  );
  // The registry confirms the token it granted covers both: read back with one that holds them.
  const query = new URLSearchParams([['service', registry.host], ['scope', 'repository:team/copy:pull'], ['scope', 'repository:private/x:pull']]);
  const granted = await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: basicHeader('alice', 'alice-pass') } });
  t.equal(granted.json.scope, 'repository:team/copy:pull', 'alice never gets pull on private/x');
});
