// end-8a / end-8b `GET /v2/<name>/tags/list[?n=&last=]` (spec "Listing Tags"):
// shape, lexical order, n / last paging, Link headers and their walk.
import t from 'tap';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import {
  OCI_MANIFEST,
  SPEC_ERROR_CODES,
  assertError,
  json,
  nextPath,
  ociImageManifest,
  putManifest,
  walkLinks,
  type Asserts,
} from './helpers/fixtures.js';

/** Pushes one manifest into `name` and returns a function that tags it (end-7b `?tag=`, in batches). */
async function tagger(url: string, name: string): Promise<{ digest: string; tag: (tags: string[]) => Promise<void> }> {
  const bytes = json(await ociImageManifest(url, name, `tagger ${name}`));
  const digest = sha256(bytes);
  const tag = async (tags: string[]) => {
    for (let i = 0; i < tags.length; i += 250) {
      const batch = tags.slice(i, i + 250);
      const reply = await putManifest(url, name, `${digest}?${batch.map((x) => `tag=${encodeURIComponent(x)}`).join('&')}`, bytes, OCI_MANIFEST);
      if (reply.status !== 201) throw new Error(`tagging answered ${reply.status}: ${reply.body}`);
    }
  };
  return { digest, tag };
}

/** One page: status 200, JSON `{"name","tags"}` exactly, and the Link header (or none). */
function assertPage(t: Asserts, reply: Reply, name: string, tags: string[], link: string | undefined): void {
  t.equal(reply.status, 200, 'status 200');
  t.equal(reply.headers['content-type'], 'application/json', 'Content-Type application/json');
  t.strictSame(reply.json, { name, tags }, `tags ${JSON.stringify(tags).slice(0, 120)}`);
  t.equal(reply.headers.link, link, link === undefined ? 'no Link header' : `Link ${link}`);
}

// spec "Listing Tags": lexical, "i.e. case-insensitive alphanumeric order";
// the registry breaks case ties by code unit (upper case first). Spelled out
// by hand so the test is an oracle, not a copy of the comparator.
const PUSH_ORDER = ['b', 'B', 'a', 'A', '_x', '1', '10', '2', 'a-b', 'a.b', 'a_b', 'ab', 'Z9', 'z', 'latest', 'Latest', 'v1.0', 'V1.1'];
const SORTED = ['1', '10', '2', '_x', 'A', 'a', 'a-b', 'a.b', 'a_b', 'ab', 'B', 'b', 'Latest', 'latest', 'v1.0', 'V1.1', 'z', 'Z9'];

t.test('tags/list is {"name","tags"} in lexical (case-insensitive) order; HEAD has no body', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/ordered';
  await (await tagger(url, name)).tag(PUSH_ORDER);
  const get = await send(url, 'GET', `/v2/${name}/tags/list`);
  assertPage(t, get, name, SORTED, undefined);
  t.equal(get.body.toString('utf8').indexOf('{"name":'), 0, 'name comes first');
  const head = await send(url, 'HEAD', `/v2/${name}/tags/list`);
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD has no body');
  t.equal(head.headers['content-type'], 'application/json');
  t.equal(head.headers['content-length'], String(get.body.length), 'HEAD Content-Length is that of GET');
});

