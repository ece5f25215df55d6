// The README's TypeScript examples run as written (with the package import
// pointed at src/), so the documentation cannot drift from the code.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const run = promisify(execFile);
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1]!)
  .filter((code) => code.includes("from 'oci-test-registry'"));

t.ok(examples.length >= 3, 'the README has runnable examples');

// Inside the project so that `import 'tap'` resolves from the examples.
mkdirSync(join(root, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(root, 'node_modules/.cache/readme-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

for (const [i, code] of examples.entries()) {
  t.test(`README example ${i + 1}`, async (t) => {
    const file = join(dir, `example-${i + 1}.mts`);
    writeFileSync(file, code.replaceAll("from 'oci-test-registry'", `from '${join(root, 'src/index.ts')}'`));
    // No time limit (a busy machine is only slow): a hung example fails on tap's timeout, and the
    // teardown ends its process.
    const stop = new AbortController();
    t.teardown(() => stop.abort());
    const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: root, signal: stop.signal });
    // tap examples print TAP; a failing assertion would have made the process exit non-zero.
    t.notMatch(stdout, /^not ok/m, 'no failing assertion');
  });
}
