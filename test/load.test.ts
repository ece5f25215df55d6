// Load: 200 concurrent clients, each on its own keep-alive connection,
// push an image (a single-POST config, a layer in Content-Range chunks with
// the last chunk in the closing PUT, a layer streamed with chunked encoding)
// and pull it back; at the same time 20 clients race to push different
// images to the same tag (sharing one layer they all upload at once), while
// readers pull that tag. Afterwards: every acknowledged push is readable
// byte for byte, the tag is one of the pushed digests, no session or byte
// is left over, and no request got a 5xx or a network error. Should the lock
// ever deadlock, a note (not a failure: a busy machine is only slow) names
// the requests still in flight before tap's timeout ends the file.
import t from 'tap';
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { startRegistry, type RunningRegistry } from '../src/index.js';
import { sha256 } from './helpers/digest.js';
import { pseudoRandomBytes } from './helpers/bytes.js';
import { OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST } from './helpers/media-types.js';

const CLIENTS = 200;
const RACERS = 20;
const READERS = 10;
const CHUNK = 16 * 1024;

/** Deterministic bytes: no two seeds share content. */
const bytesFor = (seed: string, size: number): Buffer => pseudoRandomBytes(size, seed);

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Every request of the test: counted by status, 5xx kept whole, in-flight ones visible to the watchdog. */
class Tally {
  requests = 0;
  readonly statuses = new Map<number, number>();
  readonly serverErrors: string[] = [];
  readonly failures: string[] = [];
  readonly inFlight = new Set<{ what: string; since: number }>();

  fail(message: string): void {
    if (this.failures.length < 50) this.failures.push(message);
  }
}

/** One client: its own keep-alive connection (an Agent with one socket), as a CI job's client has. */
class Client {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(
    readonly registry: RunningRegistry,
    readonly tally: Tally,
  ) {}

