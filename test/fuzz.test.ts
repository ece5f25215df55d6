// Hostile input: a seeded fuzzer sends more than 10,000 malformed or random
// requests — methods, paths, percent-encoding tricks, odd names, tags and
// digests, Range / Content-Range / Content-Length lies, truncated and
// malformed bodies, deep and huge JSON, CR/LF injection — through node:http
// (keep-alive, concurrent) and, for what node:http will not send, raw
// sockets. It asserts: never a 5xx, never a crash, every error body the OCI
// envelope with a code from the spec's 14, no injected response header, and
// the content pushed before the fuzzing unchanged byte for byte afterwards
// (manifests by tag and digest, blobs, tags lists, referrers, catalog).
//
// Reproducible: every request is a pure function of (seed, index). The seed
// is printed; FUZZ_SEED=<n> replays a run, FUZZ_SEED=random picks a new one.
// Writes go to repositories under `fz`; the protected content lives under
// `keep`, which the fuzzer only reads (or addresses with malformed requests).
import t from 'tap';
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { startRegistry, type RunningRegistry } from '../src/index.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';
import { send } from './helpers/http.js';
import { sha256, sha512 } from './helpers/digest.js';
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST } from './helpers/media-types.js';
import { pushBlob, pushImage, pushManifest } from './helpers/push.js';

const SEED = process.env.FUZZ_SEED === 'random' ? (Math.random() * 2 ** 32) >>> 0 : Number(process.env.FUZZ_SEED ?? 0x5eed_0c1) >>> 0;
const HTTP_REQUESTS = 12_000;
const RAW_REQUESTS = 2500;
const HTTP_CONCURRENCY = 24;
const RAW_CONCURRENCY = 16;
/**
 * Requests and raw exchanges not yet answered, by description. No per-request
 * stopwatch (a busy machine is only slow): a hang shows as tap's timeout, and
 * the teardown then names what was still waiting.
 */
const inFlight = new Set<string>();
/** `FUZZ_ONLY=http:123` or `FUZZ_ONLY=raw:45` runs that one case of the seed and prints the whole exchange. */
const ONLY = /^(http|raw):(\d+)$/.exec(process.env.FUZZ_ONLY ?? '');

t.teardown(() => {
  if (inFlight.size > 0) console.error(`fuzz: ${inFlight.size} exchanges never answered, e.g.\n${[...inFlight].slice(0, 10).join('\n')}`);
});

const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

// ---------------------------------------------------------------------------
// A small seeded PRNG (sfc32), one stream per request index.

class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number, index: number) {
    this.#a = seed >>> 0;
    this.#b = Math.imul(index + 1, 0x9e3779b1) >>> 0;
    this.#c = 0x243f6a88 ^ index;
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  int(n: number): number {
    return this.next() % n;
  }

  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.next(), i);
    for (; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** Printable ASCII, no space. */
  word(max: number, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789._-ABCXYZ'): string {
    let out = '';
    const n = 1 + this.int(max);
    for (let i = 0; i < n; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
}

// ---------------------------------------------------------------------------
// What was pushed before the fuzzing, and its snapshot.

interface Protected {
  names: string[];
  tags: Map<string, string[]>;
  manifests: { name: string; digest: string; tags: string[] }[];
  blobs: { name: string; digest: string }[];
  subjects: { name: string; digest: string }[];
}

interface Fixtures {
  protected: Protected;
  /** Digests that exist somewhere (protected and sandbox), to make requests that reach deep. */
  digests: string[];
  /** Sandbox blobs with their sizes, for manifests that may validate. */
  sandboxBlobs: { digest: string; size: number }[];
  /** Open upload sessions in the sandbox, created before the fuzzing (the fuzzer may finish or cancel them). */
  sessions: string[];
}

async function pushProtected(registry: RunningRegistry): Promise<Protected> {
  const { url } = registry;
  const app = 'keep/app';
  const deep = 'keep/other/deep/name';
  const v1 = await pushImage(url, app, 'v1', { layers: ['keep layer one', Buffer.alloc(70_000, 7)] });
  const amd = await pushImage(url, app, 'amd64', { layers: ['amd64 layer'], config: { architecture: 'amd64', os: 'linux' } });
  const arm = await pushImage(url, app, 'arm64', { layers: ['arm64 layer'], config: { architecture: 'arm64', os: 'linux' } });
  const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [amd, arm].map((m, i) => ({ mediaType: OCI_MANIFEST, digest: m.digest, size: m.bytes.length, platform: { architecture: ['amd64', 'arm64'][i], os: 'linux' } })) };
  const multi = await pushManifest(url, app, 'multi', index, OCI_INDEX);
  if (multi.status !== 201) throw new Error(`index push answered ${multi.status}`);
  const latest = await pushManifest(url, app, 'latest', v1.bytes, OCI_MANIFEST);
  if (latest.status !== 201) throw new Error('latest');
  const sbomLayer = await pushBlob(url, app, 'an sbom');
  await pushBlob(url, app, '{}');
  const artifact = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sbom', config: EMPTY, layers: [{ mediaType: 'text/plain', digest: sbomLayer, size: 7 }], subject: { mediaType: OCI_MANIFEST, digest: v1.digest, size: v1.bytes.length } };
  const sbom = await pushManifest(url, app, sha256(JSON.stringify(artifact)), artifact, OCI_MANIFEST);
  if (sbom.status !== 201) throw new Error(`artifact push answered ${sbom.status}`);
  const dockerConfig = await pushBlob(url, app, '{"architecture":"s390x","os":"linux"}');
  const dockerLayer = await pushBlob(url, app, 'docker layer');
  const docker = { schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: dockerConfig, size: 37 }, layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: dockerLayer, size: 12 }] };
  const dockerPush = await pushManifest(url, app, 'docker', docker, DOCKER_MANIFEST);
  if (dockerPush.status !== 201) throw new Error(`docker push answered ${dockerPush.status}`);
  const other = await pushImage(url, deep, '1.0', { layers: ['deep layer'] });

  return {
    names: [app, deep],
    tags: new Map([[app, ['amd64', 'arm64', 'docker', 'latest', 'multi', 'v1']], [deep, ['1.0']]]),
    manifests: [
      { name: app, digest: v1.digest, tags: ['v1', 'latest'] },
      { name: app, digest: amd.digest, tags: ['amd64'] },
      { name: app, digest: arm.digest, tags: ['arm64'] },
      { name: app, digest: multi.digest, tags: ['multi'] },
      { name: app, digest: sbom.digest, tags: [] },
      { name: app, digest: dockerPush.digest, tags: ['docker'] },
      { name: deep, digest: other.digest, tags: ['1.0'] },
    ],
    blobs: [
      ...[v1, amd, arm].flatMap((m) => [m.config, ...m.layers].map((d) => ({ name: app, digest: d.digest }))),
      { name: app, digest: sbomLayer }, { name: app, digest: EMPTY.digest }, { name: app, digest: dockerConfig }, { name: app, digest: dockerLayer },
      ...[other.config, ...other.layers].map((d) => ({ name: deep, digest: d.digest })),
    ],
    subjects: [{ name: app, digest: v1.digest }],
  };
}

