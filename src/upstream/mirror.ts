import { createHash } from 'node:crypto';
import { RegistryError, type ErrorCode } from '../oci/errors.js';
import { parseManifest, type ParsedManifest } from '../oci/manifest.js';
import { isDigestAlgorithm, type DigestAlgorithm } from '../oci/digest.js';
import { bareMediaType } from '../oci/media-types.js';
import type { SeedableStore } from '../store/seeding.js';
import { UpstreamClient, UpstreamFailure, readBounded, type UpstreamOptions, type UpstreamResponse } from './client.js';
import type { UpstreamOutcome } from './outcome.js';

/** A manifest as the mirror serves it: stored, held until its blobs arrive, or just read upstream. */
export interface MirroredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** A blob read from the upstream, streamed as it arrives. */
export interface UpstreamBlob {
  digest: string;
  /** From the upstream's Content-Length; undefined when it sent none. */
  size: number | undefined;
  /**
   * The bytes. The last chunk is held back until the whole body matched its
   * digest, so a client never completes a corrupt blob: on a mismatch the
   * iterator throws and the response is cut short. Empty on HEAD.
   */
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>;
}

export interface MirrorLimits {
  maxManifestBytes: number;
  maxBlobBytes: number;
  maxStorageBytes: number;
}

/** Manifests held back until their blobs or children are cached, per repository; at most this many in all. */
const MAX_PENDING = 1000;

/**
 * distribution's proxy answers an upstream failure with `500 UNKNOWN`
 * (registry/handlers/helpers.go toErrcodeErrors: any non-errcode error is
 * errcode.ErrorCodeUnknown, HTTP 500). `code` is the nearest spec code; the
 * wire says UNKNOWN as distribution does.
 */
export function upstreamError(code: ErrorCode, message: string, detail?: unknown): RegistryError {
  return new RegistryError(code, message, { status: 500, wireCode: 'UNKNOWN', detail });
}

/**
 * One upstream and the mirror's cache of it: reads fall through to the
 * upstream on a miss and are stored once verified (see README "As a mirror").
 */
export class Mirror {
  readonly client: UpstreamClient;
  readonly cache: boolean | 'pin';
  readonly readOnly: boolean;
  readonly #store: SeedableStore;
  readonly #limits: MirrorLimits;
  /** Verified manifests whose blobs are not all cached yet (the store refuses them until then). */
  readonly #pending = new Map<string, Map<string, { parsed: ParsedManifest; tags: string[] }>>();
  #pendingCount = 0;

  constructor(options: UpstreamOptions, store: SeedableStore, limits: MirrorLimits) {
    this.client = new UpstreamClient(options);
    this.cache = options.cache ?? true;
    this.readOnly = options.readOnly ?? false;
    this.#store = store;
    this.#limits = limits;
  }

  /** Forgets held manifests (registry reset). */
  clear(): void {
    this.#pending.clear();
    this.#pendingCount = 0;
  }

