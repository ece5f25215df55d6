// `oci-test-registry check`: each deliberately broken client
// (test/fixtures/check-clients/client.mjs --broken=KIND) is caught by the
// scenario or finding meant for it.
import t from 'tap';
import { runCheck } from '../src/index.js';
import { byName, CHECK_TEST_TIMEOUT_MS, fixtureClient as client, rulesOf as rules } from './helpers/check.js';

t.setTimeout(CHECK_TEST_TIMEOUT_MS);

t.test('broken clients are caught by the scenario or finding meant for them', async (t) => {
  t.test('never retries: the 503 and dropped-connection scenarios fail on its exit status', async (t) => {
    const named = byName((await runCheck(client('never-retries'), { scenarios: ['baseline', '503-*', 'drop-blob-get'] })).results);
    t.equal(named.baseline!.result, 'pass');
    for (const name of ['503-once-blob-upload', '503-once-manifest-put', 'drop-blob-get']) {
      t.equal(named[name]!.result, 'fail', name);
      t.equal(named[name]!.exitCode, 1);
      t.match(named[name]!.reasons, [/exit 1: a well-behaved client succeeds here/]);
    }
  });

  t.test('builds upload URLs itself: upload-url-built (MUST) from the missing _state parameter', async (t) => {
    const [baseline] = (await runCheck(client('builds-upload-urls'), { scenarios: ['baseline'] })).results;
    t.equal(baseline!.exitCode, 0, 'the push itself worked');
    t.equal(baseline!.result, 'fail');
    const built = baseline!.findings.filter((f) => f.rule === 'upload-url-built');
    t.ok(built.length > 0);
    for (const f of built) {
      t.equal(f.severity, 'MUST');
      const request = baseline!.requests.find((e) => e.seq === f.seq)!;
      t.equal(request.route, 'upload', 'the finding names the request it came from');
      t.notMatch(request.path, /_state=/);
    }
  });

  t.test('ignores Retry-After: retry-before-retry-after (SHOULD) on the repeated request', async (t) => {
    const [r] = (await runCheck(client('ignores-retry-after'), { scenarios: ['429-retry-after'] })).results;
    const [finding] = r!.findings;
    t.equal(finding?.rule, 'retry-before-retry-after');
    t.equal(finding?.severity, 'SHOULD');
    const refused = r!.requests.find((e) => e.status === 429)!;
    const again = r!.requests.find((e) => e.seq === finding!.seq)!;
    t.equal(again.path, refused.path, 'the finding points at the repeat of the refused request');
    t.ok(again.at - (refused.at + refused.durationMs) < 1000);
  });

  t.test('sends Authorization to the redirect host: auth-to-redirect-host (MUST)', async (t) => {
    const [r] = (await runCheck(client('auth-to-redirect'), { scenarios: ['blob-redirect'] })).results;
    t.equal(r!.result, 'fail');
    t.ok(rules(r!, 'MUST').includes('auth-to-redirect-host'));
    const request = r!.requests.find((e) => e.seq === r!.findings[0]!.seq)!;
    t.equal(request.route, 'redirect');
    t.equal(request.status, 400);
  });

  t.test('accepts a truncated blob: truncated-blob-accepted (MUST), though it exited 0', async (t) => {
    const [r] = (await runCheck(client('accepts-truncated'), { scenarios: ['truncate-blob-get'] })).results;
    t.equal(r!.exitCode, 0);
    t.equal(r!.result, 'fail');
    t.same(rules(r!), ['truncated-blob-accepted']);
    const cut = r!.requests.find((e) => e.seq === r!.findings[0]!.seq)!;
    t.equal(cut.completed, false);
    t.equal(cut.fault, 'fault-1');
  });
});

