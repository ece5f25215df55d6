import type { RegistryOptions } from '../options.js';

/** One way a real registry answers, the options that make this registry answer so, and where it is documented or reported. */
export interface ProfileBehaviour {
  /** What the registry answers, in a few words (README "Profiles" shows it). */
  answer: string;
  /** The profile options behind it; none when the registry answers as the spec (and this registry by default) does. */
  options: readonly (keyof RegistryOptions)[];
  /**
   * Options to add for it to show: a per-repository setting of the real
   * registry that is off there by default (tag immutability), or the
   * repositories a test must create first.
   */
  with?: Partial<RegistryOptions>;
  /** Public sources: documentation pages, issue or pull-request threads, the registry's code at a tag or commit. */
  sources: readonly string[];
}

/** A named bundle of quirk switches that mimics a real registry, every behaviour with its public sources. */
export interface Profile {
  description: string;
  options: Partial<RegistryOptions>;
  /** Behaviour name → what the registry answers and why we believe it. */
  behaviours: Readonly<Record<string, ProfileBehaviour>>;
  /** Behaviours looked for and left out: no public source was found, or no switch exists for them yet. */
  leftOut: readonly string[];
}

export type ProfileName = 'distribution' | 'distribution-3' | 'dockerhub' | 'ghcr' | 'ecr' | 'gar' | 'acr' | 'quay' | 'harbor' | 'gitlab' | 'zot';

const DIST_282 = 'https://github.com/distribution/distribution/blob/v2.8.2/registry/handlers';
const DIST_300 = 'https://github.com/distribution/distribution/blob/v3.0.0/registry/handlers';
const HARBOR = 'https://github.com/goharbor/harbor/blob/c50c7ddd6ea4e335a480b49c618281882ab7eec9';
const ZOT = 'https://github.com/project-zot/zot/blob/6d19b445fed1c86c23fb7b351fac07cfd4717402/pkg/api/routes.go';
const HUB_PULLS = 'https://docs.docker.com/docker-hub/usage/pulls/';

// Not here: `mountWithoutSourceAccess`. Its default ('challenge') is what
// distribution and Docker Hub answer (moby/buildkit#2454,
// oras-project/rust-oci-client#235; README "Cross-repository mount"), so no
// profile sets it; no source shows another registry declining quietly.

