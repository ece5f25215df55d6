// What the interop tests share: running skopeo, a temporary directory per
// test, and a small two-layer image to push.
import { execFile, type ExecFileException } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildImage, pseudoRandomBytes, type Image } from './layout.js';

export const SKOPEO = process.env.SKOPEO ?? 'skopeo';
/** One skopeo command; generous, since CI machines can be slow, but a hung client must not hang the suite. */
export const SKOPEO_TIMEOUT_MS = 120_000;

const execFileAsync = promisify(execFile);

/** How a skopeo command ended. */
export interface Outcome {
  /** Exit code; null when skopeo could not be started or was killed. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs skopeo (with --insecure-policy: no dependence on
 * /etc/containers/policy.json) and reports how it ended instead of throwing.
 */
export async function runSkopeo(args: string[], env?: NodeJS.ProcessEnv): Promise<Outcome> {
  try {
    const { stdout, stderr } = await execFileAsync(SKOPEO, ['--insecure-policy', ...args], {
      encoding: 'buffer',
      timeout: SKOPEO_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
      ...(env ? { env } : {}),
    });
    return { code: 0, stdout, stderr: stderr.toString('utf8') };
  } catch (error) {
    const failure = error as ExecFileException & { stdout?: Buffer; stderr?: Buffer };
    const why = typeof failure.code === 'number' ? '' : `\n(${failure.code ?? ''} ${failure.signal ?? ''} ${failure.message})`;
    return { code: typeof failure.code === 'number' ? failure.code : null, stdout: failure.stdout ?? Buffer.alloc(0), stderr: (failure.stderr?.toString('utf8') ?? '') + why };
  }
}

/** A fresh temporary directory, removed in the test's teardown. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `oci-test-registry-${prefix}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A small text layer and a 1 MiB incompressible one. */
export function sampleImage(name: string): Image {
  return buildImage({
    layers: [
      [{ name: 'etc/' }, { name: 'etc/image-name', content: `${name}\n` }],
      [{ name: 'opt/' }, { name: `opt/${name}.bin`, content: pseudoRandomBytes(1024 * 1024, name) }],
    ],
  });
}
