import { unsupported } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';

/**
 * end-12a/12b `GET /v2/<name>/referrers/<digest>[?artifactType=]` (spec
 * "Listing Referrers"). A registry that supports the API MUST NOT answer 404,
 * so an unknown subject or repository is an empty index. With
 * `referrers: false` it answers 404 so clients exercise the tag-schema fallback.
 */
export async function list({ res, route, store, options, head }: RequestContext): Promise<void> {
  if (!options.referrers) throw unsupported('the referrers API is disabled on this registry', 404);
  const { digest } = parseDigest(route.reference!);
  const artifactType = route.query.get('artifactType') ?? undefined;
  const manifests = await store.referrers(route.name!, digest, artifactType);
  const headers: Record<string, string> = artifactType === undefined ? {} : { 'OCI-Filters-Applied': 'artifactType' };
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  sendJson(res, 200, index, { ...headers, 'Content-Type': MediaType.ociIndex }, head);
}