t.test('n and last: table of pages and Link headers', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/paged';
  await (await tagger(url, name)).tag(PUSH_ORDER);
  const link = (n: number, last: string) => `</v2/${name}/tags/list?n=${n}&last=${last}>; rel="next"`;
  const after = (tag: string) => SORTED.slice(SORTED.indexOf(tag) + 1);
  const rows: { query: string; tags: string[]; link?: string }[] = [
    { query: 'n=0', tags: [] },
    { query: 'n=0&last=a', tags: [] },
    { query: 'n=1', tags: ['1'], link: link(1, '1') },
    { query: 'n=5', tags: SORTED.slice(0, 5), link: link(5, 'A') },
    { query: 'n=16', tags: SORTED.slice(0, 16), link: link(16, 'V1.1') },
    { query: 'n=17', tags: SORTED.slice(0, 17), link: link(17, 'z') },
    { query: 'n=18', tags: SORTED },
    { query: 'n=100', tags: SORTED },
    { query: 'n=007', tags: SORTED.slice(0, 7), link: link(7, 'a-b') },
    // last that exists
    { query: 'last=a', tags: after('a') },
    { query: 'last=A', tags: after('A') },
    { query: 'last=Latest', tags: after('Latest') },
    { query: 'n=4&last=ab', tags: ['B', 'b', 'Latest', 'latest'], link: link(4, 'latest') },
    { query: 'n=2&last=v1.0', tags: ['V1.1', 'z'], link: link(2, 'z') },
    { query: 'n=16&last=V1.1', tags: ['z', 'Z9'] },
    { query: 'n=2&last=z', tags: ['Z9'] },
    { query: 'n=1&last=z', tags: ['Z9'] },
    // last that does not exist: entries strictly after it
    { query: 'last=c', tags: after('b') },
    { query: 'n=2&last=Q', tags: ['v1.0', 'V1.1'], link: link(2, 'V1.1') },
    { query: 'n=1&last=Z', tags: ['z'], link: link(1, 'z') },
    { query: 'n=3&last=0', tags: ['1', '10', '2'], link: link(3, '2') },
    { query: 'last=-', tags: SORTED },
    { query: 'n=3&last=LATEST', tags: ['Latest', 'latest', 'v1.0'], link: link(3, 'v1.0') },
    { query: 'n=99999999999999999999', tags: SORTED },
    // last at or past the end
    { query: 'last=Z9', tags: [] },
    { query: 'n=5&last=Z9', tags: [] },
    { query: 'n=5&last=zzz', tags: [] },
    { query: 'last=~', tags: [] },
  ];
  for (const { query, tags, link: expected } of rows) {
    await t.test(`?${query}`, async (t) => {
      assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?${query}`), name, tags, expected);
      const head = await send(url, 'HEAD', `/v2/${name}/tags/list?${query}`);
      t.equal(head.body.length, 0, 'HEAD has no body');
      t.equal(head.headers.link, expected, 'HEAD has the same Link');
    });
  }
});

/** Walks from `start`, asserting that every page but the last is full and carries a Link, and the last carries none. */
async function walkTags(t: Asserts, url: string, name: string, start: string, n: number, between?: (page: number, reply: Reply) => Promise<void>): Promise<string[]> {
  const pages = await walkLinks(url, start, between);
  const seen: string[] = [];
  for (const [i, page] of pages.entries()) {
    const lastPage = i === pages.length - 1;
    const tags: string[] = page.json.tags;
    t.equal(page.json.name, name);
    if (!lastPage) {
      t.equal(tags.length, n, `page ${i + 1} is full`);
      t.equal(nextPath(page), `/v2/${name}/tags/list?n=${n}&last=${tags[tags.length - 1]}`, `page ${i + 1} links to the next`);
    } else {
      t.ok(tags.length >= 1 && tags.length <= n, `last page has 1..${n} tags (${tags.length})`);
      t.equal(page.headers.link, undefined, 'no Link on the last page');
    }
    seen.push(...tags);
  }
  return seen;
}

t.test('walking the Link headers yields every tag exactly once, for any n', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/walked';
  await (await tagger(url, name)).tag(PUSH_ORDER);
  for (const n of [1, 2, 3, 5, 6, 9, 17, 18, 19, 1000]) {
    await t.test(`n=${n}`, async (t) => {
      t.strictSame(await walkTags(t, url, name, `/v2/${name}/tags/list?n=${n}`, n), SORTED);
    });
  }
});

t.test('tags added, moved and deleted during a walk: those after the cursor appear, none twice', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/changing';
  const { digest, tag } = await tagger(url, name);
  await tag(['b', 'd', 'f', 'h', 'j']);
  const other = json(await ociImageManifest(url, name, 'other'));
  const changes: Record<number, () => Promise<void>> = {
    // after page 1 ([b, d]; cursor d): add before and after the cursor, delete the cursor itself.
    1: async () => {
      await tag(['a', 'c', 'e', 'D']);
      t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/d`)).status, 202, 'cursor tag deleted');
    },
    // after page 2 ([e, f]; cursor f): move f and h to another manifest, add g and k.
    2: async () => {
      t.equal((await putManifest(url, name, 'f', other, OCI_MANIFEST)).status, 201);
      t.equal((await putManifest(url, name, 'h', other, OCI_MANIFEST)).status, 201);
      await tag(['g', 'k']);
    },
  };
  const seen = await walkTags(t, url, name, `/v2/${name}/tags/list?n=2`, 2, async (page) => changes[page]?.());
  t.strictSame(seen, ['b', 'd', 'e', 'f', 'g', 'h', 'j', 'k'], 'every tag after the cursor, each once');
  t.equal(new Set(seen).size, seen.length, 'no tag twice');
  t.strictSame((await send(url, 'GET', `/v2/${name}/tags/list`)).json.tags, ['a', 'b', 'c', 'D', 'e', 'f', 'g', 'h', 'j', 'k']);
  t.equal((await send(url, 'GET', `/v2/${name}/manifests/j`)).headers['docker-content-digest'], digest);
});