interface Snapshot {
  entries: Map<string, string>;
}

/** Everything observable about the protected content, as `request → status, headers that matter, body hash`. */
async function snapshot(registry: RunningRegistry, p: Protected): Promise<Snapshot> {
  const entries = new Map<string, string>();
  const look = async (method: string, path: string, headers: OutgoingHttpHeaders = {}) => {
    const reply = await send(registry.url, method, path, { headers });
    const h = reply.headers;
    entries.set(`${method} ${path}`, JSON.stringify([reply.status, h['content-type'], h['content-length'], h['docker-content-digest'], h.link, sha256(reply.body)]));
  };
  for (const name of p.names) await look('GET', `/v2/${name}/tags/list`);
  for (const m of p.manifests) {
    for (const ref of [m.digest, ...m.tags]) {
      await look('GET', `/v2/${m.name}/manifests/${ref}`);
      await look('HEAD', `/v2/${m.name}/manifests/${ref}`);
    }
  }
  for (const b of p.blobs) {
    await look('GET', `/v2/${b.name}/blobs/${b.digest}`);
    await look('HEAD', `/v2/${b.name}/blobs/${b.digest}`);
    await look('GET', `/v2/${b.name}/blobs/${b.digest}`, { Range: 'bytes=1-' });
  }
  for (const s of p.subjects) await look('GET', `/v2/${s.name}/referrers/${s.digest}`);
  for (const name of p.names) await look('GET', `/v2/${name}/tags/list?n=2`);
  return { entries };
}

// ---------------------------------------------------------------------------
// Request generation: a pure function of (seed, index) and the fixtures.

interface HttpCase {
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer;
  /** Send the body with chunked transfer encoding, in pieces. */
  chunked?: boolean;
}

interface RawCase {
  label: string;
  bytes: Buffer;
  /** Methods of the requests whose responses may come, in order (HEAD has no body). */
  methods: string[];
  /** The bytes end mid-message or ask for a protocol switch: the server may close without answering. */
  mayCloseSilently: boolean;
}

const SANDBOX_NAMES = ['fz/a', 'fz/b', 'fz/c/d', 'fz', 'fz0', 'fz/a-b.c_d', 'fz/x__y'];

function readNames(fx: Fixtures): string[] {
  return [...fx.protected.names, ...SANDBOX_NAMES];
}

/** A name for a request: any name when the request only reads, a sandbox (or invalid) one when it may write. */
function nameFor(rng: Rng, fx: Fixtures, writes: boolean): string {
  const base = writes ? rng.pick(SANDBOX_NAMES) : rng.pick(readNames(fx));
  // Half the time a valid name, so that requests get past routing into the handlers.
  switch (rng.int(26)) {
    case 0: return base.toUpperCase();
    case 1: return `${base}/..`;
    case 2: return `${base}/%2e%2e/%2e%2e`;
    case 3: return `${base}//x`;
    case 4: return `${base}%2Fx`;
    case 5: return `${base}/${'a'.repeat(250 + rng.int(20))}`;
    case 6: return `${base}-`;
    case 7: return `${base}/.`;
    case 8: return `${base}/%00`;
    case 9: return `${base}/%C3%A9`;
    case 10: return writes ? `fz/${rng.word(12, 'abcxyz019._-')}` : `${base}/${rng.word(8, 'abcxyz019._-')}`;
    case 11: return writes ? 'fz/%2e%2e/keep/app' : '%2e%2e';
    default: return base;
  }
}

function randomHex(rng: Rng, n: number): string {
  let out = '';
  while (out.length < n) out += rng.next().toString(16).padStart(8, '0');
  return out.slice(0, n);
}

function digestFor(rng: Rng, fx: Fixtures, writes: boolean): string {
  const hex = randomHex(rng, 64);
  const pool = writes ? fx.sandboxBlobs.map((b) => b.digest) : fx.digests;
  switch (rng.int(16)) {
    case 0: case 1: case 2: case 3: case 4: return rng.pick(pool);
    case 5: return `sha256:${hex}`;
    case 6: return `sha512:${randomHex(rng, 128)}`;
    case 7: return `sha256:${hex.toUpperCase()}`;
    case 8: return `sha256:${hex.slice(0, 63)}`;
    case 9: return `sha256:${hex}0`;
    case 10: return `md5:${hex.slice(0, 32)}`;
    case 11: return `sha256%3A${hex}`;
    case 12: return `sha256:../../${hex.slice(6)}`;
    case 13: return rng.pick(['', ':', 'sha256:', ':abc', 'sha256::' + hex, 'SHA256:' + hex, 'sha256+b64:' + 'A'.repeat(43) + '=']);
    case 14: return `${rng.pick(pool)}%00`;
    default: return `sha384:${randomHex(rng, 96)}`;
  }
}

function tagFor(rng: Rng, fx: Fixtures, writes: boolean): string {
  const known = writes ? ['v1', 'latest', 'fz-tag', 'a'] : [...new Set([...fx.protected.tags.values()].flat()), 'nope'];
  switch (rng.int(14)) {
    case 0: case 1: case 2: case 3: return rng.pick(known);
    case 4: return rng.word(20);
    case 5: return 'x'.repeat(128 + rng.int(3));
    case 6: return `.${rng.word(5)}`;
    case 7: return `-${rng.word(5)}`;
    case 8: return `v1%0d%0aX-Injected:%201`;
    case 9: return `v1%0aSet-Cookie:%20a=b`;
    case 10: return `v1%2F..%2F..`;
    case 11: return `%2e%2e`;
    case 12: return `v1%00`;
    default: return encodeURIComponent(rng.pick(['ü', '日本', '\u202e', 'a b', 'a\tb', '%', '"', '<script>']));
  }
}

function referenceFor(rng: Rng, fx: Fixtures, writes: boolean): string {
  return rng.chance(0.5) ? tagFor(rng, fx, writes) : digestFor(rng, fx, writes);
}

