// Interop with containerify (npm), which builds a Node.js app image on a
// base image it pulls from a registry and pushes the result: from a base
// imported from an OCI layout and from a two-platform index, with and
// without --doCrossMount, anonymous, with Basic and with a bearer token.
// containerify keeps what it built in --buildFolder, so every byte it pushed
// is compared with what the registry serves. Run with `npm run test:interop`.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { importLayout, type RegistryOptions, type RunningRegistry } from '../../src/index.js';
import { send, startFor } from '../helpers/http.js';
import { buildImage, buildIndex, sha256, writeLayout, OCI_INDEX, OCI_MANIFEST, type Image, type ImageIndex } from './layout.js';
import { sampleImage, tempDir } from './skopeo-run.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const require = createRequire(import.meta.url);
const CLI = join(require.resolve('containerify/package.json'), '..', 'lib', 'cli.js');
const VERSION = (require('containerify/package.json') as { version: string }).version;
const execFileAsync = promisify(execFile);

const USERS = { ci: 'secret' };
const BASIC = `Basic ${Buffer.from('ci:secret').toString('base64')}`;

/** Runs containerify asynchronously (the registry answers from this same process). */
async function containerify(t: Test, args: string[]): Promise<void> {
  try {
    await execFileAsync(process.execPath, [CLI, ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const failure = error as Error & { stdout?: string; stderr?: string };
    t.fail(`containerify ${args.join(' ')} failed`, { stdout: failure.stdout, stderr: failure.stderr, message: failure.message });
    throw error;
  }
}

/** Every file containerify left in a directory, by the sha256 of its bytes. */
async function filesByDigest(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(dir)) {
    const bytes = await readFile(join(dir, name));
    files.set(sha256(bytes), bytes);
  }
  return files;
}

async function appFolder(t: Test): Promise<string> {
  const dir = await tempDir(t, 'npm-containerify-app');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'demo-app', version: '1.0.0', scripts: { start: 'node index.js' } }));
  await writeFile(join(dir, 'index.js'), 'console.log("hello from the app");\n');
  return dir;
}

interface Auth {
  mode: 'anonymous' | 'basic' | 'token';
  options: RegistryOptions;
  /** containerify's --token (both registries), or --allowNoPushAuth without one. */
  token(registry: RunningRegistry, base: string): Promise<string | undefined>;
}

const AUTHS: Auth[] = [
  { mode: 'anonymous', options: {}, token: async () => undefined },
  { mode: 'basic', options: { auth: { basic: { users: USERS } } }, token: async () => BASIC },
  {
    mode: 'token',
    options: { auth: { token: { users: USERS } } },
    // containerify sends a given token as-is and follows no challenge: it gets one that covers both repositories.
    token: async (registry, base) => {
      const query = new URLSearchParams([['service', registry.host], ['scope', `repository:${base}:pull`], ['scope', 'repository:team/app:pull,push']]);
      const reply = await send(registry.url, 'GET', `/token?${query}`, { headers: { authorization: BASIC } });
      if (reply.status !== 200) throw new Error(`token endpoint answered ${reply.status}`);
      return reply.json.token as string;
    },
  },
];

interface Base {
  what: string;
  /** Repository and tag containerify pulls. */
  name: string;
  tag: string;
  platform: string;
  /** What the tag holds, imported into the registry from an OCI layout on disk. */
  content: Image | ImageIndex;
  /** The image containerify should build on (the index's child for `platform`). */
  image: Image;
}

function bases(): Base[] {
  const single = sampleImage('containerify-base');
  const amd64 = buildImage({ architecture: 'amd64', layers: [[{ name: 'etc/' }, { name: 'etc/platform', content: 'linux/amd64 base\n' }]] });
  const arm64 = buildImage({ architecture: 'arm64', layers: [[{ name: 'etc/' }, { name: 'etc/platform', content: 'linux/arm64 base\n' }]] });
  return [
    { what: 'a base imported from an OCI layout', name: 'base/single', tag: 'v1', platform: 'linux/amd64', content: single, image: single },
    { what: 'a base whose tag is a two-platform index', name: 'base/multi', tag: 'v2', platform: 'linux/arm64', content: buildIndex([amd64, arm64]), image: arm64 },
  ];
}

async function seed(registry: RunningRegistry, base: Base, dir: string): Promise<void> {
  await writeLayout(dir, { [base.tag]: base.content });
  await importLayout(registry.store, dir, { name: base.name });
}

