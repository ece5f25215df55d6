import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { checkName, checkTag } from '../oci/reference.js';
import { readBody } from '../http/body.js';
import { sendJson } from '../http/reply.js';
import type { RequestContext } from '../http/context.js';
import type { ArtifactInput, Bytes, ImageInput, IndexInput, Platform, SeededManifest } from '../store/seeding.js';
import type { Descriptor } from '../oci/manifest.js';
import { badRequest } from './control-query.js';

/**
 * `POST seed`: the Node seeding API (store.pushImage, pushIndex,
 * pushArtifact, seedBlob) over HTTP, for tests in other languages. The body
 * is checked whole before anything is stored, field by field, so a bad body
 * is a 400 naming the field and leaves the store as it was; what the store
 * itself refuses (an index over a manifest it does not hold) is refused as
 * over the Node API, before anything is written.
 */

/** Seed bodies carry layers as base64: allow a few of them, not a flood. */
const SEED_BODY_LIMIT = 64 * 1024 * 1024;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field that is not what it must be: 400 naming it (message and detail). */
function badField(field: string, must: string): RegistryError {
  return badRequest(`${field} ${must}`, { field });
}

/** Runs a validator of the Node API (checkName, checkTag, parseDigest) and names the field in its error. */
function named<T>(field: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    throw new RegistryError(error.code, `${field}: ${error.message}`, { status: error.status, detail: { field, ...(isObject(error.detail) ? error.detail : {}) } });
  }
}

/** Refuses fields the Node API does not take, so a misspelt one is not silently ignored. */
function onlyFields(value: Json, field: string, allowed: readonly string[]): void {
  const extra = Object.keys(value).find((key) => !allowed.includes(key));
  if (extra !== undefined) throw badField(`${field}.${extra}`, `is not a field of ${field} (fields: ${allowed.join(', ')})`);
}

function object(value: unknown, field: string, allowed: readonly string[]): Json {
  if (!isObject(value)) throw badField(field, 'must be an object');
  onlyFields(value, field, allowed);
  return value;
}

function string(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw badField(field, 'must be a non-empty string');
  return value;
}

function optional<T>(value: unknown, read: (value: unknown) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw badField(field, 'must be an array');
  return value;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isBase64Object(value: unknown): value is { base64: unknown } {
  return isObject(value) && Object.keys(value).length === 1 && 'base64' in value;
}

/** Bytes in JSON: a string is UTF-8 text, `{ "base64": "…" }` exact bytes. */
function bytes(value: unknown, field: string): Bytes {
  if (typeof value === 'string') return value;
  if (isBase64Object(value)) {
    if (typeof value.base64 !== 'string' || !BASE64.test(value.base64)) throw badField(`${field}.base64`, 'must be standard base64 (RFC 4648 §4, padded)');
    return Buffer.from(value.base64, 'base64');
  }
  throw badField(field, 'must be a string (UTF-8 text) or {"base64": "…"}');
}

function annotations(value: unknown, field: string): Record<string, string> {
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) throw badField(field, 'must be an object of strings');
  return value as Record<string, string>;
}

function platform(value: unknown, field: string): Platform {
  const p = object(value, field, ['architecture', 'os', 'variant', 'os.version']);
  const out: Platform = { architecture: string(p.architecture, `${field}.architecture`), os: string(p.os, `${field}.os`) };
  if (p.variant !== undefined) out.variant = string(p.variant, `${field}.variant`);
  if (p['os.version'] !== undefined) out['os.version'] = string(p['os.version'], `${field}.os.version`);
  return out;
}

function digest(value: unknown, field: string): string {
  return named(field, () => parseDigest(string(value, field)).digest);
}

/** name and tag, checked as the Node API and an HTTP push check them. */
function target(input: Json, kind: string): { name: string; tag?: string } {
  const name = named(`${kind}.name`, () => checkName(string(input.name, `${kind}.name`)));
  const tag = optional(input.tag, (v) => named(`${kind}.tag`, () => checkTag(string(v, `${kind}.tag`))));
  return tag === undefined ? { name } : { name, tag };
}

function image(value: unknown): [string, ImageInput] {
  const input = object(value, 'image', ['name', 'tag', 'layers', 'config', 'platform', 'annotations']);
  const { name, tag } = target(input, 'image');
  const out: ImageInput = {};
  if (tag !== undefined) out.tag = tag;
  if (input.layers !== undefined) out.layers = array(input.layers, 'image.layers').map((layer, i) => bytes(layer, `image.layers[${i}]`));
  // An object is a config to serialise; text or {"base64"} are its exact bytes.
  if (input.config !== undefined) out.config = isObject(input.config) && !isBase64Object(input.config) ? input.config : bytes(input.config, 'image.config');
  if (input.platform !== undefined) out.platform = platform(input.platform, 'image.platform');
  if (input.annotations !== undefined) out.annotations = annotations(input.annotations, 'image.annotations');
  return [name, out];
}

