import t from 'tap';
import { mkdir, readFile, rm, stat, symlink, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryStore } from '../src/index.js';
import { importLayout } from '../src/layout/import.js';
import { exportLayout, exportLayouts } from '../src/layout/export.js';
import { LayoutError } from '../src/layout/layout.js';
import { parseRefName } from '../src/layout/ref-name.js';
import { LayoutBuilder, OCI_MANIFEST, REF_NAME, blobPath, readLayout, type Descriptor } from './helpers/layout.js';

async function bytesOf(store: MemoryStore, name: string, digest: string): Promise<Buffer | undefined> {
  const blob = await store.blob(name, digest);
  return blob && Buffer.concat(blob.segments as Buffer[]);
}

/** A directory `name` under `base` (the name matters: it is the default repository). */
async function layoutDir(base: string, name = 'app'): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

t.test('parseRefName: bare tags and full references', async (t) => {
  const rows: [string, ReturnType<typeof parseRefName>][] = [
    ['v1', { tag: 'v1' }],
    ['latest', { tag: 'latest' }],
    ['app:v1', { name: 'app', tag: 'v1' }],
    ['team/app:v1', { name: 'team/app', tag: 'v1' }],
    ['docker.io/library/alpine:3.20', { name: 'library/alpine', tag: '3.20' }],
    ['localhost:5000/team/app:v2', { name: 'team/app', tag: 'v2' }],
    ['localhost/app:v2', { name: 'app', tag: 'v2' }],
    ['example.com/app', { name: 'app', tag: 'latest' }],
    ['team/app', { name: 'team/app', tag: 'latest' }],
    [`example.com/app@sha256:${'a'.repeat(64)}`, { name: 'app' }],
    [`example.com/app:v1@sha256:${'a'.repeat(64)}`, { name: 'app', tag: 'v1' }],
  ];
  for (const [input, expected] of rows) t.same(parseRefName(input), expected, input);
});

t.test('importLayout stores every entry as a push would, byte for byte', async (t) => {
  const dir = await layoutDir(t.testdir(), 'app');
  const layout = new LayoutBuilder();
  const one = layout.image({ layers: ['one'] });
  const two = layout.image({ layers: ['two', 'shared'] });
  const three = layout.image({ layers: ['three', 'shared'] });
  const untagged = layout.image({ layers: ['untagged'] });
  layout.entry(one, 'v1').entry(two, 'example.com/team/other:v2').entry(three).entry(untagged);
  layout.entry(one, 'stable');
  await layout.write(dir);

  const store = new MemoryStore();
  const result = await importLayout(store, dir);
  t.same(result.manifests.map((m) => [m.name, m.tags]), [['app', ['v1']], ['team/other', ['v2']], ['app', []], ['app', []], ['app', ['stable']]]);
  t.same((await store.tags('app'))?.items, ['stable', 'v1']);
  t.same((await store.tags('team/other'))?.items, ['v2']);
  t.same((await store.manifest('app', 'v1'))?.bytes, one.bytes);
  t.same((await store.manifest('app', three.digest))?.bytes, three.bytes, 'untagged entries are stored by digest');
  t.equal((await store.manifest('app', 'v1'))?.mediaType, OCI_MANIFEST);
  const manifests = new Set([one, two, three, untagged].map((m) => m.digest));
  for (const [digest, bytes] of layout.blobs) {
    if (manifests.has(digest)) continue;
    const inApp = await bytesOf(store, 'app', digest);
    const inOther = await bytesOf(store, 'team/other', digest);
    t.ok((inApp ?? inOther)?.equals(bytes), `blob ${digest.slice(7, 19)} stored whole`);
  }
  t.equal(await store.blob('app', two.digest), undefined, 'a manifest is not a blob of the repository');
});

