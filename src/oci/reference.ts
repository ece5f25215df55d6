import { RegistryError, manifestInvalid } from './errors.js';
import { parseDigest, type ParsedDigest } from './digest.js';

// spec: "Pulling manifests" — the repository name grammar.
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
// spec: "Pulling manifests" — a tag is at most 128 characters of this grammar.
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Longest accepted repository name. The spec's implementers note warns that
 * many clients cap `host/name` at 255 characters; we cap the name itself at
 * 255 so that no name we accept is longer than any client can express.
 */
export const MAX_NAME_LENGTH = 255;

export function isName(value: string): boolean {
  return value.length <= MAX_NAME_LENGTH && NAME.test(value);
}

export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** Validates a repository name: 400 `NAME_INVALID` with the reason. */
export function checkName(value: string): string {
  if (value.length > MAX_NAME_LENGTH) {
    throw new RegistryError('NAME_INVALID', `repository name is ${value.length} characters long; the limit is ${MAX_NAME_LENGTH}`, {
      detail: { name: value.slice(0, 64) + '…' },
    });
  }
  if (!NAME.test(value)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name ${JSON.stringify(value)}: components are lowercase [a-z0-9] joined by '.', '_', '__' or '-', separated by '/'`, {
      detail: { name: value },
    });
  }
  return value;
}

/** Validates a tag: 400 `MANIFEST_INVALID` (the closest code the spec has for a bad tag). */
export function checkTag(value: string): string {
  if (!TAG.test(value)) {
    throw manifestInvalid(`invalid tag ${JSON.stringify(value.length > 140 ? value.slice(0, 140) + '…' : value)}: a tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`, { tag: value.slice(0, 140) });
  }
  return value;
}

export type ManifestReference = { kind: 'tag'; tag: string } | ({ kind: 'digest' } & ParsedDigest);

/**
 * A `<reference>` is a digest or a tag and nothing else (spec: "Pulling
 * manifests"). Anything with a ':' is judged as a digest (DIGEST_INVALID when
 * malformed), anything else as a tag (MANIFEST_INVALID when malformed).
 */
export function parseReference(value: string): ManifestReference {
  if (value.includes(':')) return { kind: 'digest', ...parseDigest(value) };
  return { kind: 'tag', tag: checkTag(value) };
}