/**
 * The profiles. README "Profiles" is generated from this table (and a test
 * checks it); test/profiles.test.ts probes every behaviour over HTTP with an
 * expectation written in the test, not read from here. Explicit options given
 * with a profile override it.
 */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = deepFreeze({
  distribution: {
    description: 'distribution/distribution 2.8 (the registry:2 image; Debian docker-registry 2.8.2)',
    options: { referrers: false, tagDeletes: 'digest-invalid', mountWithoutFrom: false, singlePostUpload: false, tagsPagination: 'ignore-n' },
    behaviours: {
      'no referrers API': {
        answer: '`GET /v2/<name>/referrers/<digest>` → 404 (docker-registry 2.8.2: `text/plain` "404 page not found")',
        options: ['referrers'],
        sources: ['https://github.com/oras-project/rust-oci-client/pull/259'],
      },
      'tag delete is DIGEST_INVALID': {
        answer: '`DELETE /v2/<name>/manifests/<tag>` → 400 `DIGEST_INVALID`, the tag stays',
        options: ['tagDeletes'],
        sources: ['https://github.com/distribution/distribution/issues/3234', `${DIST_282}/manifests.go#L502`],
      },
      'mount needs from': {
        answer: '`POST …/uploads/?mount=<digest>` without `from` → 202 and an upload session, nothing mounted',
        options: ['mountWithoutFrom'],
        sources: [`${DIST_282}/blobupload.go#L113`],
      },
      'no single-POST upload': {
        answer: '`POST …/uploads/?digest=<digest>` with the blob → 202 and a session; the blob is not stored',
        options: ['singlePostUpload'],
        sources: [`${DIST_282}/blobupload.go#L107`],
      },
      'tags/list ignores n and last': {
        answer: '`GET /v2/<name>/tags/list?n=1&last=…` → every tag, no `Link`',
        options: ['tagsPagination'],
        sources: [`${DIST_282}/tags.go#L35`],
      },
    },
    leftOut: [
      '`DELETE` answering 405 `UNSUPPORTED` while `storage.delete.enabled` is off (the registry:2 default): this profile keeps deletes on, as the comparison run did; set `deletes: false` for it',
      '`_catalog?n=` above `catalog.maxentries` → 400 `PAGINATION_NUMBER_INVALID`: no switch yet',
      'seen against docker-registry 2.8.2 but without a switch yet: the referrers 404 has a `text/plain` body, an OCI manifest fetched without its type in `Accept` is 404 `MANIFEST_UNKNOWN`, an unknown repository\'s manifest is `MANIFEST_UNKNOWN` (not `NAME_UNKNOWN`), and `Link` puts `last` before `n`',
    ],
  },
  'distribution-3': {
    description: 'distribution/distribution 3.x (the registry:3 image)',
    options: { referrers: false, mountWithoutFrom: false, singlePostUpload: false },
    behaviours: {
      'no referrers API': {
        answer: '`GET /v2/<name>/referrers/<digest>` → 404',
        options: ['referrers'],
        sources: ['https://github.com/distribution/distribution/issues/3859', 'https://github.com/oras-project/rust-oci-client/pull/259'],
      },
      'mount needs from': {
        answer: '`POST …/uploads/?mount=<digest>` without `from` → 202 and an upload session',
        options: ['mountWithoutFrom'],
        sources: [`${DIST_300}/blobupload.go#L73`],
      },
      'no single-POST upload': {
        answer: '`POST …/uploads/?digest=<digest>` with the blob → 202 and a session; the blob is not stored',
        options: ['singlePostUpload'],
        sources: [`${DIST_300}/blobupload.go#L67`],
      },
      'tag delete': {
        answer: '`DELETE /v2/<name>/manifests/<tag>` → 202, the tag is gone (as the spec)',
        options: [],
        sources: [`${DIST_300}/manifests.go#L439`, 'https://github.com/distribution/distribution/pull/3174'],
      },
      'tags/list pages with Link': {
        answer: '`GET /v2/<name>/tags/list?n=1` → one tag and `Link: </v2/<name>/tags/list?last=…&n=1>; rel="next"` (as the spec)',
        options: [],
        sources: [`${DIST_300}/tags.go#L66`],
      },
    },
    leftOut: ['`_catalog?n=` above `catalog.maxentries` → 400 `PAGINATION_NUMBER_INVALID`: no switch yet', 'the order of `n` and `last` in `Link` (distribution writes `last` first): no switch'],
  },
  dockerhub: {
    description: 'Docker Hub (registry-1.docker.io)',
    options: {
      pullLimit: { requests: 100, perSeconds: 21600 },
      catalog: false,
      answers: {
        pullLimit: { message: 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit' },
        catalog: { status: 401, code: 'UNAUTHORIZED' },
      },
    },
    behaviours: {
      'pull limit headers': {
        answer: 'manifest `GET` and `HEAD` carry `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: N;w=21600`; a `GET` counts, a `HEAD` does not',
        options: ['pullLimit'],
        sources: [HUB_PULLS, 'https://github.com/docker/docs/commit/0a951c5204349755441b63799e30412dc4eee44b', 'https://github.com/docker/hub-feedback/issues/2464'],
      },
      'pull limit reached': {
        answer: 'a manifest `GET` past the limit → 429 `TOOMANYREQUESTS` "You have reached your pull rate limit. …"',
        options: ['pullLimit', 'answers'],
        sources: [HUB_PULLS, 'https://github.com/docker/docs/issues/21908'],
      },
      'no catalog': {
        answer: '`GET /v2/_catalog` → 401 `UNAUTHORIZED`, even with credentials',
        options: ['catalog', 'answers'],
        sources: ['https://github.com/regclient/regclient/issues/539'],
      },
    },
    leftOut: [
      'the token realm on auth.docker.io with `service=registry.docker.io`: the auth option serves its token on the registry host',
      'the text of the `_catalog` 401 message: not found (status and code are sourced)',
      '403 on a push to a repository with immutable tags (docker/hub-feedback#2466 reports it as a bug, not a rule)',
    ],
  },
  ghcr: {
    description: 'GitHub Container Registry (ghcr.io)',
    options: { referrers: false, chunkMaxBytes: 4 * 1024 * 1024 },
    behaviours: {
      'no referrers API': {
        answer: '`GET /v2/<name>/referrers/<digest>` → 404, and a manifest with a `subject` gets no `OCI-Subject`',
        options: ['referrers'],
        sources: ['https://github.com/actions/attest-build-provenance/issues/71'],
      },
      'chunk limit': {
        answer: 'a `PATCH` body over 4 MiB → 416',
        options: ['chunkMaxBytes'],
        sources: ['https://github.com/ocx-sh/ocx/pull/237'],
      },
    },
    leftOut: ['`_catalog` not served: the only source found (microsoft/vscode-docker#1525) is about docker.pkg.github.com, its predecessor'],
  },
  ecr: {
    description: 'Amazon Elastic Container Registry (<account>.dkr.ecr.<region>.amazonaws.com)',
    options: {
      createOnPush: false,
      answers: {
        repositoryUnknown: { status: 404, code: 'NAME_UNKNOWN', message: "The repository with name '{name}' does not exist in the registry with id '123456789012'" },
        tagImmutable: { status: 400, code: 'TAG_INVALID', message: "The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the tag is immutable." },
      },
    },
    behaviours: {
      'repository must exist': {
        answer: "a push or pull in a repository not created first → 404 `NAME_UNKNOWN` \"The repository with name '<name>' does not exist in the registry with id '…'\"",
        options: ['createOnPush', 'answers'],
        sources: ['https://github.com/plexsystems/sinker/issues/55', 'https://github.com/regclient/regclient/issues/869', 'https://github.com/aws-actions/amazon-ecr-login/issues/166'],
      },
      'immutable tags': {
        answer: "with tag immutability on, a manifest `PUT` moving a tag → 400 `TAG_INVALID` \"The image tag '<tag>' already exists in the '<name>' repository and cannot be overwritten because the tag is immutable.\"",
        options: ['answers'],
        with: { immutableTags: true },
        sources: [
          'https://github.com/osscontainertools/kaniko/pull/204',
          'https://github.com/moby/buildkit/issues/3776',
          // The status: TAG_INVALID is distribution's code, defined as 400.
          'https://github.com/distribution/distribution/blob/v2.8.2/registry/api/v2/errors.go',
        ],
      },
    },
    leftOut: [
      'Basic auth with the fixed user name `AWS`: give it yourself as `auth: { basic: { users: { AWS: "<password>" } } }`',
      'create-on-push repository templates (a prefix of names created on push): no public description of the answers found; `createOnPush: [patterns]` models it',
    ],
  },
  gar: {
    description: 'Google Artifact Registry (<location>-docker.pkg.dev/<project>/<repository>/<image>)',
    options: {
      createOnPush: false,
      answers: { repositoryUnknown: { status: 404, code: 'NAME_UNKNOWN', message: 'Repository "{name[1]}" not found' } },
    },
    behaviours: {
      'repository must exist': {
        answer: 'a push to `<project>/<repository>/<image>` whose Artifact Registry repository was not created → 404 `NAME_UNKNOWN` `Repository "<repository>" not found`; create it with `createOnPush: ["<project>/<repository>/**"]`',
        options: ['createOnPush', 'answers'],
        sources: ['https://github.com/GoogleCloudPlatform/avocano/issues/412', 'https://github.com/GoogleCloudPlatform/cloud-builders-community/issues/588'],
      },
    },
    leftOut: ['a name of two segments → 400 `NAME_INVALID` "Missing image name…" (docker/build-push-action#171): no switch yet', 'immutable tags: no public record of the registry API answer found'],
  },
  acr: {
    description: 'Azure Container Registry (<registry>.azurecr.io)',
    options: { maxPageSize: 1000 },
    behaviours: {
      'tag page cap': {
        answer: '`GET /v2/<name>/tags/list?n=10000` → at most 1000 tags, and a `Link` to the rest',
        options: ['maxPageSize'],
        sources: ['https://github.com/Azure/acr/issues/749', 'https://github.com/CybercentreCanada/assemblyline-core/pull/1147'],
      },
      'relative Link': {
        answer: '`GET /v2/<name>/tags/list?n=2` → two tags and a relative `Link: </v2/<name>/tags/list?…>; rel="next"`',
        options: [],
        sources: ['https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md'],
      },
      catalog: {
        answer: '`GET /v2/_catalog` → 200 with the repositories (as the spec)',
        options: [],
        sources: ['https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md'],
      },
    },
    leftOut: [
      'the `orderby=` parameter and the `last`-first order in ACR\'s `Link`: no switch',
      'the token realm `https://<registry>/oauth2/token` with `service=<registry>`: the auth option uses its own service name',
    ],
  },
  quay: {
    description: 'Quay (quay.io)',
    options: { maxPageSize: 50 },
    behaviours: {
      'tag pages of 50': {
        answer: '`GET /v2/<name>/tags/list` without `n` → the first 50 tags and a `Link` to the next page',
        options: ['maxPageSize'],
        sources: ['https://github.com/deitch/docker_registry2/issues/56', 'https://github.com/ivanilves/lstags/issues/185', 'https://github.com/TritonDataCenter/node-docker-registry-client/issues/12'],
      },
    },
    leftOut: [
      'the opaque `next_page=` token in Quay\'s `Link` and `last` being ignored (regclient/regclient#272): no switch',
      '400 for `n` above 100 (akuity/kargo#2186): Quay backed that change out',
    ],
  },
  harbor: {
    description: 'Harbor (goharbor/harbor 2.x)',
    options: {
      createOnPush: ['library/**'],
      catalog: false,
      answers: {
        repositoryUnknown: { status: 401, code: 'UNAUTHORIZED', message: 'authentication required' },
        tagImmutable: { status: 412, code: 'PRECONDITION', message: "Failed to process request due to '{name[1:]}:{tag}' configured as immutable." },
        catalog: { status: 401, code: 'UNAUTHORIZED', headers: { 'WWW-Authenticate': 'Basic realm="harbor"' } },
      },
    },
    behaviours: {
      'project must exist': {
        answer: 'a push outside an existing project (only `library` exists at first) → 401 `UNAUTHORIZED` "authentication required"',
        options: ['createOnPush', 'answers'],
        sources: ['https://github.com/goharbor/harbor/issues/966', 'https://github.com/goharbor/harbor/issues/20544', `${HARBOR}/make/migrations/postgresql/0001_initial_schema.up.sql#L81`],
      },
      'immutable tags': {
        answer: "with an immutability rule, a manifest `PUT` moving a tag → 412 `PRECONDITION` \"Failed to process request due to '<repository>:<tag>' configured as immutable.\" (the name without its project)",
        options: ['answers'],
        with: { immutableTags: true },
        sources: ['https://github.com/goharbor/harbor/issues/9718', `${HARBOR}/src/server/middleware/immutable/pushmf.go#L37`, `${HARBOR}/src/lib/http/error.go#L42`],
      },
      'catalog for admins only': {
        answer: '`GET /v2/_catalog` without admin rights → 401 `UNAUTHORIZED` with `WWW-Authenticate: Basic realm="harbor"`',
        options: ['catalog', 'answers'],
        sources: [`${HARBOR}/src/server/middleware/v2auth/auth.go#L59`],
      },
    },
    leftOut: ['an identical re-push onto an immutable tag is refused too in Harbor; here only a moving push is', 'the token service realm and `service=harbor-registry`: no switch for the token host'],
  },
  gitlab: {
    description: 'GitLab container registry (registry.gitlab.com, self-managed)',
    options: {},
    behaviours: {
      'tag delete': {
        answer: '`DELETE /v2/<name>/manifests/<tag>` → 202, the tag is gone (as the spec; since GitLab 16.4)',
        options: [],
        sources: ['https://gitlab.com/gitlab-org/container-registry/-/issues/1094', 'https://gitlab.com/gitlab-org/gitlab/-/merge_requests/134455'],
      },
    },
    leftOut: [
      'no referrers API: only third-party advisories say so; the GitLab issues found (gitlab-org/gitlab#592700, #592705) are about the dependency proxy and virtual registry, which answer an HTML 404',
      '`_catalog` and a project that must exist before a push: no public source found',
    ],
  },
  zot: {
    description: 'zot (project-zot/zot 2.1)',
    options: {},
    behaviours: {
      'referrers of anything': {
        answer: '`GET /v2/<name>/referrers/<digest>` for an unknown repository or subject → 200 and an empty index (as the spec)',
        options: [],
        sources: [`${ZOT}#L617-L620`],
      },
      'tags/list pages with Link': {
        answer: '`GET /v2/<name>/tags/list?n=1` → one tag and a relative `Link: </v2/<name>/tags/list?n=1&last=…>; rel="next"` (as the spec)',
        options: [],
        sources: [`${ZOT}#L429`],
      },
    },
    leftOut: ['`tags/list?last=<a tag not in the repository>` → 404 with an empty body: no switch for a body-less error yet'],
  },
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