function uploadIdFor(rng: Rng, fx: Fixtures): string {
  switch (rng.int(8)) {
    case 0: case 1: case 2: {
      const location = rng.pick(fx.sessions);
      return location.slice(location.lastIndexOf('/') + 1);
    }
    case 3: return `${randomHex(rng, 8)}-${randomHex(rng, 4)}-${randomHex(rng, 4)}-${randomHex(rng, 4)}-${randomHex(rng, 12)}`;
    case 4: return '%2e%2e';
    case 5: return 'x'.repeat(300);
    case 6: return rng.word(10);
    default: return '..';
  }
}

function queryFor(rng: Rng, fx: Fixtures, writes: boolean): string {
  const params: string[] = [];
  const n = rng.int(4);
  for (let i = 0; i < n; i++) {
    switch (rng.int(13)) {
      case 0: params.push(`digest=${digestFor(rng, fx, writes)}`); break;
      case 1: params.push(`mount=${digestFor(rng, fx, false)}`); break;
      case 2: params.push(`from=${nameFor(rng, fx, false)}`); break;
      case 3: params.push(`n=${rng.pick(['0', '1', '2', '1000', '-1', 'abc', '1e3', '9007199254740993', '99999999999999999999999', '%201', '0x10', '', '1.5'])}`); break;
      case 4: params.push(`last=${rng.pick([tagFor(rng, fx, false), '', '%FF', '~', 'zzzz', encodeURIComponent('\u0000')])}`); break;
      case 5: params.push(`tag=${tagFor(rng, fx, true)}`); break;
      case 6: params.push(`digest-algorithm=${rng.pick(['sha256', 'sha512', 'md5', '', 'SHA256', 'sha384'])}`); break;
      case 7: params.push(`artifactType=${encodeURIComponent(rng.pick(['application/vnd.example.sbom', '', 'x'.repeat(300), 'a\r\nb']))}`); break;
      case 8: params.push(rng.pick(['%zz', '&&', '=', '==', 'a=%', '%', '?', '#x'])); break;
      case 9: params.push(`${rng.word(5)}=${rng.word(20)}`); break;
      case 10: params.push(`state=${rng.word(40)}`); break;
      case 11: params.push('x='.padEnd(2000 + rng.int(4000), 'y')); break;
      default: params.push(`digest=${digestFor(rng, fx, writes)}&digest=${digestFor(rng, fx, writes)}`);
    }
  }
  return params.length ? `?${params.join('&')}` : '';
}

/** A manifest body: often nearly valid (so validation runs deep), then mutated. */
function manifestBody(rng: Rng, fx: Fixtures): { body: Buffer; contentType?: string } {
  const blob = () => {
    const b = rng.chance(0.7) ? rng.pick(fx.sandboxBlobs) : { digest: digestFor(rng, fx, false), size: rng.int(1000) };
    return { mediaType: rng.pick([OCI_LAYER, OCI_CONFIG, 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'text/plain', '']), digest: b.digest, size: rng.chance(0.8) ? b.size : rng.pick([-1, 0, 1.5, 2 ** 53, 1e300, b.size + 1]) };
  };
  const kind = rng.int(6);
  let doc: Record<string, unknown>;
  let type: string;
  if (kind <= 2) {
    type = rng.pick([OCI_MANIFEST, DOCKER_MANIFEST]);
    doc = { schemaVersion: 2, mediaType: type, config: blob(), layers: Array.from({ length: rng.int(4) }, blob) };
    if (rng.chance(0.3)) doc.subject = { mediaType: OCI_MANIFEST, digest: digestFor(rng, fx, false), size: rng.int(5000) };
    if (rng.chance(0.3)) doc.artifactType = rng.pick(['application/vnd.example', '', 'a\r\nX-Injected: 1', 'x'.repeat(1000), 'ü']);
    if (rng.chance(0.2)) doc.annotations = rng.pick([{ a: 'b' }, { a: 1 }, [], { '__proto__': 'x' }, { 'org.opencontainers.image.ref.name': '../../x' }]);
  } else if (kind <= 4) {
    type = rng.pick([OCI_INDEX, DOCKER_LIST]);
    doc = { schemaVersion: 2, mediaType: type, manifests: Array.from({ length: rng.int(3) }, () => ({ mediaType: OCI_MANIFEST, digest: digestFor(rng, fx, false), size: rng.int(2000), platform: { architecture: 'amd64', os: 'linux' } })) };
  } else {
    type = rng.pick([OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v1+json', 'application/json', 'text/plain']);
    doc = rng.pick<Record<string, unknown>>([{}, { schemaVersion: 1 }, { schemaVersion: 2 }, { mediaType: 42 }, { schemaVersion: 2, manifests: 'x', layers: {} }, { schemaVersion: '2', config: null }]);
  }
  // Mutations (none a third of the time, so that validation runs to the end and some pushes succeed).
  const keys = Object.keys(doc);
  const mutations = rng.chance(0.35) ? 0 : rng.int(3);
  for (let i = 0; i < mutations && keys.length; i++) {
    const key = rng.pick(keys);
    switch (rng.int(5)) {
      case 0: delete doc[key]; break;
      case 1: doc[key] = rng.pick<unknown>([null, [], {}, -1, 'string', 1e300, true, [null], [{}]]); break;
      case 2: doc[rng.word(8)] = rng.word(30); break;
      case 3: doc.schemaVersion = rng.pick<unknown>([1, 3, '2', 2.5, null]); break;
      default: doc.mediaType = rng.pick([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, 'application/vnd.oci.image.manifest.v1+json; charset=utf-8', '']);
    }
  }
  let text = JSON.stringify(doc);
  switch (rng.int(24)) {
    case 0: text = `\ufeff${text}`; break;
    case 1: text = `${text}garbage`; break;
    case 2: text = text.slice(0, rng.int(text.length)); break;
    case 3: text = text.replace('{', '{"mediaType":"a","mediaType":"b",'); break;
    case 4: text = `${'['.repeat(5000 + rng.int(50_000))}${']'.repeat(rng.chance(0.5) ? 0 : 5000)}`; break;
    case 5: text = text.replace('}', `,"annotations":{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`); break;
    default: break;
  }
  let body = Buffer.from(text);
  if (rng.chance(0.02)) body = Buffer.concat([body, Buffer.from([0xff, 0xfe, 0x00, 0xc3])]);
  const contentType = rng.pick<string | undefined>([type, type, type, undefined, `${type}; charset=utf-8`, type.toUpperCase(), 'application/json', 'garbage', '', OCI_INDEX]);
  return { body, contentType };
}

/** Rare, heavy bodies: a manifest over the 4 MiB limit, one just under it naming 25,000 layers. */
function heavyManifest(rng: Rng, fx: Fixtures, index: number): Buffer {
  if (index % 4000 === 7) return Buffer.alloc(4 * 1024 * 1024 + 1 + rng.int(1000), 0x20);
  const layers = Array.from({ length: 25_000 }, (_, i) => ({ mediaType: OCI_LAYER, digest: sha256(`heavy ${i}`), size: i }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, ...rng.pick(fx.sandboxBlobs) }, layers }));
}