t.test('an index is stored after its children, which need no index.json entry', async (t) => {
  const dir = await layoutDir(t.testdir());
  const layout = new LayoutBuilder();
  const amd = layout.image({ layers: ['amd64'] });
  const arm = layout.image({ layers: ['arm64'] });
  const index = layout.index([amd, arm]);
  const outer = layout.index([index]);
  layout.entry(outer, 'multi');
  await layout.write(dir);
  const store = new MemoryStore();
  await importLayout(store, dir);
  t.same((await store.manifest('app', 'multi'))?.bytes, outer.bytes);
  t.same((await store.manifest('app', index.digest))?.bytes, index.bytes);
  t.same((await store.manifest('app', amd.digest))?.bytes, amd.bytes);
  t.same((await store.manifest('app', arm.digest))?.bytes, arm.bytes);
  t.same((await store.tags('app'))?.items, ['multi']);
});

t.test('name and tag options', async (t) => {
  const base = t.testdir();
  const dir = await layoutDir(base);
  const layout = new LayoutBuilder();
  const one = layout.image({ layers: ['one'] });
  const two = layout.image({ layers: ['two'] });
  layout.entry(one, 'v1').entry(two, 'docker.io/library/thing:v2');
  await layout.write(dir);

  const named = new MemoryStore();
  await importLayout(named, dir, { name: 'elsewhere/app' });
  t.same((await named.repositories()).items, ['elsewhere/app'], 'name puts every entry in one repository');
  t.same((await named.tags('elsewhere/app'))?.items, ['v1', 'v2']);

  const picked = new MemoryStore();
  const result = await importLayout(picked, dir, { name: 'pick', tag: 'v2' });
  t.same(result.manifests.map((m) => [m.name, m.digest, m.tags]), [['pick', two.digest, ['v2']]], 'tag picks the entry whose ref.name tag matches');
  t.same((await picked.repositories()).items, ['pick']);

  await t.rejects(importLayout(new MemoryStore(), dir, { tag: 'v9' }), { name: 'LayoutError', file: 'index.json', message: /no entry has the tag "v9".*"v1", "docker.io\/library\/thing:v2"/ });

  const single = await layoutDir(base, 'single');
  const only = new LayoutBuilder();
  only.entry(only.image(), 'whatever');
  await only.write(single);
  const store = new MemoryStore();
  await importLayout(store, single, { name: 'renamed', tag: 'now' });
  t.same((await store.tags('renamed'))?.items, ['now'], 'a single entry takes the given tag whatever its ref.name');
});