function index(value: unknown): [string, IndexInput] {
  const input = object(value, 'index', ['name', 'tag', 'manifests', 'annotations', 'artifactType']);
  const { name, tag } = target(input, 'index');
  const manifests = array(input.manifests, 'index.manifests').map((entry, i) => {
    const field = `index.manifests[${i}]`;
    const m = object(entry, field, ['digest', 'platform', 'annotations']);
    const out: IndexInput['manifests'][number] = { digest: digest(m.digest, `${field}.digest`) };
    if (m.platform !== undefined) out.platform = platform(m.platform, `${field}.platform`);
    if (m.annotations !== undefined) out.annotations = annotations(m.annotations, `${field}.annotations`);
    return out;
  });
  const out: IndexInput = { manifests };
  if (tag !== undefined) out.tag = tag;
  if (input.annotations !== undefined) out.annotations = annotations(input.annotations, 'index.annotations');
  if (input.artifactType !== undefined) out.artifactType = string(input.artifactType, 'index.artifactType');
  return [name, out];
}

function artifact(value: unknown): [string, ArtifactInput] {
  const input = object(value, 'artifact', ['name', 'tag', 'artifactType', 'subject', 'blobs', 'annotations']);
  const { name, tag } = target(input, 'artifact');
  const out: ArtifactInput = { artifactType: string(input.artifactType, 'artifact.artifactType') };
  if (tag !== undefined) out.tag = tag;
  if (input.subject !== undefined) {
    if (typeof input.subject === 'string') out.subject = digest(input.subject, 'artifact.subject');
    else {
      // A whole descriptor, checked as the manifest's subject will be (image-spec "Descriptor").
      const s = object(input.subject, 'artifact.subject', ['mediaType', 'digest', 'size', 'artifactType', 'annotations', 'urls']);
      if (!Number.isSafeInteger(s.size) || (s.size as number) < 0) throw badField('artifact.subject.size', 'must be a non-negative integer');
      const subject: Descriptor = { mediaType: string(s.mediaType, 'artifact.subject.mediaType'), digest: digest(s.digest, 'artifact.subject.digest'), size: s.size as number };
      if (s.artifactType !== undefined) subject.artifactType = string(s.artifactType, 'artifact.subject.artifactType');
      if (s.annotations !== undefined) subject.annotations = annotations(s.annotations, 'artifact.subject.annotations');
      if (s.urls !== undefined) subject.urls = array(s.urls, 'artifact.subject.urls').map((u, i) => string(u, `artifact.subject.urls[${i}]`));
      out.subject = subject;
    }
  }
  if (input.blobs !== undefined) {
    out.blobs = array(input.blobs, 'artifact.blobs').map((blob, i) => {
      const field = `artifact.blobs[${i}]`;
      if (isObject(blob) && !isBase64Object(blob)) {
        const b = object(blob, field, ['data', 'mediaType']);
        return { data: bytes(b.data, `${field}.data`), mediaType: string(b.mediaType, `${field}.mediaType`) };
      }
      return bytes(blob, field);
    });
  }
  if (input.annotations !== undefined) out.annotations = annotations(input.annotations, 'artifact.annotations');
  return [name, out];
}

function blob(value: unknown): { name: string; data: Bytes; mediaType?: string } {
  const input = object(value, 'blob', ['name', 'data', 'mediaType']);
  const { name } = target(input, 'blob');
  const mediaType = optional(input.mediaType, (v) => string(v, 'blob.mediaType'));
  return { name, data: bytes(input.data, 'blob.data'), ...(mediaType === undefined ? {} : { mediaType }) };
}

/** A seeded manifest as JSON: its exact bytes as base64, the way bytes travel in the request. */
function manifestJson(seeded: SeededManifest): unknown {
  return { ...seeded, bytes: { base64: seeded.bytes.toString('base64') } };
}

const KINDS = ['image', 'index', 'artifact', 'blob'] as const;

export async function seed({ req, res, store }: RequestContext): Promise<void> {
  const body = await readBody(req, SEED_BODY_LIMIT, () => new RegistryError('UNSUPPORTED', `a seed body is at most ${SEED_BODY_LIMIT} bytes`, { status: 413 }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badRequest(`the body is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw badRequest(`the body must be a JSON object with one of ${KINDS.join(', ')}`);
  const given = Object.keys(parsed);
  if (given.length !== 1 || !KINDS.includes(given[0] as (typeof KINDS)[number])) {
    throw badRequest(`the body must have exactly one of ${KINDS.join(', ')}; it has ${given.length ? given.join(', ') : 'none'}`, { fields: given });
  }
  const kind = given[0] as (typeof KINDS)[number];
  // Everything is read and checked first; only then is anything stored.
  switch (kind) {
    case 'image': {
      const [name, input] = image(parsed.image);
      sendJson(res, 201, manifestJson(await store.pushImage(name, input)));
      return;
    }
    case 'index': {
      const [name, input] = index(parsed.index);
      sendJson(res, 201, manifestJson(await store.pushIndex(name, input)));
      return;
    }
    case 'artifact': {
      const [name, input] = artifact(parsed.artifact);
      sendJson(res, 201, manifestJson(await store.pushArtifact(name, input)));
      return;
    }
    case 'blob': {
      const { name, data, mediaType } = blob(parsed.blob);
      sendJson(res, 201, await store.seedBlob(name, data, mediaType));
      return;
    }
  }
}
