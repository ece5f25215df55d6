import { readMount } from '../oci/mount.js';
import type { MountDeclineReason } from '../http/record.js';
import type { RequestContext } from '../http/context.js';
import type { StoredBlob } from '../store/store.js';

/**
 * end-11: tries the mount a `POST …/blobs/uploads/?mount=` asks for and notes
 * the outcome in the journal (`mount`). Returns the blob once it is linked
 * into the target; undefined when the mount is declined, and the caller then
 * opens an ordinary session — spec "Mounting a blob from another repository":
 * a registry that "is unable to mount the requested blob … SHOULD return a
 * 202", whatever the reason (as distribution and zot answer).
 */
export async function mount(ctx: RequestContext): Promise<StoredBlob | undefined> {
  const { route, notes } = ctx;
  const from = route.query.get('from');
  const outcome = await attempt(ctx);
  notes.mount = { digest: route.query.get('mount') ?? '', ...(from !== null && { from }), ...(typeof outcome === 'string' ? { result: 'declined', reason: outcome } : { result: 'mounted' }) };
  return typeof outcome === 'string' ? undefined : outcome;
}

async function attempt({ route, options, store, principal, controls }: RequestContext): Promise<StoredBlob | MountDeclineReason> {
  const name = route.name!;
  if (!options.mount) return 'mount-off';
  const asked = readMount(route.query)!;
  if ('problem' in asked) return asked.problem;
  if (asked.from === undefined) {
    // spec: the registry "MAY treat the from parameter as optional"; under
    // auth it takes the blob only from a repository this caller may pull.
    if (!options.mountWithoutFrom) return 'from-missing';
    const readable = controls.auth ? (repository: string) => principal.can('pull', repository) : undefined;
    return (await store.mountBlob(name, asked.digest, readable)) ?? 'blob-unknown';
  }
  // Rights before existence, so a caller cannot learn which repositories exist.
  if (!principal.can('pull', asked.from)) return 'from-not-readable';
  if (!(await store.hasRepository(asked.from))) return 'from-unknown';
  return (await store.mountBlob(name, asked.digest, asked.from)) ?? 'blob-unknown';
}
