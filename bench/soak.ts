// Soak: a mixed CI-like workload against one registry process for a given
// time, reporting its RSS at the start, at regular samples and at the end,
// the requests served, their latency, and every error. Not part of `npm test`.
//
//   npm run soak                      # 10 minutes, 16 clients
//   npm run soak -- --minutes 1       # a short run
//   npm run soak -- --json soak.json  # also write the samples and summary as JSON
//
// The registry is the built CLI (`bin/oci-test-registry.cjs`, run `npm run
// build` first; the npm script does) in its own process, so that its RSS is
// its own; this process is the load. Each client keeps a bounded working set
// of images (pushing new ones, deleting the oldest), so that stored bytes stay
// bounded and RSS should level off: a registry that leaks grows anyway.
//
// The mix: image pushes (single POST, chunked PATCHes with Content-Range, a
// streamed PATCH, a PUT with the last chunk), pulls verified by digest,
// HEADs, range GETs, tags and catalog pages, mounts, referrers, a tag that all
// clients race to push, uploads abandoned half-way (to expire), requests cut
// mid-body (to roll back), and malformed requests (to be refused with 4xx).
// Every response is checked: a 5xx, an unexpected status, a pull whose bytes
// do not match their digest, or a failed connection is counted as an error.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `Usage: npm run soak -- [--minutes N] [--clients N] [--sample-seconds N] [--json FILE]

  --minutes N         how long to run the workload (default 10; fractions allowed)
  --clients N         concurrent clients, each on its own keep-alive connection (default 16)
  --sample-seconds N  seconds between samples (default: the run divided into 20, at least 5)
  --json FILE         also write the samples and the summary to FILE
  --max-images N      images each client keeps before deleting its oldest (default 6)
