// GET /_oci-test-registry/openapi.json: an OpenAPI 3.1 description of every
// control route. The expectation here does not come from the code's table:
// the routes are the ones the README's "Control endpoint" table documents,
// and the server itself is probed — every described route is served, every
// other method on those paths is 405, undescribed paths are 404, and the
// parameters `wait` accepts are exactly those described.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { send, startFor } from './helpers/http.js';

const PREFIX = '/_oci-test-registry/';
const JSON_TYPE = { 'Content-Type': 'application/json' };
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** `METHOD /_oci-test-registry/path` of each row of the README's control route table. */
function readmeRoutes(): string[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Control endpoint'), readme.indexOf('\n## ', readme.indexOf('\n## Control endpoint') + 1));
  return [...section.matchAll(/^\| `(GET|POST|DELETE) (\/_oci-test-registry\/[^`?[\s]*)[^`]*` \|/gm)].map(([, method, path]) => `${method} ${path!.replace(/<(\w+)>/g, '{$1}')}`);
}

/** A request each route can answer without waiting: HEAD for the stream, an empty query for wait. */
function probe(method: string, path: string): [string, string, { body?: string; headers?: Record<string, string> }] {
  const concrete = path.replace('{id}', 'fault-404');
  if (path.endsWith('/events')) return ['HEAD', concrete, {}];
  return [method, concrete, method === 'POST' ? { body: '{}', headers: JSON_TYPE } : {}];
}

const isNoSuchEndpoint = (reply: { status: number; json: any }) => reply.status === 404 && /^no such endpoint/.test(reply.json?.errors?.[0]?.message ?? '');

t.test('openapi.json: OpenAPI 3.1, and its routes are exactly the README\'s and exactly the ones served', async (t) => {
  const { url } = await startFor(t, { control: true });
  const reply = await send(url, 'GET', `${PREFIX}openapi.json`);
  t.equal(reply.status, 200);
  t.equal(reply.headers['content-type'], 'application/json');
  const doc = reply.json;
  t.equal(doc.openapi, '3.1.0');
  t.type(doc.info?.title, 'string');
  t.type(doc.info?.version, 'string');

  const described: string[] = [];
  for (const [path, operations] of Object.entries<Record<string, any>>(doc.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      described.push(`${method.toUpperCase()} ${path}`);
      t.type(op.operationId, 'string', `${method} ${path}: operationId`);
      t.ok(Object.keys(op.responses ?? {}).length > 0, `${method} ${path}: responses`);
      for (const p of op.parameters ?? []) t.ok(p.name && ['query', 'path', 'header'].includes(p.in) && p.schema, `${method} ${path}: parameter ${p.name}`);
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      t.strictSame((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name), inPath, `${method} ${path}: path parameters declared`);
    }
  }
  const documented = readmeRoutes();
  t.ok(documented.length >= 11, `the README lists the routes (${documented.length})`);
  t.strictSame([...described].sort(), [...documented].sort(), 'described = documented in the README');
  t.equal(new Set(described.map((operation) => doc.paths[operation.split(' ')[1]!][operation.split(' ')[0]!.toLowerCase()].operationId)).size, described.length, 'operationIds are unique');

  // Every described route is served …
  for (const route of described) {
    const [method, path] = route.split(' ') as [string, string];
    const [m, p, options] = probe(method, path);
    const answer = await send(url, m, p, options);
    t.ok(!isNoSuchEndpoint(answer) && answer.status !== 405, `${route} is served (${m} → ${answer.status})`);
  }
  // … and nothing else on those paths, nor on paths not described.
  const paths = new Map<string, string[]>();
  for (const route of described) {
    const [method, path] = route.split(' ') as [string, string];
    paths.set(path, [...(paths.get(path) ?? []), method]);
  }
  for (const [path, methods] of paths) {
    const served = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    for (const method of METHODS.filter((m) => !served.includes(m))) {
      const answer = await send(url, method, path.replace('{id}', 'fault-404'), method === 'POST' || method === 'PUT' || method === 'PATCH' ? { body: '{}', headers: JSON_TYPE } : {});
      t.equal(answer.status, 405, `${method} ${path} is not served`);
    }
  }
  for (const path of ['openapi', 'openapi.yaml', 'seed/image', 'wait/push', 'events/1', 'journal/1', 'findings/1', 'health/', 'faults/a/b']) {
    t.ok(isNoSuchEndpoint(await send(url, 'GET', `${PREFIX}${path}`)), `GET ${PREFIX}${path} is not served`);
  }
});

t.test('wait: the query parameters it accepts are exactly the ones described', async (t) => {
  const { url } = await startFor(t, { control: true });
  const doc = (await send(url, 'GET', `${PREFIX}openapi.json`)).json;
  const described = new Set<string>(doc.paths[`${PREFIX}wait`].get.parameters.map((p: any) => p.name));
  for (const name of [...described, 'tag', 'repository', 'since', 'limit']) {
    if (name === 'event' || name === 'timeoutMs') continue;
    // Each event kind takes some of the fields; a parameter is taken when some kind takes it.
    let taken = false;
    for (const event of ['request', 'push', 'delete', 'upload']) {
      const value = name === 'status' ? '200' : name === 'kind' ? 'tag' : 'x';
      const reply = await send(url, 'GET', `${PREFIX}wait?event=${event}&${name}=${value}&timeoutMs=0`);
      if (reply.json?.errors?.[0]?.detail?.field !== name) taken = true;
    }
    t.equal(taken, described.has(name), `${name}: ${described.has(name) ? 'described and taken' : 'not described and refused'}`);
  }
});

t.test('control off: every described route is 404', async (t) => {
  const on = await startFor(t, { control: true });
  const doc = (await send(on.url, 'GET', `${PREFIX}openapi.json`)).json;
  const { url } = await startFor(t);
  for (const [path, operations] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(operations)) {
      const m = method.toUpperCase();
      const p = path.replace('{id}', 'fault-404');
      t.ok(isNoSuchEndpoint(await send(url, m, p, m === 'POST' ? { body: '{}', headers: JSON_TYPE } : {})), `${m} ${path}`);
    }
  }
});
