// Shared fixtures for the protocol tests: media types, manifest builders,
// error-envelope assertions and a Link-header walker. Built on http.ts and
// push.ts; everything here goes over HTTP like a client would.
import type { OutgoingHttpHeaders } from 'node:http';
import { send, sha256, type Reply } from './http.js';
import { pushBlob, type Descriptor } from './push.js';
import {
  DOCKER_CONFIG, DOCKER_FOREIGN_LAYER, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, OCI_NONDISTRIBUTABLE_LAYER,
} from './media-types.js';

export { DOCKER_CONFIG, DOCKER_FOREIGN_LAYER, DOCKER_LAYER, DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, OCI_NONDISTRIBUTABLE_LAYER };

/** image-spec "Guidance for an Empty Descriptor": `{}`, which a manifest may name without pushing it. */
export const EMPTY = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
} as const;

/** The spec's closed set of error codes ("Error Codes", code-1 … code-14). */
export const SPEC_ERROR_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID', 'MANIFEST_UNKNOWN', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'UNAUTHORIZED',
  'DENIED', 'UNSUPPORTED', 'TOOMANYREQUESTS',
] as const;

/** The subset of tap's Test these helpers use, so they work in any subtest. */
export interface Asserts {
  equal(found: any, wanted: any, ...message: any[]): unknown;
  ok(value: any, ...message: any[]): unknown;
  match(found: any, pattern: any, ...message: any[]): unknown;
  strictSame(found: any, wanted: any, ...message: any[]): unknown;
}

/**
 * spec "Error Codes": a 4xx carries `Content-Type: application/json` and
 * `{"errors":[{"code","message",...}]}`; on HEAD the status and headers only.
 * `code` may be a list when the spec leaves the choice open.
 */
export function assertError(t: Asserts, reply: Reply, status: number, code: string | readonly string[], head = false): void {
  const codes = typeof code === 'string' ? [code] : code;
  // A wrong status makes the rest noise: one failure, with the body that came.
  if (reply.status !== status) {
    t.equal(reply.status, status, `status ${status} (got ${reply.status}: ${reply.body.toString('utf8').slice(0, 300)})`);
    return;
  }
  t.equal(reply.status, status, `status ${status}`);
  t.equal(reply.headers['content-type'], 'application/json', 'error Content-Type is application/json');
  t.equal(reply.headers['docker-distribution-api-version'], 'registry/2.0', 'API version header');
  if (head) {
    t.equal(reply.body.length, 0, 'HEAD has no body');
    return;
  }
  const errors = reply.json?.errors;
  t.ok(Array.isArray(errors) && errors.length >= 1, `error envelope {"errors":[…]}: ${reply.body.toString('utf8').slice(0, 300)}`);
  const first = Array.isArray(errors) ? errors[0] : undefined;
  t.ok(codes.includes(first?.code), `error code ${first?.code} is ${codes.join(' or ')}`);
  t.equal(typeof first?.message, 'string', 'error has a message');
}

/**
 * spec "Error Codes": `{"errors":[{"code","message",...}]}` as
 * application/json, every code one of the spec's, the first one of `codes`;
 * HEAD gets the status and headers only. Checks everything, even after a
 * wrong status (compare assertError, which stops there).
 */
export function checkErrorEnvelope(t: Asserts & { type(found: any, type: any, ...message: any[]): unknown }, reply: Reply, status: number, codes: string[], label: string, head: boolean): void {
  t.equal(reply.status, status, `${label}status ${status}`);
  t.equal(reply.headers['content-type'], 'application/json', `${label}error Content-Type`);
  if (head) return;
  const errors = reply.json?.errors;
  t.ok(Array.isArray(errors) && errors.length > 0, `${label}error envelope has errors[]`);
  for (const error of errors ?? []) {
    t.ok((SPEC_ERROR_CODES as readonly string[]).includes(error.code), `${label}code ${error.code} is one of the spec's codes`);
    t.type(error.message, 'string', `${label}error has a message`);
  }
  t.ok(codes.includes(errors?.[0]?.code), `${label}error code ${errors?.[0]?.code} is ${codes.length > 3 ? 'a spec code' : codes.join(' or ')}`);
}

/**
 * What a client relies on in an error body: the first error's code, exactly.
 * The message is for people: it is checked only for the words that matter.
 */
