// The interop suite of the two containers/image + containers/storage tools,
// podman and buildah: both have the same verbs (pull, tag, push, manifest
// create/add/push --all, login, rmi) with the same flags, so one suite runs
// either. Each tool runs as root here, so it gets `--storage-driver vfs` (no
// overlay mounts) and a private `--root`/`--runroot` under a temp dir, and
// its own HOME and auth file: nothing of the machine's image store or
// credentials is read or written. Plain HTTP: `--tls-verify=false`.
//
// Neither tool deletes from a registry (`rmi` and `manifest rm` are local),
// so there is no delete test; skopeo.test.ts covers delete.
import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunningRegistry } from '../../src/index.js';
import { startFor } from '../helpers/http.js';
import { runClient, succeeded, type Outcome } from './client-run.js';
import { dockerArchive, writeLayout, type Image } from './layout.js';
import {
  AUTH_MODES,
  PASSWORD,
  USER,
  checkLayoutImage,
  checkMounted,
  checkPushedImage,
  checkPushedIndex,
  checkTags,
  storedLayerDigests,
  sampleIndex,
} from './pushed.js';
import { privateStorage, sampleImage, tempDir } from './skopeo-run.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];
export type Tool = 'podman' | 'buildah';

interface Session {
  tool: Tool;
  dir: string;
  run(...args: string[]): Promise<Outcome>;
  runWith(input: string, ...args: string[]): Promise<Outcome>;
}

