// `check`'s TLS scenarios (tls: HTTPS only; h2: HTTP/2 offered): the client
// gets the run's CA as OCI_CA_FILE and as OCI_CERT_DIR/ca.crt (and `{ca}`,
// `{certdir}` in its arguments); a client that uses it passes, one that
// ignores it fails with its TLS error; the CA files are gone afterwards.
import t from 'tap';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { checkClient, commandClient, runCheck, scenarios } from '../src/index.js';
import { byName, CHECK_CLIENT, CHECK_TEST_TIMEOUT_MS } from './helpers/check.js';

t.setTimeout(CHECK_TEST_TIMEOUT_MS);

t.test('tls and h2 are in the catalogue, outside the default set', async (t) => {
  const named = byName(scenarios() as never);
  for (const name of ['tls', 'h2']) t.equal((named[name] as unknown as { default?: boolean })?.default, false, `${name}: run when asked for`);
});

t.test('a client given the CA (NODE_EXTRA_CA_CERTS=$OCI_CA_FILE) passes tls and h2; one that ignores it fails', async (t) => {
  const trusting = commandClient([`NODE_EXTRA_CA_CERTS="$OCI_CA_FILE" ${JSON.stringify(process.execPath)} ${JSON.stringify(CHECK_CLIENT)}`], { shell: true });
  const report = await runCheck(trusting, { scenarios: ['tls', 'h2'] });
  for (const r of report.results) {
    t.equal(r.result, 'pass', r.reasons.length ? `${r.name}: ${r.reasons.join('; ')}\n${r.output}` : r.name);
    t.ok(r.requests.length > 0, `${r.name}: the client's requests reached the registry`);
    t.ok(r.requests.every((e) => e.httpVersion === '1.1' || e.httpVersion === '2.0'), `${r.name}: each request says its protocol`);
  }
  const ignoring = await runCheck(commandClient([process.execPath, CHECK_CLIENT]), { scenarios: ['tls'] });
  const [failed] = ignoring.results;
  t.equal(failed!.result, 'fail', 'without the CA the client fails tls');
  t.match(failed!.output, /self[- ]signed certificate|unable to verify|UNABLE_TO_VERIFY|SELF_SIGNED/i, 'with its TLS error');
});

t.test('what a TLS scenario hands the client: https URL, the CA as a file and a cert dir, placeholders; removed afterwards', async (t) => {
  const seen: { url: string; env: Record<string, string>; pem?: string; ca?: string; args: string }[] = [];
  const report = await checkClient(
    async (target) => {
      const client = commandClient(['printf', '%s', '{ca} {certdir}']);
      const printed = await client(target, new AbortController().signal);
      seen.push({ url: target.url, env: target.env, pem: target.ca?.pem, ca: await readFile(target.env.OCI_CA_FILE!, 'utf8'), args: printed.output });
    },
    { scenarios: ['tls'] },
  );
  t.equal(report.results[0]!.result, 'pass', 'a client that only reads passes: nothing it left is incomplete');
  const [got] = seen;
  t.match(got!.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'OCI_REGISTRY_URL is https');
  t.equal(got!.env.OCI_REGISTRY_URL, got!.url);
  t.equal(got!.ca, got!.pem, 'OCI_CA_FILE holds the CA the target carries');
  t.ok(new X509Certificate(got!.ca!).ca, 'and it is a CA certificate');
  t.equal(got!.env.OCI_CA_FILE, `${got!.env.OCI_CERT_DIR}/ca.crt`, 'OCI_CERT_DIR holds it as ca.crt');
  t.equal(got!.args, `${got!.env.OCI_CA_FILE} ${got!.env.OCI_CERT_DIR}`, '{ca} and {certdir} are replaced');
  t.notOk(existsSync(got!.env.OCI_CERT_DIR!), 'the CA files are removed after the scenario');
});

t.test('a plain scenario has no CA variables', async (t) => {
  let env: Record<string, string> = {};
  await checkClient(async (target) => void (env = target.env), { scenarios: ['baseline'] });
  t.equal(env.OCI_CA_FILE, undefined);
  t.equal(env.OCI_CERT_DIR, undefined);
  t.match(env.OCI_REGISTRY_URL, /^http:\/\//);
});
