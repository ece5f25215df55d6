// A client's side of "Pushing blobs" (end-4a, end-5, end-6, end-13) for the
// upload and blob tests: each step checks the response the spec promises and
// hands back what the next step needs. Requests go through http.ts `send`.
import type { Test } from 'tap';
import type { RunningRegistry } from '../../src/index.js';
import { send, type Reply, type SendOptions } from './http.js';
import { checkErrorEnvelope } from './fixtures.js';

export type { Test };

export const API_VERSION = 'registry/2.0';
export const OCTETS = { 'Content-Type': 'application/octet-stream' };
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** One request, plus what every response must carry: the API-version header, and no body on HEAD or 204. */
export async function call(t: Test, base: string, method: string, path: string, options?: SendOptions): Promise<Reply> {
  const reply = await send(base, method, path, options);
  checkCommon(t, method, path, reply);
  return reply;
}

export function checkCommon(t: Test, method: string, path: string, reply: Reply): void {
  t.equal(reply.headers['docker-distribution-api-version'], API_VERSION, `${method} ${path.slice(0, 90)}: Docker-Distribution-API-Version`);
  if (method === 'HEAD' || reply.status === 204) t.equal(reply.body.length, 0, `${method} ${reply.status}: no body`);
}

/** spec "Error Codes": the OCI envelope with the right status and code (see checkErrorEnvelope). */
export function checkError(t: Test, reply: Reply, status: number, code: string | string[], what = '', head = false): void {
  checkErrorEnvelope(t, reply, status, Array.isArray(code) ? code : [code], what ? `${what}: ` : '', head);
}

/** A location (relative or absolute) with extra query parameters, as a path to request. */
export function at(location: string, params: Record<string, string> = {}): string {
  const url = new URL(location, 'http://registry.invalid');
  for (const [key, value] of Object.entries(params)) url.searchParams.append(key, value);
  return url.pathname + url.search;
}

export interface Opened {
  location: string;
  id: string;
}

/** end-4a: POST opens a session; checks the 202 and its headers. */
export async function open(t: Test, registry: RunningRegistry, name: string, query = ''): Promise<Opened> {
  const reply = await call(t, registry.url, 'POST', `/v2/${name}/blobs/uploads/${query}`, { headers: { 'Content-Length': 0 } });
  t.equal(reply.status, 202, `POST ${name}: 202`);
  const location = String(reply.headers.location);
  const prefix = `/v2/${name}/blobs/uploads/`;
  const match = location.startsWith(prefix) ? /^([^/?]+)$/.exec(location.slice(prefix.length)) : null;
  t.ok(match, `Location ${location} is /v2/${name}/blobs/uploads/<uuid>`);
  const id = match?.[1] ?? '';
  t.match(id, UUID, 'the session id is a UUID');
  t.equal(reply.headers['docker-upload-uuid'], id, 'Docker-Upload-UUID names the session');
  t.equal(reply.headers.range, '0-0', 'Range: 0-0');
  return { location, id };
}

/** end-5 PATCH with Content-Range + Content-Length; checks the 202. Returns the next location. */
export async function patchChunk(t: Test, registry: RunningRegistry, location: string, offset: number, chunk: Buffer, id?: string): Promise<string> {
  const reply = await call(t, registry.url, 'PATCH', at(location), {
    body: chunk,
    headers: { ...OCTETS, 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
  });
  t.equal(reply.status, 202, `PATCH ${offset}-${offset + chunk.length - 1}: 202`);
  t.equal(reply.headers.range, `0-${offset + chunk.length - 1}`, 'Range: 0-<last byte>');
  t.ok(reply.headers.location, 'Location');
  if (id) {
    t.equal(at(String(reply.headers.location)), new URL(location, 'http://registry.invalid').pathname, 'Location: the same session');
    t.equal(reply.headers['docker-upload-uuid'], id, 'Docker-Upload-UUID');
  }
  return String(reply.headers.location);
}

/** end-13 GET <location>: 204 with Location and Range; returns the Range. */
export async function rangeOf(t: Test, registry: RunningRegistry, location: string): Promise<string | undefined> {
  const reply = await call(t, registry.url, 'GET', at(location));
  t.equal(reply.status, 204, 'upload status: 204');
  t.equal(at(String(reply.headers.location)), at(location), 'upload status: Location of the session');
  return reply.headers.range;
}
