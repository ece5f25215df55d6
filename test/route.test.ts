// parseRoute reads a /v2/ path from its end by index. The oracle here is the
// spec's endpoint table read the plain way: split the path after /v2/ into
// segments, take the last ones as the endpoint and the rest as the name
// (spec "Endpoints"; a name may itself hold `blobs` or `manifests`).
import t from 'tap';
import { parseRoute } from '../src/http/route.js';

type Expected = { kind: string; name: string; reference?: string } | 'not found';

function byTable(path: string): Expected {
  const parts = path.slice('/v2/'.length).split('/');
  const from = (i: number) => parts[parts.length - i];
  const name = (drop: number) => parts.slice(0, parts.length - drop).join('/');
  if (parts.length >= 3 && from(2) === 'tags' && from(1) === 'list') return { kind: 'tags', name: name(2) };
  if (parts.length >= 4 && from(3) === 'blobs' && from(2) === 'uploads') return { kind: 'upload', name: name(3), reference: from(1) };
  if (parts.length >= 3 && from(2) === 'blobs') return { kind: 'blob', name: name(2), reference: from(1) };
  if (parts.length >= 3 && from(2) === 'manifests') return { kind: 'manifest', name: name(2), reference: from(1) };
  if (parts.length >= 3 && from(2) === 'referrers') return { kind: 'referrers', name: name(2), reference: from(1) };
  return 'not found';
}

function actual(url: string): Expected {
  try {
    const route = parseRoute(url);
    return route.reference === undefined ? { kind: route.kind, name: route.name! } : { kind: route.kind, name: route.name!, reference: route.reference };
  } catch (error) {
    // A path matching no endpoint is a 404; any other failure is reported as itself.
    return (error as { status?: number }).status === 404 ? 'not found' : { kind: `error ${(error as Error).message}`, name: '' };
  }
}

t.test('every path of up to four segments from endpoint words routes as the endpoint table says', async (t) => {
  const words = ['', 'a', 'b', 'blobs', 'uploads', 'manifests', 'tags', 'list', 'referrers', 'sha256:x'];
  let checked = 0;
  const mismatches: string[] = [];
  const walk = (path: string, depth: number) => {
    for (const word of words) {
      const next = `${path}/${word}`;
      if (next !== '/v2/_catalog' && next !== '/v2/') {
        for (const url of [next, `${next}?digest=sha256:x`]) {
          checked++;
          const got = actual(url);
          const want = byTable(next);
          if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${url}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
        }
      }
      if (depth > 1) walk(next, depth - 1);
    }
  };
  walk('/v2', 4);
  t.ok(checked > 20_000, `${checked} paths checked`);
  t.strictSame(mismatches.slice(0, 10), [], 'no path routes otherwise');
});

t.test('the query is split off and kept; a percent-encoded reference is decoded', async (t) => {
  const route = parseRoute('/v2/library/ubuntu/blobs/uploads/abc?digest=sha256:1&mount=x');
  t.equal(route.kind, 'upload');
  t.equal(route.name, 'library/ubuntu');
  t.equal(route.reference, 'abc');
  t.equal(route.path, '/v2/library/ubuntu/blobs/uploads/abc');
  t.equal(route.query.get('digest'), 'sha256:1');
  t.equal(route.query.get('mount'), 'x');
  t.equal(parseRoute('/v2/a/manifests/sha256%3Aabc').reference, 'sha256:abc');
  t.equal(parseRoute('/v2/a/blobs/uploads/').reference, '', 'the uploads collection');
  t.equal(parseRoute('/v2/blobs/manifests/blobs/blobs/x').name, 'blobs/manifests/blobs', 'a name of endpoint words');
});
