// --seed, --export, importLayout and exportLayout(s) never read or write
// outside the directory they are given: not through symbolic links (to files
// or directories, at any depth), not through names taken from index.json
// (`ref.name` annotations such as `../../x`, digests such as
// `sha256:../../etc/passwd`), and a hostile layout cannot hang the reader
// (a FIFO where a file should be). test/layout.test.ts covers the first
// cases (a blob linked outside, blobs/ linked outside, an export root holding
// a link, a blob file replaced by a link); this file covers the rest.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MemoryStore, exportLayout, exportLayouts, importLayout, LayoutError, parseManifest } from '../src/index.js';
import { send, sha256 } from './helpers/http.js';
import { LayoutBuilder, OCI_LAYER_TAR, OCI_MANIFEST, REF_NAME, blobPath, readLayout, type Descriptor } from './helpers/layout.js';

type Test = Parameters<Extract<Parameters<typeof t.test>[0], (...args: any[]) => any>>[0];

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const PASSWD = '/etc/passwd';


/**
 * Every entry under `dir`, links not followed: path → file content hash,
 * `dir/`, or `-> target`. Compared before and after to prove nothing was written.
 */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      const key = relative(dir, full);
      if (entry.isSymbolicLink()) out[key] = `-> ${await readlink(full)}`;
      else if (entry.isDirectory()) {
        out[key] = 'dir/';
        await walk(full);
      } else out[key] = sha256(await readFile(full));
    }
  };
  await walk(dir);
  return out;
}

/** A layout of one image tagged v1 at `dir`; returns it with its layer's digest. */
async function writeImage(dir: string, layer = 'the layer'): Promise<{ layout: LayoutBuilder; image: Descriptor & { bytes: Buffer }; layer: string }> {
  const layout = new LayoutBuilder();
  const image = layout.image({ layers: [layer] });
  layout.entry(image, 'v1');
  await layout.write(dir);
  return { layout, image, layer: sha256(layer) };
}

/** Rejects with a LayoutError whose message matches; returns it. */
async function refused(t: Test, promise: Promise<unknown>, message: RegExp, what: string): Promise<LayoutError | undefined> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  t.ok(error instanceof LayoutError, `${what}: refused with a LayoutError (got ${error === undefined ? 'success' : String(error)})`);
  if (error instanceof LayoutError) t.match(error.message, message, `${what}: says why`);
  return error instanceof LayoutError ? error : undefined;
}

/** A store that holds one image in repository `name`, imported from a layout. */
async function storeWith(base: string, name: string, layer = 'exported layer'): Promise<{ store: MemoryStore; image: Descriptor & { bytes: Buffer } }> {
  const source = join(base, `source-${name.replaceAll('/', '-')}`);
  const { image } = await writeImage(source, layer);
  const store = new MemoryStore();
  await importLayout(store, source, { name });
  return { store, image };
}

t.test('importLayout: a layer linked to /etc/passwd is refused even when index.json names its true digest and size', async (t) => {
  const passwd = await readFile(PASSWD);
  const base = t.testdir();
  const dir = join(base, 'app');
  const layout = new LayoutBuilder();
  const config = layout.blob(JSON.stringify({ architecture: 'amd64', os: 'linux' }), 'application/vnd.oci.image.config.v1+json');
  // The manifest names /etc/passwd's real digest and size: a layout that would verify if read through the link.
  const stolen: Descriptor = { mediaType: OCI_LAYER_TAR, digest: sha256(passwd), size: passwd.length };
  const image = layout.manifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [stolen] });
  layout.entry(image, 'v1');
  await layout.write(dir);
  await symlink(PASSWD, blobPath(dir, stolen.digest));

  const store = new MemoryStore();
  const error = await refused(t, importLayout(store, dir), /symbolic link that leaves the layout directory/, 'layer → /etc/passwd');
  t.equal(error?.file, `blobs/sha256/${stolen.digest.slice(7)}`, 'the error names the linked file');
  t.equal(await store.blob('app', stolen.digest), undefined, '/etc/passwd is not in the store');
  t.equal(await store.manifest('app', 'v1'), undefined, 'the image is not stored');
  t.notMatch(error?.message ?? '', /root:/, 'no byte of the target in the message');

  // A relative link that climbs out (blobs/sha256/../../../../etc/passwd) is the same.
  await rm(blobPath(dir, stolen.digest));
  await symlink(join('..', '..', '..', '..', '..', '..', '..', '..', '..', '..', 'etc', 'passwd'), blobPath(dir, stolen.digest));
  await refused(t, importLayout(new MemoryStore(), dir), /leaves the layout directory/, 'relative link climbing out');
});

