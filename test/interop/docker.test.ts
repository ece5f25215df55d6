// The Docker engine (Debian's docker.io: dockerd + /usr/bin/docker) against
// the registry, through a private dockerd (see daemons.ts). Images come from
// `docker load` of a docker-save archive the test writes, so the config is
// the test's own bytes and each layer's tar too; dockerd compresses layers
// itself on push, so the checks compare uncompressed tars (pushed.ts).
//
// What the docker CLI can do with a registry, each checked here: push, pull
// (by platform from an index), a cross-repository push of a tagged copy
// (dockerd mounts the layers it knows are in another repository), login in
// Basic and token mode, and a two-platform index with `docker manifest
// create/push` (buildx is not packaged; docker pushes single images). The
// docker CLI cannot delete from a registry, so there is no delete test.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/index.js';
import { startFor } from '../helpers/http.js';
import { succeeded, type Outcome } from './client-run.js';
import { startDockerd, type Dockerd } from './daemons.js';
import { dockerArchive, untar, type Image } from './layout.js';
import {
  AUTH_MODES,
  PASSWORD,
  USER,
  checkMounted,
  checkPushedImage,
  checkPushedIndex,
  checkTags,
  storedLayerDigests,
  layerTar,
  sampleIndex,
} from './pushed.js';
import { sampleImage, tempDir } from './skopeo-run.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

/** `docker load` of `image` under `references`. */
async function load(t: Test, dockerd: Dockerd, image: Image, references: string[]): Promise<boolean> {
  const file = join(await tempDir(t, 'docker-archive'), 'image.tar');
  await writeFile(file, dockerArchive(image, references));
  const loaded = await dockerd.docker(['load', '--input', file]);
  if (!succeeded(t, loaded, 'docker load')) return false;
  return t.match(loaded.stdout.toString('utf8'), `Loaded image: ${references[0]}`, 'docker loaded the test image');
}

/** The digest `docker push` prints (`<tag>: digest: sha256:… size: N`). */
function pushedDigest(t: Test, outcome: Outcome, what: string): string | undefined {
  if (!succeeded(t, outcome, what)) return undefined;
  const digest = /: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(outcome.stdout.toString('utf8'))?.[1];
  t.ok(digest, `${what} prints the pushed digest`, { stdout: outcome.stdout.toString('utf8') });
  return digest;
}

/** Removes every image from the daemon, so the next pull fetches everything. */
async function removeAll(t: Test, dockerd: Dockerd): Promise<void> {
  const ids = (await dockerd.docker(['images', '--quiet', '--no-trunc'])).stdout.toString('utf8').split('\n').filter(Boolean);
  if (ids.length) succeeded(t, await dockerd.docker(['rmi', '--force', ...new Set(ids)]), 'docker rmi');
  t.equal((await dockerd.docker(['images', '--quiet'])).stdout.toString('utf8'), '', 'the daemon holds no image');
}

/**
 * Pulls `reference` into an empty daemon: its image id is `image`'s config
 * digest, it remembers `digest` as its repository digest, and `docker save`
 * gives back the test's config and layer tars byte for byte.
 */
async function pullBack(t: Test, dockerd: Dockerd, reference: string, digest: string, image: Image, platform?: string): Promise<void> {
  await removeAll(t, dockerd);
  const pulled = await dockerd.docker(['pull', ...(platform ? ['--platform', platform] : []), reference]);
  if (!succeeded(t, pulled, `docker pull ${platform ?? ''} ${reference}`)) return;
  t.match(pulled.stdout.toString('utf8'), `Digest: ${digest}`, 'docker pull reports the pushed digest');
  const inspected = await dockerd.docker(['image', 'inspect', reference]);
  if (!succeeded(t, inspected, 'docker image inspect')) return;
  const [info] = JSON.parse(inspected.stdout.toString('utf8')) as { Id: string; RepoDigests: string[] }[];
  t.equal(info?.Id, image.config.descriptor.digest, 'the pulled image id is the config digest');
  t.strictSame(info?.RepoDigests, [`${reference.replace(/:[^:/]+$/, '')}@${digest}`], 'the pulled image has the pushed repository digest');
  const saved = await dockerd.docker(['save', reference]);
  if (!succeeded(t, saved, 'docker save')) return;
  const files = untar(saved.stdout);
  const [manifest] = JSON.parse(files.get('manifest.json')?.toString('utf8') ?? '[]') as { Config: string; Layers: string[] }[];
  t.ok(files.get(manifest?.Config ?? '')?.equals(image.config.bytes), 'the saved config is byte for byte the test config');
  t.equal(manifest?.Layers.length, image.layers.length, 'the saved image has the layers');
  for (const [position, name] of (manifest?.Layers ?? []).entries()) {
    t.ok(files.get(name)?.equals(layerTar(image, position)), `saved layer ${position} is byte for byte the test's tar`);
  }
}

