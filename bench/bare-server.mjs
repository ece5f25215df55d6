// The bare node:http server: the ceiling Node's HTTP stack sets on this
// machine, shaped like a registry so that ratios compare like with like.
// It routes /v2/ URLs the way a registry does and answers with the same
// status codes and headers, but stores and verifies nothing:
//
//   POST   …/blobs/uploads/          body discarded; 202 + Location
//   PATCH  …/blobs/uploads/<id>      body discarded; 202 + Location, Range
//   PUT    …/blobs/uploads/<id>      body discarded; 201 + Location, Docker-Content-Digest
//   GET    …/blobs/<digest>          one fixed buffer of --blob-size bytes (HEAD: headers)
//   DELETE …/blobs/<digest>          202
//   GET    …/manifests/<ref>         one fixed manifest-sized body (HEAD: headers)
//   PUT    …/manifests/<ref>         body discarded; 201
//   GET    …/tags/list[?n=&last=]    --tags tags, paged with a Link header as the spec says
//
//   node bench/bare-server.mjs --blob-size BYTES --tags N [--tls-cert FILE --tls-key FILE [--http2]] [--keep]
//
// With --keep (the bench's `bare-keep`) it keeps the body of every PATCH and
// PUT of an upload, in the buffers node hands over (no copy, as the registry
// keeps them), as the blob of the digest the PUT names, until a DELETE of
// that blob: the least a server that stores pushes in node's memory does,
// with nothing hashed, parsed or checked. Beside the registry it shows what
// keeping the bytes costs, apart from what verifying them costs.
//
// With --tls-cert it serves HTTPS (node:https), with --http2 too an
// http2.createSecureServer offering h2 and http/1.1, as the registry does.
//
// Prints one JSON line {"url","pid"} once listening; exits on SIGTERM or
// when stdin closes (so it never outlives the benchmark).
import { createServer } from 'node:http';
import { createHash, randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { smallImage, tagName, MANIFEST_TYPE } from './image.mjs';

const { values } = parseArgs({
  options: { 'blob-size': { type: 'string', default: '1048576' }, tags: { type: 'string', default: '0' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, http2: { type: 'boolean' }, keep: { type: 'boolean' } },
});
const blobSize = Number(values['blob-size']);
const tagCount = Number(values.tags);

/** Pseudo-random bytes, 1 MiB repeated (as the benchmark's own blobs are made). */
function filler(size) {
  const pattern = randomFillSync(Buffer.alloc(Math.min(size, 1 << 20)));
  const buffer = Buffer.allocUnsafe(size);
  for (let offset = 0; offset < size; offset += pattern.length) pattern.copy(buffer, offset);
  return buffer;
}

const blob = filler(blobSize);
const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
const image = smallImage('bare');
const manifest = image.manifest;
const tags = Array.from({ length: tagCount }, (_, i) => tagName(i));
const tagIndex = new Map(tags.map((tag, i) => [tag, i]));

const API = ['Docker-Distribution-API-Version', 'registry/2.0'];
const ROUTE = /^\/v2\/(.+?)\/(blobs\/uploads|blobs|manifests|tags)\/([^/]*)$/;
let uploads = 0;

/** Reads and drops a request body, then calls `answer`. */
function discard(req, answer) {
  req.on('data', () => undefined);
  req.on('end', answer);
}

/** With --keep: each open upload's body buffers by upload id, each pushed blob's by digest. */
const uploaded = new Map();
const kept = new Map();

/** Reads a request body into upload `id`'s buffers with --keep (else drops it), then calls `answer`. */
function receive(req, id, answer) {
  if (!values.keep) return discard(req, answer);
  let buffers = uploaded.get(id);
  if (!buffers) uploaded.set(id, (buffers = []));
  req.on('data', (chunk) => buffers.push(chunk));
  req.on('end', answer);
}

function empty(res, status, headers) {
  res.writeHead(status, status === 204 ? headers : { ...headers, 'Content-Length': 0 });
  res.end();
}

function tagsPage(res, name, path, query, head) {
  const params = new URLSearchParams(query);
  const n = params.has('n') ? Number(params.get('n')) : undefined;
  const last = params.get('last');
  const from = last === null ? 0 : (tagIndex.get(last) ?? -1) + 1;
  const to = n === undefined ? tags.length : Math.min(tags.length, from + n);
  const page = tags.slice(from, to);
  const body = Buffer.from(JSON.stringify({ name, tags: page }));
  const headers = { 'Content-Type': 'application/json', 'Content-Length': body.length };
  if (n !== undefined && to < tags.length && page.length > 0) {
    headers.Link = `<${path}?${new URLSearchParams({ n: String(n), last: page[page.length - 1] })}>; rel="next"`;
  }
  res.writeHead(200, headers);
  res.end(head ? undefined : body);
}

/** node:http, node:https, or node:http2's secure server (HTTP/1.1 allowed): the same handler on each. */
async function serverFor(handler) {
  if (!values['tls-cert']) return createServer(handler);
  const credentials = { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') };
  if (values.http2) return (await import('node:http2')).createSecureServer({ ...credentials, allowHTTP1: true }, handler);
  return (await import('node:https')).createServer(credentials, handler);
}

const server = await serverFor((req, res) => {
  res.setHeader(API[0], API[1]);
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const head = req.method === 'HEAD';
  const method = head ? 'GET' : req.method;
  if (path === '/v2/' || path === '/v2') return discard(req, () => empty(res, 200, {}));
  const match = ROUTE.exec(path);
  if (!match) return discard(req, () => empty(res, 404, {}));
  const [, name, kind, reference] = match;
  switch (`${method} ${kind}`) {
    case 'POST blobs/uploads': {
      const id = `bare-${++uploads}`;
      return discard(req, () => empty(res, 202, { Location: `/v2/${name}/blobs/uploads/${id}`, Range: '0-0', 'Docker-Upload-UUID': id }));
    }
    case 'PATCH blobs/uploads': {
      const end = /-(\d+)$/.exec(req.headers['content-range'] ?? '')?.[1] ?? '0';
      return receive(req, reference, () => empty(res, 202, { Location: path, Range: `0-${end}`, 'Docker-Upload-UUID': reference }));
    }
    case 'PUT blobs/uploads': {
      const digest = new URLSearchParams(query).get('digest') ?? blobDigest;
      return receive(req, reference, () => {
        if (values.keep) {
          kept.set(digest, uploaded.get(reference) ?? []);
          uploaded.delete(reference);
        }
        empty(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      });
    }
    case 'GET blobs':
      return discard(req, () => {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.length, 'Docker-Content-Digest': blobDigest, ETag: `"${blobDigest}"` });
        res.end(head ? undefined : blob);
      });
    case 'DELETE blobs':
      return discard(req, () => {
        kept.delete(reference);
        empty(res, 202, {});
      });
    case 'GET manifests':
      return discard(req, () => {
        res.writeHead(200, { 'Content-Type': MANIFEST_TYPE, 'Content-Length': manifest.length, 'Docker-Content-Digest': image.manifestDigest, ETag: `"${image.manifestDigest}"` });
        res.end(head ? undefined : manifest);
      });
    case 'PUT manifests':
      return discard(req, () => empty(res, 201, { Location: `/v2/${name}/manifests/${image.manifestDigest}`, 'Docker-Content-Digest': image.manifestDigest }));
    case 'GET tags':
      return discard(req, () => tagsPage(res, name, path, query, head));
    default:
      return discard(req, () => empty(res, 405, {}));
  }
});
// The registry's defaults, so that connection handling is the same.
server.keepAliveTimeout = 5000;
server.headersTimeout = 60_000;
server.requestTimeout = 0;

const stop = () => {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `${values['tls-cert'] ? 'https' : 'http'}://127.0.0.1:${port}`, pid: process.pid })}\n`);
});
