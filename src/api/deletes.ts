import { unsupported } from '../oci/errors.js';
import type { ResolvedOptions } from '../options.js';

/**
 * spec "Content Management": a registry MAY disable deletion and then MUST
 * answer 400 or 405; we answer 405 `UNSUPPORTED` with `Allow`.
 */
export function checkDeletes(options: ResolvedOptions, what: 'blob' | 'manifest' | 'tag'): void {
  if (!options.deletes) {
    const allow = what === 'blob' ? 'GET, HEAD' : 'GET, HEAD, PUT';
    throw unsupported(`deleting ${what}s is disabled on this registry`, 405, { Allow: allow });
  }
}