export function assertCodeSays(t: Asserts, body: any, code: string, words: RegExp, what = ''): void {
  const label = what ? `${what}: ` : '';
  t.equal(body?.errors?.[0]?.code, code, `${label}${code}`);
  t.match(body?.errors?.[0]?.message, words, `${label}the message says ${words}`);
}

/** A reply with its header lines as received (`send` keeps them): kept for the tests that ask for it by this name. */
export type RawReply = Reply;

/** Sends a request and keeps the raw header lines, e.g. to count `OCI-Tag` lines. */
export const sendRawHeaders = (base: string, method: string, path: string, options: { headers?: OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<RawReply> =>
  send(base, method, path, options);

/** Every value of a header, one per header line, from raw headers. */
export function headerLines(raw: string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name.toLowerCase()) values.push(raw[i + 1]!);
  return values;
}

/** PUT of manifest bytes with a given Content-Type (or none). */
export function putManifest(url: string, name: string, reference: string, bytes: Buffer | string, contentType?: string): Promise<Reply> {
  const headers: OutgoingHttpHeaders = contentType === undefined ? {} : { 'Content-Type': contentType };
  return send(url, 'PUT', `/v2/${name}/manifests/${reference}`, { body: Buffer.from(bytes), headers });
}

export const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** Pushes each blob and returns its descriptor. */
export async function pushDescriptor(url: string, name: string, mediaType: string, bytes: Buffer | string): Promise<Descriptor> {
  const data = Buffer.from(bytes);
  return { mediaType, digest: await pushBlob(url, name, data), size: data.length };
}

/** Pushes a config and one layer and returns an OCI image manifest object naming them (not pushed). */
export async function ociImageManifest(url: string, name: string, seed: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const config = await pushDescriptor(url, name, OCI_CONFIG, `{"architecture":"amd64","os":"linux","seed":${JSON.stringify(seed)}}`);
  const layer = await pushDescriptor(url, name, OCI_LAYER, `layer bytes for ${seed}`);
  return { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], ...extra };
}

/** Pushes a Docker config and layer and returns a Docker schema 2 manifest object naming them (not pushed). */
export async function dockerImageManifest(url: string, name: string, seed: string): Promise<Record<string, unknown>> {
  const config = await pushDescriptor(url, name, DOCKER_CONFIG, `{"architecture":"arm64","os":"linux","docker-seed":${JSON.stringify(seed)}}`);
  const layer = await pushDescriptor(url, name, DOCKER_LAYER, `docker layer bytes for ${seed}`);
  return { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config, layers: [layer] };
}

/** Pushes a manifest object by its digest; throws unless 201. Returns its descriptor. */
export async function pushByDigest(url: string, name: string, manifest: Record<string, unknown> | Buffer, mediaType?: string): Promise<Descriptor & { bytes: Buffer }> {
  const bytes = Buffer.isBuffer(manifest) ? manifest : json(manifest);
  const type = mediaType ?? (manifest as { mediaType?: string }).mediaType ?? OCI_MANIFEST;
  const digest = sha256(bytes);
  const reply = await putManifest(url, name, digest, bytes, type);
  if (reply.status !== 201) throw new Error(`manifest push answered ${reply.status}: ${reply.body}`);
  return { mediaType: type, digest, size: bytes.length, bytes };
}

const LINK = /^<([^>]+)>; ?rel="next"$/;

/** The target of a `Link: <…>; rel="next"` header (RFC 5988), or undefined when there is none. */
export function nextPath(reply: Reply): string | undefined {
  const link = reply.headers.link;
  if (link === undefined) return undefined;
  const match = LINK.exec(String(link));
  if (!match) throw new Error(`malformed Link header ${String(link)}`);
  return match[1];
}

/**
 * Follows `Link` headers from `path` to the end, calling `between` after each
 * page (to change the registry mid-walk). Returns every page's reply.
 */
export async function walkLinks(url: string, path: string, between?: (page: number, reply: Reply) => Promise<void>, limit = 100_000): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    if (replies.length >= limit) throw new Error(`more than ${limit} pages: the Link chain does not end`);
    const reply = await send(url, 'GET', next);
    if (reply.status !== 200) throw new Error(`GET ${next} answered ${reply.status}: ${reply.body}`);
    replies.push(reply);
    next = nextPath(reply);
    if (between) await between(replies.length, reply);
  }
  return replies;
}