t.test('malformed n → 400 with an error body', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/badn';
  await (await tagger(url, name)).tag(['a', 'b']);
  for (const n of ['-1', 'abc', '1.5', '', '1e3', '0x10', '%2B1', '%201', '1%20', 'Infinity', 'NaN', '١']) {
    await t.test(`n=${n}`, async (t) => {
      assertError(t, await send(url, 'GET', `/v2/${name}/tags/list?n=${n}`), 400, SPEC_ERROR_CODES);
      assertError(t, await send(url, 'GET', `/v2/${name}/tags/list?n=${n}&last=a`), 400, SPEC_ERROR_CODES);
      assertError(t, await send(url, 'HEAD', `/v2/${name}/tags/list?n=${n}`), 400, SPEC_ERROR_CODES, true);
    });
  }
});

t.test('unknown repository → 404 NAME_UNKNOWN; a repository with manifests but no tags → []', async (t) => {
  const { url } = await startFor(t);
  assertError(t, await send(url, 'GET', '/v2/no/such/repo/tags/list'), 404, 'NAME_UNKNOWN');
  assertError(t, await send(url, 'GET', '/v2/no/such/repo/tags/list?n=10&last=a'), 404, 'NAME_UNKNOWN');
  assertError(t, await send(url, 'HEAD', '/v2/no/such/repo/tags/list'), 404, 'NAME_UNKNOWN', true);

  const name = 'library/untagged';
  const bytes = json(await ociImageManifest(url, name, 'untagged'));
  t.equal((await putManifest(url, name, sha256(bytes), bytes, OCI_MANIFEST)).status, 201);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list`), name, [], undefined);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?n=5`), name, [], undefined);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?n=5&last=a`), name, [], undefined);
  // Tag it, untag it: back to [].
  t.equal((await putManifest(url, name, 'only', bytes, OCI_MANIFEST)).status, 201);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list`), name, ['only'], undefined);
  t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/only`)).status, 202);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list`), name, [], undefined);
});

t.test('tags of one repository never appear in another, nested names included', async (t) => {
  const { url } = await startFor(t);
  await (await tagger(url, 'a/b')).tag(['one']);
  await (await tagger(url, 'a/b/c')).tag(['two']);
  await (await tagger(url, 'a')).tag(['three']);
  assertPage(t, await send(url, 'GET', '/v2/a/b/tags/list'), 'a/b', ['one'], undefined);
  assertPage(t, await send(url, 'GET', '/v2/a/b/c/tags/list'), 'a/b/c', ['two'], undefined);
  assertPage(t, await send(url, 'GET', '/v2/a/tags/list'), 'a', ['three'], undefined);
});