`;

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '16' },
    'sample-seconds': { type: 'string' },
    json: { type: 'string' },
    'max-images': { type: 'string', default: '6' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const MINUTES = Number(flags.minutes);
const CLIENTS = Number(flags.clients);
const MAX_IMAGES = Number(flags['max-images']);
const SAMPLE_SECONDS = flags['sample-seconds'] === undefined ? Math.max(5, (MINUTES * 60) / 20) : Number(flags['sample-seconds']);
for (const [name, value] of [['--minutes', MINUTES], ['--clients', CLIENTS], ['--sample-seconds', SAMPLE_SECONDS], ['--max-images', MAX_IMAGES]] as const) {
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`soak: ${name} must be a positive number\n${HELP}`);
    process.exit(2);
  }
}

const BIN = fileURLToPath(new URL('../bin/oci-test-registry.cjs', import.meta.url));
/** Abandoned uploads must expire during the run: a short upload timeout. */
const UPLOAD_TIMEOUT_S = 20;
const REQUEST_IDLE_MS = 30_000;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 };

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------
// The registry process.

interface Registry {
  child: ChildProcess;
  url: string;
  port: number;
  pid: number;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function startRegistry(): Promise<Registry> {
  const child = spawn(process.execPath, [BIN, '--port', '0', '--json', '--control', '--upload-timeout', `${UPLOAD_TIMEOUT_S}s`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const line = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end >= 0) resolve(stdout.slice(0, end));
    });
    void exited.then(({ code }) => reject(new Error(`the registry exited with ${code} before it was ready: ${stderr}`)));
  });
  const ready = JSON.parse(line) as { url: string; port: number; pid: number };
  return { child, url: ready.url, port: ready.port, pid: ready.pid, stderr: () => stderr, exited };
}

/** Resident set size of a process, in bytes (Linux /proc; else ps). */
async function rssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  const { execFileSync } = await import('node:child_process');
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString().trim()) * 1024;
}

// ---------------------------------------------------------------------------
// Counting.

type ErrorKind = '5xx' | 'unexpected status' | 'corrupt pull' | 'connection' | 'timeout';

class Stats {
  requests = 0;
  readonly statuses = new Map<number, number>();
  readonly errors = new Map<ErrorKind, number>();
  readonly examples: string[] = [];
  latencies: number[] = [];
  bytesIn = 0;
  bytesOut = 0;

  error(kind: ErrorKind, what: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    if (this.examples.length < 20) this.examples.push(`${kind}: ${what}`);
  }

  get errorCount(): number {
    let n = 0;
    for (const count of this.errors.values()) n += count;
    return n;
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

class SoakError extends Error {}

/** One client: its own keep-alive connection. */
class Client {
  readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  rng: number;

  constructor(
    readonly registry: Registry,
    readonly stats: Stats,
    readonly id: number,
  ) {
    this.rng = (id + 1) * 0x9e3779b1;
  }

  random(): number {
    // xorshift32: reproducible per client
    this.rng ^= this.rng << 13;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5;
    return (this.rng >>> 0) / 2 ** 32;
  }

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  bytes(n: number): Buffer {
    // Cheap pseudo-random content, distinct per call.
    const seed = createHash('sha256').update(`${this.id}:${this.rng}:${n}:${this.random()}`).digest();
    const out = Buffer.allocUnsafe(n);
    for (let offset = 0; offset < n; offset += seed.length) seed.copy(out, offset, 0, Math.min(seed.length, n - offset));
    out.writeUInt32LE(this.rng >>> 0, 0);
    return out;
  }

  send(method: string, path: string, options: { headers?: OutgoingHttpHeaders; body?: Buffer | Buffer[]; agent?: Agent | false } = {}): Promise<Reply> {
    const headers: OutgoingHttpHeaders = { ...options.headers };
    if (Buffer.isBuffer(options.body)) headers['Content-Length'] = options.body.length;
    const started = performance.now();
    return new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.registry.port, method, path, headers, agent: options.agent ?? this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const reply = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
          this.stats.requests++;
          this.stats.bytesIn += reply.body.length;
          this.stats.latencies.push(performance.now() - started);
          this.stats.statuses.set(reply.status, (this.stats.statuses.get(reply.status) ?? 0) + 1);
          if (reply.status >= 500) this.stats.error('5xx', `${method} ${path} → ${reply.status} ${reply.body.toString('utf8').slice(0, 200)}`);
          resolve(reply);
        });
      });
      req.setTimeout(REQUEST_IDLE_MS, () => req.destroy(Object.assign(new Error(`no progress for ${REQUEST_IDLE_MS} ms`), { code: 'SOAK_TIMEOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => {
        this.stats.error(error.code === 'SOAK_TIMEOUT' ? 'timeout' : 'connection', `${method} ${path}: ${error.code ?? ''} ${error.message}`);
        reject(new SoakError(error.message));
      });
      if (Array.isArray(options.body)) {
        for (const piece of options.body) {
          this.stats.bytesOut += piece.length;
          req.write(piece);
        }
        req.end();
      } else {
        this.stats.bytesOut += options.body?.length ?? 0;
        req.end(options.body);
      }
    });
  }

  async expect(statuses: number | number[], method: string, path: string, options?: Parameters<Client['send']>[2]): Promise<Reply> {
    const reply = await this.send(method, path, options);
    const wanted = Array.isArray(statuses) ? statuses : [statuses];
    if (!wanted.includes(reply.status)) {
      if (reply.status < 500) this.stats.error('unexpected status', `${method} ${path.slice(0, 120)} → ${reply.status} (wanted ${wanted.join('/')}) ${reply.body.toString('utf8').slice(0, 200)}`);
      throw new SoakError(`${method} ${path} → ${reply.status}`);
    }
    return reply;
  }
}

// ---------------------------------------------------------------------------
// The workload.

interface Image {
  name: string;
  tag: string;
  digest: string;
  manifest: Buffer;
  blobs: { digest: string; size: number }[];
}

async function pushBlob(c: Client, name: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const style = c.int(4);
  if (style === 0) {
    await c.expect(201, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    return digest;
  }
  let location = String((await c.expect(202, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location);
  const join = (l: string) => `${l}${l.includes('?') ? '&' : '?'}digest=${digest}`;
  if (style === 1) {
    await c.expect(201, 'PUT', join(location), { body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
    return digest;
  }
  if (style === 2) {
    // Streamed (chunked transfer encoding, no Content-Range), as Docker pushes.
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) pieces.push(bytes.subarray(offset, offset + 64 * 1024));
    location = String((await c.expect(202, 'PATCH', location, { body: pieces, headers: { 'Content-Type': 'application/octet-stream' } })).headers.location);
    await c.expect(201, 'PUT', join(location));
    return digest;
  }
  // Content-Range chunks, the last one in the PUT.
  const chunk = 256 * 1024;
  let offset = 0;
  for (; bytes.length - offset > chunk; offset += chunk) {
    const piece = bytes.subarray(offset, offset + chunk);
    location = String((await c.expect(202, 'PATCH', location, { body: piece, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + piece.length - 1}` } })).headers.location);
  }
  await c.expect(201, 'PUT', join(location), { body: bytes.subarray(offset), headers: { 'Content-Type': 'application/octet-stream' } });
  return digest;
}

