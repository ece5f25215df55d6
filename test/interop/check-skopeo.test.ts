// skopeo through `oci-test-registry check`, push and pull: the command line
// as a client author runs it, every scenario, and skopeo's matrix (printed as
// a comment and asserted where README documents skopeo's behaviour).
import t, { type Test } from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli-source.js';
import { writeLayout } from './layout.js';
import { SKOPEO, sampleImage, tempDir } from './skopeo-run.js';
import type { CheckReport } from '../../src/index.js';

const CREDS = (side: 'src' | 'dest') => `\${OCI_USERNAME:+--${side}-creds "$OCI_USERNAME:$OCI_PASSWORD"}`;

async function check(t: Test, dir: string, flags: string[], command: string): Promise<CheckReport> {
  const run = await runCli(['check', '--report', dir, ...flags, '--shell', '--', command]);
  t.comment(run.stdout);
  t.not(run.code, 2, `check ran (${run.stderr})`);
  const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as CheckReport;
  t.equal(run.code, report.ok ? 0 : 1, 'exit status agrees with the report');
  return report;
}

const matrix = (report: CheckReport) => Object.fromEntries(report.results.map((r) => [r.name, r.result]));

t.test('skopeo push through check', async (t) => {
  const dir = await tempDir(t, 'check-skopeo-push');
  await writeLayout(join(dir, 'source'), { v1: sampleImage('check-push') });
  const push = `${SKOPEO} --insecure-policy copy --retry-times 2 --dest-tls-verify=false ${CREDS('dest')} oci:${join(dir, 'source')}:v1 "docker://$OCI_REGISTRY/$OCI_REPOSITORY:v1"`;
  const report = await check(t, join(dir, 'report'), ['--expect', 'v1'], push);
  const got = matrix(report);
  t.comment(`skopeo push matrix: ${JSON.stringify(got)}`);
  for (const name of ['baseline', 'auth-basic', 'auth-token', '429-retry-after', 'no-single-post', 'mount-declined', 'chunk-max', 'no-digest-header', 'warnings', 'profile-distribution']) {
    t.equal(got[name], 'pass', name);
  }
  // README "What skopeo does on a fault": a 503 on the upload fails the copy (no retry, even with --retry-times).
  t.equal(got['503-once-blob-upload'], 'fail');
  t.match(report.results.find((r) => r.name === '503-once-blob-upload')!.output, /503 Service Unavailable/);
  for (const r of report.results) t.same(r.findings.filter((f) => f.severity === 'MUST').map((f) => f.rule), [], `${r.name}: no MUST finding`);
});

t.test('skopeo pull through check (--seed, --verify)', async (t) => {
  const dir = await tempDir(t, 'check-skopeo-pull');
  const source = join(dir, 'source');
  await writeLayout(source, { v1: sampleImage('check-pull') });
  const out = join(dir, 'out');
  const pull = `mkdir -p ${out} && ${SKOPEO} --insecure-policy copy --src-tls-verify=false ${CREDS('src')} "docker://$OCI_REGISTRY/$OCI_REPOSITORY:v1" "oci:${out}/$OCI_CHECK_SCENARIO:v1"`;
  // Every blob of the source arrived byte for byte.
  const verify = `for f in ${source}/blobs/sha256/*; do cmp -s "$f" "${out}/$OCI_CHECK_SCENARIO/blobs/sha256/\${f##*/}" || exit 1; done`;
  const report = await check(t, join(dir, 'report'), ['--seed', source, '--verify', verify], pull);
  const got = matrix(report);
  t.comment(`skopeo pull matrix: ${JSON.stringify(got)}`);
  for (const name of ['baseline', 'auth-basic', 'auth-token', '429-retry-after', 'blob-redirect', 'no-digest-header', 'warnings', 'slow']) {
    t.equal(got[name], 'pass', name);
  }
  const drop = report.results.find((r) => r.name === 'drop-blob-get')!;
  // README: a connection closed before the response fails skopeo 1.9.3's copy (EOF).
  t.equal(drop.result, 'fail');
  t.equal(drop.faults[0]!.hits, 1, 'the fault met a blob GET');
  const truncated = report.results.find((r) => r.name === 'truncate-blob-get')!;
  t.equal(truncated.result, 'pass', 'cut body: skopeo fails cleanly, which is acceptable');
  t.not(truncated.exitCode, 0);
  t.ok(report.results.find((r) => r.name === 'blob-redirect')!.requests.some((e) => e.route === 'redirect' && e.status === 200), 'skopeo followed the redirect');
});

t.test('skopeo push through the TLS scenarios, verifying with --dest-cert-dir "$OCI_CERT_DIR"', async (t) => {
  const dir = await tempDir(t, 'check-skopeo-tls');
  await writeLayout(join(dir, 'source'), { v1: sampleImage('check-tls') });
  const push = `${SKOPEO} --insecure-policy copy --dest-cert-dir "$OCI_CERT_DIR" oci:${join(dir, 'source')}:v1 "docker://$OCI_REGISTRY/$OCI_REPOSITORY:v1"`;
  const report = await check(t, join(dir, 'report'), ['--scenarios', 'tls,h2', '--expect', 'v1'], push);
  t.strictSame(matrix(report), { tls: 'pass', h2: 'pass' }, 'skopeo verifies the CA and pushes over HTTPS');
  // containers/image keeps to HTTP/1.1 even when h2 is offered (README "HTTPS and HTTP/2").
  for (const r of report.results) t.strictSame([...new Set(r.requests.map((e) => e.httpVersion))], ['1.1'], `${r.name}: skopeo spoke HTTP/1.1`);
});
