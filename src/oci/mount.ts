import { parseDigest } from './digest.js';
import { isName } from './reference.js';

/**
 * What a `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repository>`
 * asks for (spec end-11, "Mounting a blob from another repository"), or why
 * it cannot be done. Never throws: a registry "unable to mount the requested
 * blob" answers 202 with an upload session, not an error.
 */
export type MountAsked = { digest: string; from?: string } | { problem: 'digest-invalid' | 'from-invalid' };

/** Reads `?mount=` and `?from=`; undefined when the request is no mount. */
export function readMount(query: URLSearchParams): MountAsked | undefined {
  const mount = query.get('mount');
  if (mount === null) return undefined;
  let digest: string;
  try {
    digest = parseDigest(mount).digest;
  } catch {
    return { problem: 'digest-invalid' };
  }
  const from = query.get('from');
  if (from === null) return { digest };
  // A reference such as `repo:tag` (containerify 4.1.0 sends one) is no repository name.
  return isName(from) ? { digest, from } : { problem: 'from-invalid' };
}