t.test('a layout that is wrong is refused with the file and the problem', async (t) => {
  const cases: { name: string; dirName?: string; damage: (dir: string, layout: LayoutBuilder, image: Descriptor) => Promise<void>; file: string | RegExp; message: RegExp; options?: object }[] = [
    { name: 'no oci-layout', damage: (dir) => rm(join(dir, 'oci-layout')), file: 'oci-layout', message: /oci-layout: does not exist/ },
    { name: 'unknown layout version', damage: (dir) => writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}'), file: 'oci-layout', message: /"2.0.0" is not supported/ },
    { name: 'no index.json', damage: (dir) => rm(join(dir, 'index.json')), file: 'index.json', message: /index.json: does not exist/ },
    { name: 'index.json not JSON', damage: (dir) => writeFile(join(dir, 'index.json'), '{'), file: 'index.json', message: /not valid JSON/ },
    { name: 'index.json not an index', damage: (dir) => writeFile(join(dir, 'index.json'), '{"schemaVersion":2}'), file: 'index.json', message: /must be an image index/ },
    {
      name: 'bad descriptor in index.json',
      damage: (dir) => writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: OCI_MANIFEST, digest: 'sha256:../../etc/passwd', size: 1 }] })),
      file: 'index.json', message: /malformed digest/,
    },
    {
      name: 'corrupt layer', damage: async (dir, layout) => {
        const [digest] = [...layout.blobs].find(([, b]) => b.toString() === 'the layer')!;
        await writeFile(blobPath(dir, digest), 'the lay3r');
      }, file: /^blobs\/sha256\//, message: /content does not match its digest: it hashes to sha256:\w+ \(named by blobs\/sha256\/\w+ layers\[0\]\)/,
    },
    {
      name: 'layer of the wrong size', damage: async (dir, layout) => {
        const [digest] = [...layout.blobs].find(([, b]) => b.toString() === 'the layer')!;
        await writeFile(blobPath(dir, digest), 'the layer, longer');
      }, file: /^blobs\/sha256\//, message: /is 17 bytes, but blobs\/sha256\/\w+ layers\[0\] says 9/,
    },
    {
      name: 'missing config', damage: async (dir, _layout, image) => {
        const manifest = JSON.parse(await readFile(blobPath(dir, image.digest), 'utf8'));
        await rm(blobPath(dir, manifest.config.digest));
      }, file: /^blobs\/sha256\//, message: /does not exist \(named by blobs\/sha256\/\w+ config\)/,
    },
    {
      name: 'manifest over the limit', damage: async () => undefined, options: { maxManifestBytes: 10 },
      file: /^blobs\/sha256\//, message: /manifest, larger than the limit of 10 bytes/,
    },
    {
      name: 'storage limit', damage: async () => undefined, options: { store: new MemoryStore({ maxStorageBytes: 5 }) },
      file: /^blobs\/sha256\//, message: /storage limit reached/,
    },
    { name: 'bare tag in a directory that is no repository name', dirName: 'Not_A_Name', damage: async () => undefined, file: 'index.json', message: /directory name "Not_A_Name".*name the repository explicitly/ },
  ];
  const base = t.testdir();
  for (const [i, c] of cases.entries()) {
    const dir = await layoutDir(join(base, `case${i}`), c.dirName ?? 'app');
    const layout = new LayoutBuilder();
    const image = layout.image({ layers: ['the layer'] });
    layout.entry(image, 'v1');
    await layout.write(dir);
    await c.damage(dir, layout, image);
    const { store, ...options } = (c.options ?? {}) as { store?: MemoryStore; maxManifestBytes?: number };
    const error = await importLayout(store ?? new MemoryStore(), dir, options).then(() => undefined, (e: unknown) => e);
    t.ok(error instanceof LayoutError, `${c.name}: a LayoutError`);
    const { file, message } = error as LayoutError;
    if (typeof c.file === 'string') t.equal(file, c.file, `${c.name}: file`);
    else t.match(file, c.file, `${c.name}: file`);
    t.match(message, c.message, `${c.name}: message`);
    t.ok(message.startsWith(dir), `${c.name}: the message starts with the path`);
  }
});

t.test('a manifest whose media type disagrees with its descriptor is refused', async (t) => {
  const dir = await layoutDir(t.testdir());
  const layout = new LayoutBuilder();
  const image = layout.image();
  layout.entry({ ...image, mediaType: 'application/vnd.oci.image.index.v1+json' }, 'v1');
  await layout.write(dir);
  await t.rejects(importLayout(new MemoryStore(), dir), { name: 'LayoutError', message: /mediaType is application\/vnd.oci.image.manifest.v1\+json, but index.json manifests\[0\] says/ });
});

