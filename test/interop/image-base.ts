// No image registry is reachable from the test machine, so the image test
// cannot pull node:20-bookworm-slim. It makes the equivalent from this
// machine instead: a root filesystem holding the running `node` binary, the
// npm that ships next to it, /bin/sh and /usr/bin/env (the Dockerfile's RUN
// steps and npm's scripts need them), the shared libraries `ldd` lists for
// those, the machine's CA bundle (npm inside the build reaches the npm
// registry as this machine does), and /etc/passwd and /etc/group with the
// non-root user `node` (uid 1000) that official Node images have. That tree
// is `docker import`ed as a local image the Dockerfile's NODE_IMAGE names.
import { execFile, spawn } from 'node:child_process';
import { chmod, chown, copyFile, cp, mkdir, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import type { Dockerd } from './daemons.js';

const execFileAsync = promisify(execFile);

/** One docker command of the image test (a vfs build of the image takes minutes). */
const COMMAND_TIMEOUT_MS = 540_000;

/** A private dockerd whose commands reject, with their stderr, when they fail. */
export interface StrictDockerd {
  host: string;
  docker(args: string[], options?: { input?: Readable; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }>;
}

/**
 * The image tests build on each step (base image → build → run), so the
 * first docker command that fails ends the test with what docker said.
 */
export function strict(dockerd: Dockerd): StrictDockerd {
  return {
    host: dockerd.host,
    async docker(args, options = {}) {
      const outcome = await dockerd.docker(args, { timeoutMs: COMMAND_TIMEOUT_MS, ...options });
      if (outcome.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${outcome.code}: ${outcome.stderr}`);
      return { stdout: outcome.stdout.toString('utf8'), stderr: outcome.stderr };
    },
  };
}

/** Where the machine's CA bundle is (Debian's ca-certificates). */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** The absolute library paths `ldd FILE` lists (the vdso has none). */
async function sharedLibraries(file: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ldd', [file]);
  return [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
}

/** Copies an executable and every library it links into `root`, at the same paths. */
async function copyWithLibraries(root: string, file: string, at = file): Promise<void> {
  await mkdir(join(root, dirname(at)), { recursive: true });
  await copyFile(file, join(root, at));
  for (const library of await sharedLibraries(file)) {
    await mkdir(join(root, dirname(library)), { recursive: true });
    // cp -L: the library itself, not the symlink to it.
    await copyFile(await realpath(library), join(root, library));
  }
}

/** Builds the root filesystem in `root` and imports it into the daemon as `tag`. */
export async function importNodeBaseImage(dockerd: StrictDockerd, root: string, tag: string): Promise<void> {
  const node = await realpath(process.execPath);
  const npm = join(dirname(dirname(node)), 'lib/node_modules/npm');
  try {
    await stat(join(npm, 'bin/npm-cli.js'));
  } catch {
    throw new Error(`npm is not next to ${node} (looked in ${npm}): the base image needs both`);
  }
  // The layout of the official images: node and npm under /usr/local.
  await copyWithLibraries(root, node, '/usr/local/bin/node');
  await cp(npm, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
  await copyWithLibraries(root, await realpath('/bin/sh'), '/bin/sh');
  await copyWithLibraries(root, await realpath('/usr/bin/env'), '/usr/bin/env');
  await mkdir(join(root, 'etc/ssl/certs'), { recursive: true });
  await copyFile(CA_BUNDLE, join(root, CA_BUNDLE));
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  await mkdir(join(root, 'root'), { recursive: true });
  await mkdir(join(root, 'home/node'), { recursive: true });
  await chown(join(root, 'home/node'), 1000, 1000);
  // The image's / (mkdtemp made it 0700): the user node must get through it.
  await chmod(root, 0o755);
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);

  const tar = spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await dockerd.docker(
    [
      'import',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      // Official images trust node's bundled CAs; this machine's npm registry may need its own.
      '--change', `ENV NODE_EXTRA_CA_CERTS=${CA_BUNDLE}`,
      '-', tag,
    ],
    { input: tar.stdout },
  );
}
