import { createRequire } from 'node:module';

const requireBuiltin = createRequire(import.meta.url);

/**
 * node:fs/promises on first use: a plain start writes no file (the version,
 * --export and the TLS files need it), and loading it showed as ~3 ms of a
 * CLI start-up profile. Through require, since the CLI bundle runs from a
 * vm.Script, where import() of a builtin is not available.
 */
export function filePromises(): typeof import('node:fs/promises') {
  return requireBuiltin('node:fs/promises') as typeof import('node:fs/promises');
}
