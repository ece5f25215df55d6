// The workloads. Each HTTP workload runs in rounds, and each round runs it
// against every target in turn (ours, bare, then each --against URL), so
// that noise on this shared machine hits them all alike. Every loop is
// bounded in count and in time.
import { spawn } from 'node:child_process';
import { get as getRequest } from 'node:http';
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ACCEPT, smallImage, tagName } from './image.mjs';
import { expect, nextLink, pushChunked, pushImage, pushMonolithic, putManifest, type Endpoint } from './client.js';
import { quantile, summarize, type Summary } from './stats.js';
import { BIN, ROOT, childEnv, cpuNs, memoryOf, minorFaults, startBare, startOurs, type Against, type Target } from './targets.js';

const MB = 1e6;

export interface Config {
  quick: boolean;
  blobSize: number;
  chunkSize: number;
  rounds: number;
  memoryBytes: number;
  memoryRounds: number;
  startupRuns: number;
  /** Length of one round of manifest HEAD/GET. */
  opsMs: number;
  /** Cap on requests in one round of manifest HEAD/GET. */
  opsMaxRequests: number;
  inFlight: number;
  images: number;
  /** Tags created per round of the tag-create workload. */
  tagCreates: number;
  imageConcurrency: number;
  tags: number;
  pageSize: number;
  only: Set<string>;
  against: Against[];
  cpuProfDir?: string;
  /** Extra flags for our registry's CLI (experiments: what does an option cost?). */
  registryFlags: string[];
  json?: string;
  /** A round that has not finished after this long fails. */
  roundTimeoutMs: number;
  /** Past this (since the start), no new round starts. */
  maxMs: number;
}

export interface Context {
  config: Config;
  /** Makes this run's content unique, so that nothing is deduplicated from an earlier run. */
  runId: string;
  started: number;
  log(line: string): void;
}

export interface TargetResult extends Summary {
  error?: string;
  info?: Record<string, number | string>;
}

export interface Metric {
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  targets: Record<string, TargetResult>;
}

export interface Workload {
  title: string;
  metrics: Record<string, Metric>;
  notes: string[];
}

type MetricDefs = Record<string, Omit<Metric, 'targets'>>;

/** Samples per metric and target, errors per target, then a Workload. */
class Collector {
  private readonly samples = new Map<string, Map<string, number[]>>();
  private readonly info = new Map<string, Record<string, number | string>>();
  readonly errors = new Map<string, string>();
  readonly notes: string[] = [];

  constructor(private readonly title: string, private readonly defs: MetricDefs) {}

  has(metric: string): boolean {
    return this.defs[metric] !== undefined;
  }

  add(metric: string, target: string, value: number): void {
    if (!this.defs[metric]) throw new Error(`unknown metric ${metric}`);
    const byTarget = this.samples.get(metric) ?? new Map<string, number[]>();
    this.samples.set(metric, byTarget);
    byTarget.set(target, [...(byTarget.get(target) ?? []), value]);
  }

  note(metric: string, target: string, key: string, value: number | string): void {
    const id = `${metric}\0${target}`;
    this.info.set(id, { ...this.info.get(id), [key]: value });
  }

  fail(target: string, error: unknown): void {
    if (!this.errors.has(target)) this.errors.set(target, (error as Error).message ?? String(error));
  }

