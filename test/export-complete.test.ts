// exportLayout writes everything a repository holds: tagged manifests first,
// then untagged roots as untagged index.json entries (their children as blobs),
// and blobs no manifest names as blob files.
import t from 'tap';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore, exportLayout, importLayout } from '../src/index.js';
import { sha256 } from './helpers/digest.js';

t.test('an export holds untagged manifests and orphan blobs too', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'export-complete-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const store = new MemoryStore();
  const tagged = await store.pushImage('team/app', { tag: 'v1', layers: ['tagged layer'] });
  const amd64 = await store.pushImage('team/app', { layers: ['amd64 layer'], platform: { architecture: 'amd64', os: 'linux' } });
  const arm64 = await store.pushImage('team/app', { layers: ['arm64 layer'], platform: { architecture: 'arm64', os: 'linux' } });
  const index = await store.pushIndex('team/app', { manifests: [amd64, arm64] });
  const loose = await store.pushImage('team/app', { layers: ['untagged, unreferenced'] });
  const orphan = await store.seedBlob('team/app', 'a blob no manifest names');

  const result = await exportLayout(store, 'team/app', dir);
  const written = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
  const entries = written.manifests.map((e: { digest: string; annotations?: Record<string, string> }) => [e.digest, e.annotations?.['org.opencontainers.image.ref.name'] ?? null]);
  t.same(entries.slice(0, 1), [[tagged.digest, 'v1']], 'the tag comes first');
  t.same(new Set(entries.slice(1).map((e: [string, unknown]) => e[0])), new Set([index.digest, loose.digest]), 'untagged roots follow; the index children are not entries');
  t.ok(entries.slice(1).every((e: [string, unknown]) => e[1] === null), 'untagged entries carry no ref.name');

  // The expected content from what this test pushed, not from the store's own listing: five
  // manifests, and every config and layer they name (sha256 of the bytes the test gave), plus the orphan.
  const images = [tagged, amd64, arm64, loose];
  const manifests = [...images, index].map((m) => m.digest).sort();
  const named = images.flatMap((m) => [m.manifest.config.digest as string, ...(m.manifest.layers as { digest: string }[]).map((l) => l.digest)]);
  t.ok(named.includes(sha256('tagged layer')) && named.includes(sha256('untagged, unreferenced')), 'the layers are the bytes pushed');
  const expected = new Set([...manifests, ...named, orphan.digest, sha256('a blob no manifest names')].map((d) => d.slice('sha256:'.length)));
  t.equal(expected.size, 5 + 4 + 4 + 1, 'five manifests, four configs, four layers and the orphan, all distinct');
  const files = new Set(await readdir(join(dir, 'blobs', 'sha256')));
  t.same([...files].sort(), [...expected].sort(), 'the blob files are exactly these, nothing missing and nothing else');
  t.equal(result.manifests, manifests.length, 'every manifest counted');
  t.same(result.missing, []);

  // Read back: every manifest returns (the orphan blob has no manifest to bring it).
  const again = new MemoryStore();
  await importLayout(again, dir, { name: 'team/app' });
  t.same([...(await again.contents('team/app'))!.manifests].sort(), manifests, 'every manifest imported back');
  t.same(await again.listTags('team/app'), ['v1']);
});
