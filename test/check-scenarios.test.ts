// `oci-test-registry check`: a well-behaved client (test/fixtures/check-clients/client.mjs)
// passes every scenario of the catalogue, and each scenario really did what it says.
import t from 'tap';
import { runCheck, scenarios } from '../src/index.js';
import { byName, CHECK_TEST_TIMEOUT_MS, fixtureClient as client, rulesOf as rules } from './helpers/check.js';

t.setTimeout(CHECK_TEST_TIMEOUT_MS);

t.test('the well-behaved client passes every scenario, with no MUST or SHOULD finding', async (t) => {
  const report = await runCheck(client());
  t.same(report.results.map((r) => r.name), scenarios().filter((s) => s.default !== false).map((s) => s.name), 'the default set: the catalogue but the TLS scenarios, in order');
  for (const r of report.results) {
    t.equal(r.result, 'pass', r.reasons.length ? `${r.name}: ${r.reasons.join('; ')}\n${r.output}` : r.name);
    t.same(rules(r).filter((rule) => rule !== 'page-size-exceeded'), [], `${r.name}: no findings`);
  }
  t.ok(report.ok);
  const named = byName(report.results);
  // The scenarios really happened: each fault applied once, the registry answered as configured.
  for (const name of ['503-once-blob-upload', '503-once-manifest-put', '429-retry-after', 'drop-blob-get', 'truncate-blob-get']) {
    t.same(named[name]!.faults.map((f) => f.hits), [1], `${name}: the fault applied`);
  }
  t.ok(named['blob-redirect']!.requests.some((e) => e.route === 'redirect' && e.status === 200), 'blobs came from the redirect host');
  t.ok(named['blob-redirect']!.requests.some((e) => e.requestHeaders.authorization === 'Basic [redacted]'), 'credentials were used');
  t.ok(named['auth-token']!.requests.some((e) => e.route === 'token' && e.status === 200), 'a token was fetched');
  t.ok(named['tags-paged']!.requests.filter((e) => e.route === 'tags').length >= 3, 'six tags at two a page: three pages');
  t.same(rules(named['tags-paged']!), ['page-size-exceeded'], 'asking for n=100 where the registry pages at 2 is noted (info)');
  t.ok(named['no-single-post']!.requests.every((e) => e.route !== 'upload' || e.status !== 201 || e.method === 'PUT'));
});

