import type { RegistryOptions } from '../options.js';

/** A named bundle of quirk switches that mimics a real registry, with the public source of each quirk. */
export interface Profile {
  description: string;
  options: Partial<RegistryOptions>;
  /** option name → where the behaviour is documented or reported. */
  sources: Record<string, string>;
}

export type ProfileName = 'distribution' | 'ghcr';

/**
 * The profiles. Each quirk names its public source; README "Profiles"
 * repeats them. Explicit options given with a profile override it.
 */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  distribution: {
    description: 'distribution/distribution 2.8 (the registry:2 image)',
    options: { referrers: false, tagDeletes: 'digest-invalid', mountWithoutFrom: false, singlePostUpload: false, tagsPagination: 'ignore-n' },
    sources: {
      referrers: 'no referrers API, 404: https://github.com/oras-project/rust-oci-client/pull/259',
      tagDeletes: 'DELETE by tag answers 400 DIGEST_INVALID (fixed to UNSUPPORTED only after 2.8): https://github.com/distribution/distribution/issues/3234',
      mountWithoutFrom: 'a mount without from opens an upload (202): seen against Debian docker-registry 2.8.2',
      singlePostUpload: 'POST ?digest= with the blob answers 202 and stores nothing: seen against Debian docker-registry 2.8.2',
      tagsPagination: 'tags/list ignores n and last and sends no Link: seen against Debian docker-registry 2.8.2',
    },
  },
  ghcr: {
    description: 'GitHub Container Registry (ghcr.io)',
    options: { referrers: false, chunkMaxBytes: 4 * 1024 * 1024 },
    sources: {
      referrers: 'no referrers API and no OCI-Subject: https://github.com/actions/attest-build-provenance/issues/71',
      chunkMaxBytes: 'PATCH bodies over 4 MiB answered 416: https://github.com/ocx-sh/ocx/pull/237',
    },
  },
});
