// skopeo (containers/image) against every profile (README "Profiles"): a
// push and a pull of a small image work where the real registry takes them,
// and fail, with the wording the cited issue shows, where it does not.
// Needs `skopeo` on PATH (or $SKOPEO). Run with `npm run test:interop`.
import t from 'tap';
import { join } from 'node:path';
import { send, startFor } from '../helpers/http.js';
import { PROFILES, type RegistryOptions } from '../../src/index.js';
import { writeLayout } from './layout.js';
import { runSkopeo, sampleImage, tempDir } from './skopeo-run.js';

interface Row {
  /** A repository the profile takes pushes into (created first where it must be). */
  name: string;
  with?: RegistryOptions;
  /** A push the real registry refuses, and how skopeo reports it (the issue shows the same words). */
  refused?: { name: string; stderr: RegExp; source: string };
}

const ROWS: Record<keyof typeof PROFILES, Row> = {
  distribution: { name: 'interop/app' },
  'distribution-3': { name: 'interop/app' },
  dockerhub: { name: 'library/app' },
  ghcr: { name: 'owner/app' },
  ecr: {
    name: 'team/app',
    with: { repositories: ['team/app'] },
    refused: { name: 'team/other', stderr: /name unknown: The repository with name 'team\/other' does not exist in the registry with id/, source: 'aws-actions/amazon-ecr-login#166' },
  },
  gar: {
    name: 'my-project/my-repo/app',
    with: { createOnPush: ['my-project/my-repo/**'] },
    refused: { name: 'my-project/containers/app', stderr: /name unknown: Repository \\?"containers\\?" not found/, source: 'GoogleCloudPlatform/avocano#412' },
  },
  acr: { name: 'team/app' },
  quay: { name: 'team/app' },
  harbor: {
    name: 'library/app',
    // The issue shows docker's "unauthorized: authentication required"; containers/image reports a 401 as "unauthorized" alone.
    refused: { name: 'team/app', stderr: /initiating layer upload to \/v2\/team\/app\/blobs\/uploads\/ in [^:]+:\d+: unauthorized/, source: 'goharbor/harbor#966' },
  },
  gitlab: { name: 'group/project/app' },
  zot: { name: 'interop/app' },
};

t.test('skopeo copies an image into every profile and back', async (t) => {
  for (const [profile, row] of Object.entries(ROWS)) {
    await t.test(profile, async (t) => {
      const registry = await startFor(t, { profile: profile as keyof typeof PROFILES, ...row.with });
      const dir = await tempDir(t, `profile-${profile}`);
      const image = sampleImage(profile);
      await writeLayout(join(dir, 'source'), { v1: image });
      const push = await runSkopeo(['copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, `docker://${registry.host}/${row.name}:v1`]);
      t.equal(push.code, 0, 'push exits 0', { stderr: push.stderr });
      const pushed = await send(registry.url, 'HEAD', `/v2/${row.name}/manifests/v1`);
      t.equal(pushed.headers['docker-content-digest'], image.manifest.descriptor.digest, 'the registry holds the pushed manifest');
      const pull = await runSkopeo(['copy', '--src-tls-verify=false', '--preserve-digests', `docker://${registry.host}/${row.name}:v1`, `oci:${join(dir, 'back')}:v1`]);
      t.equal(pull.code, 0, 'pull exits 0', { stderr: pull.stderr });
      if (row.refused) {
        const refused = await runSkopeo(['copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, `docker://${registry.host}/${row.refused.name}:v1`]);
        t.not(refused.code, 0, `a push to ${row.refused.name} fails`);
        t.match(refused.stderr, row.refused.stderr, `as ${row.refused.source} shows`);
      }
    });
  }
});

t.test('dockerhub: past the pull limit skopeo fails with the words users see', async (t) => {
  const registry = await startFor(t, { profile: 'dockerhub', pullLimit: { requests: 1, perSeconds: 3600 } });
  await registry.store.pushImage('library/app', { tag: 'v1', layers: ['a layer'] });
  const dir = await tempDir(t, 'profile-dockerhub-limit');
  const first = await runSkopeo(['copy', '--src-tls-verify=false', `docker://${registry.host}/library/app:v1`, `oci:${join(dir, 'a')}:v1`]);
  t.equal(first.code, 0, 'the first pull exits 0', { stderr: first.stderr });
  const second = await runSkopeo(['copy', '--src-tls-verify=false', '--retry-times', '0', `docker://${registry.host}/library/app:v1`, `oci:${join(dir, 'b')}:v1`]);
  t.not(second.code, 0, 'the second pull fails');
  // docker/docs#21908: "toomanyrequests: You have reached your pull rate limit. …"
  t.match(second.stderr, /toomanyrequests: You have reached your pull rate limit/);
});

t.test('ecr and harbor with immutable tags: a push moving a tag fails with the registry\'s words', async (t) => {
  for (const [profile, name, words] of [
    ['ecr', 'team/app', /tag invalid: The image tag 'v1' already exists in the 'team\/app' repository and cannot be overwritten because the tag is immutable/],
    ['harbor', 'library/app', /Failed to process request due to 'app:v1' configured as immutable/],
  ] as const) {
    await t.test(profile, async (t) => {
      const registry = await startFor(t, { profile, immutableTags: true, repositories: [name] });
      const dir = await tempDir(t, `profile-${profile}-immutable`);
      await writeLayout(join(dir, 'one'), { v1: sampleImage(`${profile}-one`) });
      await writeLayout(join(dir, 'two'), { v1: sampleImage(`${profile}-two`) });
      const first = await runSkopeo(['copy', '--dest-tls-verify=false', `oci:${join(dir, 'one')}:v1`, `docker://${registry.host}/${name}:v1`]);
      t.equal(first.code, 0, 'the first push exits 0', { stderr: first.stderr });
      const moved = await runSkopeo(['copy', '--dest-tls-verify=false', '--retry-times', '0', `oci:${join(dir, 'two')}:v1`, `docker://${registry.host}/${name}:v1`]);
      t.not(moved.code, 0, 'moving v1 fails');
      t.match(moved.stderr, words);
    });
  }
});
