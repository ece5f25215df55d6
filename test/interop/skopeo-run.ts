// What the interop tests share: running skopeo, a temporary directory per
// test, and a small two-layer image to push.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClient, type Outcome } from './client-run.js';
import { buildImage, pseudoRandomBytes, type Image } from './layout.js';

export type { Outcome } from './client-run.js';

export const SKOPEO = process.env.SKOPEO ?? 'skopeo';

/**
 * Runs skopeo (with --insecure-policy: no dependence on
 * /etc/containers/policy.json) and reports how it ended instead of throwing.
 */
export function runSkopeo(args: string[], env?: NodeJS.ProcessEnv, input?: string): Promise<Outcome> {
  return runClient(SKOPEO, ['--insecure-policy', ...args], { ...(env ? { env } : {}), ...(input === undefined ? {} : { input }) });
}

/** A fresh temporary directory, removed in the test's teardown. */
export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `oci-test-registry-${prefix}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A private podman/buildah store for one test: `--root` in `dir`, and a
 * runroot in a short temp dir of its own, since containers/storage refuses a
 * runroot longer than 50 characters (CI gives the interop run a TMPDIR of its own).
 */
export async function privateStorage(t: { teardown(fn: () => unknown): void }, dir: string): Promise<string[]> {
  const runroot = await mkdtemp(join(tmpdir(), 'oci-test-registry-'));
  t.teardown(() => rm(runroot, { recursive: true, force: true }));
  return ['--root', join(dir, 'root'), '--runroot', runroot, '--storage-driver', 'vfs'];
}

/** A small text layer and a 1 MiB incompressible one, for `architecture` (default amd64). */
export function sampleImage(name: string, architecture?: string): Image {
  return buildImage({
    ...(architecture ? { architecture } : {}),
    layers: [
      [{ name: 'etc/' }, { name: 'etc/image-name', content: `${name}\n` }],
      [{ name: 'opt/' }, { name: `opt/${name}.bin`, content: pseudoRandomBytes(1024 * 1024, name) }],
    ],
  });
}
