import t from 'tap';
import { parseCommandLine } from '../src/cli/command-line.js';
import { helpText } from '../src/cli/flags.js';
import { startRegistry } from '../src/index.js';
import { startCli } from './helpers/cli-source.js';
import { send } from './helpers/http.js';

t.test('--upstream, its field flags, --mirror and --read-only build the upstream options', async (t) => {
  const line = parseCommandLine(
    ['--upstream', 'https://registry.example', '--upstream-user', 'ci', '--upstream-ca', '/etc/ca.pem', '--mirror', 'docker.io=http://127.0.0.1:1', '--mirror', 'quay.io=http://127.0.0.1:2', '--read-only'],
    { OCI_TEST_REGISTRY_UPSTREAM_PASSWORD: 'from-env' },
  );
  t.same(line.options.upstream, { url: 'https://registry.example', ca: '/etc/ca.pem', username: 'ci', password: 'from-env', readOnly: true });
  t.same(line.options.upstreams, { 'docker.io': { url: 'http://127.0.0.1:1', readOnly: true }, 'quay.io': { url: 'http://127.0.0.1:2', readOnly: true } });
  const json = parseCommandLine(['--upstream', '{"url":"http://127.0.0.1:3","cache":"pin"}', '--upstream-password', 'flag'], {});
  t.same(json.options.upstream, { url: 'http://127.0.0.1:3', cache: 'pin', password: 'flag' });
  t.throws(() => parseCommandLine(['--upstream-user', 'ci'], {}), /--upstream-user needs --upstream URL/);
  t.throws(() => parseCommandLine(['--read-only'], {}), /--read-only needs --upstream URL or --mirror HOST=URL/);
  t.throws(() => parseCommandLine(['--mirror', 'docker.io'], {}), /invalid value "docker.io" for --mirror: give HOST=URL/);
  t.throws(() => parseCommandLine(['--upstream', 'registry.example'], {}), /for --upstream: give the upstream URL/);
  t.throws(() => parseCommandLine(['--upstream', '{"url":"http://x","cache":"always"}'], {}), /--upstream: cache must be true, false or 'pin'/);
  for (const flag of ['--upstream URL', '--mirror HOST=URL', '--upstream-ca', '--upstream-user', '--upstream-password', '--read-only']) t.match(helpText(), flag);
});

t.test('npx oci-test-registry --upstream URL pulls through', async (t) => {
  const upstream = await startRegistry({ teardown: t });
  const image = await upstream.store.pushImage('team/app', { tag: 'v1', layers: ['a layer'] });
  const cli = await startCli(t, ['--upstream', upstream.url, '--read-only']);
  const reply = await send(cli.url, 'GET', '/v2/team/app/manifests/v1', { headers: { Accept: image.mediaType } });
  t.equal(reply.status, 200);
  t.equal(reply.headers['docker-content-digest'], image.digest);
  const push = await send(cli.url, 'POST', '/v2/team/app/blobs/uploads/');
  t.equal(push.status, 405);
});