/** Push, check, push a tagged copy to another repository (mounted), pull back. */
async function pushCopyPull(t: Test, dockerd: Dockerd, registry: RunningRegistry, name: string, image: Image): Promise<void> {
  const reference = `${registry.host}/${name}:v1`;
  const digest = pushedDigest(t, await dockerd.docker(['push', reference]), `docker push ${reference}`);
  if (!digest) return;
  t.equal(await checkPushedImage(t, registry, name, 'v1', image), digest, 'the registry stored the digest docker reports');
  await checkTags(t, registry, name, ['v1']);

  const copy = `${name}-copy`;
  const copyReference = `${registry.host}/${copy}:v1`;
  if (!succeeded(t, await dockerd.docker(['tag', reference, copyReference]), 'docker tag')) return;
  registry.journal.clear();
  t.equal(pushedDigest(t, await dockerd.docker(['push', copyReference]), `docker push ${copyReference}`), digest, 'the copy has the same digest');
  checkMounted(t, registry, copy, name, await storedLayerDigests(registry, name, 'v1'));
  await checkPushedImage(t, registry, copy, 'v1', image);
  await checkTags(t, registry, copy, ['v1']);

  await pullBack(t, dockerd, reference, digest, image);
}

const dockerd = await startDockerd(t);

t.test('docker is installed and its private daemon answers', async (t) => {
  const version = await dockerd.docker(['version', '--format', '{{.Client.Version}} {{.Server.Version}}']);
  succeeded(t, version, 'docker version');
  t.match(version.stdout.toString('utf8'), /^\d+\.\d+\.\d+\S* \d+\.\d+\.\d+/, 'client and daemon versions');
  const info = await dockerd.docker(['info', '--format', '{{.Driver}}']);
  t.equal(info.stdout.toString('utf8').trim(), 'vfs', 'the daemon stores images with vfs');
});

t.test('docker: an image pushes, a tagged copy pushes to another repository by mount, and pulls back byte for byte', async (t) => {
  const registry = await startFor(t);
  await removeAll(t, dockerd);
  const image = sampleImage('docker-image');
  if (!(await load(t, dockerd, image, [`${registry.host}/interop/docker:v1`]))) return;
  await pushCopyPull(t, dockerd, registry, 'interop/docker', image);
});

t.test('docker manifest create/push: a two-platform index of pushed images; docker pulls each platform from it', async (t) => {
  const registry = await startFor(t);
  await removeAll(t, dockerd);
  const index = sampleIndex('docker-index');
  const name = 'interop/docker-multi';
  const children: string[] = [];
  for (const [position, arch] of ['amd64', 'arm64'].entries()) {
    const reference = `${registry.host}/${name}:${arch}`;
    if (!(await load(t, dockerd, index.children[position]!, [reference]))) return;
    const digest = pushedDigest(t, await dockerd.docker(['push', reference]), `docker push ${reference}`);
    if (!digest) return;
    children.push(digest);
  }
  const list = `${registry.host}/${name}:multi`;
  const created = await dockerd.docker(['manifest', 'create', '--insecure', list, ...['amd64', 'arm64'].map((arch) => `${registry.host}/${name}:${arch}`)]);
  if (!succeeded(t, created, 'docker manifest create')) return;
  const pushed = await dockerd.docker(['manifest', 'push', '--insecure', list]);
  if (!succeeded(t, pushed, 'docker manifest push')) return;
  const stored = await checkPushedIndex(t, registry, name, 'multi', index);
  t.equal(pushed.stdout.toString('utf8').trim(), stored?.digest, 'docker manifest push prints the stored index digest');
  t.strictSame([...(stored?.children.values() ?? [])], children, 'the index lists the two pushed images');
  await checkTags(t, registry, name, ['amd64', 'arm64', 'multi']);
  for (const [position, arch] of ['amd64', 'arm64'].entries()) {
    await pullBack(t, dockerd, list, stored?.digest ?? '', index.children[position]!, `linux/${arch}`);
  }
});

for (const [mode, auth] of AUTH_MODES) {
  t.test(`docker ${mode}: refused without login; login, push, copy by mount, pull`, async (t) => {
    const registry = await startFor(t, { auth });
    await removeAll(t, dockerd);
    const image = sampleImage(`docker-${mode}`);
    const reference = `${registry.host}/team/docker:v1`;
    if (!(await load(t, dockerd, image, [reference]))) return;
    const anonymous = await dockerd.docker(['push', reference]);
    t.not(anonymous.code, 0, 'push without login fails');
    t.match(anonymous.stderr + anonymous.stdout.toString('utf8'), /unauthorized|authentication required|no basic auth credentials/, 'as unauthorized');
    t.equal(await registry.store.hasRepository('team/docker'), false, 'and stores nothing');

    const login = await dockerd.docker(['login', '--username', USER, '--password-stdin', registry.host], { input: `${PASSWORD}\n` });
    if (!succeeded(t, login, 'docker login')) return;
    t.teardown(() => dockerd.docker(['logout', registry.host]));
    const config = JSON.parse(await readFile(join(dockerd.configDir, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    t.ok(config.auths[registry.host], 'the credentials went to the private config dir');
    await pushCopyPull(t, dockerd, registry, 'team/docker', image);
  });
}