  workload(targets: readonly string[]): Workload {
    const metrics: Record<string, Metric> = {};
    for (const [key, def] of Object.entries(this.defs)) {
      const byTarget: Record<string, TargetResult> = {};
      for (const target of targets) {
        const samples = this.samples.get(key)?.get(target) ?? [];
        const result: TargetResult = summarize(samples);
        const error = this.errors.get(target);
        if (error) result.error = error;
        const info = this.info.get(`${key}\0${target}`);
        if (info) result.info = info;
        if (samples.length > 0 || error || info) byTarget[target] = result;
      }
      metrics[key] = { ...def, targets: byTarget };
    }
    return { title: this.title, metrics, notes: this.notes };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `count` rounds; in each, `run` once per target, in order. A target
 * that fails is reported with its error and left out of later rounds.
 */
async function interleave(
  ctx: Context,
  collector: Collector,
  name: string,
  targets: readonly Target[],
  count: number,
  run: (target: Target, round: number) => Promise<Record<string, number> & { ops?: number }>,
  hooks: {
    beforeRound?: (round: number) => void;
    warmup?: (target: Target) => Promise<void>;
    /**
     * With `ops` in run's result: record `cpu`, the server's CPU ns per op
     * times this, and, where the workload has the metric, `faults`, its
     * minor page faults per op.
     */
    cpuScale?: number;
  } = {},
): Promise<void> {
  if (hooks.warmup) {
    for (const target of targets) {
      try {
        await withTimeout(hooks.warmup(target), ctx.config.roundTimeoutMs, `${name} warm-up on ${target.key}`);
      } catch (error) {
        collector.fail(target.key, error);
        ctx.log(`${name}: ${target.key} failed in warm-up: ${(error as Error).message}`);
      }
    }
  }
  for (let round = 0; round < count; round++) {
    if (performance.now() - ctx.started > ctx.config.maxMs) {
      collector.notes.push(`stopped after ${round} of ${count} rounds: the run reached --max-minutes`);
      break;
    }
    hooks.beforeRound?.(round);
    const line: string[] = [];
    for (const target of targets) {
      if (collector.errors.has(target.key)) continue;
      try {
        const cpuBefore = target.pid === undefined ? undefined : cpuNs(target.pid);
        const faults = () => (target.pid === undefined || !collector.has('faults') ? undefined : minorFaults(target.pid));
        const faultsBefore = faults();
        const { ops, ...values } = await withTimeout(run(target, round), ctx.config.roundTimeoutMs, `${name} on ${target.key}`);
        const cpuAfter = target.pid === undefined ? undefined : cpuNs(target.pid);
        const faultsAfter = faults();
        // Server CPU per operation: the noise-resistant view of the same round.
        if (hooks.cpuScale !== undefined && ops && cpuBefore !== undefined && cpuAfter !== undefined) values.cpu = ((cpuAfter - cpuBefore) / ops) * hooks.cpuScale;
        // And the fresh memory it touched for them, which this VM charges by the page.
        if (hooks.cpuScale !== undefined && ops && faultsBefore !== undefined && faultsAfter !== undefined) values.faults = (faultsAfter - faultsBefore) / ops;
        for (const [metric, value] of Object.entries(values)) collector.add(metric, target.key, value);
        line.push(`${target.key} ${Object.entries(values).map(([k, v]) => `${k}=${v.toFixed(1)}`).join(' ')}`);
      } catch (error) {
        collector.fail(target.key, error);
        line.push(`${target.key} FAILED: ${(error as Error).message}`);
      }
    }
    ctx.log(`${name} round ${round + 1}/${count}: ${line.join(' | ')}`);
  }
}

// ---------------------------------------------------------------------------
// Big blobs

/**
 * A blob of `size` bytes made of one shared body and an 8-byte tail that
 * makes each variant unique. The body's hash state is computed once and
 * copied, so a new variant's digest costs 8 bytes of hashing.
 */
export class BigBlob {
  readonly body: Buffer;
  private readonly state: Hash;

  constructor(readonly size: number) {
    if (size < 64) throw new Error('blob size must be at least 64 bytes');
    const pattern = randomFillSync(Buffer.alloc(Math.min(size, 1 << 20)));
    this.body = Buffer.allocUnsafe(size - 8);
    for (let offset = 0; offset < this.body.length; offset += pattern.length) pattern.copy(this.body, offset);
    this.state = createHash('sha256').update(this.body);
  }

  variant(id: number): { pieces: Buffer[]; digest: string } {
    const tail = Buffer.alloc(8);
    tail.writeDoubleBE(id);
    return { pieces: [this.body, tail], digest: `sha256:${this.state.copy().update(tail).digest('hex')}` };
  }
}

/** node:crypto sha256 over `blob` in 64 KiB updates (how bytes arrive from a socket): MB/s. */
export function sha256Rate(blob: BigBlob): number {
  const started = performance.now();
  const hash = createHash('sha256');
  for (let offset = 0; offset < blob.body.length; offset += 65536) hash.update(blob.body.subarray(offset, offset + 65536));
  hash.digest();
  return blob.size / MB / ((performance.now() - started) / 1000);
}

async function deleteBlob(endpoint: Endpoint, repo: string, digest: string): Promise<void> {
  // Frees the bytes in our registry; others may refuse (405) or keep them: either is fine.
  await endpoint.send('DELETE', `/v2/${repo}/blobs/${digest}`).catch(() => undefined);
}

let variants = 0;
const BIG_REPO = 'bench/big';

export async function pushBig(ctx: Context, targets: readonly Target[], mode: 'monolithic' | 'chunked', blob: BigBlob, hashing: Collector): Promise<Workload> {
  const { config } = ctx;
  const chunks = Math.ceil(blob.size / config.chunkSize);
  const title = mode === 'monolithic'
    ? `push ${fmtBytes(blob.size)}, monolithic (POST + PUT ?digest=)`
    : `push ${fmtBytes(blob.size)}, chunked (${chunks} PATCHes of ${fmtBytes(config.chunkSize)} + PUT)`;
  const collector = new Collector(title, {
    throughput: { title: 'throughput, digest verified', unit: 'MB/s', better: 'higher' },
    cpu: { title: 'server CPU per GB', unit: 'CPU s/GB', better: 'lower' },
    faults: { title: 'server minor page faults per GB', unit: 'faults/GB', better: 'lower' },
    clientCpu: { title: 'client CPU per GB (this process)', unit: 'CPU s/GB', better: 'lower' },
    cold: { title: 'throughput in the warm-up round (not a goal)', unit: 'MB/s', better: 'higher' },
  });
  const push = async (target: Target) => {
    const { pieces, digest } = blob.variant(++variants);
    const started = performance.now();
    const clientBefore = process.cpuUsage();
    if (mode === 'monolithic') await pushMonolithic(target.endpoint, BIG_REPO, pieces, digest);
    else await pushChunked(target.endpoint, BIG_REPO, pieces, blob.size, digest, config.chunkSize);
    const seconds = (performance.now() - started) / 1000;
    // The client shares the machine's cores with the server: with both CPUs per GB, the report tells when the cores bound a push.
    const client = process.cpuUsage(clientBefore);
    const result = { throughput: blob.size / MB / seconds, clientCpu: ((client.user + client.system) * 1e3) / blob.size, ops: blob.size / 1e9 };
    await deleteBlob(target.endpoint, BIG_REPO, digest);
    return result;
  };
  await interleave(ctx, collector, `push-${mode}`, targets, config.rounds, push, {
    beforeRound: () => hashing.add('throughput', 'node:crypto', sha256Rate(blob)),
    cpuScale: 1e-9,
    // One untimed push first, as every workload warms up: a registry's first
    // push takes fresh pages from the kernel for its bytes (~70,000 page
    // faults for 256 MiB, then a few thousand a push once freed memory is
    // reused), which a server that drops the bytes never does (see bench/README "Warm-up").
    warmup: async (target) => collector.add('cold', target.key, (await push(target)).throughput),
  });
  return collector.workload(targets.map((t) => t.key));
}

/** GETs a big blob, sha256-verifying it as it streams in; returns the seconds it took. */
async function pullVerified(target: Target, digest: string, size: number): Promise<number> {
  const hash = createHash('sha256');
  let received = 0;
  const started = performance.now();
  const reply = await target.endpoint.send('GET', `/v2/${BIG_REPO}/blobs/${digest}`, {
    sink: (chunk) => {
      received += chunk.length;
      hash.update(chunk);
    },
  });
  const actual = `sha256:${hash.digest('hex')}`;
  const seconds = (performance.now() - started) / 1000;
  expect(reply, 'GET blob', 200);
  const expected = target.kind === 'bare' ? String(reply.headers['docker-content-digest']) : digest;
  if (received !== size || actual !== expected) throw new Error(`GET blob: got ${received} bytes hashing to ${actual}, expected ${size} bytes of ${expected}`);
  return seconds;
}

export async function pullBig(ctx: Context, targets: readonly Target[], blob: BigBlob): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector(`pull ${fmtBytes(blob.size)}, streamed, sha256 verified by the client`, {
    throughput: { title: 'throughput, digest verified', unit: 'MB/s', better: 'higher' },
    cpu: { title: 'server CPU per GB', unit: 'CPU s/GB', better: 'lower' },
  });
  // One stored blob per registry (the bare server serves its own fixed buffer).
  const stored = new Map<string, string>();
  for (const target of targets) {
    if (target.kind === 'bare') continue;
    const { pieces, digest } = blob.variant(++variants);
    try {
      await withTimeout(pushChunked(target.endpoint, BIG_REPO, pieces, blob.size, digest, config.chunkSize), config.roundTimeoutMs, `pull set-up on ${target.key}`);
      stored.set(target.key, digest);
    } catch (error) {
      collector.fail(target.key, error);
    }
  }
  const anyDigest = [...stored.values()][0] ?? blob.variant(0).digest;
  await interleave(ctx, collector, 'pull', targets, config.rounds, async (target) => {
    const seconds = await pullVerified(target, stored.get(target.key) ?? anyDigest, blob.size);
    return { throughput: blob.size / MB / seconds, ops: blob.size / 1e9 };
  }, { cpuScale: 1e-9 });
  for (const target of targets) {
    const digest = stored.get(target.key);
    if (digest) await deleteBlob(target.endpoint, BIG_REPO, digest);
  }
  return collector.workload(targets.map((t) => t.key));
}

/**
 * Push (monolithic) and pull of the big blob over HTTPS/1.1 and over h2:
 * our registry started with --tls (--http2), the bare server with the same
 * kind of server (node:https, node:http2 with HTTP/1.1 allowed) and a
 * certificate from the same kind of CA, each in its own process.
 */
export async function tlsTransfers(ctx: Context, blob: BigBlob): Promise<Workload> {
  const collector = new Collector(`push (monolithic) and pull ${fmtBytes(blob.size)} over TLS, digest verified`, {
    pushHttps: { title: 'push over HTTPS/1.1', unit: 'MB/s', better: 'higher' },
    pushH2: { title: 'push over HTTP/2', unit: 'MB/s', better: 'higher' },
    pullHttps: { title: 'pull over HTTPS/1.1', unit: 'MB/s', better: 'higher' },
    pullH2: { title: 'pull over HTTP/2', unit: 'MB/s', better: 'higher' },
    pushHttpsCpu: { title: 'server CPU per GB, push over HTTPS/1.1', unit: 'CPU s/GB', better: 'lower' },
    pushH2Cpu: { title: 'server CPU per GB, push over HTTP/2', unit: 'CPU s/GB', better: 'lower' },
    pushHttpsClientCpu: { title: 'client CPU per GB, push over HTTPS/1.1 (this process)', unit: 'CPU s/GB', better: 'lower' },
    pushH2ClientCpu: { title: 'client CPU per GB, push over HTTP/2 (this process)', unit: 'CPU s/GB', better: 'lower' },
  });
  const dir = mkdtempSync(join(tmpdir(), 'oci-bench-tls-'));
  try {
    const { CertificateAuthority } = await import('../src/tls/authority.js');
    const authority = new CertificateAuthority();
    const pair = authority.issueServer();
    const certFile = join(dir, 'bare.crt');
    const keyFile = join(dir, 'bare.key');
    writeFileSync(certFile, pair.cert);
    writeFileSync(keyFile, pair.key);
    for (const http2 of [false, true]) {
      const suffix = http2 ? 'H2' : 'Https';
      const caFile = join(dir, `ours-${suffix}.crt`);
      const targets: Target[] = [];
      try {
        targets.push(await startOurs({ maxSockets: 4, args: ['--tls', '--ca-out', caFile, ...(http2 ? ['--http2'] : [])], tls: { caFile, http2 } }));
        targets.push(await startBare(blob.size, 0, 4, { tls: { certFile, keyFile, ca: authority.cert, http2 } }));
        const stored = blob.variant(++variants);
        await pushChunked(targets[0]!.endpoint, BIG_REPO, stored.pieces, blob.size, stored.digest, ctx.config.chunkSize);
        for (let round = 0; round < ctx.config.rounds && performance.now() - ctx.started < ctx.config.maxMs; round++) {
          for (const target of targets) {
            const { pieces, digest } = blob.variant(++variants);
            const started = performance.now();
            const cpuBefore = target.pid === undefined ? undefined : cpuNs(target.pid);
            const clientBefore = process.cpuUsage();
            await withTimeout(pushMonolithic(target.endpoint, BIG_REPO, pieces, digest), ctx.config.roundTimeoutMs, `push over TLS on ${target.key}`);
            collector.add(`push${suffix}`, target.key, blob.size / MB / ((performance.now() - started) / 1000));
            // CPU per GB on both sides (the server's all threads): the client
            // encrypts, the server decrypts and hashes, and they share this
            // machine's cores, which is what bounds a TLS push here.
            const client = process.cpuUsage(clientBefore);
            collector.add(`push${suffix}ClientCpu`, target.key, ((client.user + client.system) * 1e3) / blob.size);
            const cpuAfter = target.pid === undefined ? undefined : cpuNs(target.pid);
            if (cpuBefore !== undefined && cpuAfter !== undefined) collector.add(`push${suffix}Cpu`, target.key, (cpuAfter - cpuBefore) / blob.size);
            await deleteBlob(target.endpoint, BIG_REPO, digest);
            const seconds = await withTimeout(pullVerified(target, stored.digest, blob.size), ctx.config.roundTimeoutMs, `pull over TLS on ${target.key}`);
            collector.add(`pull${suffix}`, target.key, blob.size / MB / seconds);
          }
        }
        ctx.log(`TLS ${http2 ? 'h2' : 'HTTPS/1.1'}: ${ctx.config.rounds} rounds of push + pull`);
      } catch (error) {
        collector.fail(targets.length === 1 ? 'bare' : 'ours', error);
      } finally {
        await Promise.all(targets.map((t) => t.stop()));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return collector.workload(['ours', 'bare']);
}

// ---------------------------------------------------------------------------
// Small operations

const SMALL_REPO = 'bench/small';

/** `inFlight` workers sending `method` to one manifest by tag until the time or the count runs out. */
async function manifestBurst(endpoint: Endpoint, method: 'HEAD' | 'GET', inFlight: number, ms: number, maxRequests: number): Promise<{ rate: number; latencies: number[] }> {
  const latencies: number[] = [];
  const path = `/v2/${SMALL_REPO}/manifests/latest`;
  const headers = { Accept: ACCEPT };
  let sent = 0;
  const started = performance.now();
  const deadline = started + ms;
  const worker = async () => {
    while (sent < maxRequests && performance.now() < deadline) {
      sent++;
      const t0 = performance.now();
      const reply = await endpoint.send(method, path, { headers, idleTimeoutMs: 10_000 });
      latencies.push(performance.now() - t0);
      if (reply.status !== 200 || (method === 'GET' && reply.body.length === 0)) throw new Error(`${method} manifest: HTTP ${reply.status}, ${reply.body.length} bytes`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { rate: latencies.length / seconds, latencies };
}

export async function setupSmall(targets: readonly Target[], runId: string): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>();
  for (const target of targets) {
    if (target.kind === 'bare') continue;
    try {
      await pushImage(target.endpoint, SMALL_REPO, 'latest', smallImage(`small-${runId}`));
    } catch (error) {
      failed.set(target.key, error as Error);
    }
  }
  return failed;
}

export async function manifestOps(ctx: Context, targets: readonly Target[], method: 'HEAD' | 'GET', setupErrors: Map<string, Error>): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector(`manifest ${method} by tag, ${config.inFlight} requests in flight`, {
    rate: { title: 'requests/s', unit: 'req/s', better: 'higher' },
    p50: { title: 'latency p50', unit: 'ms', better: 'lower' },
    p99: { title: 'latency p99', unit: 'ms', better: 'lower' },
    cpu: { title: 'server CPU per request', unit: 'CPU µs', better: 'lower' },
    faults: { title: 'server minor page faults per request', unit: 'faults', better: 'lower' },
  });
  for (const [key, error] of setupErrors) collector.fail(key, error);
  await interleave(ctx, collector, `manifest-${method.toLowerCase()}`, targets, config.rounds, async (target) => {
    const { rate, latencies } = await manifestBurst(target.endpoint, method, config.inFlight, config.opsMs, config.opsMaxRequests);
    latencies.sort((a, b) => a - b);
    return { rate, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), ops: latencies.length };
  }, {
    cpuScale: 1e-3,
    warmup: async (target) => void (await manifestBurst(target.endpoint, method, config.inFlight, Math.min(300, config.opsMs), config.opsMaxRequests)),
  });
  return collector.workload(targets.map((t) => t.key));
}

/** `count` images (config + layer + manifest by tag) at `concurrency`; bounded by `timeoutMs`. */
async function pushImages(endpoint: Endpoint, prefix: string, count: number, concurrency: number, timeoutMs: number): Promise<number> {
  const images = Array.from({ length: count }, (_, i) => smallImage(`${prefix}-${i}`));
  let next = 0;
  const deadline = performance.now() + timeoutMs;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error(`image pushes: ${next} of ${count} after ${timeoutMs / 1000} s`);
      const i = next++;
      await pushImage(endpoint, 'bench/images', `${prefix}-${i}`, images[i]!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

export async function imagePushes(ctx: Context, targets: readonly Target[]): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector(`${config.images} small image pushes (config + layer + manifest by tag; 5 requests each), ${config.imageConcurrency} at a time`, {
    rate: { title: 'images/s', unit: 'images/s', better: 'higher' },
    cpu: { title: 'server CPU per image', unit: 'CPU µs', better: 'lower' },
    faults: { title: 'server minor page faults per image', unit: 'faults', better: 'lower' },
    cold: { title: 'images/s in the warm-up round (not a goal)', unit: 'images/s', better: 'higher' },
  });
  await interleave(ctx, collector, 'images', targets, config.rounds, async (target, round) => ({
    rate: await pushImages(target.endpoint, `r${ctx.runId}-${round}`, config.images, config.imageConcurrency, config.roundTimeoutMs),
    ops: config.images,
  }), {
    cpuScale: 1e-3,
    // One untimed round first, for every target alike: the rounds measure a
    // warm server; the warm-up's rate is shown as "cold" (see bench/README "Warm-up").
    warmup: async (target) => collector.add('cold', target.key, await pushImages(target.endpoint, `w${ctx.runId}`, config.images, config.imageConcurrency, config.roundTimeoutMs)),
  });
  return collector.workload(targets.map((t) => t.key));
}

// ---------------------------------------------------------------------------
// Tag create: a manifest PUT by a new tag, what a test suite does most

const TAG_CREATE_REPO = 'bench/tag-create';

/** PUTs `image`'s manifest under `count` new tags, `concurrency` at a time; tags/s. */
async function createTags(endpoint: Endpoint, manifest: Buffer, prefix: string, count: number, concurrency: number, timeoutMs: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  const deadline = started + timeoutMs;
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error(`tag create: ${next} of ${count} after ${timeoutMs / 1000} s`);
      await putManifest(endpoint, TAG_CREATE_REPO, `${prefix}-${next++}`, manifest);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

export async function tagCreates(ctx: Context, targets: readonly Target[]): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector(`${config.tagCreates} manifest PUTs by new tags (the image's blobs pushed once), ${config.imageConcurrency} at a time`, {
    rate: { title: 'tags/s', unit: 'tags/s', better: 'higher' },
    cpu: { title: 'server CPU per tag', unit: 'CPU µs', better: 'lower' },
    faults: { title: 'server minor page faults per tag', unit: 'faults', better: 'lower' },
    cold: { title: 'tags/s in the warm-up round (not a goal)', unit: 'tags/s', better: 'higher' },
  });
  const image = smallImage(`tag-create-${ctx.runId}`);
  await interleave(ctx, collector, 'tag-create', targets, config.rounds, async (target, round) => ({
    rate: await createTags(target.endpoint, image.manifest, `r${ctx.runId}-${round}`, config.tagCreates, config.imageConcurrency, config.roundTimeoutMs),
    ops: config.tagCreates,
  }), {
    cpuScale: 1e-3,
    // The blobs and a first tag, so every timed PUT names blobs the
    // repository has; then one untimed round, as for images.
    warmup: async (target) => {
      await pushImage(target.endpoint, TAG_CREATE_REPO, `w${ctx.runId}`, image);
      collector.add('cold', target.key, await createTags(target.endpoint, image.manifest, `w${ctx.runId}`, config.tagCreates, config.imageConcurrency, config.roundTimeoutMs));
    },
  });
  return collector.workload(targets.map((t) => t.key));
}

// ---------------------------------------------------------------------------
// Tags

const TAGS_REPO = 'bench/tags';

async function tagAll(endpoint: Endpoint, count: number, concurrency: number, timeoutMs: number, runId: string): Promise<number> {
  const image = smallImage(`tags-${runId}`);
  const started = performance.now();
  await pushImage(endpoint, TAGS_REPO, tagName(0), image);
  let next = 1;
  const deadline = started + timeoutMs;
  const worker = async () => {
    while (next < count) {
      if (performance.now() > deadline) throw new Error(`tagging: ${next} of ${count} tags after ${timeoutMs / 1000} s`);
      await putManifest(endpoint, TAGS_REPO, tagName(next++), image.manifest);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

interface TagsReply {
  tags?: string[] | null;
}

export async function tagsList(ctx: Context, targets: readonly Target[]): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector(`tags/list of ${config.tags} tags`, {
    full: { title: 'full list (one GET)', unit: 'ms', better: 'lower' },
    walk: { title: `paginated walk, n=${config.pageSize}, following Link`, unit: 'ms', better: 'lower' },
  });
  for (const target of targets) {
    if (target.kind === 'bare') continue;
    try {
      const rate = await tagAll(target.endpoint, config.tags, config.imageConcurrency, config.roundTimeoutMs, ctx.runId);
      collector.note('full', target.key, 'tagPutsPerSecond', Math.round(rate));
      ctx.log(`tags: ${config.tags} tags on ${target.key} at ${rate.toFixed(0)} manifest PUTs/s`);
    } catch (error) {
      collector.fail(target.key, error);
    }
  }
  const path = `/v2/${TAGS_REPO}/tags/list`;
  const maxPages = Math.ceil(config.tags / config.pageSize) + 10;
  const pagesBy = new Map<string, number>();
  await interleave(ctx, collector, 'tags', targets, config.rounds, async (target) => {
    let started = performance.now();
    const whole = expect(await target.endpoint.send('GET', path), 'GET tags/list', 200);
    const all = (JSON.parse(whole.body.toString('utf8')) as TagsReply).tags ?? [];
    const full = performance.now() - started;
    if (all.length !== config.tags) throw new Error(`tags/list: ${all.length} tags, expected ${config.tags}`);

    started = performance.now();
    let at: string | undefined = `${path}?n=${config.pageSize}`;
    let pages = 0;
    let seen = 0;
    while (at !== undefined && pages < maxPages) {
      const reply = expect(await target.endpoint.send('GET', at), 'GET tags/list page', 200);
      seen += ((JSON.parse(reply.body.toString('utf8')) as TagsReply).tags ?? []).length;
      pages++;
      const link = nextLink(reply.headers.link);
      at = link === undefined ? undefined : target.endpoint.local(link);
    }
    const walk = performance.now() - started;
    if (seen !== config.tags) throw new Error(`paginated walk: ${seen} tags in ${pages} pages, expected ${config.tags}`);
    collector.note('walk', target.key, 'pages', pages);
    pagesBy.set(target.key, pages);
    return { full, walk };
  });
  const pages = Math.ceil(config.tags / config.pageSize);
  for (const [key, walked] of pagesBy) {
    if (walked !== pages) collector.notes.push(`${key} answered the walk in ${walked} page(s), not ${pages}: it does not page tags/list by n, so its walk time is not comparable`);
  }
  return collector.workload(targets.map((t) => t.key));
}

// ---------------------------------------------------------------------------
// Start-up

const INPROCESS = fileURLToPath(new URL('./startup-inprocess.mjs', import.meta.url));
/** A bare node that listens, prints its URL, and answers 200 (to GET /v2/ as to anything). */
const BARE_CLI = "require('node:http').createServer((req,res)=>res.end()).listen(0,'127.0.0.1',function(){console.log('listening on http://127.0.0.1:'+this.address().port)})";

function runChild(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`node ${args.join(' ')} exited ${code}`));
    });
  });
}

/**
 * Spawn → first line on stdout (the ready line, which names the URL), then
 * → the 200 of a `GET /v2/` sent to that URL on a fresh connection, both in
 * ms from the spawn; the child is then stopped.
 */
function timeToReady(args: string[], timeoutMs = 30_000): Promise<{ ready: number; first200: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')}: no ready line and 200 within ${timeoutMs} ms`));
    }, timeoutMs);
    let out = '';
    let ready: number | undefined;
    let first200: number | undefined;
    let problem: Error | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (ready !== undefined || !out.includes('\n')) return;
      ready = performance.now() - started;
      const url = /(http:\/\/[^\s]+)/.exec(out)?.[1];
      if (!url) {
        problem = new Error(`node ${args.join(' ')}: no URL in its ready line ${JSON.stringify(out)}`);
        child.kill('SIGTERM');
        return;
      }
      getRequest(`${url.replace(/\/+$/, '')}/v2/`, { agent: false }, (res) => {
        res.resume();
        if (res.statusCode === 200) first200 = performance.now() - started;
        else problem = new Error(`GET ${url}/v2/: HTTP ${res.statusCode}`);
        child.kill('SIGTERM');
      }).on('error', (error) => {
        problem = error;
        child.kill('SIGTERM');
      });
    });
    child.once('error', reject);
    child.once('exit', () => {
      clearTimeout(timer);
      if (problem) reject(problem);
      else if (ready === undefined || first200 === undefined) reject(new Error(`node ${args.join(' ')} exited before its ready line and first 200`));
      else resolve({ ready, first200 });
    });
  });
}