/** A private store, HOME and auth file for one test, removed with its temp dir. */
async function session(t: Test, tool: Tool): Promise<Session> {
  const dir = await tempDir(t, tool);
  const storage = await privateStorage(t, dir);
  // podman's own state: no events log, no systemd cgroup manager, libpod tmp under the dir.
  const global = tool === 'podman' ? [...storage, '--tmpdir', join(dir, 'tmp'), '--events-backend', 'none', '--cgroup-manager', 'cgroupfs'] : storage;
  // podman insists that a REGISTRY_AUTH_FILE it is given exists; login fills it.
  await writeFile(join(dir, 'auth.json'), '{"auths":{}}\n');
  const env = { PATH: process.env.PATH ?? '', HOME: dir, TMPDIR: dir, XDG_RUNTIME_DIR: dir, XDG_CONFIG_HOME: join(dir, '.config'), REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
  return {
    tool,
    dir,
    run: (...args) => runClient(tool, [...global, ...args], { env }),
    runWith: (input, ...args) => runClient(tool, [...global, ...args], { env, input }),
  };
}

/**
 * Loads `image` into the tool's store named `reference`: a pull from a
 * docker-save archive naming it (a pull from an OCI layout would name the
 * image after the layout's path, which is no valid name in a temp dir with
 * capitals in it).
 */
async function load(t: Test, s: Session, image: Image, reference: string): Promise<boolean> {
  const archive = join(s.dir, `${image.config.descriptor.digest.slice(7, 19)}.tar`);
  await writeFile(archive, dockerArchive(image, [reference]));
  const pulled = await s.run('pull', `docker-archive:${archive}`);
  if (!succeeded(t, pulled, 'pull docker-archive: (load the test image)')) return false;
  const listed = await s.run('images', '--format', `{{.ID}} {{.${s.tool === 'podman' ? 'Repository' : 'Name'}}}:{{.Tag}}`);
  // buildah pads the ID column with spaces.
  return t.match(listed.stdout.toString('utf8').replace(/[ \t]+/g, ' '), `${image.config.descriptor.digest.slice(7, 19)} ${reference}`, `the store holds ${reference}`);
}

/** Pushes `reference` (to `destination` when given); returns the digest the tool reports. */
async function push(t: Test, s: Session, reference: string, destination?: string): Promise<string | undefined> {
  const digestFile = join(s.dir, 'digest');
  const pushed = await s.run('push', '--tls-verify=false', '--digestfile', digestFile, reference, ...(destination ? [`docker://${destination}`] : []));
  if (!succeeded(t, pushed, `push ${destination ?? reference}`)) return undefined;
  return readFile(digestFile, 'utf8');
}

/** Empties the local store, pulls `reference` (for `arch`), writes it to an OCI layout: that layout holds `image`. */
async function pullBack(t: Test, s: Session, reference: string, image: Image, arch = 'amd64'): Promise<void> {
  succeeded(t, await s.run('rmi', '--all', '--force'), 'rmi --all');
  const pulled = await s.run('pull', '--tls-verify=false', '--arch', arch, reference);
  if (!succeeded(t, pulled, `pull ${reference} (${arch})`)) return;
  const back = join(s.dir, `back-${arch}`);
  if (!succeeded(t, await s.run('push', reference, `oci:${back}:v1`), 'write the pulled image to an OCI layout')) return;
  await checkLayoutImage(t, back, 'v1', image);
}

/** Push, check, copy to another repository by mount, pull back: the part every auth mode repeats. */
async function pushCopyPull(t: Test, s: Session, registry: RunningRegistry, name: string, image: Image): Promise<void> {
  const reference = `${registry.host}/${name}:v1`;
  if (!(await load(t, s, image, reference))) return;
  const digest = await push(t, s, reference);
  if (digest === undefined) return;
  t.equal(await checkPushedImage(t, registry, name, 'v1', image), digest, 'the registry stored the digest the tool reports');
  await checkTags(t, registry, name, ['v1']);

  const copy = `${name}-copy`;
  registry.journal.clear();
  if ((await push(t, s, reference, `${registry.host}/${copy}:v1`)) === undefined) return;
  checkMounted(t, registry, copy, name, await storedLayerDigests(registry, name, 'v1'));
  t.equal(await checkPushedImage(t, registry, copy, 'v1', image), digest, 'the copy has the same digest');
  await checkTags(t, registry, copy, ['v1']);

  await pullBack(t, s, reference, image);
}

/** Registers the tool's interop tests on the file's tap root. */
export function containersToolSuite(tool: Tool): void {
  t.test(`${tool} is installed`, async (t) => {
    const s = await session(t, tool);
    const version = await s.run('--version');
    succeeded(t, version, `${tool} --version`);
    t.match(version.stdout.toString('utf8'), new RegExp(`^${tool} version \\d+\\.\\d+\\.\\d+`), 'prints its version');
  });

  t.test(`${tool}: an image pushes, copies to another repository by mount, and pulls back byte for byte`, async (t) => {
    const registry = await startFor(t);
    const s = await session(t, tool);
    await pushCopyPull(t, s, registry, `interop/${tool}`, sampleImage(`${tool}-image`));
  });

  t.test(`${tool}: a two-platform index (manifest create/add/push --all) pushes and each platform pulls back`, async (t) => {
    const registry = await startFor(t);
    const s = await session(t, tool);
    const index = sampleIndex(`${tool}-index`);
    const source = join(s.dir, 'source');
    await writeLayout(source, { amd64: index.children[0]!, arm64: index.children[1]! });
    if (!succeeded(t, await s.run('manifest', 'create', 'local-list'), 'manifest create')) return;
    for (const arch of ['amd64', 'arm64']) {
      if (!succeeded(t, await s.run('manifest', 'add', 'local-list', `oci:${source}:${arch}`), `manifest add ${arch}`)) return;
    }
    const name = `interop/${tool}-multi`;
    const digestFile = join(s.dir, 'digest');
    const pushed = await s.run('manifest', 'push', '--all', '--tls-verify=false', '--digestfile', digestFile, 'local-list', `docker://${registry.host}/${name}:multi`);
    if (!succeeded(t, pushed, 'manifest push --all')) return;
    const stored = await checkPushedIndex(t, registry, name, 'multi', index);
    t.equal(stored?.digest, await readFile(digestFile, 'utf8'), 'the registry stored the index digest the tool reports');
    await checkTags(t, registry, name, ['multi']);
    for (const [position, arch] of ['amd64', 'arm64'].entries()) {
      await pullBack(t, s, `${registry.host}/${name}:multi`, index.children[position]!, arch);
    }
  });

  for (const [mode, auth] of AUTH_MODES) {
    t.test(`${tool} ${mode}: login, push, copy by mount, pull; refused without login`, async (t) => {
      const registry = await startFor(t, { auth });
      const s = await session(t, tool);
      const image = sampleImage(`${tool}-${mode}`);
      const reference = `${registry.host}/team/${tool}:v1`;
      if (!(await load(t, s, image, reference))) return;
      const anonymous = await s.run('push', '--tls-verify=false', reference);
      t.not(anonymous.code, 0, 'push without login fails');
      t.match(anonymous.stderr, /unauthorized|authentication required/, 'as unauthorized');
      t.equal(await registry.store.hasRepository(`team/${tool}`), false, 'and stores nothing');

      const login = await s.runWith(`${PASSWORD}\n`, 'login', '--tls-verify=false', '--username', USER, '--password-stdin', registry.host);
      if (!succeeded(t, login, `${tool} login`)) return;
      await pushCopyPull(t, s, registry, `team/${tool}`, image);
    });
  }
}
