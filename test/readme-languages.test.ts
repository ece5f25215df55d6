// README "From any language": the bash/curl, Python and Go blocks run as they
// stand. Their `npx oci-test-registry` finds a stand-in `npx` first on PATH
// that runs this checkout's CLI from source (any other npx call goes to the
// real one), so no published package and no build is involved. python3 and
// go must be installed: a missing one fails here (.ci/run installs them).
import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRegistry } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const start = readme.indexOf('\n## From any language');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const block = (lang: string): string[] => [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

/** Where a command is on PATH, or undefined. */
function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'oci-readme-languages-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// The stand-in npx: `npx oci-test-registry ARGS` runs src/cli.ts with tsx; anything else goes to the real npx.
const bin = join(dir, 'bin');
const runner = join(dir, 'cli.mjs');
writeFileSync(runner, `import { main } from ${JSON.stringify(join(root, 'src/cli.ts'))};\nawait main(process.argv.slice(2));\n`);
execFileSync('mkdir', ['-p', bin]);
const realNpx = which('npx') ?? 'npx';
writeFileSync(
  join(bin, 'npx'),
  `#!/bin/sh\nif [ "$1" = oci-test-registry ]; then shift; exec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(import.meta.resolve('tsx'))} ${JSON.stringify(runner)} "$@"; fi\nexec ${JSON.stringify(realNpx)} "$@"\n`,
);
chmodSync(join(bin, 'npx'), 0o755);
const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, GOCACHE: process.env.GOCACHE ?? join(dir, 'gocache'), GOFLAGS: '' };
delete env.NODE_OPTIONS;
delete env.PORT;

/** The digest the seeded image has: the same input through the Node API. */
async function seededDigest(): Promise<string> {
  const registry = createRegistry();
  const image = await registry.store.pushImage('team/app', { tag: 'v1', layers: ['hello'] });
  await registry.close();
  return image.digest;
}

const rows: { lang: string; command: (file: string) => [string, string[]]; file: string; tool: string; expect: (digest: string) => RegExp }[] = [
  { lang: 'bash', tool: 'curl', file: 'test.sh', command: (f) => ['bash', [f]], expect: () => /^"status":200\n"path":"\/v2\/team\/app\/manifests\/v1"\n$/ },
  {
    lang: 'python', tool: 'python3', file: 'test.py', command: (f) => ['python3', [f]],
    expect: (d) => new RegExp(`^pulled ${d} with status 200; journal: \\['/v2/team/app/manifests/v1'\\]\\n$`),
  },
  {
    lang: 'go', tool: 'go', file: 'main.go', command: (f) => ['go', ['run', f]],
    expect: (d) => new RegExp(`^pulled ${d} with status 200; journal: \\[\\{/v2/team/app/manifests/v1\\}\\]\\n$`),
  },
];

for (const row of rows) {
  t.test(`README "From any language": the ${row.lang} block runs as it stands`, async (t) => {
    const blocks = block(row.lang);
    t.equal(blocks.length, 1, `one ${row.lang} block`);
    t.match(blocks[0], /npx", "oci-test-registry"|npx oci-test-registry/, 'it starts the registry with npx');
    t.ok(which(row.tool), `${row.tool} is installed (.ci/run installs it when missing)`);
    if (!which(row.tool)) return;
    const file = join(dir, row.lang, row.file);
    execFileSync('mkdir', ['-p', join(dir, row.lang)]);
    writeFileSync(file, blocks[0]!);
    const [command, args] = row.command(file);
    const { stdout, stderr } = await run(command, args, { cwd: join(dir, row.lang), env }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
      t.fail(`${row.lang} failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
      return { stdout: '', stderr: '' };
    });
    t.comment(`${row.lang} output: ${stdout.trim()}`);
    t.match(stdout, row.expect(await seededDigest()), `${row.lang}: seeded, pulled, waited, read the journal${stderr ? ` (stderr: ${stderr.trim().slice(0, 300)})` : ''}`);
  });
}
