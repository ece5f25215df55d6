import { RegistryError, manifestInvalid, manifestUnknown, nameUnknown, digestInvalid, unsupported } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import { bareMediaType } from '../oci/media-types.js';
import { checkTag, isTag, parseReference } from '../oci/reference.js';
import { readBody } from '../http/body.js';
import { digestHeader, sendBytes, sendEmpty } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import { checkDeletes } from './deletes.js';
import { refusal } from './answers.js';
import { countPull } from './pull-limit.js';
import { checkPushTarget } from './repositories.js';
import type { UpstreamOutcome } from '../upstream/outcome.js';

const manifestLocation = (name: string, digest: string): string => `/v2/${name}/manifests/${digest}`;

/** 404: MANIFEST_UNKNOWN in a repository that exists, NAME_UNKNOWN otherwise. */
async function unknown({ store, options }: RequestContext, name: string, reference: string): Promise<RegistryError> {
  if (await store.hasRepository(name)) return manifestUnknown(reference);
  // A registry's own wording for an unknown repository (answers.repositoryUnknown) holds for pulls too.
  return options.answers.repositoryUnknown ? refusal(options, 'repositoryUnknown', { name }) : nameUnknown(name);
}

/**
 * end-3 `GET`/`HEAD /v2/<name>/manifests/<reference>` (spec "Pulling
 * manifests"): the exact pushed bytes with the pushed media type. No
 * conversion: a stored type the client's `Accept` leaves out is still served
 * as it is (distribution's behaviour), and the client decides.
 */
export async function get(ctx: RequestContext): Promise<void> {
  const { res, route, store, head, options, controls } = ctx;
  const name = route.name!;
  const key = route.reference!;
  const mirror = controls.upstreams?.route(route);
  // end-3 fails with 404 only: a tag outside the grammar can never have been
  // pushed, so it is "not found" (the conformance suite asks exactly this).
  // A malformed digest is still 400 DIGEST_INVALID, a mistake worth naming.
  const readable = key.includes(':') ? parseReference(key).kind === 'digest' : isTag(key);
  const limits = countPull(ctx);
  let manifest: { digest: string; mediaType: string; bytes: Buffer } | undefined;
  if (readable && mirror) {
    const outcome: UpstreamOutcome = { upstream: 'miss' };
    ctx.notes.upstream = outcome;
    manifest = await mirror.manifest(name, key, ctx.req.headers.accept, outcome);
  } else if (readable) manifest = await store.manifest(name, key);
  if (!manifest) throw await unknown(ctx, name, key);
  const headers = { 'Content-Type': manifest.mediaType, ETag: `"${manifest.digest}"`, ...digestHeader(manifest.digest, options.omitDigestHeader), ...limits };
  sendBytes(res, 200, manifest.bytes, headers, head);
}

/** end-7 `PUT /v2/<name>/manifests/<reference>[?tag=…]` (spec "Pushing Manifests"). */
export async function put(ctx: RequestContext): Promise<void> {
  const { req, res, route, store, options } = ctx;
  const name = route.name!;
  await checkPushTarget(ctx, name);
  const reference = parseReference(route.reference!);
  // end-7b (distribution-spec after v1.1.1, an extension here): `?tag=` adds
  // tags to a push by digest, answered with one OCI-Tag header.
  const extraTags = route.query.getAll('tag').map(checkTag);
  if (extraTags.length > 0 && reference.kind === 'tag') {
    throw manifestInvalid('tag query parameters are only for a push by digest (end-7b)');
  }
  const limit = options.maxManifestBytes;
  const bytes = await readBody(req, limit, () =>
    new RegistryError('MANIFEST_INVALID', `manifest is larger than the limit of ${limit} bytes`, {
      status: 413,
      detail: { limit: 'maxManifestBytes', limitBytes: limit },
    }));
  const algorithm = reference.kind === 'digest' ? reference.algorithm : 'sha256';
  const parsed = parseManifest(bytes, bareMediaType(req.headers['content-type']), algorithm);
  if (reference.kind === 'digest' && parsed.digest !== reference.digest) {
    throw digestInvalid(`the manifest has digest ${parsed.digest}, not ${reference.digest}`, { expected: reference.digest, actual: parsed.digest });
  }
  const tags = reference.kind === 'tag' ? [reference.tag] : [...new Set(extraTags)];
  if (options.immutableTags) {
    // Option immutableTags: a tag never moves; the same manifest again is taken.
    for (const tag of tags) {
      const current = await store.manifest(name, tag);
      if (current && current.digest !== parsed.digest) throw refusal(options, 'tagImmutable', { name, tag });
    }
  }
  const { manifest } = await store.putManifest(name, parsed, tags);
  const headers: Record<string, string> = { Location: manifestLocation(name, manifest.digest), ...digestHeader(manifest.digest, options.omitDigestHeader) };
  // spec "Pushing Manifests with Subject": OCI-Subject says the subject was processed.
  if (manifest.subject && options.referrers) headers['OCI-Subject'] = manifest.subject;
  if (extraTags.length > 0) headers['OCI-Tag'] = tags.join(', ');
  sendEmpty(res, 201, headers);
}

/**
 * end-9 `DELETE /v2/<name>/manifests/<reference>`: by digest, the manifest
 * and every tag on it; by tag, that tag only (spec "Deleting tags",
 * "Deleting Manifests").
 */
export async function remove(ctx: RequestContext): Promise<void> {
  const { res, route, store, options } = ctx;
  const name = route.name!;
  const reference = parseReference(route.reference!);
  checkDeletes(options, reference.kind === 'tag' ? 'tag' : 'manifest');
  // Quirk tagDeletes — spec "Deleting tags": tag deletion disabled MUST answer 400 or 405.
  if (reference.kind === 'tag' && options.tagDeletes === 'digest-invalid') {
    throw digestInvalid('deleting a tag is not supported on this registry: delete the manifest by digest', { reference: reference.tag });
  }
  if (reference.kind === 'tag' && !options.tagDeletes) {
    throw unsupported('deleting a tag is not supported on this registry: delete the manifest by digest', 405, { Allow: 'GET, HEAD, PUT' });
  }
  const key = reference.kind === 'tag' ? reference.tag : reference.digest;
  const deleted = reference.kind === 'tag' ? await store.deleteTag(name, key) : await store.deleteManifest(name, key);
  if (!deleted) throw await unknown(ctx, name, key);
  sendEmpty(res, 202);
}
