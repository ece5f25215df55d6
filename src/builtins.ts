import { createRequire } from 'node:module';

/**
 * Node builtins loaded on first use rather than imported at start-up (TLS,
 * worker threads, crypto, file writes: a plain start needs none of them).
 * Through require, not import(): the CLI runs from a bundle compiled with
 * V8's code cache (bin/code-cache.cjs), a vm.Script, where a dynamic import()
 * has no loader to go to.
 */
export const requireBuiltin = createRequire(import.meta.url);

/** node:fs/promises: only the version, --export and the TLS files write or read a file (~3 ms of a start-up profile to load). */
export function filePromises(): typeof import('node:fs/promises') {
  return requireBuiltin('node:fs/promises') as typeof import('node:fs/promises');
}