t.test('nothing is read through a symbolic link that leaves the layout', async (t) => {
  const base = t.testdir();
  const outside = join(base, 'outside');
  await mkdir(outside);
  const dir = join(base, 'app');
  const layout = new LayoutBuilder();
  const image = layout.image({ layers: ['secret'] });
  layout.entry(image, 'v1');
  await layout.write(dir);
  // The layer's file becomes a link to a file outside holding the very same bytes.
  const [digest, bytes] = [...layout.blobs].find(([, b]) => b.toString() === 'secret')!;
  await writeFile(join(outside, 'secret'), bytes);
  await rm(blobPath(dir, digest));
  await symlink(join(outside, 'secret'), blobPath(dir, digest));
  await t.rejects(importLayout(new MemoryStore(), dir), { name: 'LayoutError', message: /symbolic link that leaves the layout directory/ });

  // A link that stays inside the layout is fine.
  await rm(blobPath(dir, digest));
  await writeFile(join(dir, 'secret-copy'), bytes);
  await symlink(join('..', '..', 'secret-copy'), blobPath(dir, digest));
  const store = new MemoryStore();
  await importLayout(store, dir);
  t.same(await bytesOf(store, 'app', digest), bytes);

  // The whole blobs/ directory linked outside.
  const linked = join(base, 'linked');
  await layout.write(join(outside, 'real'));
  await mkdir(linked);
  await writeFile(join(linked, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(linked, 'index.json'), JSON.stringify(layout.indexJson()));
  await symlink(join(outside, 'real', 'blobs'), join(linked, 'blobs'));
  await t.rejects(importLayout(new MemoryStore(), linked), { name: 'LayoutError', message: /leaves the layout directory/ });
});

t.test('exportLayout writes what importLayout read: the same index.json and blob files', async (t) => {
  const base = t.testdir();
  const input = join(base, 'in', 'app');
  const layout = new LayoutBuilder();
  const { one, two, index } = layout.twoImages();
  const signature = layout.artifact(index, 'application/vnd.example.signature', 'signed');
  // Tags in list order, then referrers, as exportLayout writes them.
  layout.entry(index, 'multi').entry(one, 'one').entry(two, 'two');
  layout.entry(signature, undefined, { artifactType: 'application/vnd.example.signature' });
  await layout.write(input);

  const store = new MemoryStore();
  await importLayout(store, input);
  const output = join(base, 'out');
  const result = await exportLayout(store, 'app', output);
  t.match(result, { name: 'app', tags: 3, manifests: 4, missing: [] });

  const [expected, actual] = await Promise.all([readLayout(input), readLayout(output)]);
  t.same(actual.ociLayout, expected.ociLayout);
  t.same(actual.index, expected.index);
  t.same([...actual.blobs.keys()].sort(), [...expected.blobs.keys()].sort());
  for (const [file, bytes] of expected.blobs) t.ok(actual.blobs.get(file)?.equals(bytes), `${file} byte for byte`);

  // And what was exported imports again.
  const again = new MemoryStore();
  await importLayout(again, output, { name: 'app' });
  t.same((await again.tags('app'))?.items, ['multi', 'one', 'two']);
});

t.test('exportLayouts writes one layout per repository, nested names as directories', async (t) => {
  const base = t.testdir();
  const store = new MemoryStore();
  for (const name of ['app', 'team/app', 'team/tools/lint']) {
    const dir = join(base, name.replaceAll('/', '-'));
    const layout = new LayoutBuilder();
    layout.entry(layout.image({ layers: [name] }), 'v1');
    await layout.write(dir);
    await importLayout(store, dir, { name });
  }
  const out = join(base, 'export');
  const results = await exportLayouts(store, out);
  t.same(results.map((r) => r.name), ['app', 'team/app', 'team/tools/lint']);
  for (const name of ['app', 'team/app', 'team/tools/lint']) {
    const layout = await readLayout(join(out, ...name.split('/')));
    t.same(layout.index.manifests.map((m) => (m.annotations as Record<string, string> | undefined)?.[REF_NAME]), ['v1'], name);
  }
});

t.test('nothing is written through a symbolic link that leaves the export directory', async (t) => {
  const base = t.testdir();
  const outside = join(base, 'outside');
  const out = join(base, 'out');
  await mkdir(outside);
  await mkdir(out);
  await symlink(outside, join(out, 'team'));
  const store = new MemoryStore();
  const dir = join(base, 'in');
  const layout = new LayoutBuilder();
  layout.entry(layout.image(), 'v1');
  await layout.write(dir);
  await importLayout(store, dir, { name: 'team/app' });
  await t.rejects(exportLayouts(store, out), { name: 'LayoutError', file: 'team', message: /leaves the directory/ });
  t.same(await readdir(outside), [], 'nothing written outside');

  // A blob file replaced by a link: the link is replaced, its target untouched.
  const target = join(outside, 'victim');
  await writeFile(target, 'keep me');
  const single = join(base, 'single');
  await exportLayout(store, 'team/app', single);
  const manifest = (await readLayout(single)).index.manifests[0]!;
  await rm(blobPath(single, manifest.digest));
  await symlink(target, blobPath(single, manifest.digest));
  await exportLayout(store, 'team/app', single);
  t.equal(await readFile(target, 'utf8'), 'keep me');
  t.ok((await stat(blobPath(single, manifest.digest))).isFile());
});
