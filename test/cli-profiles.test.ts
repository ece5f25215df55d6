// The command line for profiles and the hosted-registry switches (README
// "Command line", "Profiles"), run from source.
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PROFILES } from '../src/index.js';
import { send } from './helpers/http.js';
import { startCli } from './helpers/cli-source.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const runCli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { main } from ${JSON.stringify(CLI)}; await main(process.argv.slice(1));`, '--', ...args]);

t.test('--profiles lists every profile on one line, and exits 0', async (t) => {
  const { stdout, stderr } = await runCli(['--profiles']);
  t.equal(stderr, '');
  const lines = stdout.trimEnd().split('\n');
  t.equal(lines.length, Object.keys(PROFILES).length);
  t.match(lines[0], /^distribution {4}distribution\/distribution 2\.8 .* \(5 sourced behaviours\)$/);
  t.ok(lines.some((line) => /^ecr +Amazon Elastic Container Registry /.test(line)), 'ecr is listed');
});

t.test('--profile with the switches as flags: --create-on-push, --repositories, --answers', async (t) => {
  const cli = await startCli(t, ['--profile', 'ecr', '--repositories', 'team/app', '--answers', '{"repositoryUnknown":{"message":"no {name}"}}']);
  const refused = await send(cli.url, 'POST', '/v2/team/other/blobs/uploads/');
  t.equal(refused.status, 404);
  t.strictSame(refused.json, { errors: [{ code: 'NAME_UNKNOWN', message: 'no team/other' }] });
  t.equal((await send(cli.url, 'POST', '/v2/team/app/blobs/uploads/')).status, 202);

  const open = await startCli(t, ['--profile', 'ecr', '--create-on-push', 'true']);
  t.equal((await send(open.url, 'POST', '/v2/team/other/blobs/uploads/')).status, 202, 'a flag overrides the profile');
  const patterns = await startCli(t, ['--create-on-push', '["team/*"]', '--no-catalog', '--pull-limit', '5/60']);
  t.equal((await send(patterns.url, 'POST', '/v2/other/app/blobs/uploads/')).status, 404);
  t.equal((await send(patterns.url, 'GET', '/v2/_catalog')).status, 404);
});

t.test('a bad value for the new flags is a usage error naming the flag', async (t) => {
  const failed = await runCli(['--create-on-push', '"team"']).catch((error: { code: number; stderr: string }) => error);
  t.equal((failed as { code: number }).code, 2);
  t.match((failed as { stderr: string }).stderr, /--create-on-push must be true, false or an array of name patterns, got "team"/);
});