  /** `body` as one Buffer goes out with Content-Length; as an array of pieces, with Transfer-Encoding: chunked. */
  send(method: string, path: string, headers: OutgoingHttpHeaders = {}, body?: Buffer | Buffer[]): Promise<Reply> {
    const all = { ...headers };
    if (Buffer.isBuffer(body)) all['Content-Length'] = body.length;
    const flight = { what: `${method} ${path}`, since: performance.now() };
    this.tally.inFlight.add(flight);
    this.tally.requests++;
    return new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.registry.port, method, path, headers: all, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const reply = { status, headers: res.headers, body: Buffer.concat(chunks) };
          this.tally.statuses.set(status, (this.tally.statuses.get(status) ?? 0) + 1);
          if (status >= 500) this.tally.serverErrors.push(`${method} ${path} → ${status} ${reply.body.toString('utf8').slice(0, 300)}`);
          resolve(reply);
        });
      });
      req.on('error', reject);
      if (Array.isArray(body)) {
        for (const piece of body) req.write(piece);
        req.end();
      } else req.end(body);
    }).finally(() => this.tally.inFlight.delete(flight));
  }

  /** Sends and checks the status; a mismatch is a failure with the body, and throws to stop this client. */
  async expect(status: number, method: string, path: string, headers?: OutgoingHttpHeaders, body?: Buffer | Buffer[]): Promise<Reply> {
    const reply = await this.send(method, path, headers, body);
    if (reply.status !== status) {
      const message = `${method} ${path}: expected ${status}, got ${reply.status} ${reply.body.toString('utf8').slice(0, 300)}`;
      this.tally.fail(message);
      throw new Error(message);
    }
    return reply;
  }

  check(ok: boolean, message: string): void {
    if (!ok) {
      this.tally.fail(message);
      throw new Error(message);
    }
  }

  /** end-4b single POST. */
  async pushSingle(name: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const reply = await this.expect(201, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { 'Content-Type': 'application/octet-stream' }, bytes);
    this.check(reply.headers['docker-content-digest'] === digest, `single POST ${name}: Docker-Content-Digest`);
    return digest;
  }

  /** POST, PATCH with Content-Range in CHUNK pieces (a status GET half-way), PUT with the last piece. */
  async pushChunked(name: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    let location = String((await this.expect(202, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location);
    let offset = 0;
    for (; bytes.length - offset > CHUNK; offset += CHUNK) {
      const piece = bytes.subarray(offset, offset + CHUNK);
      const end = offset + piece.length - 1;
      const reply = await this.expect(202, 'PATCH', location, { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end}` }, piece);
      this.check(reply.headers.range === `0-${end}`, `PATCH ${name} ${offset}-${end}: Range ${reply.headers.range}`);
      location = String(reply.headers.location);
      if (offset === CHUNK) {
        const status = await this.expect(204, 'GET', location);
        this.check(status.headers.range === `0-${end}`, `GET ${location}: Range ${status.headers.range}, expected 0-${end}`);
      }
    }
    const done = await this.expect(201, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { 'Content-Type': 'application/octet-stream' }, bytes.subarray(offset));
    this.check(done.headers['docker-content-digest'] === digest, `chunked push ${name}: Docker-Content-Digest`);
    return digest;
  }

  /** POST, one PATCH streamed with Transfer-Encoding: chunked (Docker style, no Content-Range), empty PUT. */
  async pushStreamed(name: string, bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    const location = String((await this.expect(202, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location);
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 5000) pieces.push(bytes.subarray(offset, offset + 5000));
    const patched = await this.expect(202, 'PATCH', location, { 'Content-Type': 'application/octet-stream' }, pieces);
    this.check(patched.headers.range === `0-${bytes.length - 1}`, `streamed PATCH ${name}: Range ${patched.headers.range}`);
    const next = String(patched.headers.location);
    await this.expect(201, 'PUT', `${next}${next.includes('?') ? '&' : '?'}digest=${digest}`);
    return digest;
  }

  /** Pulls a manifest by `reference` and checks bytes, digest and type. */
  async pullManifest(name: string, reference: string, bytes: Buffer): Promise<void> {
    const reply = await this.expect(200, 'GET', `/v2/${name}/manifests/${reference}`, { Accept: OCI_MANIFEST });
    this.check(reply.body.equals(bytes), `GET ${name}:${reference}: manifest bytes differ`);
    this.check(reply.headers['docker-content-digest'] === sha256(bytes), `GET ${name}:${reference}: Docker-Content-Digest`);
    this.check(reply.headers['content-type'] === OCI_MANIFEST, `GET ${name}:${reference}: Content-Type`);
  }

  async pullBlob(name: string, bytes: Buffer): Promise<void> {
    const digest = sha256(bytes);
    const reply = await this.expect(200, 'GET', `/v2/${name}/blobs/${digest}`);
    this.check(reply.body.equals(bytes), `GET ${name} blob ${digest}: ${reply.body.length} bytes, not the ${bytes.length} pushed`);
  }
}

interface Image {
  name: string;
  blobs: Buffer[];
  manifest: Buffer;
  digest: string;
}

function manifestOf(config: Buffer, layers: Buffer[]): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
    layers: layers.map((layer) => ({ mediaType: OCI_LAYER_TAR, digest: sha256(layer), size: layer.length })),
  }));
}

t.test(`${CLIENTS} clients push and pull their own images while ${RACERS} race to one tag: nothing lost, no 5xx, no deadlock`, async (t) => {
  const internal: string[] = [];
  const registry = await startRegistry({ onError: (error) => internal.push(error.stack ?? error.message) });
  const tally = new Tally();
  const clients: Client[] = [];
  const client = () => {
    const c = new Client(registry, tally);
    clients.push(c);
    return c;
  };
  t.teardown(async () => {
    for (const c of clients) c.agent.destroy();
    await registry.close();
  });

  // A diagnosis, not a verdict: if the load is still running after 25 s, say what is in flight,
  // so that a deadlock that tap's timeout then ends names its requests.
  const watchdog = setTimeout(() => {
    const now = performance.now();
    const stuck = [...tally.inFlight].slice(0, 20).map((f) => `${f.what} (${Math.round(now - f.since)} ms)`);
    t.comment(`the load is still running after 25 s: ${tally.inFlight.size} requests in flight, e.g. ${stuck.join('; ')}`);
  }, 25_000);
  watchdog.unref();
  const started = performance.now();

  // Each client: its own repository and image.
  const images: Image[] = [];
  const own = Array.from({ length: CLIENTS }, async (_, i) => {
    const c = client();
    const name = `load/client-${i}`;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: `client ${i}` }));
    const chunked = bytesFor(`chunked ${i}`, CHUNK * 2 + 1 + ((i * 7919) % (CHUNK * 4)));
    const streamed = bytesFor(`streamed ${i}`, 20_000 + ((i * 104_729) % 30_000));
    await c.pushSingle(name, config);
    await c.pushChunked(name, chunked);
    await c.pushStreamed(name, streamed);
    const manifest = manifestOf(config, [chunked, streamed]);
    const pushed = await c.expect(201, 'PUT', `/v2/${name}/manifests/v1`, { 'Content-Type': OCI_MANIFEST }, manifest);
    const digest = sha256(manifest);
    c.check(pushed.headers['docker-content-digest'] === digest, `PUT ${name}:v1: Docker-Content-Digest`);
    images.push({ name, blobs: [config, chunked, streamed], manifest, digest });
    // Pull it back at once, while the others still push.
    await c.pullManifest(name, 'v1', manifest);
    await c.pullManifest(name, digest, manifest);
    for (const blob of [config, chunked, streamed]) await c.pullBlob(name, blob);
    const ranged = await c.expect(206, 'GET', `/v2/${name}/blobs/${sha256(chunked)}`, { Range: `bytes=${CHUNK - 10}-${CHUNK + 9}` });
    c.check(ranged.body.equals(chunked.subarray(CHUNK - 10, CHUNK + 10)), `ranged GET ${name}: the 20 bytes across the chunk boundary`);
    const tags = await c.expect(200, 'GET', `/v2/${name}/tags/list`);
    c.check(tags.body.toString() === JSON.stringify({ name, tags: ['v1'] }), `tags/list ${name}: ${tags.body}`);
  });

  // The race: different images, one tag, one layer they all upload at once.
  const race = 'load/race';
  const shared = bytesFor('shared layer', 3 * CHUNK + 5);
  const acknowledged = new Map<string, Image>();
  let racing = true;
  const racers = Array.from({ length: RACERS }, async (_, i) => {
    const c = client();
    const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', racer: i }));
    const layer = bytesFor(`racer ${i}`, CHUNK + 100 * i);
    await c.pushSingle(race, config);
    await c.pushChunked(race, shared);
    await c.pushChunked(race, layer);
    const manifest = manifestOf(config, [layer, shared]);
    const digest = sha256(manifest);
    const pushed = await c.expect(201, 'PUT', `/v2/${race}/manifests/latest`, { 'Content-Type': OCI_MANIFEST }, manifest);
    c.check(pushed.headers['docker-content-digest'] === digest, `racer ${i}: Docker-Content-Digest`);
    acknowledged.set(digest, { name: race, blobs: [config, layer, shared], manifest, digest });
    // More writers on the same lock: a tag added by digest and deleted, a mount elsewhere.
    const tagged = await c.expect(201, 'PUT', `/v2/${race}/manifests/${digest}?tag=racer-${i}`, { 'Content-Type': OCI_MANIFEST }, manifest);
    c.check(tagged.headers['oci-tag'] === `racer-${i}`, `racer ${i}: OCI-Tag ${tagged.headers['oci-tag']}`);
    await c.expect(202, 'DELETE', `/v2/${race}/manifests/racer-${i}`);
    await c.expect(201, 'POST', `/v2/load/mounted-${i}/blobs/uploads/?mount=${sha256(shared)}&from=${race}`);
  });
  // Readers of the contended tag: each answer is "not there yet" or a whole, consistent manifest.
  const readers = Array.from({ length: READERS }, async () => {
    const c = client();
    for (let n = 0; racing && n < 400; n++) {
      const reply = await c.send('GET', `/v2/${race}/manifests/latest`, { Accept: OCI_MANIFEST });
      if (reply.status === 404) continue;
      c.check(reply.status === 200, `reader: GET latest answered ${reply.status}`);
      c.check(reply.headers['docker-content-digest'] === sha256(reply.body), 'reader: the body is the digest it is served under');
      const listed = await c.send('GET', `/v2/${race}/tags/list`);
      c.check(listed.status === 200, `reader: tags/list answered ${listed.status}`);
    }
  });

  const settled = await Promise.allSettled([...own, Promise.allSettled(racers).then((results) => {
    racing = false;
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} racers failed: ${failed.map((r) => String((r as PromiseRejectedResult).reason)).join('; ')}`);
  }), ...readers]);
  clearTimeout(watchdog);
  const elapsed = performance.now() - started;
  t.same(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)), [], 'every client finished');
  t.same(tally.failures, [], 'every reply was the one expected');

  // Afterwards, on a fresh client: everything acknowledged, byte for byte. A pull that fails
  // (a mismatch, already in tally.failures, or a network error) is counted, never swallowed.
  const after = client();
  const pullErrors: string[] = [];
  const counted = (pull: Promise<unknown>): Promise<unknown> => pull.catch((error: unknown) => pullErrors.push(String(error)));
  t.equal(images.length, CLIENTS, 'every client push was acknowledged');
  for (const image of images) {
    await counted(after.pullManifest(image.name, 'v1', image.manifest));
    await counted(after.pullManifest(image.name, image.digest, image.manifest));
    for (const blob of image.blobs) await counted(after.pullBlob(image.name, blob));
  }
  t.equal(acknowledged.size, RACERS, 'every racer was acknowledged');
  for (const image of acknowledged.values()) {
    await counted(after.pullManifest(race, image.digest, image.manifest));
    for (const blob of image.blobs) await counted(after.pullBlob(race, blob));
  }
  const latest = await after.send('GET', `/v2/${race}/manifests/latest`);
  t.equal(latest.status, 200);
  const winner = String(latest.headers['docker-content-digest']);
  t.ok(acknowledged.has(winner), `the tag ends at one of the ${RACERS} pushed digests (${winner})`);
  t.ok(latest.body.equals(acknowledged.get(winner)?.manifest ?? Buffer.alloc(0)), 'and serves exactly that manifest');
  t.equal((await after.send('GET', `/v2/${race}/tags/list`)).body.toString(), JSON.stringify({ name: race, tags: ['latest'] }), 'the racers\' extra tags are gone, latest stays');
  for (let i = 0; i < RACERS; i++) await counted(after.pullBlob(`load/mounted-${i}`, shared));
  t.same(tally.failures, [], 'the final pulls matched byte for byte');
  t.same(pullErrors, [], 'no final pull failed, on the wire or in its bytes');

  const catalog = JSON.parse((await after.send('GET', '/v2/_catalog')).body.toString()).repositories as string[];
  t.equal(catalog.length, CLIENTS + 1 + RACERS, 'every repository is in the catalog');
  t.match(await registry.store.usage(), { uploads: 0, uploadBytes: 0 }, 'no upload session or byte left over');
  t.same(tally.serverErrors, [], 'no request got a 5xx');
  t.same(internal, [], 'no internal error');
  t.same([...tally.statuses.keys()].filter((s) => s >= 300 && s !== 404).sort(), [], 'only 2xx (and 404 before the first racer) were answered');
  t.comment(`${tally.requests} requests in ${Math.round(elapsed)} ms; statuses ${JSON.stringify(Object.fromEntries([...tally.statuses].sort()))}`);
});
