// The zero-dependency guard: the registry runs on node: builtins alone.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

t.test('package.json has no runtime dependencies', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'bundledDependencies']) {
    t.same(Object.keys(pkg[field] ?? {}), [], `${field} is empty`);
  }
  t.same(Object.keys(pkg.devDependencies).sort(), ['@sigstore/oci', '@snyk/docker-registry-v2-client', '@types/node', 'containerify', 'docker-registry-client', 'tap', 'testcontainers', 'tsx', 'typescript']);
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

t.test('src/ imports only node: modules and relative files', async (t) => {
  const files = sources(join(root, 'src'));
  t.ok(files.length > 10, 'found the sources');
  // Static imports and re-exports (`… from '…'`, `import '…'`) and dynamic import() calls.
  const patterns = [/^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of patterns.flatMap((pattern) => [...text.matchAll(pattern)])) {
      t.ok(spec!.startsWith('node:') || spec!.startsWith('./') || spec!.startsWith('../'), `${file.slice(root.length)}: ${spec}`);
    }
  }
});