function rangeHeader(rng: Rng): string {
  return rng.pick(['bytes=0-0', 'bytes=-1', 'bytes=5-', 'bytes=10-5', 'bytes=0-99999999999999999999', 'bytes=', 'items=0-1', 'bytes=0-1,2-3', 'bytes=-0', 'bytes= 1-2', 'bytes=999999-', `bytes=${rng.int(100)}-${rng.int(100000)}`, 'bytes=--1', 'bytes=1-1-1']);
}

function contentRange(rng: Rng, length: number): string {
  const start = rng.pick([0, 0, 0, 1, rng.int(100_000), 2 ** 53]);
  return rng.pick([`${start}-${start + length - 1}`, `${start}-${start + length - 1}`, 'bytes 0-1/2', '0-', '-1', 'a-b', '1-0', '0-9007199254740993', '00-01', '+1-2', ' 0-1', `${start}-${start + length}`, '0-0', '']);
}

function commonHeaders(rng: Rng): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const n = rng.int(4);
  for (let i = 0; i < n; i++) {
    switch (rng.int(12)) {
      case 0: headers.Accept = rng.pick([OCI_MANIFEST, `${OCI_INDEX}, ${DOCKER_LIST};q=0.5`, '*/*', 'text/html', '', 'application/json;q=abc']); break;
      case 1: headers.Authorization = rng.pick(['Basic !!!', 'Basic ' + Buffer.from('user:pass').toString('base64'), 'Bearer x.y.z', 'Negotiate', '']); break;
      case 2: headers['Accept-Encoding'] = 'gzip, br'; break;
      case 3: headers['If-None-Match'] = `"${rng.word(70)}"`; break;
      case 4: headers['Content-Encoding'] = rng.pick(['gzip', 'br', 'identity']); break;
      case 5: headers['Docker-Content-Digest'] = `sha256:${'0'.repeat(64)}`; break;
      case 6: headers['X-Forwarded-Host'] = 'evil.example'; break;
      case 7: headers.Expect = '100-continue'; break;
      case 8: headers.Cookie = 'a=b'; break;
      case 9: headers[`X-${rng.word(10, 'abcdefghij')}`] = rng.word(200); break;
      case 10: headers.Connection = rng.pick(['close', 'keep-alive']); break;
      default: headers['Content-Type'] = rng.pick(['application/octet-stream', 'multipart/form-data; boundary=x', '', 'x/y; a="b"']);
    }
  }
  return headers;
}