function layerSize(c: Client): number {
  const roll = c.random();
  if (roll < 0.6) return 1024 + c.int(64 * 1024);
  if (roll < 0.95) return 64 * 1024 + c.int(960 * 1024);
  return 2 * 1024 * 1024 + c.int(2 * 1024 * 1024);
}

async function pushImage(c: Client, name: string, tag: string): Promise<Image> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', client: c.id, n: c.random() }));
  const layers = Array.from({ length: 1 + c.int(3) }, () => c.bytes(layerSize(c)));
  const blobs: { digest: string; size: number }[] = [];
  for (const bytes of [config, ...layers]) blobs.push({ digest: await pushBlob(c, name, bytes), size: bytes.length });
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, ...blobs[0]! },
    layers: blobs.slice(1).map((b) => ({ mediaType: OCI_LAYER, ...b })),
  }));
  const digest = sha256(manifest);
  const reply = await c.expect(201, 'PUT', `/v2/${name}/manifests/${tag}`, { body: manifest, headers: { 'Content-Type': OCI_MANIFEST } });
  if (reply.headers['docker-content-digest'] !== digest) c.stats.error('corrupt pull', `PUT ${name}:${tag}: Docker-Content-Digest ${reply.headers['docker-content-digest']}, not ${digest}`);
  return { name, tag, digest, manifest, blobs };
}

async function deleteImage(c: Client, image: Image): Promise<void> {
  await c.expect(202, 'DELETE', `/v2/${image.name}/manifests/${image.digest}`);
  for (const blob of image.blobs) await c.expect([202, 404], 'DELETE', `/v2/${image.name}/blobs/${blob.digest}`);
}

async function pullImage(c: Client, image: Image): Promise<void> {
  const byTag = c.random() < 0.5;
  const manifest = await c.expect(200, 'GET', `/v2/${image.name}/manifests/${byTag ? image.tag : image.digest}`, { headers: { Accept: OCI_MANIFEST } });
  if (!manifest.body.equals(image.manifest)) c.stats.error('corrupt pull', `GET ${image.name}:${byTag ? image.tag : image.digest}: not the manifest pushed`);
  for (const blob of image.blobs) {
    const reply = await c.expect(200, 'GET', `/v2/${image.name}/blobs/${blob.digest}`);
    if (sha256(reply.body) !== blob.digest) c.stats.error('corrupt pull', `GET ${image.name} blob ${blob.digest}: the bytes hash to ${sha256(reply.body)}`);
  }
}