t.test('option maxPageSize caps n and pages a request without n', async (t) => {
  const { url } = await startFor(t, { maxPageSize: 4 });
  const name = 'library/capped';
  await (await tagger(url, name)).tag(PUSH_ORDER);
  const link = (n: number, last: string) => `</v2/${name}/tags/list?n=${n}&last=${last}>; rel="next"`;
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list`), name, SORTED.slice(0, 4), link(4, '_x'));
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?n=100`), name, SORTED.slice(0, 4), link(4, '_x'));
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?n=2`), name, SORTED.slice(0, 2), link(2, '10'));
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?n=0`), name, [], undefined);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?last=latest`), name, ['v1.0', 'V1.1', 'z', 'Z9'], undefined);
  assertPage(t, await send(url, 'GET', `/v2/${name}/tags/list?last=Latest`), name, ['latest', 'v1.0', 'V1.1', 'z'], link(4, 'z'));
  t.strictSame(await walkTags(t, url, name, `/v2/${name}/tags/list`, 4), SORTED, 'a walk without n sees every tag once');
  t.strictSame(await walkTags(t, url, name, `/v2/${name}/tags/list?n=50`, 4), SORTED, 'a walk with n above the cap too');
});

/** A seeded shuffle, so a failure can be replayed. */
function shuffle<T>(items: T[], seed = 12345): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

t.test('10,000 tags: listed whole in order, and walked', async (t) => {
  const { url } = await startFor(t);
  const name = 'library/many';
  const tags: string[] = [];
  for (let i = 0; i < 2500; i++) tags.push(`v${i}`, `V${i}`, `rel-${i}`, `rel.${i}_x`);
  // The expected order, built from the spec's rule by hand rather than by a comparator: case
  // folded, 'rel-' < 'rel.' < 'v' ('-' is 0x2d, '.' 0x2e); within a group the rest compares by
  // code unit (digits, then '_' 0x5f: "10_x" < "1_x"); a case tie puts 'V' (0x56) before 'v'.
  const digits = Array.from({ length: 2500 }, (_, i) => String(i)).sort();
  const expected = [
    ...digits.map((i) => `rel-${i}`),
    ...digits.map((i) => `${i}_x`).sort().map((rest) => `rel.${rest}`),
    ...digits.flatMap((i) => [`V${i}`, `v${i}`]),
  ];
  t.equal(expected.length, 10_000);
  t.ok(expected.indexOf('rel.10_x') < expected.indexOf('rel.1_x'), 'the oracle itself: "10_x" before "1_x"');
  await (await tagger(url, name)).tag(shuffle(tags));

  const whole = await send(url, 'GET', `/v2/${name}/tags/list`);
  t.equal(whole.status, 200);
  t.equal(whole.headers.link, undefined, 'no Link without n');
  t.equal(whole.json.tags.length, 10_000, '10,000 tags');
  t.ok(JSON.stringify(whole.json.tags) === JSON.stringify(expected), 'in lexical order');

  for (const n of [1000, 777]) {
    const seen = await walkTags(t, url, name, `/v2/${name}/tags/list?n=${n}`, n);
    t.equal(seen.length, 10_000, `n=${n}: 10,000 tags walked`);
    t.equal(new Set(seen).size, 10_000, `n=${n}: none twice`);
    t.ok(JSON.stringify(seen) === JSON.stringify(expected), `n=${n}: in lexical order`);
  }
  // And a property that needs no expected list: every tag sorts before the next by the spec's
  // rule, page seams included (each page's last tag before the next page's first).
  const pages = await walkLinks(url, `/v2/${name}/tags/list?n=999`);
  const listed = pages.flatMap((page) => page.json.tags as string[]);
  const outOfOrder = listed.slice(1).filter((tag, i) => !precedes(listed[i]!, tag));
  t.same(outOfOrder.slice(0, 5), [], `n=999: ${pages.length} pages, each tag before the next`);
});

/** spec "Listing Tags": lexical, "case-insensitive alphanumeric order"; this registry breaks a case tie by code unit. */
function precedes(a: string, b: string): boolean {
  const [foldedA, foldedB] = [a.toLowerCase(), b.toLowerCase()];
  return foldedA === foldedB ? a < b : foldedA < foldedB;
}
