// containerd's `ctr` (Debian's containerd package) against the registry,
// through a private containerd (see daemons.ts) with the native snapshotter.
// ctr imports an OCI archive the test writes and pushes the content store's
// bytes as they are, so what the registry holds must be the test's manifest,
// index, config and layer bytes exactly, with the test's digests; a pull
// must put exactly those bytes back into the content store (`ctr content get`).
//
// What ctr does with a registry, each checked here: push and pull of an image
// and of a two-platform index (all platforms, or one), a push of a tagged copy
// to another repository (containerd mounts blobs whose distribution-source
// label names another repository of the same registry), and Basic and token
// auth with `--user` (ctr has no login: credentials go with each command).
// ctr cannot delete from a registry, so there is no delete test.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/index.js';
import { startFor } from '../helpers/http.js';
import { succeeded } from './client-run.js';
import { startContainerd, type Containerd } from './daemons.js';
import { blobsOf, layoutArchive, type Image, type ImageIndex } from './layout.js';
import { AUTH_MODES, PASSWORD, USER, checkMounted, checkPushedImage, checkPushedIndex, checkTags, sampleIndex } from './pushed.js';
import { sampleImage, tempDir } from './skopeo-run.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const containerd = await startContainerd(t);
/** ctr against the private daemon, unpacking (when it does) with the native snapshotter. */
const ctr = (args: string[]) => containerd.ctr(args, { env: { ...process.env, CONTAINERD_SNAPSHOTTER: 'native' } });

/** Imports `content` from an OCI archive under the full reference `reference`. */
async function importArchive(t: Test, reference: string, content: Image | ImageIndex): Promise<boolean> {
  const file = join(await tempDir(t, 'ctr-archive'), 'image.tar');
  await writeFile(file, layoutArchive({ [reference]: content }));
  const base = reference.replace(/:[^:/]+$/, '');
  const imported = await ctr(['images', 'import', '--all-platforms', '--base-name', base, file]);
  if (!succeeded(t, imported, 'ctr images import')) return false;
  const listed = await ctr(['images', 'list', '--quiet']);
  return t.match(listed.stdout.toString('utf8'), reference, `ctr imported ${reference}`);
}

/** Removes every image and lets containerd collect their content, so the next pull fetches everything. */
async function removeAll(t: Test): Promise<void> {
  const images = (await ctr(['images', 'list', '--quiet'])).stdout.toString('utf8').split('\n').filter(Boolean);
  if (images.length) succeeded(t, await ctr(['images', 'remove', '--sync', ...images]), 'ctr images remove --sync');
  t.equal((await ctr(['content', 'list', '--quiet'])).stdout.toString('utf8'), '', 'the content store is empty');
}

/** The content store holds each of `blobs` byte for byte, and nothing else. */
async function checkContent(t: Test, blobs: { descriptor: { digest: string }; bytes: Buffer }[]): Promise<void> {
  const listed = (await ctr(['content', 'list', '--quiet'])).stdout.toString('utf8').split('\n').filter(Boolean).sort();
  t.strictSame(listed, [...new Set(blobs.map((b) => b.descriptor.digest))].sort(), 'the content store holds exactly the pulled blobs');
  for (const blob of blobs) {
    const got = await ctr(['content', 'get', blob.descriptor.digest]);
    t.ok(got.stdout.equals(blob.bytes), `pulled ${blob.descriptor.digest} is byte for byte the test's`);
  }
}

const creds = (user?: string) => (user ? ['--user', user] : []);

