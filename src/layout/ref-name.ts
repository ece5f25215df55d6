/**
 * Reading `org.opencontainers.image.ref.name` (image-spec annotations.md).
 * Tools fill it two ways: with a bare tag (skopeo `oci:dir:tag`, oras, crane,
 * BuildKit's `oci` exporter with `name=`) or with a full image reference
 * (containerd and `ctr export`: `docker.io/library/alpine:3.20`). The rule:
 *
 * - a `@digest` suffix is dropped (the descriptor's digest is what counts);
 * - a value with neither `/` nor `:` is a bare **tag**, and the repository
 *   comes from elsewhere (an explicit name, else the layout directory's name);
 * - anything else is a **reference** `[registry/]name[:tag]`: the tag is what
 *   follows the last `:` after the last `/`; the first path component is a
 *   registry host, and dropped, when it contains `.` or `:` or is `localhost`
 *   (Docker's rule), so `docker.io/library/alpine:3` names `library/alpine`
 *   and `localhost:5000/team/app:v1` names `team/app`; a reference without a
 *   tag means `latest`, unless it had a digest, then it stays untagged.
 */
export interface RefName {
  /** Repository named by the reference, if it named one. */
  name?: string;
  /** Tag, if any. */
  tag?: string;
}

export function parseRefName(value: string): RefName {
  const at = value.indexOf('@');
  const rest = at >= 0 ? value.slice(0, at) : value;
  if (rest === '') return {};
  if (!rest.includes('/') && !rest.includes(':')) return { tag: rest };
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let name = rest;
  let tag: string | undefined;
  if (colon > lastSlash) {
    name = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
  }
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const first = name.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') name = name.slice(slash + 1);
  }
  if (tag === undefined && at < 0) tag = 'latest';
  return tag === undefined ? { name } : { name, tag };
}