  async #ask(method: 'GET' | 'HEAD', path: string, name: string, headers: Record<string, string>, outcome: UpstreamOutcome): Promise<UpstreamResponse> {
    const started = performance.now();
    try {
      const response = await this.client.request(method, path, `repository:${name}:pull`, headers);
      outcome.upstreamStatus = response.status;
      return response;
    } finally {
      outcome.upstreamMs = Math.round((performance.now() - started) * 1000) / 1000;
    }
  }

  #local(name: string, reference: string): MirroredManifest | undefined {
    for (const held of this.#pending.get(name)?.values() ?? []) {
      if (held.parsed.digest === reference || held.tags.includes(reference)) return held.parsed;
    }
    return undefined;
  }

  /**
   * A manifest by tag or digest. By digest, and by tag with `cache: 'pin'`,
   * the local copy wins; a tag otherwise follows the upstream (a HEAD when a
   * copy is held), falling back to the local copy when the upstream fails, as
   * distribution's proxyTagService.Get does. Undefined when neither has it.
   */
  async manifest(name: string, reference: string, accept: string | undefined, outcome: UpstreamOutcome): Promise<MirroredManifest | undefined> {
    const byDigest = reference.includes(':');
    // A held manifest is newer than a stored one: it was read from the upstream after it.
    const local = this.#local(name, reference) ?? (await this.#store.manifest(name, reference));
    if (local && (byDigest || this.cache === 'pin')) {
      outcome.upstream = 'hit';
      return local;
    }
    const path = `/v2/${name}/manifests/${reference}`;
    const headers: Record<string, string> = accept ? { Accept: accept } : {};
    try {
      if (local) {
        const head = await this.#ask('HEAD', path, name, headers, outcome);
        head.body.resume();
        if (head.status === 200 && head.headers['docker-content-digest'] === local.digest) {
          outcome.upstream = 'hit';
          return local;
        }
      }
      const response = await this.#ask('GET', path, name, headers, outcome);
      if (!found(response, outcome)) return undefined;
      const bytes = await readBounded(response.body, this.#limits.maxManifestBytes, 'manifest');
      const parsed = this.#verifyManifest(bytes, response, reference);
      outcome.upstream = 'miss';
      if (this.cache !== false) await this.#keep(name, parsed, byDigest ? [] : [reference]);
      return parsed;
    } catch (error) {
      if (!(error instanceof UpstreamFailure)) throw error;
      outcome.upstream = 'error';
      if (local) return local;
      // distribution: a tag the upstream cannot resolve and the cache lacks is 404 MANIFEST_UNKNOWN (handlers/manifests.go, ErrTagUnknown).
      if (!byDigest) throw new RegistryError('MANIFEST_UNKNOWN', `manifest unknown: ${error.message}`, { detail: { upstream: this.client.host, status: error.status } });
      throw upstreamError('MANIFEST_UNKNOWN', `the upstream ${this.client.host} failed: ${error.message}`, { upstream: this.client.host, status: error.status });
    }
  }

  #verifyManifest(bytes: Buffer, response: UpstreamResponse, reference: string): ParsedManifest {
    const header = response.headers['docker-content-digest'];
    const expected = reference.includes(':') ? reference : typeof header === 'string' ? header : undefined;
    const algorithm = algorithmOf(expected);
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(bytes, bareMediaType(response.headers['content-type']), algorithm);
    } catch (error) {
      throw new UpstreamFailure(`the upstream sent a manifest this registry cannot read: ${(error as Error).message}`);
    }
    for (const claimed of [expected, header]) {
      if (typeof claimed === 'string' && claimed !== parsed.digest) {
        throw new UpstreamFailure(`the upstream's manifest has digest ${parsed.digest}, not ${claimed}`);
      }
    }
    return parsed;
  }

  /** Stores a verified manifest, or holds it until its blobs are cached (the store validates references). */
  async #keep(name: string, parsed: ParsedManifest, tags: string[]): Promise<void> {
    try {
      await this.#store.putManifest(name, parsed, tags);
      await this.#settle(name);
    } catch (error) {
      if (!(error instanceof RegistryError) || error.code !== 'MANIFEST_BLOB_UNKNOWN') return;
      let held = this.#pending.get(name);
      if (!held) this.#pending.set(name, (held = new Map()));
      if (!held.has(parsed.digest)) this.#pendingCount++;
      // A tag names one manifest: an older held one loses it.
      for (const other of held.values()) other.tags = other.tags.filter((tag) => !tags.includes(tag));
      held.set(parsed.digest, { parsed, tags });
      if (this.#pendingCount > MAX_PENDING) {
        const [oldestName, oldest] = this.#pending.entries().next().value!;
        oldest.delete(oldest.keys().next().value!);
        if (oldest.size === 0) this.#pending.delete(oldestName);
        this.#pendingCount--;
      }
    }
  }

  /** Stores held manifests of `name` whose references are now all cached (children before the index). */
  async #settle(name: string): Promise<void> {
    const held = this.#pending.get(name);
    let progress = true;
    while (held && held.size > 0 && progress) {
      progress = false;
      for (const [digest, { parsed, tags }] of held) {
        try {
          await this.#store.putManifest(name, parsed, tags);
        } catch {
          continue;
        }
        held.delete(digest);
        this.#pendingCount--;
        progress = true;
      }
    }
    if (held?.size === 0) this.#pending.delete(name);
  }

  /**
   * A blob the local store lacks, from the upstream. Undefined when the
   * upstream has none (404). With caching on, the bytes are collected as
   * they stream and stored only once size and digest match.
   */
  async blob(name: string, digest: string, head: boolean, outcome: UpstreamOutcome): Promise<UpstreamBlob | undefined> {
    let response: UpstreamResponse;
    try {
      response = await this.#ask(head ? 'HEAD' : 'GET', `/v2/${name}/blobs/${digest}`, name, {}, outcome);
      if (!found(response, outcome)) return undefined;
    } catch (error) {
      outcome.upstream = 'error';
      throw this.#blobError(error, digest);
    }
    const length = response.headers['content-length'];
    const size = length === undefined ? undefined : Number(length);
    const limit = Math.min(this.#limits.maxBlobBytes, this.#limits.maxStorageBytes);
    if (size !== undefined && size > limit) {
      response.body.destroy();
      outcome.upstream = 'error';
      throw upstreamError('BLOB_UNKNOWN', `the upstream's blob ${digest} has ${size} bytes, more than this registry holds (maxBlobBytes/maxStorageBytes: ${limit})`, { size, limit });
    }
    const claimed = response.headers['docker-content-digest'];
    if (typeof claimed === 'string' && claimed !== digest) {
      response.body.resume();
      outcome.upstream = 'error';
      throw upstreamError('BLOB_UNKNOWN', `the upstream answered blob ${claimed} for ${digest}`, { expected: digest, actual: claimed });
    }
    outcome.upstream = 'miss';
    if (head) {
      response.body.resume();
      return { digest, size, chunks: [] };
    }
    return { digest, size, chunks: this.#stream(name, digest, response, limit, outcome) };
  }

  #blobError(error: unknown, digest: string): unknown {
    if (!(error instanceof UpstreamFailure)) return error;
    return upstreamError('BLOB_UNKNOWN', `the upstream ${this.client.host} failed for blob ${digest}: ${error.message}`, { upstream: this.client.host, status: error.status });
  }

  async *#stream(name: string, digest: string, response: UpstreamResponse, limit: number, outcome: UpstreamOutcome): AsyncGenerator<Buffer> {
    const hash = createHash(algorithmOf(digest));
    const keep = this.cache !== false;
    const segments: Buffer[] = [];
    let size = 0;
    let held: Buffer | undefined;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw new UpstreamFailure(`the upstream's blob ${digest} is larger than this registry holds (${limit} bytes)`);
        hash.update(chunk);
        if (keep) segments.push(chunk);
        if (held) yield held;
        held = chunk;
      }
      const actual = `${digest.slice(0, digest.indexOf(':'))}:${hash.digest('hex')}`;
      if (actual !== digest) throw new UpstreamFailure(`the upstream's blob ${digest} has digest ${actual}: refused, nothing cached`);
    } catch (error) {
      response.body.destroy();
      outcome.upstream = 'error';
      throw this.#blobError(error instanceof UpstreamFailure ? error : new UpstreamFailure(`the upstream's blob was cut short: ${(error as Error).message}`), digest);
    }
    if (keep) {
      // A full store only stops the caching; the client still gets verified bytes.
      await this.#store.putBlob(name, { digest, size, segments }).then(() => this.#settle(name), () => undefined);
    }
    if (held) yield held;
  }

  /** The upstream's tag list (query passed as is); undefined when it failed or has none, so the local list answers. */
  async tags(name: string, query: string, outcome: UpstreamOutcome): Promise<{ body: Buffer; link?: string } | undefined> {
    try {
      const response = await this.#ask('GET', `/v2/${name}/tags/list${query}`, name, {}, outcome);
      if (response.status !== 200) {
        response.body.resume();
        outcome.upstream = response.status === 404 ? 'miss' : 'error';
        return undefined;
      }
      const body = await readBounded(response.body, this.#limits.maxManifestBytes, 'tag list');
      JSON.parse(body.toString('utf8'));
      outcome.upstream = 'miss';
      const link = response.headers.link;
      return { body, ...(typeof link === 'string' ? { link } : {}) };
    } catch (error) {
      if (!(error instanceof UpstreamFailure) && !(error instanceof SyntaxError)) throw error;
      // distribution's proxyTagService.All: the local list when the upstream fails.
      outcome.upstream = 'error';
      return undefined;
    }
  }
}

/** 200: go on; 404: the upstream has none (a miss); anything else is an UpstreamFailure. Unused bodies are discarded. */
function found(response: UpstreamResponse, outcome: UpstreamOutcome): boolean {
  if (response.status === 200) return true;
  response.body.resume();
  if (response.status !== 404) throw new UpstreamFailure(`the upstream answered ${response.status}`, response.status);
  outcome.upstream = 'miss';
  return false;
}

function algorithmOf(digest: string | undefined): DigestAlgorithm {
  const algorithm = digest?.slice(0, digest.indexOf(':')) ?? 'sha256';
  return isDigestAlgorithm(algorithm) ? algorithm : 'sha256';
}
