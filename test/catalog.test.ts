// `GET /v2/_catalog[?n=&last=]` (Docker Registry HTTP API V2 "Listing
// Repositories"; paged like spec "Listing Tags"): sorted names, n / last,
// Link headers, and repositories leaving the catalog when emptied.
import t from 'tap';
import { send, sha256, startFor, type Reply } from './helpers/http.js';
import { pushBlob } from './helpers/push.js';
import {
  EMPTY,
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

/**
 * The `Link` of a catalog page as {n, last}, decoded: a name's '/' may be
 * sent as '/' or '%2F' in a query (RFC 3986 §3.4), both are the same value.
 */
function catalogLink(reply: Reply): { n: string | null; last: string | null } | undefined {
  const path = nextPath(reply);
  if (path === undefined) return undefined;
  if (!path.startsWith('/v2/_catalog?')) throw new Error(`Link does not point at /v2/_catalog: ${path}`);
  const query = new URLSearchParams(path.slice('/v2/_catalog?'.length));
  if ([...query.keys()].sort().join(',') !== 'last,n') throw new Error(`Link query is not n & last: ${path}`);
  return { n: query.get('n'), last: query.get('last') };
}

function assertCatalog(t: Asserts, reply: Reply, repositories: string[], link: { n: number; last: string } | undefined): void {
  t.equal(reply.status, 200, 'status 200');
  t.equal(reply.headers['content-type'], 'application/json', 'Content-Type application/json');
  t.strictSame(reply.json, { repositories }, `repositories ${JSON.stringify(repositories).slice(0, 120)}`);
  t.strictSame(catalogLink(reply), link === undefined ? undefined : { n: String(link.n), last: link.last }, link === undefined ? 'no Link' : `Link n=${link.n} last=${link.last}`);
  if (link !== undefined) t.match(String(reply.headers.link), /^<\/v2\/_catalog\?n=\d+&last=[^>]+>; rel="next"$/, 'Link shape');
}

// Names are lower case, so lexical order is code-unit order: '-' < '.' < '/' < '0' < '_' < 'a'.
const PUSH_ORDER = ['b', 'a/b', 'a-b', 'a', 'a.b', 'a_b', 'ab', 'a/b/c', 'a0', 'z/y', 'library/alpine', 'library/alpine-edge', 'library/alpine/x'];
const SORTED = ['a', 'a-b', 'a.b', 'a/b', 'a/b/c', 'a0', 'a_b', 'ab', 'b', 'library/alpine', 'library/alpine-edge', 'library/alpine/x', 'z/y'];

async function seed(url: string, names: string[]): Promise<void> {
  for (const name of names) await pushBlob(url, name, `a blob in ${name}`);
}

t.test('an empty registry has an empty catalog', async (t) => {
  const { url } = await startFor(t);
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog'), [], undefined);
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog?n=10'), [], undefined);
});

t.test('the catalog lists every repository, sorted; HEAD has no body', async (t) => {
  const { url } = await startFor(t);
  await seed(url, PUSH_ORDER);
  // An upload in progress makes no repository.
  t.equal((await send(url, 'POST', '/v2/uploading/only/blobs/uploads/')).status, 202);
  const get = await send(url, 'GET', '/v2/_catalog');
  assertCatalog(t, get, SORTED, undefined);
  const head = await send(url, 'HEAD', '/v2/_catalog');
  t.equal(head.status, 200);
  t.equal(head.body.length, 0, 'HEAD has no body');
  t.equal(head.headers['content-length'], String(get.body.length));
});

t.test('n and last: table of pages and Link headers', async (t) => {
  const { url } = await startFor(t);
  await seed(url, PUSH_ORDER);
  const after = (name: string) => SORTED.slice(SORTED.indexOf(name) + 1);
  const rows: { query: string; repositories: string[]; link?: { n: number; last: string } }[] = [
    { query: 'n=0', repositories: [] },
    { query: 'n=0&last=a', repositories: [] },
    { query: 'n=1', repositories: ['a'], link: { n: 1, last: 'a' } },
    { query: 'n=4', repositories: SORTED.slice(0, 4), link: { n: 4, last: 'a/b' } },
    { query: 'n=12', repositories: SORTED.slice(0, 12), link: { n: 12, last: 'library/alpine/x' } },
    { query: 'n=13', repositories: SORTED },
    { query: 'n=50', repositories: SORTED },
    { query: 'last=a/b', repositories: after('a/b') },
    { query: 'last=a%2Fb', repositories: after('a/b') },
    { query: 'n=2&last=a/b', repositories: ['a/b/c', 'a0'], link: { n: 2, last: 'a0' } },
    { query: 'n=3&last=library', repositories: ['library/alpine', 'library/alpine-edge', 'library/alpine/x'], link: { n: 3, last: 'library/alpine/x' } },
    { query: 'n=2&last=library/alpine/x', repositories: ['z/y'] },
    { query: 'last=c', repositories: ['library/alpine', 'library/alpine-edge', 'library/alpine/x', 'z/y'] },
    { query: 'last=z/y', repositories: [] },
    { query: 'n=3&last=zz', repositories: [] },
  ];
  for (const { query, repositories, link } of rows) {
    await t.test(`?${query}`, async (t) => {
      assertCatalog(t, await send(url, 'GET', `/v2/_catalog?${query}`), repositories, link);
      const head = await send(url, 'HEAD', `/v2/_catalog?${query}`);
      t.equal(head.body.length, 0, 'HEAD has no body');
      t.equal(head.headers.link, (await send(url, 'GET', `/v2/_catalog?${query}`)).headers.link, 'HEAD has the same Link');
    });
  }
});

async function walkCatalog(t: Asserts, url: string, start: string, n: number, between?: (page: number) => Promise<void>): Promise<string[]> {
  const pages = await walkLinks(url, start, between ? (page) => between(page) : undefined);
  const seen: string[] = [];
  for (const [i, page] of pages.entries()) {
    const repositories: string[] = page.json.repositories;
    if (i < pages.length - 1) {
      t.equal(repositories.length, n, `page ${i + 1} is full`);
      t.strictSame(catalogLink(page), { n: String(n), last: repositories[repositories.length - 1] }, `page ${i + 1} links to the next`);
    } else {
      t.ok(repositories.length >= 1 && repositories.length <= n, `last page has 1..${n} names`);
      t.equal(page.headers.link, undefined, 'no Link on the last page');
    }
    seen.push(...repositories);
  }
  return seen;
}

t.test('walking the Link headers yields every repository exactly once', async (t) => {
  const { url } = await startFor(t);
  await seed(url, PUSH_ORDER);
  for (const n of [1, 2, 3, 4, 6, 12, 13, 14]) {
    await t.test(`n=${n}`, async (t) => {
      t.strictSame(await walkCatalog(t, url, `/v2/_catalog?n=${n}`, n), SORTED);
    });
  }
});

t.test('repositories created during a walk: those after the cursor appear, none twice', async (t) => {
  const { url } = await startFor(t);
  await seed(url, ['b', 'd', 'f', 'h']);
  const changes: Record<number, () => Promise<void>> = {
    1: () => seed(url, ['a', 'c', 'c/z', 'e', 'd/a']),
    2: () => seed(url, ['g', 'i', 'b/a']),
  };
  const seen = await walkCatalog(t, url, '/v2/_catalog?n=2', 2, async (page) => changes[page]?.());
  t.strictSame(seen, ['b', 'd', 'd/a', 'e', 'f', 'g', 'h', 'i']);
});

t.test('malformed n → 400 with an error body', async (t) => {
  const { url } = await startFor(t);
  await seed(url, ['a', 'b']);
  for (const n of ['-1', 'abc', '1.5', '', '1e3', '%2B1']) {
    assertError(t, await send(url, 'GET', `/v2/_catalog?n=${n}`), 400, SPEC_ERROR_CODES);
    assertError(t, await send(url, 'HEAD', `/v2/_catalog?n=${n}`), 400, SPEC_ERROR_CODES, true);
  }
});

t.test('option maxPageSize caps n and pages a catalog request without n', async (t) => {
  const { url } = await startFor(t, { maxPageSize: 5 });
  await seed(url, PUSH_ORDER);
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog'), SORTED.slice(0, 5), { n: 5, last: 'a/b/c' });
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog?n=9'), SORTED.slice(0, 5), { n: 5, last: 'a/b/c' });
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog?n=2'), SORTED.slice(0, 2), { n: 2, last: 'a-b' });
  assertCatalog(t, await send(url, 'GET', '/v2/_catalog?last=ab'), SORTED.slice(8), undefined);
  t.strictSame(await walkCatalog(t, url, '/v2/_catalog', 5), SORTED);
});

t.test('deleting all content of a repository removes it from the catalog', async (t) => {
  const { url } = await startFor(t);
  await seed(url, ['before', 'zafter']);

  await t.test('an image: manifest, then each blob', async (t) => {
    const name = 'gone/image';
    const manifest = (await ociImageManifest(url, name, 'gone')) as { config: { digest: string }; layers: { digest: string }[] };
    const bytes = json(manifest);
    t.equal((await putManifest(url, name, 'v1', bytes, OCI_MANIFEST)).status, 201);
    const listed = async () => (await send(url, 'GET', '/v2/_catalog')).json.repositories as string[];
    t.strictSame(await listed(), ['before', name, 'zafter']);
    t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/${sha256(bytes)}`)).status, 202);
    t.strictSame(await listed(), ['before', name, 'zafter'], 'its blobs keep it');
    t.equal((await send(url, 'DELETE', `/v2/${name}/blobs/${manifest.config.digest}`)).status, 202);
    t.strictSame(await listed(), ['before', name, 'zafter'], 'its layer keeps it');
    t.equal((await send(url, 'DELETE', `/v2/${name}/blobs/${manifest.layers[0]!.digest}`)).status, 202);
    t.strictSame(await listed(), ['before', 'zafter'], 'empty: gone from the catalog');
    assertError(t, await send(url, 'GET', `/v2/${name}/tags/list`), 404, 'NAME_UNKNOWN');
    // Pushing again brings it back.
    await pushBlob(url, name, 'again');
    t.strictSame(await listed(), ['before', name, 'zafter'], 'back after a new push');
  });

  await t.test('an artifact with no blobs: its manifest only', async (t) => {
    const name = 'gone/artifact';
    const bytes = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.x', config: EMPTY, layers: [EMPTY] });
    t.equal((await putManifest(url, name, 'v1', bytes, OCI_MANIFEST)).status, 201);
    t.ok(((await send(url, 'GET', '/v2/_catalog')).json.repositories as string[]).includes(name), 'listed');
    t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/${sha256(bytes)}`)).status, 202);
    t.notOk(((await send(url, 'GET', '/v2/_catalog')).json.repositories as string[]).includes(name), 'gone from the catalog');
    assertError(t, await send(url, 'GET', `/v2/${name}/manifests/v1`), 404, 'NAME_UNKNOWN');
  });

  await t.test('deleting a tag alone keeps the repository', async (t) => {
    const name = 'kept/repo';
    const bytes = json({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.x', config: EMPTY, layers: [] });
    t.equal((await putManifest(url, name, 'v1', bytes, OCI_MANIFEST)).status, 201);
    t.equal((await send(url, 'DELETE', `/v2/${name}/manifests/v1`)).status, 202);
    t.ok(((await send(url, 'GET', '/v2/_catalog')).json.repositories as string[]).includes(name), 'still listed');
  });
});