/** Pulls team/app:v1 and checks it is, byte for byte, what containerify built on `base`. */
async function checkPushed(t: Test, registry: RunningRegistry, headers: Record<string, string>, base: Base, built: string, digestFile: string): Promise<void> {
  const files = await filesByDigest(built);
  const manifestBytes = await readFile(join(built, 'manifest.json'));
  const got = await send(registry.url, 'GET', '/v2/team/app/manifests/v1', { headers: { ...headers, Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` } });
  t.equal(got.status, 200, 'GET team/app:v1');
  t.ok(got.body.equals(manifestBytes), 'the manifest is byte for byte the one containerify built');
  t.equal(got.headers['docker-content-digest'], sha256(manifestBytes), 'its digest');
  t.equal(await readFile(digestFile, 'utf8'), sha256(manifestBytes), '--writePrefixedDigestTo names the same digest');
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as { config: { digest: string; size: number }; layers: { digest: string; size: number }[] };
  // The base's layers come first, unchanged; containerify adds its own after them.
  const baseLayers = base.image.layers.map((l) => l.descriptor.digest);
  t.strictSame(manifest.layers.slice(0, baseLayers.length).map((l) => l.digest), baseLayers, 'the base layers (of the platform asked for), in order');
  t.ok(manifest.layers.length > baseLayers.length, 'and the app layers after them');
  for (const descriptor of [manifest.config, ...manifest.layers]) {
    const blob = await send(registry.url, 'GET', `/v2/team/app/blobs/${descriptor.digest}`, { headers });
    t.equal(blob.status, 200, `GET blob ${descriptor.digest}`);
    t.equal(sha256(blob.body), descriptor.digest, 'pulled bytes have the pushed digest');
    t.equal(blob.body.length, descriptor.size, 'and the pushed size');
    const local = files.get(descriptor.digest) ?? base.image.layers.find((l) => l.descriptor.digest === descriptor.digest)?.bytes;
    t.ok(local?.equals(blob.body), 'byte for byte what containerify built (or the base layer)');
  }
  const config = JSON.parse((await send(registry.url, 'GET', `/v2/team/app/blobs/${manifest.config.digest}`, { headers })).body.toString('utf8')) as { architecture: string; rootfs: { diff_ids: string[] } };
  t.equal(config.architecture, base.platform.split('/')[1], 'the config is for the platform asked for');
  t.strictSame(config.rootfs.diff_ids.slice(0, base.image.diffIds.length), base.image.diffIds, "the base's diff_ids first");
  const tags = await send(registry.url, 'GET', '/v2/team/app/tags/list', { headers });
  t.strictSame(tags.json, { name: 'team/app', tags: ['latest', 'v1'] }, 'tags listed exactly: the tag and --additionalTag');
}

t.test(`containerify ${VERSION} pushes an app image built on a base it pulls from the registry`, async (t) => {
  for (const auth of AUTHS) {
    for (const base of bases()) {
      for (const crossMount of [false, true]) {
        await t.test(`${auth.mode}, ${base.what}, ${crossMount ? 'with' : 'without'} --doCrossMount`, async (t) => {
          const registry = await startFor(t, auth.options);
          const dir = await tempDir(t, 'npm-containerify');
          await seed(registry, base, join(dir, 'layout'));
          const token = await auth.token(registry, base.name);
          const headers: Record<string, string> = token === undefined ? {} : { authorization: token.startsWith('Basic ') ? token : `Bearer ${token}` };
          const build = join(dir, 'build');
          await mkdir(build);
          const digestFile = join(dir, 'digest');
          registry.journal.clear();
          await containerify(t, [
            '--registry', `${registry.url}/v2/`,
            '--fromImage', `${base.name}:${base.tag}`,
            '--toImage', 'team/app:v1',
            '--additionalTag', 'latest',
            '--folder', await appFolder(t),
            '--platform', base.platform,
            '--buildFolder', build,
            '--writePrefixedDigestTo', digestFile,
            ...(token === undefined ? ['--allowNoPushAuth'] : ['--token', token]),
            ...(crossMount ? ['--doCrossMount'] : []),
          ]);
          const mounts = registry.journal.all().filter((e) => e.mount !== undefined);
          if (!crossMount) t.strictSame(mounts, [], 'no mount asked');
          else {
            // containerify sends its --fromImage (with the tag) as from=: no repository name, so each base layer gets an upload session.
            const expected = base.image.layers.map((l) => `202 ${JSON.stringify({ digest: l.descriptor.digest, from: `${base.name}:${base.tag}`, result: 'declined', reason: 'from-invalid' })}`);
            t.strictSame(mounts.map((e) => `${e.status} ${JSON.stringify(e.mount)}`).sort(), expected.sort(), 'one mount per base layer, declined (from-invalid) with 202');
          }
          t.strictSame(registry.journal.filter({ status: 401 }).concat(registry.journal.filter({ status: 403 })), [], 'no request refused');
          await checkPushed(t, registry, headers, base, join(build, 'to'), digestFile);
        });
      }
    }
  }
});