/** Push, check, pull back, push a tagged copy to another repository (mounted). */
async function pushPullCopy(t: Test, registry: RunningRegistry, name: string, image: Image, user: string | undefined): Promise<void> {
  const reference = `${registry.host}/${name}:v1`;
  if (!succeeded(t, await ctr(['images', 'push', '--plain-http', ...creds(user), reference]), `ctr images push ${reference}`)) return;
  t.equal(await checkPushedImage(t, registry, name, 'v1', image), image.manifest.descriptor.digest, 'the registry stored the test manifest digest');
  t.ok((await registry.store.getManifest(name, 'v1'))?.bytes.equals(image.manifest.bytes), 'and its bytes');
  await checkTags(t, registry, name, ['v1']);

  await removeAll(t);
  if (!succeeded(t, await ctr(['images', 'pull', '--plain-http', ...creds(user), reference]), `ctr images pull ${reference}`)) return;
  await checkContent(t, blobsOf(image));

  // The pull labelled the content with its source repository: a push to another one mounts from there.
  const copy = `${name}-copy`;
  const copyReference = `${registry.host}/${copy}:v1`;
  if (!succeeded(t, await ctr(['images', 'tag', reference, copyReference]), 'ctr images tag')) return;
  registry.journal.clear();
  if (!succeeded(t, await ctr(['images', 'push', '--plain-http', ...creds(user), copyReference]), `ctr images push ${copyReference}`)) return;
  checkMounted(t, registry, copy, name, image.layers.map((l) => l.descriptor.digest));
  t.equal(await checkPushedImage(t, registry, copy, 'v1', image), image.manifest.descriptor.digest, 'the copy has the test manifest digest');
  await checkTags(t, registry, copy, ['v1']);
}

t.test('ctr is installed and its private containerd answers', async (t) => {
  const version = await ctr(['version']);
  succeeded(t, version, 'ctr version');
  t.match(version.stdout.toString('utf8'), /Server:\s+Version:\s+\S+/, 'the daemon answers with its version');
});

t.test('ctr: an image pushes with the test digest, pulls back byte for byte, and a tagged copy pushes by mount', async (t) => {
  const registry = await startFor(t);
  await removeAll(t);
  const image = sampleImage('ctr-image');
  if (!(await importArchive(t, `${registry.host}/interop/ctr:v1`, image))) return;
  await pushPullCopy(t, registry, 'interop/ctr', image, undefined);
});

t.test('ctr: a two-platform index pushes as it is; pulls of all platforms and of one bring back exactly their bytes', async (t) => {
  const registry = await startFor(t);
  await removeAll(t);
  const index = sampleIndex('ctr-index');
  const name = 'interop/ctr-multi';
  const reference = `${registry.host}/${name}:multi`;
  if (!(await importArchive(t, reference, index))) return;
  if (!succeeded(t, await ctr(['images', 'push', '--plain-http', reference]), 'ctr images push of the index')) return;
  const stored = await checkPushedIndex(t, registry, name, 'multi', index);
  t.equal(stored?.digest, index.index.descriptor.digest, 'the registry stored the test index digest');
  t.ok((await registry.store.getManifest(name, 'multi'))?.bytes.equals(index.index.bytes), 'and its bytes');
  await checkTags(t, registry, name, ['multi']);

  await removeAll(t);
  if (!succeeded(t, await ctr(['images', 'pull', '--plain-http', '--all-platforms', reference]), 'ctr images pull --all-platforms')) return;
  await checkContent(t, blobsOf(index));

  await removeAll(t);
  if (!succeeded(t, await ctr(['images', 'pull', '--plain-http', '--platform', 'linux/arm64', reference]), 'ctr images pull --platform linux/arm64')) return;
  await checkContent(t, [index.index, ...blobsOf(index.children[1]!)]);
});

for (const [mode, auth] of AUTH_MODES) {
  t.test(`ctr ${mode}: refused without --user; push, pull, copy by mount with --user`, async (t) => {
    const registry = await startFor(t, { auth });
    await removeAll(t);
    const image = sampleImage(`ctr-${mode}`);
    const reference = `${registry.host}/team/ctr:v1`;
    if (!(await importArchive(t, reference, image))) return;
    const anonymous = await ctr(['images', 'push', '--plain-http', reference]);
    t.not(anonymous.code, 0, 'push without credentials fails');
    t.match(anonymous.stderr, /unauthorized|401/, 'as unauthorized');
    t.equal(await registry.store.hasRepository('team/ctr'), false, 'and stores nothing');
    await pushPullCopy(t, registry, 'team/ctr', image, `${USER}:${PASSWORD}`);
  });
}
