// README "Profiles" is generated from PROFILES: this fails when either moved
// without the other (fix with `npx tsx test/helpers/profile-tables.ts --write`).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { PROFILES } from '../src/index.js';
import { END, README, START, profileTables, sourceLabel } from './helpers/profile-tables.js';

t.test('the README profile tables are the ones PROFILES generates', async (t) => {
  const readme = readFileSync(README, 'utf8');
  const block = readme.slice(readme.indexOf(START), readme.indexOf(END) + END.length);
  t.equal(block, profileTables(), 'run: npx tsx test/helpers/profile-tables.ts --write');
  for (const [name, profile] of Object.entries(PROFILES)) {
    t.match(block, `#### \`${name}\`: ${profile.description}`, `${name} has its table`);
    for (const source of Object.values(profile.behaviours).flatMap((b) => b.sources)) t.ok(block.includes(`](${source})`), `${name}: links ${source}`);
  }
});

t.test('source labels', async (t) => {
  t.equal(sourceLabel('https://github.com/regclient/regclient/issues/539'), 'regclient/regclient#539');
  t.equal(sourceLabel('https://github.com/docker/docs/commit/0a951c5204349755441b63799e30412dc4eee44b'), 'docker/docs@0a951c5');
  t.equal(sourceLabel('https://github.com/distribution/distribution/blob/v2.8.2/registry/handlers/tags.go#L35'), 'distribution/distribution@v2.8.2 registry/handlers/tags.go#L35');
  t.equal(sourceLabel('https://gitlab.com/gitlab-org/gitlab/-/merge_requests/134455'), 'gitlab-org/gitlab!134455');
  t.equal(sourceLabel('https://docs.docker.com/docker-hub/usage/pulls/'), 'docs.docker.com/docker-hub/usage/pulls');
});
