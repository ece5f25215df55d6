import { RegistryError, unsupported } from '../oci/errors.js';
import type { ResolvedOptions } from '../options.js';
import type { SeedableStore } from '../store/seeding.js';
import type { Route } from '../http/route.js';
import { Mirror } from './mirror.js';

/** Routes whose writes a read-only mirror refuses. */
const WRITABLE = new Set(['manifest', 'blob', 'upload']);

/**
 * The mirror's upstreams: `upstream` for requests that name none, and
 * `upstreams` by the host containerd names in `?ns=` (containerd
 * docs/hosts.md: a mirror request carries `ns=<upstream host>`).
 */
export class Upstreams {
  readonly #default: Mirror | undefined;
  readonly #byHost = new Map<string, Mirror>();

  constructor(options: ResolvedOptions, store: SeedableStore) {
    const limits = { maxManifestBytes: options.maxManifestBytes, maxBlobBytes: options.maxBlobBytes, maxStorageBytes: options.maxStorageBytes };
    if (options.upstream) this.#default = new Mirror(options.upstream, store, limits);
    for (const [host, upstream] of Object.entries(options.upstreams ?? {})) this.#byHost.set(host, new Mirror(upstream, store, limits));
  }

  /**
   * The upstream a read falls through to: by `?ns=`, else the default one.
   * A `ns` naming no upstream is 404, so containerd falls back to the host
   * itself (containerd tries the next host on a 404).
   */
  route(route: Route): Mirror | undefined {
    const ns = route.query.get('ns');
    if (ns === null) return this.#default;
    const mirror = this.#byHost.get(ns) ?? (this.#default?.client.host === ns ? this.#default : undefined);
    if (mirror) return mirror;
    const code = route.kind === 'blob' ? 'BLOB_UNKNOWN' : route.kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'NAME_UNKNOWN';
    throw new RegistryError(code, `this mirror has no upstream for ns=${ns}`, { status: 404, detail: { ns } });
  }

  /**
   * readOnly: pushes and deletes are 405 UNSUPPORTED, as distribution's proxy
   * answers them (registry/proxy/proxymanifeststore.go Put/Delete and
   * proxyblobstore.go Create return ErrUnsupported -> errcode.ErrorCodeUnsupported).
   */
  checkWrite(route: Route, method: string): void {
    if (method === 'GET' || !WRITABLE.has(route.kind)) return;
    const mirror = route.query.get('ns') === null ? this.#default : this.#byHost.get(route.query.get('ns')!);
    const readOnly = mirror ? mirror.readOnly : [...this.#byHost.values()].some((m) => m.readOnly);
    if (readOnly) throw unsupported(`this registry is a read-only mirror: ${method} is not supported`, 405, { Allow: 'GET, HEAD' });
  }

  clear(): void {
    this.#default?.clear();
    for (const mirror of this.#byHost.values()) mirror.clear();
  }
}