t.test('importLayout: oci-layout, index.json and blobs/sha256 linked outside are refused; a linked layout root is fine', async (t) => {
  const base = t.testdir();
  const outside = join(base, 'outside');
  const real = join(outside, 'real');
  const { image } = await writeImage(real);
  const before = await tree(outside);

  const cases: [string, (dir: string) => Promise<void>][] = [
    ['oci-layout', async (dir) => {
      await rm(join(dir, 'oci-layout'));
      await symlink(join(real, 'oci-layout'), join(dir, 'oci-layout'));
    }],
    ['index.json', async (dir) => {
      await rm(join(dir, 'index.json'));
      await symlink(join(real, 'index.json'), join(dir, 'index.json'));
    }],
    ['blobs/sha256', async (dir) => {
      await rm(join(dir, 'blobs', 'sha256'), { recursive: true });
      await symlink(join(real, 'blobs', 'sha256'), join(dir, 'blobs', 'sha256'));
    }],
  ];
  for (const [i, [file, link]] of cases.entries()) {
    const dir = join(base, `case${i}`, 'app');
    await writeImage(dir);
    await link(dir);
    const store = new MemoryStore();
    await refused(t, importLayout(store, dir), /leaves the layout directory/, `${file} linked outside`);
    t.same((await store.repositories()).items, [], `${file}: nothing stored`);
  }

  // The directory given may itself be a link: its target is the layout, and is read.
  const linkedRoot = join(base, 'linked-root');
  await mkdir(linkedRoot);
  await symlink(real, join(linkedRoot, 'app'));
  const store = new MemoryStore();
  await importLayout(store, join(linkedRoot, 'app'), { name: 'app' });
  t.same((await store.manifest('app', 'v1'))?.bytes, image.bytes, 'a layout reached through a linked root is read');
  t.same(await tree(outside), before, 'nothing written outside');
});

t.test('importLayout: ref.name annotations that look like paths never become paths or names outside the grammar', async (t) => {
  const base = t.testdir();
  const hostile = [
    '../../x', '../../x:v1', '..', '../..', '/etc/passwd:v1', '/abs', 'a/../../b:v1', 'x/./y:v1', './x:v1',
    '%2e%2e/x:v1', '..%2fx', 'C:\\x', 'team\\..\\..\\x:v1', 'team/app:../../x', '..:v1', 'app:v1/../../x',
    'app:v1\r\nX-Injected: 1', 'a//b:v1', 'x/:v1', 'app:..',
  ];
  for (const [i, refName] of hostile.entries()) {
    const dir = join(base, `case${i}`, 'app');
    const layout = new LayoutBuilder();
    layout.entry(layout.image({ layers: [`layer ${i}`] }), refName);
    await layout.write(dir);
    const before = await tree(base);
    const store = new MemoryStore();
    const error = await importLayout(store, dir).then(() => undefined, (e: unknown) => e);
    // Either refused, naming index.json, or stored under a valid name and tag; never anything else.
    if (error !== undefined) {
      t.ok(error instanceof LayoutError, `${JSON.stringify(refName)}: a LayoutError`);
      t.equal((error as LayoutError).file, 'index.json', `${JSON.stringify(refName)}: the error names index.json`);
      t.same((await store.repositories()).items, [], `${JSON.stringify(refName)}: nothing stored`);
    } else {
      const names = (await store.repositories()).items;
      for (const name of names) {
        t.match(name, /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/, `${JSON.stringify(refName)}: stored under a valid name ${name}`);
        for (const tag of (await store.tags(name))?.items ?? []) t.match(tag, /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/, `${JSON.stringify(refName)}: valid tag ${tag}`);
      }
    }
    t.same(await tree(base), before, `${JSON.stringify(refName)}: nothing written anywhere`);
  }

  // The path-looking ones specifically are refused (they name no valid repository).
  for (const refName of ['../../x', '/etc/passwd:v1', 'a/../../b:v1', '..']) {
    const dir = join(base, `strict-${hostile.indexOf(refName)}`, 'app');
    const layout = new LayoutBuilder();
    layout.entry(layout.image(), refName);
    await layout.write(dir);
    await refused(t, importLayout(new MemoryStore(), dir), /ref\.name|tag/, `ref.name ${JSON.stringify(refName)}`);
  }
});