export async function startup(ctx: Context): Promise<Workload> {
  const { config } = ctx;
  const collector = new Collector('start-up', {
    inProcessCold: { title: 'in-process: first startRegistry() in a fresh process, until it resolves', unit: 'ms', better: 'lower' },
    inProcessWarm: { title: 'in-process: later startRegistry() calls in the same process', unit: 'ms', better: 'lower' },
    inProcessTls: { title: 'in-process: later startRegistry({ tls: true }) calls (CA + server certificate made), bare: https listen with a ready certificate', unit: 'ms', better: 'lower' },
    cli: { title: 'CLI: spawn until the ready line', unit: 'ms', better: 'lower' },
    cli200: { title: 'CLI: spawn until the first 200 on GET /v2/', unit: 'ms', better: 'lower' },
  });
  // In-process: one fresh child per round (its first call is what a test file pays), warm calls after it.
  const perChild = Math.max(1, Math.ceil(config.startupRuns / config.rounds));
  const imports: number[] = [];
  for (let round = 0; round < config.rounds; round++) {
    try {
      const result = JSON.parse(await runChild([INPROCESS, String(perChild)])) as { importMs: number; firstMs: number; ours: number[]; bare: number[]; tlsOurs: number[]; tlsBare: number[] };
      collector.add('inProcessCold', 'ours', result.firstMs);
      for (const ms of result.ours) collector.add('inProcessWarm', 'ours', ms);
      for (const ms of result.bare) collector.add('inProcessWarm', 'bare', ms);
      for (const ms of result.tlsOurs) collector.add('inProcessTls', 'ours', ms);
      for (const ms of result.tlsBare) collector.add('inProcessTls', 'bare', ms);
      imports.push(result.importMs);
    } catch (error) {
      collector.fail('ours', error);
      break;
    }
  }
  if (imports.length > 0) collector.note('inProcessCold', 'ours', 'importMsMedian', +summarize(imports).median.toFixed(2));
  ctx.log(`start-up in-process: ${imports.length} fresh processes × ${perChild} warm calls`);
  // CLI: alternate ours and a bare `node -e` that listens and prints.
  for (let run = 0; run < config.startupRuns; run++) {
    if (performance.now() - ctx.started > ctx.config.maxMs) break;
    try {
      const ours = await timeToReady([BIN, '--port', '0']);
      const bare = await timeToReady(['-e', BARE_CLI]);
      collector.add('cli', 'ours', ours.ready);
      collector.add('cli200', 'ours', ours.first200);
      collector.add('cli', 'bare', bare.ready);
      collector.add('cli200', 'bare', bare.first200);
    } catch (error) {
      collector.fail('ours', error);
      break;
    }
  }
  ctx.log(`start-up CLI: ${config.startupRuns} runs each`);
  return collector.workload(['ours', 'bare']);
}