/** An upload left half-way: the session must expire (upload timeout) and free its bytes. */
async function abandonUpload(c: Client, name: string): Promise<void> {
  const location = String((await c.expect(202, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location);
  const piece = c.bytes(10_000 + c.int(100_000));
  await c.expect(202, 'PATCH', location, { body: piece, headers: { 'Content-Range': `0-${piece.length - 1}`, 'Content-Type': 'application/octet-stream' } });
}

/** A PATCH cut by the client half-way through its body: rolled back, then the upload is cancelled. */
async function cutPatch(c: Client, name: string): Promise<void> {
  const location = String((await c.expect(202, 'POST', `/v2/${name}/blobs/uploads/`)).headers.location);
  await new Promise<void>((resolve) => {
    const socket = connect(c.registry.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Range: 0-99999\r\nContent-Length: 100000\r\n\r\n`);
    socket.write(c.bytes(30_000), () => socket.destroy());
  });
  c.stats.requests++;
  // The cut chunk is rolled back as the server notices the close; until then the session is busy (416).
  for (let attempt = 0; attempt < 50; attempt++) {
    const status = await c.expect(204, 'GET', location);
    if (status.headers.range === '0-0') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await c.expect(204, 'DELETE', location);
}

/** Requests a registry must refuse with a 4xx OCI error. */
async function malformed(c: Client, name: string): Promise<void> {
  const cases: [number[], string, string, Parameters<Client['send']>[2]?][] = [
    [[400], 'GET', `/v2/${name}/blobs/sha256:nothex`],
    [[400, 404], 'GET', '/v2/UPPER/Case/manifests/v1'],
    [[404], 'GET', `/v2/${name}/manifests/sha256:${'0'.repeat(64)}`],
    [[400], 'PUT', `/v2/${name}/manifests/bad`, { body: Buffer.from('{not json'), headers: { 'Content-Type': OCI_MANIFEST } }],
    [[400], 'PUT', `/v2/${name}/manifests/bad`, { body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: `sha256:${'1'.repeat(64)}`, size: 1 }, layers: [] })), headers: { 'Content-Type': OCI_MANIFEST } }],
    [[400], 'POST', `/v2/${name}/blobs/uploads/?digest=sha256:${'2'.repeat(64)}`, { body: Buffer.from('does not match') }],
    [[404], 'PATCH', `/v2/${name}/blobs/uploads/no-such-session`, { body: Buffer.from('x'), headers: { 'Content-Range': '0-0' } }],
    [[400], 'GET', `/v2/${name}/tags/list?n=-1`],
    [[405], 'POST', `/v2/${name}/manifests/v1`],
    [[404], 'GET', '/v2/%2e%2e/%2e%2e/etc/passwd'],
  ];
  const [statuses, method, path, options] = cases[c.int(cases.length)]!;
  await c.expect(statuses, method, path, options);
}

async function listPages(c: Client, path: string): Promise<void> {
  let next: string | undefined = `${path}?n=${1 + c.int(20)}`;
  for (let pages = 0; next && pages < 20; pages++) {
    const reply = await c.expect(200, 'GET', next);
    const link = reply.headers.link;
    next = link ? /^<([^>]+)>/.exec(String(link))?.[1] : undefined;
  }
}

async function client(c: Client, until: number): Promise<void> {
  const name = `soak/client-${c.id}`;
  const images: Image[] = [];
  let n = 0;
  while (performance.now() < until) {
    try {
      const roll = c.random();
      if (roll < 0.18 || images.length === 0) {
        images.push(await pushImage(c, name, `v${n++}`));
        if (images.length > MAX_IMAGES) await deleteImage(c, images.shift()!);
      } else if (roll < 0.45) {
        await pullImage(c, images[c.int(images.length)]!);
      } else if (roll < 0.55) {
        const image = images[c.int(images.length)]!;
        await c.expect(200, 'HEAD', `/v2/${name}/manifests/${image.tag}`);
        await c.expect(200, 'HEAD', `/v2/${name}/blobs/${image.blobs[0]!.digest}`);
      } else if (roll < 0.62) {
        const image = images[c.int(images.length)]!;
        const blob = image.blobs[image.blobs.length - 1]!;
        const start = c.int(blob.size);
        const reply = await c.expect(206, 'GET', `/v2/${name}/blobs/${blob.digest}`, { headers: { Range: `bytes=${start}-` } });
        if (reply.body.length !== blob.size - start) c.stats.error('corrupt pull', `range GET ${blob.digest} from ${start}: ${reply.body.length} bytes, not ${blob.size - start}`);
      } else if (roll < 0.68) {
        await listPages(c, c.random() < 0.5 ? `/v2/${name}/tags/list` : '/v2/_catalog');
      } else if (roll < 0.72) {
        // Mount a blob of this client into a shared repository, then unlink it there.
        const blob = images[c.int(images.length)]!.blobs[0]!;
        await c.expect(201, 'POST', `/v2/soak/mounted/blobs/uploads/?mount=${blob.digest}&from=${name}`);
        await c.expect([202, 404], 'DELETE', `/v2/soak/mounted/blobs/${blob.digest}`);
      } else if (roll < 0.76) {
        // An artifact referring to an image, listed by the referrers API, then deleted.
        const image = images[c.int(images.length)]!;
        const payload = Buffer.from(`signature ${c.random()}`);
        const layer = await pushBlob(c, name, payload);
        await c.expect(201, 'POST', `/v2/${name}/blobs/uploads/?digest=${EMPTY.digest}`, { body: Buffer.from('{}') });
        const artifact = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.soak.signature', config: EMPTY, layers: [{ mediaType: 'text/plain', digest: layer, size: payload.length }], subject: { mediaType: OCI_MANIFEST, digest: image.digest, size: image.manifest.length } }));
        const digest = sha256(artifact);
        await c.expect(201, 'PUT', `/v2/${name}/manifests/${digest}`, { body: artifact, headers: { 'Content-Type': OCI_MANIFEST } });
        const referrers = await c.expect(200, 'GET', `/v2/${name}/referrers/${image.digest}`);
        if (!(JSON.parse(referrers.body.toString()).manifests as { digest: string }[]).some((m) => m.digest === digest)) c.stats.error('corrupt pull', `referrers of ${image.digest} lack ${digest}`);
        await c.expect(202, 'DELETE', `/v2/${name}/manifests/${digest}`);
        await c.expect(202, 'DELETE', `/v2/${name}/blobs/${layer}`);
      } else if (roll < 0.79) {
        // Every client races to the same tag; the loser's manifest stays reachable by digest.
        const raced = await pushImage(c, 'soak/shared', 'latest');
        await c.expect(200, 'GET', `/v2/soak/shared/manifests/${raced.digest}`);
        await deleteImage(c, raced);
      } else if (roll < 0.80) {
        // About 1% of actions: at steady state a few hundred sessions wait to expire, well under maxUploads (1000).
        await abandonUpload(c, name);
      } else if (roll < 0.82) {
        await cutPatch(c, name);
      } else {
        await malformed(c, name);
      }
    } catch (error) {
      if (!(error instanceof SoakError)) throw error;
      // Counted already; go on with the next action.
    }
  }
  // Leave nothing behind but what the registry should free by itself (abandoned uploads).
  for (const image of images) await deleteImage(c, image).catch(() => undefined);
  c.agent.destroy();
}

// ---------------------------------------------------------------------------
// Sampling and the report.

interface Sample {
  seconds: number;
  rssBytes: number;
  requests: number;
  requestsPerSecond: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  usage: { storedBytes: number; uploadBytes: number; uploads: number; repositories: number; blobs: number } | undefined;
  load1: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function usageOf(registry: Registry): Promise<Sample['usage']> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: registry.port, path: '/_oci-test-registry/health', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()).usage);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function formatSample(s: Sample): string {
  const u = s.usage;
  return `[${String(Math.round(s.seconds)).padStart(5)} s] rss ${mib(s.rssBytes).padStart(10)} | requests ${String(s.requests).padStart(8)} (${Math.round(s.requestsPerSecond)}/s) | p50 ${s.p50Ms.toFixed(1)} ms p99 ${s.p99Ms.toFixed(1)} ms | errors ${s.errors}` +
    (u ? ` | stored ${mib(u.storedBytes)} in ${u.blobs} blobs, ${u.repositories} repos | uploads ${u.uploads} (${mib(u.uploadBytes)})` : '') +
    ` | load ${s.load1.toFixed(2)}`;
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  const stats = new Stats();
  const started = performance.now();
  const until = started + MINUTES * 60_000;
  const rssStart = await rssOf(registry.pid);
  const loadStart = loadavg();
  process.stdout.write(`soak: registry pid ${registry.pid} at ${registry.url}; ${CLIENTS} clients for ${MINUTES} min, a sample every ${SAMPLE_SECONDS} s; ${cpus().length} CPUs, ${mib(totalmem())} memory, load ${loadStart.map((l) => l.toFixed(2)).join(' ')}\n`);
  process.stdout.write(`soak: RSS at start (idle) ${mib(rssStart)}\n`);

  const samples: Sample[] = [];
  let lastRequests = 0;
  let lastAt = started;
  const sample = async (): Promise<Sample> => {
    const now = performance.now();
    const latencies = stats.latencies.sort((a, b) => a - b);
    stats.latencies = [];
    const s: Sample = {
      seconds: (now - started) / 1000,
      rssBytes: await rssOf(registry.pid),
      requests: stats.requests,
      requestsPerSecond: ((stats.requests - lastRequests) * 1000) / Math.max(1, now - lastAt),
      errors: stats.errorCount,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      usage: await usageOf(registry),
      load1: loadavg()[0]!,
    };
    lastRequests = stats.requests;
    lastAt = now;
    samples.push(s);
    process.stdout.write(`${formatSample(s)}\n`);
    return s;
  };
  const timer = setInterval(() => void sample(), SAMPLE_SECONDS * 1000);

  await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(new Client(registry, stats, id), until)));
  clearInterval(timer);
  const workEnd = await sample();

  // Abandoned uploads expire on their own: wait (bounded) for the sessions to go, then measure again.
  const expiryDeadline = performance.now() + (UPLOAD_TIMEOUT_S * 2 + 10) * 1000;
  let usage = await usageOf(registry);
  while (usage && usage.uploads > 0 && performance.now() < expiryDeadline) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    usage = await usageOf(registry);
  }
  const rssEnd = await rssOf(registry.pid);
  const rssMax = Math.max(rssEnd, ...samples.map((s) => s.rssBytes));
  const loadEnd = loadavg();

  registry.child.kill('SIGTERM');
  const exit = await registry.exited;

  const summary = {
    minutes: MINUTES,
    clients: CLIENTS,
    cpus: cpus().length,
    loadAverageStart: loadStart,
    loadAverageEnd: loadEnd,
    rssStartBytes: rssStart,
    rssFirstSampleBytes: samples[0]?.rssBytes,
    rssEndOfWorkBytes: workEnd.rssBytes,
    rssEndBytes: rssEnd,
    rssMaxBytes: rssMax,
    requests: stats.requests,
    requestsPerSecond: stats.requests / ((workEnd.seconds || 1)),
    bytesSent: stats.bytesOut,
    bytesReceived: stats.bytesIn,
    statuses: Object.fromEntries([...stats.statuses].sort((a, b) => a[0] - b[0])),
    errors: stats.errorCount,
    errorsByKind: Object.fromEntries(stats.errors),
    errorExamples: stats.examples,
    usageAfterExpiry: usage,
    registryExit: exit,
    registryStderr: registry.stderr().slice(0, 2000),
  };
  process.stdout.write(
    `\nsoak summary (${MINUTES} min, ${CLIENTS} clients, ${cpus().length} CPUs, load ${loadStart[0]!.toFixed(2)} → ${loadEnd[0]!.toFixed(2)})\n` +
      `  RSS: start ${mib(rssStart)}, first sample ${samples[0] ? mib(samples[0].rssBytes) : '-'}, end of work ${mib(workEnd.rssBytes)}, after upload expiry ${mib(rssEnd)}, max ${mib(rssMax)}\n` +
      `  requests served: ${stats.requests} (${Math.round(summary.requestsPerSecond)}/s), ${mib(stats.bytesOut)} sent, ${mib(stats.bytesIn)} received\n` +
      `  statuses: ${JSON.stringify(summary.statuses)}\n` +
      `  errors: ${stats.errorCount} ${JSON.stringify(summary.errorsByKind)}\n` +
      (stats.examples.length ? `  first errors:\n${stats.examples.map((e) => `    ${e}`).join('\n')}\n` : '') +
      `  after the work and upload expiry: ${JSON.stringify(usage)}\n` +
      `  registry exit: ${JSON.stringify(exit)}${registry.stderr() ? `; stderr: ${registry.stderr().slice(0, 500)}` : ''}\n`,
  );
  if (flags.json) await writeFile(flags.json, JSON.stringify({ summary, samples }, null, 2));
  process.exitCode = stats.errorCount > 0 || exit.code !== 0 ? 1 : 0;
}

await main();