t.test('importLayout: digests that look like paths are refused before any file is opened', async (t) => {
  const base = t.testdir();
  const hex = 'a'.repeat(64);
  const digests = [
    'sha256:../../../../etc/passwd', `sha256:../${hex.slice(3)}`, `SHA256:${hex}`, `sha256:${hex.toUpperCase()}`,
    `md5:${hex.slice(0, 32)}`, `../sha256:${hex}`, `sha256:${hex}/../../x`, `sha256:${hex}%2f..`, `sha256/../../x:${hex}`, `sha256:${hex}\u0000`,
  ];
  for (const [i, digest] of digests.entries()) {
    const dir = join(base, `case${i}`, 'app');
    const layout = new LayoutBuilder();
    const image = layout.image();
    // Once as an index.json entry, once as a layer of an otherwise valid image.
    layout.entry({ mediaType: OCI_MANIFEST, digest, size: 10 }, 'v1');
    await layout.write(dir);
    await refused(t, importLayout(new MemoryStore(), dir), /digest/, `index.json entry ${JSON.stringify(digest)}`);

    const inner = join(base, `inner${i}`, 'app');
    const nested = new LayoutBuilder();
    const config = nested.blob('{}', 'application/vnd.oci.image.config.v1+json');
    const manifest = nested.manifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [{ mediaType: OCI_LAYER_TAR, digest, size: 10 }] });
    nested.entry(manifest, 'v1');
    await nested.write(inner);
    await refused(t, importLayout(new MemoryStore(), inner), /digest/, `layer ${JSON.stringify(digest)}`);
    t.ok(image.digest.startsWith('sha256:'));
  }
});

t.test('importLayout: a FIFO where a blob or oci-layout should be is refused, not waited on forever', async (t) => {
  const base = t.testdir();
  for (const which of ['layer', 'oci-layout'] as const) {
    const dir = join(base, which, 'app');
    const { layer } = await writeImage(dir);
    const file = which === 'layer' ? blobPath(dir, layer) : join(dir, 'oci-layout');
    await rm(file);
    await promisify(execFile)('mkfifo', [file]);
    // No stopwatch and no watchdog: nobody ever opens the FIFO for writing, so an import that
    // opened it would block forever (tap's timeout fails it); settling at all is the proof.
    const result = await importLayout(new MemoryStore(), dir).then(() => 'imported', (e: unknown) => e);
    t.ok(result instanceof LayoutError, `${which} FIFO: a LayoutError`);
    t.match((result as Error).message, /not a regular file/, `${which} FIFO: says it is not a regular file`);
  }
});