// ---------------------------------------------------------------------------
// Memory

export async function memory(ctx: Context, blobFor: (size: number) => BigBlob): Promise<Workload> {
  const { config } = ctx;
  const perBlob = Math.min(config.blobSize, config.memoryBytes);
  const count = Math.ceil(config.memoryBytes / perBlob);
  const stored = count * perBlob;
  const collector = new Collector(`memory: RSS growth of the registry process after pushing ${fmtBytes(stored)} (${count} × ${fmtBytes(perBlob)}, chunked)`, {
    growth: { title: 'RSS growth / bytes stored', unit: '×', better: 'lower' },
    peak: { title: 'peak RSS (VmHWM) growth / bytes stored', unit: '×', better: 'lower' },
    throughput: { title: 'push throughput while filling', unit: 'MB/s', better: 'higher' },
  });
  const blob = blobFor(perBlob);
  for (let round = 0; round < config.memoryRounds; round++) {
    if (performance.now() - ctx.started > ctx.config.maxMs) break;
    const ours = await startOurs({ maxSockets: 1, args: config.registryFlags });
    try {
      const before = memoryOf(ours.pid!);
      const started = performance.now();
      await withTimeout((async () => {
        for (let i = 0; i < count; i++) {
          const { pieces, digest } = blob.variant(++variants);
          await pushChunked(ours.endpoint, 'bench/memory', pieces, perBlob, digest, config.chunkSize);
        }
      })(), config.roundTimeoutMs, 'memory fill');
      const seconds = (performance.now() - started) / 1000;
      const after = memoryOf(ours.pid!);
      collector.add('growth', 'ours', (after.rss - before.rss) / stored);
      collector.add('peak', 'ours', (after.peak - before.rss) / stored);
      collector.add('throughput', 'ours', stored / MB / seconds);
      collector.note('growth', 'ours', 'rssBeforeMiB', +(before.rss / 2 ** 20).toFixed(1));
      collector.note('growth', 'ours', 'rssAfterMiB', +(after.rss / 2 ** 20).toFixed(1));
      ctx.log(`memory round ${round + 1}/${config.memoryRounds}: RSS ${(before.rss / 2 ** 20).toFixed(0)} → ${(after.rss / 2 ** 20).toFixed(0)} MiB (peak ${(after.peak / 2 ** 20).toFixed(0)}) for ${(stored / 2 ** 20).toFixed(0)} MiB stored`);
    } catch (error) {
      collector.fail('ours', error);
      break;
    } finally {
      await ours.stop();
    }
  }
  return collector.workload(['ours']);
}

export function hashingCollector(): Collector {
  return new Collector('node:crypto sha256 over the blob in 64 KiB updates (the hashing ceiling for pushes)', {
    throughput: { title: 'sha256 throughput', unit: 'MB/s', better: 'higher' },
  });
}

export function fmtBytes(bytes: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