function httpCase(seed: number, index: number, fx: Fixtures): HttpCase {
  const rng = new Rng(seed, index);
  const headers = commonHeaders(rng);
  const lane = rng.int(100);
  if (index % 2000 === 7) {
    // A few deterministic heavy ones: a body over the 4 MiB limit, or one just under it naming 25,000 layers.
    return { method: 'PUT', path: `/v2/${rng.pick(SANDBOX_NAMES)}/manifests/heavy`, headers: { 'Content-Type': OCI_MANIFEST }, body: heavyManifest(rng, fx, index), chunked: rng.chance(0.5) };
  }
  if (lane < 30) {
    // Reads: anything may be read.
    const method = rng.pick(['GET', 'GET', 'HEAD']);
    const name = nameFor(rng, fx, false);
    if (rng.chance(0.3)) headers.Range = rangeHeader(rng);
    const path = rng.pick([
      () => `/v2/${name}/manifests/${referenceFor(rng, fx, false)}`,
      () => `/v2/${name}/blobs/${digestFor(rng, fx, false)}`,
      () => `/v2/${name}/tags/list${queryFor(rng, fx, false)}`,
      () => `/v2/_catalog${queryFor(rng, fx, false)}`,
      () => `/v2/${name}/referrers/${digestFor(rng, fx, false)}${queryFor(rng, fx, false)}`,
      () => `/v2/${name}/blobs/uploads/${uploadIdFor(rng, fx)}`,
      () => rng.pick(['/v2/', '/v2', '/', '/v1/', '/v2/_catalog/', '/_oci-test-registry/health', '/_oci-test-registry/journal', '/token', '/_blobs/x', '//v2//', '/v2/%2e%2e/%2e%2e/etc/passwd', '/v2/..%2f..%2fetc%2fpasswd', '/v2/keep/app/manifests/../../../../etc/passwd', '/%76%32/', '/v2/keep/app/manifests/v1/..']),
    ])();
    return { method, path, headers };
  }
  if (lane < 55) {
    // Uploads, in the sandbox only.
    const name = nameFor(rng, fx, true);
    const id = uploadIdFor(rng, fx);
    const length = rng.pick([0, 1, 100, 1000, 4096, rng.int(20_000)]);
    const body = rng.chance(0.8) ? rng.bytes(length) : undefined;
    const method = rng.pick(['POST', 'PATCH', 'PATCH', 'PUT', 'GET', 'DELETE']);
    if (method === 'PATCH' && rng.chance(0.7)) headers['Content-Range'] = contentRange(rng, body?.length ?? 0);
    if (method === 'PUT' && rng.chance(0.2)) headers['Content-Range'] = contentRange(rng, body?.length ?? 0);
    headers['Content-Type'] ??= 'application/octet-stream';
    const path = method === 'POST' ? `/v2/${name}/blobs/uploads/${queryFor(rng, fx, true)}` : `/v2/${name}/blobs/uploads/${id}${method === 'PUT' && rng.chance(0.7) ? `?digest=${body && rng.chance(0.4) ? sha256(body) : digestFor(rng, fx, true)}` : queryFor(rng, fx, true)}`;
    return { method, path, headers, body, chunked: body !== undefined && rng.chance(0.25) };
  }
  if (lane < 75) {
    // Manifest pushes, in the sandbox only.
    const name = nameFor(rng, fx, true);
    const { body, contentType } = manifestBody(rng, fx);
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    const reference = rng.chance(0.2) ? sha256(body) : referenceFor(rng, fx, true);
    return { method: 'PUT', path: `/v2/${name}/manifests/${reference}${rng.chance(0.2) ? queryFor(rng, fx, true) : ''}`, headers, body, chunked: rng.chance(0.2) };
  }
  if (lane < 82) {
    // Deletes, in the sandbox only.
    const name = nameFor(rng, fx, true);
    const path = rng.pick([
      () => `/v2/${name}/manifests/${referenceFor(rng, fx, true)}`,
      () => `/v2/${name}/blobs/${digestFor(rng, fx, true)}`,
      () => `/v2/${name}/tags/list`,
      () => `/v2/_catalog`,
    ])();
    return { method: 'DELETE', path, headers };
  }
  // Odd methods and odd paths: nothing that writes, so any name will do.
  const method = rng.pick(['OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'PURGE', 'SEARCH', 'REPORT', 'LINK', 'UNLINK', 'SOURCE', 'QUERY', 'get', 'Head']);
  const segments = Array.from({ length: 1 + rng.int(8) }, () => rng.pick(['v2', '..', '.', '%2e%2e', '%2F', '', 'blobs', 'manifests', 'uploads', 'tags', 'list', '_catalog', 'keep', 'app', rng.word(10), encodeURIComponent(rng.bytes(4).toString('latin1'))]));
  const body = rng.chance(0.3) ? rng.bytes(rng.int(2000)) : undefined;
  return { method, path: `/${segments.join('/')}${queryFor(rng, fx, false)}`, headers, body };
}

const CRLF = '\r\n';

/** A safe request (reads only), to pipeline or to follow a lie. */
function safeRequest(rng: Rng, fx: Fixtures): { text: string; method: string } {
  const method = rng.pick(['GET', 'HEAD']);
  const name = rng.pick(readNames(fx));
  const path = rng.pick([`/v2/${name}/tags/list`, `/v2/${name}/manifests/${rng.pick(['v1', 'nope', '1.0'])}`, '/v2/', '/v2/_catalog']);
  return { text: `${method} ${path} HTTP/1.1${CRLF}Host: registry${CRLF}${CRLF}`, method };
}

function rawCase(seed: number, index: number, fx: Fixtures): RawCase {
  const rng = new Rng(seed ^ 0x7a11, index);
  const name = nameFor(rng, fx, true);
  const host = `Host: registry${CRLF}`;
  const kind = rng.int(20);
  const body = rng.bytes(rng.int(300));
  const text = (s: string) => Buffer.from(s, 'latin1');
  switch (kind) {
    case 0: {
      // CR/LF injection through the request target.
      const injected = rng.pick(['v1\r\nX-Injected: 1', 'v1\nSet-Cookie: a=b', 'v1\rX-Injected: 1', `v1 HTTP/1.1${CRLF}X-Injected: 1${CRLF}X`]);
      const method = rng.pick(['GET', 'PUT', 'DELETE', 'HEAD']);
      const target = method === 'GET' || method === 'HEAD' ? `/v2/${rng.pick(fx.protected.names)}/manifests/${injected}` : `/v2/${name}/manifests/${injected}`;
      return { label: 'CR/LF in the request target', bytes: text(`${method} ${target} HTTP/1.1${CRLF}${host}Content-Length: 0${CRLF}${CRLF}`), methods: [method], mayCloseSilently: false };
    }
    case 1: {
      // Content-Length larger than the body, then the client hangs up.
      const declared = body.length + 1 + rng.int(10_000);
      return { label: 'Content-Length larger than the body (truncated)', bytes: Buffer.concat([text(`PATCH /v2/${name}/blobs/uploads/${uploadIdFor(rng, fx)} HTTP/1.1${CRLF}${host}Content-Length: ${declared}${CRLF}${CRLF}`), body]), methods: ['PATCH'], mayCloseSilently: true };
    }
    case 2: {
      // Content-Length smaller than the body: the rest is read as the next request (garbage or a safe one).
      const next = rng.chance(0.5) ? safeRequest(rng, fx) : { text: rng.bytes(1 + rng.int(40)).toString('latin1'), method: 'GET' };
      const declared = rng.int(body.length + 1);
      return {
        label: 'Content-Length smaller than the body',
        bytes: Buffer.concat([text(`PUT /v2/${name}/manifests/${tagFor(rng, fx, true)} HTTP/1.1${CRLF}${host}Content-Type: ${OCI_MANIFEST}${CRLF}Content-Length: ${declared}${CRLF}${CRLF}`), body, text(next.text)]),
        methods: ['PUT', next.method], mayCloseSilently: false,
      };
    }
    case 3: {
      const lengths = rng.pick([['5', '5'], ['5', '6'], ['-1'], ['abc'], ['99999999999999999999'], ['1e3'], [' 5'], ['0x10'], ['5, 5'], ['+5']]);
      return { label: `Content-Length ${lengths.join(' / ')}`, bytes: text(`POST /v2/${name}/blobs/uploads/ HTTP/1.1${CRLF}${host}${lengths.map((l) => `Content-Length: ${l}${CRLF}`).join('')}${CRLF}hello`), methods: ['POST'], mayCloseSilently: false };
    }
    case 4: {
      const te = rng.pick(['chunked', 'chunked, identity', 'identity, chunked', 'xchunked', 'chunked\t', 'gzip', 'CHUNKED', 'chunked, chunked']);
      const withLength = rng.chance(0.5) ? `Content-Length: 5${CRLF}` : '';
      return { label: `Transfer-Encoding: ${te}${withLength ? ' + Content-Length' : ''}`, bytes: text(`PATCH /v2/${name}/blobs/uploads/${uploadIdFor(rng, fx)} HTTP/1.1${CRLF}${host}Transfer-Encoding: ${te}${CRLF}${withLength}${CRLF}5${CRLF}hello${CRLF}0${CRLF}${CRLF}`), methods: ['PATCH'], mayCloseSilently: false };
    }
    case 5: {
      const chunks = rng.pick(['zz\r\nhello\r\n0\r\n\r\n', 'ffffffffffffffffffff\r\nx\r\n', '5\r\nhelloEXTRA\r\n0\r\n\r\n', '5;ext=1\r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n', '-5\r\nhello\r\n', '5\nhello\n0\n\n', '5 \r\nhello\r\n0\r\n\r\n']);
      return { label: `chunked body ${JSON.stringify(chunks.slice(0, 20))}`, bytes: text(`PATCH /v2/${name}/blobs/uploads/${uploadIdFor(rng, fx)} HTTP/1.1${CRLF}${host}Transfer-Encoding: chunked${CRLF}${CRLF}${chunks}`), methods: ['PATCH'], mayCloseSilently: !chunks.endsWith('\r\n\r\n') && !chunks.endsWith('\n\n') };
    }
    case 6: {
      const line = rng.pick(['X-No-Colon', ' X-Leading-Space: 1', 'X-Space : 1', 'X-Fold: a\r\n b', 'X-Nul: a\u0000b', 'X-8bit: \u00ff\u00fe', 'X-Bare-LF: 1\nX-Other: 2', ': empty-name', 'X-Ctl: a\u0001b', 'Host: second']);
      return { label: `header line ${JSON.stringify(line)}`, bytes: text(`GET /v2/ HTTP/1.1${CRLF}${host}${line}${CRLF}${CRLF}`), methods: ['GET'], mayCloseSilently: false };
    }
    case 7: {
      const size = rng.pick([9000, 17_000, 70_000]);
      return { label: `a ${size}-byte header`, bytes: text(`GET /v2/ HTTP/1.1${CRLF}${host}X-Big: ${'a'.repeat(size)}${CRLF}${CRLF}`), methods: ['GET'], mayCloseSilently: false };
    }
    case 8: {
      const count = rng.pick([100, 1000, 2500]);
      return { label: `${count} headers`, bytes: text(`GET /v2/ HTTP/1.1${CRLF}${host}${Array.from({ length: count }, (_, i) => `X-H${i}: ${i}${CRLF}`).join('')}${CRLF}`), methods: ['GET'], mayCloseSilently: false };
    }
    case 9: {
      const size = rng.pick([4000, 9000, 20_000]);
      return { label: `a ${size}-byte URI`, bytes: text(`GET /v2/${'a/'.repeat(size / 2)}manifests/v1 HTTP/1.1${CRLF}${host}${CRLF}`), methods: ['GET'], mayCloseSilently: false };
    }
    case 10: {
      const requests = Array.from({ length: 2 + rng.int(4) }, () => safeRequest(rng, fx));
      return { label: `${requests.length} pipelined requests`, bytes: text(requests.map((r) => r.text).join('')), methods: requests.map((r) => r.method), mayCloseSilently: false };
    }
    case 11: {
      const line = rng.pick(['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'GET /\r\n\r\n', '\r\n\r\n', 'GET /v2/ HTTP/1.1x\r\n\r\n', 'GET /v2/ HTTP/2.0\r\nHost: r\r\n\r\n', 'GET /v2/ HTTP/1.0\r\n\r\n', 'GET  /v2/  HTTP/1.1\r\nHost: r\r\n\r\n', 'GET\t/v2/\tHTTP/1.1\r\nHost: r\r\n\r\n', 'get /v2/ HTTP/1.1\r\nHost: r\r\n\r\n', 'FOO /v2/ HTTP/1.1\r\nHost: r\r\n\r\n', 'GET /v2/ HTTP/1.1\r\n\r\n', 'OPTIONS * HTTP/1.1\r\nHost: r\r\n\r\n', 'GET http://registry/v2/ HTTP/1.1\r\nHost: r\r\n\r\n', 'GET /v2/ HTTP/1.1\nHost: r\n\n', 'G\u00c9T /v2/ HTTP/1.1\r\nHost: r\r\n\r\n']);
      // Empty lines before a request line are allowed (RFC 9112 §2.2): '\r\n\r\n' alone is no request at all.
      return { label: `request line ${JSON.stringify(line.slice(0, 30))}`, bytes: text(line), methods: ['GET'], mayCloseSilently: line === '\r\n\r\n' };
    }
    case 12: return { label: 'random bytes', bytes: rng.bytes(1 + rng.int(500)), methods: ['GET'], mayCloseSilently: true };
    case 13: {
      const target = rng.pick(['/v2/%00', '/v2/\u0000', '/v2/\u00e9/manifests/v1', '/v2/a b/manifests/v1', `/v2/${name}/manifests/v1#frag`, '/v2/keep/app/manifests/v1?', '/v2/keep/app/manifests/v1\u007f']);
      return { label: `raw bytes in the target ${JSON.stringify(target)}`, bytes: text(`GET ${target} HTTP/1.1${CRLF}${host}${CRLF}`), methods: ['GET'], mayCloseSilently: false };
    }
    case 14: return { label: 'Expect: 100-continue', bytes: Buffer.concat([text(`POST /v2/${name}/blobs/uploads/?digest=${sha256(body)} HTTP/1.1${CRLF}${host}Expect: 100-continue${CRLF}Content-Length: ${body.length}${CRLF}${CRLF}`), body]), methods: ['POST'], mayCloseSilently: false };
    case 15: return { label: 'Upgrade', bytes: text(`GET /v2/ HTTP/1.1${CRLF}${host}Connection: Upgrade${CRLF}Upgrade: ${rng.pick(['websocket', 'h2c', 'foo'])}${CRLF}${CRLF}`), methods: ['GET'], mayCloseSilently: true };
    // node:http drops a CONNECT's connection when nobody listens for 'connect': no answer, but no harm.
    case 16: return { label: 'CONNECT', bytes: text(`CONNECT registry:443 HTTP/1.1${CRLF}${host}${CRLF}`), methods: ['CONNECT'], mayCloseSilently: true };
    case 17: {
      // A valid-looking single POST whose declared Content-Length is honest but whose body is cut by the client.
      const full = rng.bytes(2000);
      return { label: 'single POST cut by the client', bytes: Buffer.concat([text(`POST /v2/${name}/blobs/uploads/?digest=${sha256(full)} HTTP/1.1${CRLF}${host}Content-Length: ${full.length}${CRLF}${CRLF}`), full.subarray(0, rng.int(full.length))]), methods: ['POST'], mayCloseSilently: true };
    }
    case 18: {
      const lying = rng.pick([`Content-Range: 0-${body.length + 5}${CRLF}Content-Length: ${body.length}`, `Content-Range: 0-1${CRLF}Content-Length: ${body.length}`, `Content-Range: 5-${4 + body.length}${CRLF}Content-Length: ${body.length}`]);
      return { label: 'Content-Range and Content-Length disagree', bytes: Buffer.concat([text(`PATCH /v2/${name}/blobs/uploads/${uploadIdFor(rng, fx)} HTTP/1.1${CRLF}${host}${lying}${CRLF}${CRLF}`), body]), methods: ['PATCH'], mayCloseSilently: false };
    }
    default: {
      // An HTTP case sent raw, with a literal (unencoded) byte or two mixed into its target.
      const c = httpCase(seed ^ 0xbeef, index, fx);
      const target = rng.chance(0.5) ? c.path : c.path.replace(/%([0-9a-fA-F]{2})/, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      const writes = ['PUT', 'POST', 'PATCH', 'DELETE'].includes(c.method.toUpperCase());
      // Decoding may turn a sandbox name into another one, never into a protected one: sandbox names start with "fz".
      const safeTarget = writes && !target.startsWith('/v2/fz') ? c.path : target;
      const head = `${c.method} ${safeTarget} HTTP/1.1${CRLF}${host}${Object.entries(c.headers).map(([k, v]) => `${k}: ${String(v)}${CRLF}`).join('')}Content-Length: ${c.body?.length ?? 0}${CRLF}${CRLF}`;
      return { label: 'an HTTP case, raw', bytes: Buffer.concat([text(head), c.body ?? Buffer.alloc(0)]), methods: [c.method.toUpperCase()], mayCloseSilently: false };
    }
  }
}

// ---------------------------------------------------------------------------
// Checking responses.

const SPEC_CODES = new Set<string>(SPEC_ERROR_CODES);

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** For raw exchanges: the method of the request answered ('UNPARSED' when the server could not parse it). */
  method?: string;
}

/** What is wrong with a response, or undefined. */
function problem(response: Response, method: string): string | undefined {
  const { status, headers, body } = response;
  if (status >= 500) return `a ${status}`;
  if (status < 100 || status > 599) return `status ${status}`;
  if ('x-injected' in headers || 'set-cookie' in headers) return 'an injected response header';
  if (headers['docker-distribution-api-version'] !== 'registry/2.0') return 'no Docker-Distribution-API-Version header';
  if (method.toUpperCase() === 'HEAD') return body.length > 0 ? 'a body on HEAD' : undefined;
  if (status < 400) return undefined;
  if (!String(headers['content-type']).startsWith('application/json')) return `an error with Content-Type ${headers['content-type']}`;
  let json: any;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return `an error body that is not JSON: ${body.toString('utf8').slice(0, 100)}`;
  }
  const errors = json?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return 'an error body without errors[]';
  for (const error of errors) {
    if (!SPEC_CODES.has(error?.code)) return `error code ${JSON.stringify(error?.code)} is not one of the spec's 14`;
    if (typeof error.message !== 'string') return 'an error without a message';
  }
  return undefined;
}

/** Splits raw response bytes into responses (Content-Length framed, as the registry and node:http frame them). */
function parseResponses(data: Buffer, methods: string[]): { responses: Response[]; leftover: number } {
  const responses: Response[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (end < 0) break;
    const lines = data.subarray(offset, end).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (!match) break;
    const headers: IncomingHttpHeaders = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      (headers as Record<string, string>)[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(match[1]);
    let next = end + 4;
    if (status >= 200) {
      const method = methods[responses.length] ?? 'GET';
      // A request the server could not parse is answered with a body and Connection: close,
      // whatever its method was (the parser never accepted it as a HEAD).
      // (Those are written on the socket by server.ts's clientError handler: no Date header.)
      const unparsed = headers.connection === 'close' && !('date' in headers);
      const length = (method === 'HEAD' && !unparsed) || status === 204 || status === 304 ? 0 : Number(headers['content-length'] ?? 0);
      responses.push({ status, headers, body: data.subarray(next, next + length), method: unparsed ? 'UNPARSED' : method });
      next += length;
    }
    offset = next;
  }
  return { responses, leftover: data.length - offset };
}

// ---------------------------------------------------------------------------
// Sending.

function httpSend(registry: RunningRegistry, agent: Agent | false, c: HttpCase): Promise<Response> {
  const what = `http ${describe(c)}`;
  inFlight.add(what);
  return new Promise<Response>((resolve, reject) => {
    const headers = { ...c.headers };
    if (c.body && !c.chunked) headers['Content-Length'] = c.body.length;
    const req = request({ host: '127.0.0.1', port: registry.port, method: c.method, path: c.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', (error: Error & { code?: string }) => reject(Object.assign(error, { reused: req.reusedSocket })));
    if (c.body && c.chunked) {
      for (let i = 0; i < c.body.length; i += 1000) req.write(c.body.subarray(i, i + 1000));
      req.end();
    } else req.end(c.body);
  }).finally(() => inFlight.delete(what));
}

/** Writes `bytes`, half-closes, and resolves with everything received once the server closes the connection. */
function rawSend(registry: RunningRegistry, bytes: Buffer): Promise<{ data: Buffer }> {
  const what = `raw ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}`;
  inFlight.add(what);
  return new Promise<{ data: Buffer }>((resolve) => {
    const socket = connect(registry.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ data: Buffer.concat(chunks) }));
    socket.end(bytes);
  }).finally(() => inFlight.delete(what));
}

function describe(c: HttpCase): string {
  const body = c.body ? ` body(${c.body.length}${c.chunked ? ', chunked' : ''}): ${JSON.stringify(c.body.subarray(0, 120).toString('latin1'))}` : '';
  return `${c.method} ${c.path.slice(0, 300)} headers ${JSON.stringify(c.headers).slice(0, 300)}${body}`;
}

async function pool<T>(items: number, concurrency: number, run: (index: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items) await run(next++);
  }));
}

t.test(`fuzz: ${HTTP_REQUESTS} node:http and ${RAW_REQUESTS} raw-socket requests, seed ${SEED}`, async (t) => {
  t.comment(`seed ${SEED}: replay with FUZZ_SEED=${SEED} npx tap test/fuzz.test.ts (add FUZZ_ONLY=http:N or raw:N for one case)`);
  const internal: string[] = [];
  // A short idle timeout so that a request the fuzzer leaves incomplete cannot stall the run.
  const registry = await startRegistry({ idleTimeoutMs: 2000, onError: (error) => internal.push(error.stack ?? error.message) });
  const agent = new Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  t.teardown(async () => {
    agent.destroy();
    await registry.close();
  });

  // Content to protect, and some sandbox content for the fuzzer to reach into.
  const prot = await pushProtected(registry);
  const sandboxBlobs: { digest: string; size: number }[] = [];
  for (let i = 0; i < 6; i++) {
    const bytes = Buffer.from(`sandbox blob ${i}`.repeat(i + 1));
    sandboxBlobs.push({ digest: await pushBlob(registry.url, SANDBOX_NAMES[i % 3]!, bytes), size: bytes.length });
  }
  const sessions: string[] = [];
  for (let i = 0; i < 40; i++) sessions.push(String((await send(registry.url, 'POST', `/v2/${SANDBOX_NAMES[i % 3]}/blobs/uploads/`)).headers.location));
  const fx: Fixtures = {
    protected: prot,
    digests: [...prot.manifests.map((m) => m.digest), ...prot.blobs.map((b) => b.digest), ...sandboxBlobs.map((b) => b.digest), sha512('x')],
    sandboxBlobs,
    sessions,
  };
  const before = await snapshot(registry, prot);
  const catalogBefore = (await send(registry.url, 'GET', '/v2/_catalog')).json.repositories as string[];

  const failures: string[] = [];
  const fail = (message: string) => {
    if (failures.length < 200) failures.push(message);
  };
  const statuses = new Map<number, number>();
  let fiveHundreds = 0;
  let silentCloses = 0;
  const silentByLabel = new Map<string, number>();
  const count = (status: number) => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status >= 500) fiveHundreds++;
  };
  const started = performance.now();

  if (ONLY) {
    const i = Number(ONLY[2]);
    if (ONLY[1] === 'http') {
      const c = httpCase(SEED, i, fx);
      t.comment(`http #${i}: ${describe(c)}`);
      const response = await httpSend(registry, false, c).catch((error: Error) => error);
      t.comment(response instanceof Error ? `error: ${response.message}` : `→ ${response.status} ${JSON.stringify(response.headers)} ${response.body.toString('utf8').slice(0, 2000)}`);
      if (!(response instanceof Error)) t.equal(problem(response, c.method), undefined, 'well-formed');
    } else {
      const c = rawCase(SEED, i, fx);
      t.comment(`raw #${i} (${c.label}): ${JSON.stringify(c.bytes.toString('latin1').slice(0, 3000))}`);
      const { data } = await rawSend(registry, c.bytes);
      t.comment(`→ ${JSON.stringify(data.toString('latin1').slice(0, 3000))}`);
      for (const response of parseResponses(data, c.methods).responses) t.equal(problem(response, response.method ?? 'GET'), undefined, 'well-formed');
    }
    return;
  }

  await pool(HTTP_REQUESTS, HTTP_CONCURRENCY, async (i) => {
    const c = httpCase(SEED, i, fx);
    let response: Response;
    try {
      response = await httpSend(registry, agent, c);
    } catch (error) {
      const err = error as Error & { code?: string; reused?: boolean };
      // A keep-alive socket the server closed as it was being reused: the request never reached it; once more on a new one.
      if (err.reused && (err.code === 'ECONNRESET' || err.message === 'socket hang up')) {
        try {
          response = await httpSend(registry, false, c);
        } catch (again) {
          fail(`http #${i} ${describe(c)} → no response: ${(again as Error).message}`);
          return;
        }
      } else {
        fail(`http #${i} ${describe(c)} → no response: ${err.code ?? ''} ${err.message}`);
        return;
      }
    }
    count(response.status);
    const wrong = problem(response, c.method);
    if (wrong) fail(`http #${i} ${describe(c)} → ${response.status}: ${wrong}; body ${response.body.toString('utf8').slice(0, 300)}`);
  });
  const httpMs = performance.now() - started;

  await pool(RAW_REQUESTS, RAW_CONCURRENCY, async (i) => {
    const c = rawCase(SEED, i, fx);
    const what = () => `raw #${i} (${c.label}) ${JSON.stringify(c.bytes.subarray(0, 300).toString('latin1'))}`;
    const { data } = await rawSend(registry, c.bytes);
    const { responses, leftover } = parseResponses(data, c.methods);
    if (leftover > 0) fail(`${what()} → ${leftover} bytes that are not an HTTP/1.1 response: ${JSON.stringify(data.subarray(data.length - leftover).toString('latin1').slice(0, 200))}`);
    if (responses.length === 0) {
      silentCloses++;
      silentByLabel.set(c.label, (silentByLabel.get(c.label) ?? 0) + 1);
      if (!c.mayCloseSilently) fail(`${what()} → closed without any response`);
    }
    for (const [n, response] of responses.entries()) {
      count(response.status);
      const wrong = problem(response, response.method ?? 'GET');
      if (wrong) fail(`${what()} → response ${n + 1}: ${response.status}: ${wrong}; body ${response.body.toString('utf8').slice(0, 300)}`);
    }
  });
  const totalMs = performance.now() - started;

  // Still alive, and the protected content is exactly as it was.
  t.equal((await send(registry.url, 'GET', '/v2/')).status, 200, 'the registry still serves');
  const after = await snapshot(registry, prot);
  const changed = [...before.entries].filter(([key, value]) => after.entries.get(key) !== value).map(([key, value]) => `${key}: ${value} → ${after.entries.get(key)}`);
  t.same(changed, [], `the protected content is unchanged byte for byte (${before.entries.size} observations: manifests by tag and digest, blobs, ranges, tags lists, referrers)`);
  const catalogAfter = (await send(registry.url, 'GET', '/v2/_catalog')).json.repositories as string[];
  t.same(catalogAfter.filter((n) => !n.startsWith('fz')), catalogBefore.filter((n) => !n.startsWith('fz')), 'the catalog outside the sandbox is unchanged');
  t.ok(catalogAfter.every((n) => n.startsWith('fz') || catalogBefore.includes(n)), 'every new repository is in the sandbox');

  t.comment(`seed ${SEED}: ${HTTP_REQUESTS} http requests in ${Math.round(httpMs)} ms, ${RAW_REQUESTS} raw exchanges, ${Math.round(totalMs)} ms in all; ${fiveHundreds} responses 5xx; ${silentCloses} raw connections closed without a response`);
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`);
  t.comment(`closed without a response (allowed for these): ${JSON.stringify(Object.fromEntries(silentByLabel))}`);
  t.equal(fiveHundreds, 0, 'never a 5xx');
  t.same(internal.slice(0, 5), [], 'no internal error');
  if (failures.length > 0) t.comment(`first failures (seed ${SEED}):\n${failures.slice(0, 30).join('\n')}`);
  t.same(failures.slice(0, 30), [], `every response was well-formed (seed ${SEED}; ${failures.length} problems)`);
  t.ok(HTTP_REQUESTS + RAW_REQUESTS >= 10_000, 'at least 10,000 requests');
});

t.test('an HTTP/1.1 request without a Host header gets an OCI error, not node:http\'s bare 400', async (t) => {
  // Found by the fuzzer: node:http (requireHostHeader, on by default) answers it
  // itself, before the registry sees it: 400, an empty chunked body, no
  // Docker-Distribution-API-Version, no error envelope.
  const registry = await startRegistry({});
  t.teardown(() => registry.close());
  const data = await rawSend(registry, Buffer.from('GET /v2/ HTTP/1.1\r\n\r\n'));
  const { responses, leftover } = parseResponses(data.data, ['GET']);
  t.equal(responses.length, 1, 'one response');
  t.equal(responses[0]?.status, 400);
  t.equal(problem(responses[0]!, 'GET'), undefined, `an OCI error envelope with the API version header (got ${JSON.stringify(data.data.toString('latin1'))})`);
  t.equal(leftover, 0, 'nothing after it');
});