t.test('exportLayout: links inside the target that lead outside are never written through', async (t) => {
  const base = t.testdir();
  const outside = join(base, 'outside');
  await mkdir(join(outside, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(outside, 'victim.json'), 'keep me');
  await writeFile(join(outside, 'oci-layout'), 'keep me too');
  const { store, image } = await storeWith(base, 'app');
  const before = await tree(outside);

  // blobs → outside/blobs
  const linkedBlobs = join(base, 'linked-blobs');
  await mkdir(linkedBlobs);
  await symlink(join(outside, 'blobs'), join(linkedBlobs, 'blobs'));
  const error = await refused(t, exportLayout(store, 'app', linkedBlobs), /symbolic link that leaves the directory/, 'blobs/ linked outside');
  t.equal(error?.file, 'blobs', 'the error names blobs');

  // blobs/sha256 → outside/blobs/sha256
  const linkedAlg = join(base, 'linked-alg');
  await mkdir(join(linkedAlg, 'blobs'), { recursive: true });
  await symlink(join(outside, 'blobs', 'sha256'), join(linkedAlg, 'blobs', 'sha256'));
  await refused(t, exportLayout(store, 'app', linkedAlg), /leaves the directory/, 'blobs/sha256 linked outside');

  // index.json and oci-layout as links to files outside: replaced, never written through.
  const linkedFiles = join(base, 'linked-files');
  await mkdir(linkedFiles);
  await symlink(join(outside, 'victim.json'), join(linkedFiles, 'index.json'));
  await symlink(join(outside, 'oci-layout'), join(linkedFiles, 'oci-layout'));
  await exportLayout(store, 'app', linkedFiles);
  t.ok((await lstat(join(linkedFiles, 'index.json'))).isFile(), 'index.json is now a regular file');
  t.ok((await lstat(join(linkedFiles, 'oci-layout'))).isFile(), 'oci-layout is now a regular file');
  t.same((await readLayout(linkedFiles)).index.manifests.map((m) => m.digest), [image.digest], 'the export is complete');

  t.same(await tree(outside), before, 'nothing outside was created, changed or removed');

  // A link that stays inside the target is followed: the files land inside.
  const inside = join(base, 'inside');
  await mkdir(join(inside, 'real-blobs'), { recursive: true });
  await symlink(join(inside, 'real-blobs'), join(inside, 'blobs'));
  await exportLayout(store, 'app', inside);
  t.ok((await lstat(join(inside, 'real-blobs', 'sha256', image.digest.slice(7)))).isFile(), 'written through a link that stays inside');
});

t.test('exportLayouts: nested repository directories linked outside, or in the way, are refused', async (t) => {
  const base = t.testdir();
  const outside = join(base, 'outside');
  await mkdir(outside);
  const { store } = await storeWith(base, 'team/tools/app');
  const before = await tree(outside);

  // out/team is real, out/team/tools leads outside.
  const nested = join(base, 'nested');
  await mkdir(join(nested, 'team'), { recursive: true });
  await symlink(outside, join(nested, 'team', 'tools'));
  const error = await refused(t, exportLayouts(store, nested), /leaves the directory/, 'team/tools linked outside');
  t.equal(error?.file, join('team', 'tools'));

  // The last component leads outside.
  const last = join(base, 'last');
  await mkdir(join(last, 'team', 'tools'), { recursive: true });
  await symlink(outside, join(last, 'team', 'tools', 'app'));
  await refused(t, exportLayouts(store, last), /leaves the directory/, 'team/tools/app linked outside');

  // A file where a directory should be.
  const file = join(base, 'file');
  await mkdir(join(file, 'team'), { recursive: true });
  await writeFile(join(file, 'team', 'tools'), 'a file');
  await refused(t, exportLayouts(store, file), /exists and is not a directory/, 'a file in the way');
  t.equal(await readFile(join(file, 'team', 'tools'), 'utf8'), 'a file', 'the file in the way is untouched');

  t.same(await tree(outside), before, 'nothing written outside');
});

t.test('exportLayouts: a repository name that is not a valid name (put in the store directly) is never a path', async (t) => {
  const base = t.testdir();
  const out = join(base, 'out');
  const store = new MemoryStore();
  const bytes = Buffer.from('planted');
  await store.putBlob('../../escaped', { digest: sha256(bytes), size: bytes.length, segments: [bytes] });
  await refused(t, exportLayouts(store, out), /cannot be a directory name/, 'name ../../escaped');
  t.same(await readdir(base), ['out'], 'nothing created beside the export directory');
  t.same(await readdir(out), [], 'nothing created inside it either');
});

/** Runs the CLI from src/ (through tsx) with `args`. */
function cli(t: Test, args: string[]): { ready: Promise<string>; exited: Promise<{ code: number | null; stderr: string }>; kill(signal: NodeJS.Signals): void } {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.PORT;
  const script = `import { main } from ${JSON.stringify(CLI)}; await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then(({ code }) => reject(new Error(`the CLI exited with ${code} before its ready line: ${stderr}`)));
  });
  ready.catch(() => undefined);
  return { ready, exited, kill: (signal) => child.kill(signal) };
}

t.test('--seed with a layer linked to /etc/passwd: exit 2, naming the file; --export into a tree linked outside: exit 1, nothing written', async (t) => {
  const base = t.testdir();
  const dir = join(base, 'app');
  const { layer } = await writeImage(dir);
  await rm(blobPath(dir, layer));
  await symlink(PASSWD, blobPath(dir, layer));
  const seeded = cli(t, ['--port', '0', '--seed', dir]);
  const { code, stderr } = await seeded.exited;
  t.equal(code, 2, '--seed refused: exit 2');
  t.match(stderr, new RegExp(`--seed .*blobs/sha256/${layer.slice(7)}: is a symbolic link that leaves the layout directory`), 'the message names the file');
  t.notMatch(stderr, /root:/, 'no byte of the target on stderr');

  const outside = join(base, 'outside');
  await mkdir(outside);
  const out = join(base, 'out');
  await mkdir(out);
  await symlink(outside, join(out, 'app'));
  const source = join(base, 'good', 'app');
  await writeImage(source, 'good layer');
  const running = cli(t, ['--port', '0', '--seed', source, '--export', out]);
  const url = await running.ready;
  t.equal((await send(url, 'GET', '/v2/app/manifests/v1')).status, 200, 'seeded');
  running.kill('SIGTERM');
  const exported = await running.exited;
  t.equal(exported.code, 1, '--export refused: exit 1');
  t.match(exported.stderr, /--export failed: .*app: is a symbolic link that leaves the directory/);
  t.same(await readdir(outside), [], 'nothing written outside');
});

t.test('exportLayout writes a tag only as an annotation, never as a path, whatever the tag', async (t) => {
  const base = t.testdir();
  const { store, image } = await storeWith(base, 'app');
  // The Store API takes tags as given (HTTP and importLayout check them); what export does with one is write an annotation.
  await store.putManifest('app', parseManifest(image.bytes, OCI_MANIFEST), ['../../x']);
  const out = join(base, 'out');
  await exportLayout(store, 'app', out);
  const layout = await readLayout(out);
  t.same(layout.index.manifests.map((m) => (m.annotations as Record<string, string>)[REF_NAME]).sort(), ['../../x', 'v1'], 'the tag is written as an annotation');
  t.same((await readdir(base)).sort(), ['out', 'source-app'], 'and never used as a path');
  t.same((await readdir(out)).sort(), ['blobs', 'index.json', 'oci-layout']);
  // Read back without a name, the hostile ref.name is refused rather than used.
  await refused(t, importLayout(new MemoryStore(), out), /ref\.name "\.\.\/\.\.\/x"/, 'importing it back');
});

t.test('importLayout { name } (--seed NAME=DIR): a ref.name that is no reference (../../x) is refused, not imported as "latest"', async (t) => {
  // parseRefName reads "../../x" as a reference to repository "../x" (its ".." first
  // component taken for a registry host) with no tag, hence "latest". Without a
  // name option, "../x" fails the name check and the layout is refused; with one,
  // the name part is replaced unchecked and the entry silently becomes app:latest,
  // overwriting whatever the layout tagged "latest".
  const base = t.testdir();
  const dir = join(base, 'layout');
  const layout = new LayoutBuilder();
  const real = layout.image({ layers: ['the real latest'] });
  const hostile = layout.image({ layers: ['from a hostile ref.name'] });
  layout.entry(real, 'latest').entry(hostile, '../../x');
  await layout.write(dir);
  const store = new MemoryStore();
  await refused(t, importLayout(store, dir, { name: 'app' }), /ref\.name "\.\.\/\.\.\/x"/, 'ref.name ../../x with a name given');
  const latest = await store.manifest('app', 'latest');
  t.not(latest?.digest, hostile.digest, 'the hostile entry did not take the tag "latest"');
});
