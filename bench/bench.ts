// `npm run bench`: throughput, latency, start-up and memory of the registry,
// measured against the machine's own ceilings (a bare node:http server shaped
// like a registry, and node:crypto's sha256) and, with --against, against
// other registries on loopback, in the same run with rounds interleaved.
//
//   npm run bench [-- --quick] [-- --against http://127.0.0.1:5099 --blob-size 16MiB] [-- --json out.json]
//
// See bench/README.md for the workloads, the flags and how to run
// distribution's registry beside it.
import { writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem, uptime } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fmt, parseSize } from './stats.js';
import { connectOther, parseAgainst, startBare, startCommand, startOurs, type Target } from './targets.js';
import {
  tlsTransfers,
  BigBlob, fmtBytes, hashingCollector, imagePushes, manifestOps, memory, pullBig, pushBig, setupSmall, startup, tagCreates, tagsList,
  type Config, type Context, type Metric, type Workload,
} from './workloads.js';

/** Exit statuses: 0 every goal measured is met; 1 a goal is missed (a regression shows); 2 bad flags; 3 a workload failed. */
const EXIT_MISSED = 1;
const EXIT_USAGE = 2;
const EXIT_FAILED = 3;

const WORKLOADS = ['startup', 'push', 'pull', 'manifest', 'tag-create', 'images', 'tags', 'memory', 'tls'] as const;

const HELP = `npm run bench -- [options]

  --quick                 smaller and fewer: 64 MiB blobs, 3 rounds, 1 s per small-ops round, 256 MiB memory fill
  --blob-size SIZE        big blob size (default 256MiB; --quick 64MiB); e.g. 16MiB against distribution
  --chunk-size SIZE       PATCH size of chunked pushes (default 8MiB)
  --rounds N              rounds of every workload (default 5; --quick 3)
  --against URL[,URL…]    also run the HTTP workloads against these registries (loopback only), rounds interleaved
  --against NAME=URL      the same, its column named NAME (repeatable)
  --against NAME=CMD      start CMD (a shell command with {port} in it) on a free loopback port, measure it as NAME, stop it
                          at the end; NAME ggcr adds the goals "≥ 1.0 × ggcr" for tag create and image pushes
  --json FILE             write every sample, summary, ratio and goal check to FILE
  --only LIST             run only some of: ${WORKLOADS.join(',')}
  --memory SIZE           bytes pushed for the memory workload (default 1GiB; --quick 256MiB)
  --memory-rounds N       fresh registries filled for the memory workload (default 3; --quick 1)
  --startup-runs N        CLI spawns (each of ours and bare node) and in-process calls (default 20; --quick 10)
  --ops-seconds S         length of one round of manifest HEAD/GET (default 2; --quick 1)
  --in-flight N           concurrent manifest requests (default 32)
  --images N              small images pushed per round (default 500)
  --tag-creates N         manifest PUTs by new tags per round (default 2000)
  --image-concurrency N   image pushes at once, also used to create tags (default 8)
  --tags N                tags in the tags/list workload (default 10000)
  --page-size N           n of the paginated tags walk (default 100)
  --registry-flag FLAG    pass FLAG to our registry's CLI (repeatable), e.g. --registry-flag=--journal-limit=0
  --cpu-prof DIR          write V8 CPU profiles of our registry and the bare server (ours-*.cpuprofile, bare-*.cpuprofile) to DIR; read them with node bench/profile.mjs
  --max-minutes M         start no new round after M minutes (default 30)
  -h, --help

Exit status: 0 when every goal measured is met, 1 when one is missed, 2 on bad flags, 3 when a workload failed.
`;

function integer(text: string, flag: string, min = 1): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${flag}: expected a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
  return value;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      'blob-size': { type: 'string' },
      'chunk-size': { type: 'string', default: '8MiB' },
      rounds: { type: 'string' },
      against: { type: 'string', multiple: true, default: [] },
      json: { type: 'string' },
      only: { type: 'string' },
      memory: { type: 'string' },
      'memory-rounds': { type: 'string' },
      'startup-runs': { type: 'string' },
      'ops-seconds': { type: 'string' },
      'in-flight': { type: 'string', default: '32' },
      images: { type: 'string', default: '500' },
      'tag-creates': { type: 'string', default: '2000' },
      'image-concurrency': { type: 'string', default: '8' },
      tags: { type: 'string', default: '10000' },
      'page-size': { type: 'string', default: '100' },
      'cpu-prof': { type: 'string' },
      'registry-flag': { type: 'string', multiple: true, default: [] },
      'max-minutes': { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = values.quick!;
  const only = new Set(values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : WORKLOADS);
  for (const name of only) if (!(WORKLOADS as readonly string[]).includes(name)) throw new Error(`--only: unknown workload ${JSON.stringify(name)}; choose from ${WORKLOADS.join(', ')}`);
  const opsSeconds = Number(values['ops-seconds'] ?? (quick ? 1 : 2));
  if (!(opsSeconds > 0 && opsSeconds <= 600)) throw new Error('--ops-seconds: expected a number of seconds from 0 to 600');
  const maxMinutes = Number(values['max-minutes']);
  if (!(maxMinutes > 0)) throw new Error('--max-minutes: expected a positive number');
  const against = values.against!.flatMap(parseAgainst);
  return {
    quick,
    blobSize: parseSize(values['blob-size'] ?? (quick ? '64MiB' : '256MiB'), '--blob-size'),
    chunkSize: parseSize(values['chunk-size']!, '--chunk-size'),
    rounds: integer(values.rounds ?? (quick ? '3' : '5'), '--rounds'),
    memoryBytes: parseSize(values.memory ?? (quick ? '256MiB' : '1GiB'), '--memory'),
    memoryRounds: integer(values['memory-rounds'] ?? (quick ? '1' : '3'), '--memory-rounds'),
    startupRuns: integer(values['startup-runs'] ?? (quick ? '10' : '20'), '--startup-runs'),
    opsMs: opsSeconds * 1000,
    opsMaxRequests: 1_000_000,
    inFlight: integer(values['in-flight']!, '--in-flight'),
    images: integer(values.images!, '--images'),
    tagCreates: integer(values['tag-creates']!, '--tag-creates'),
    imageConcurrency: integer(values['image-concurrency']!, '--image-concurrency'),
    tags: integer(values.tags!, '--tags', 2),
    pageSize: integer(values['page-size']!, '--page-size'),
    only,
    against,
    cpuProfDir: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    registryFlags: values['registry-flag']!,
    json: values.json,
    roundTimeoutMs: 10 * 60_000,
    maxMs: maxMinutes * 60_000,
  };
}

// ---------------------------------------------------------------------------
// Targets (the figures the issue asks for) and the report

interface Check {
  workload: string;
  /** What is compared, e.g. "tag create tags/s, ours / bare". */
  target: string;
  /** The goal, e.g. "≥ 0.85". */
  goal: string;
  value: number;
  /** bare's server CPU per operation / ours (1 = as cheap as the bare server). */
  cpuRatio?: number;
  display: string;
  /** null: its workload did not run (or did not measure both sides); not a miss. */
  met: boolean | null;
}

function median(workloads: Record<string, Workload>, workload: string, metric: string, target: string): number {
  return workloads[workload]?.metrics[metric]?.targets[target]?.median ?? NaN;
}

/** A push workload's metrics: MB/s, and the server's and the client's CPU per GB. */
interface PushMetrics {
  rate: string;
  cpu: string;
  clientCpu: string;
}
const PLAIN_PUSH: PushMetrics = { rate: 'throughput', cpu: 'cpu', clientCpu: 'clientCpu' };
const TLS_PUSH: Record<string, PushMetrics> = {
  pushHttps: { rate: 'pushHttps', cpu: 'pushHttpsCpu', clientCpu: 'pushHttpsClientCpu' },
  pushH2: { rate: 'pushH2', cpu: 'pushH2Cpu', clientCpu: 'pushH2ClientCpu' },
};

/**
 * The most a push that verifies its digest could reach here, over the bare
 * server's rate (which hashes nothing): an upper bound, from this run's
 * figures. Such a server does at least the bare server's work and one
 * sha256 over every byte, so (1) it is no faster than the bare server,
 * (2) no faster than one sha256 stream (the hash of one upload is one
 * sequential computation), and (3) with the client beside it, its rate
 * times the CPU per GB of all three (the bare server's, the client's, the
 * hash's) fits in the machine's cores. Other load on the machine and
 * anything the server does beyond that only lower it.
 *
 * `keeping`: the same bound with `bare-keep` (the bare server keeping every
 * pushed byte until its blob is deleted) in the place of the bare server,
 * for a server that keeps the bytes in node's memory as a registry must:
 * what node charges for keeping them (fresh memory, the collector) counts
 * as well. NaN when bare-keep did not run (TLS pushes).
 */
function verifyingBound(workloads: Record<string, Workload>, workload: string, metrics = PLAIN_PUSH): { bound: number; keeping: number; busy: Record<string, number> } {
  const busy: Record<string, number> = {};
  const cpu = (target: string) => median(workloads, workload, metrics.cpu, target) + median(workloads, workload, metrics.clientCpu, target);
  for (const target of ['ours', 'bare']) {
    const cores = (median(workloads, workload, metrics.rate, target) / 1000) * cpu(target);
    if (Number.isFinite(cores)) busy[target] = cores;
  }
  const sha = workloads.sha256?.metrics.throughput?.targets['node:crypto']?.median ?? NaN;
  const bareRate = median(workloads, workload, metrics.rate, 'bare');
  const limit = (reference: string) => {
    const perGb = cpu(reference) + 1000 / sha;
    return Math.min(median(workloads, workload, metrics.rate, reference), sha, (availableParallelism() / perGb) * 1000) / bareRate;
  };
  return { bound: limit('bare'), keeping: limit('bare-keep'), busy };
}

/** The bounds of verifyingBound as the report prints them beside a push's ratio. */
function boundsText(bound: number, keeping: number): string {
  let text = Number.isFinite(bound) ? `; bound for any verifying server here: ${fmt(bound)}` : '';
  if (Number.isFinite(keeping)) text += `; for one that keeps the bytes in node (bare-keep + sha256): ${fmt(keeping)}`;
  return text;
}

/** The goals of issue 18 ("Speed, second pass"), each a ratio of medians measured in this run. */
function checks(workloads: Record<string, Workload>, others: readonly string[]): Check[] {
  const out: Check[] = [];
  const compare = (workload: string, metric: string, what: string, op: '>=' | '<=', limit: number, other = 'bare'): Check | undefined => {
    if (!workloads[workload]) return undefined;
    const value = median(workloads, workload, metric, 'ours') / median(workloads, workload, metric, other);
    // The same comparison in server CPU per operation (theirs / ours), which other load on the machine barely moves.
    const cpu = median(workloads, workload, 'cpu', other) / median(workloads, workload, 'cpu', 'ours');
    const display = `${fmt(value)}${Number.isFinite(cpu) ? ` (by server CPU per op: ${fmt(cpu)})` : ''}`;
    const goal = `${op === '>=' ? '≥' : '≤'} ${limit}`;
    const check: Check = { workload, target: `${what}, ours / ${other}`, goal, value, cpuRatio: Number.isFinite(cpu) ? cpu : undefined, display, met: Number.isFinite(value) ? (op === '>=' ? value >= limit : value <= limit) : null };
    out.push(check);
    return check;
  };
  /** A push's check, with the bound any verifying server meets in this run beside its figure. */
  const comparePush = (workload: string, metric: string, what: string, limit: number, metrics?: PushMetrics) => {
    const check = compare(workload, metric, what, '>=', limit);
    const { bound, keeping } = verifyingBound(workloads, workload, metrics);
    if (check) check.display += boundsText(bound, keeping);
  };
  if (workloads.startup) {
    compare('startup', 'cli', 'CLI spawn → ready line', '<=', 1.15);
    compare('startup', 'cli200', 'CLI spawn → first 200 on /v2/', '<=', 1.15);
  }
  compare('tag-create', 'rate', 'tag create (manifest PUT) tags/s', '>=', 0.85);
  compare('images', 'rate', 'image pushes/s', '>=', 0.85);
  if (others.includes('ggcr')) {
    compare('tag-create', 'rate', 'tag create (manifest PUT) tags/s', '>=', 1.0, 'ggcr');
    compare('images', 'rate', 'image pushes/s', '>=', 1.0, 'ggcr');
  }
  comparePush('push-monolithic', 'throughput', 'push monolithic MB/s', 0.7);
  comparePush('push-chunked', 'throughput', 'push chunked MB/s', 0.7);
  compare('manifest-head', 'rate', 'manifest HEAD req/s', '>=', 0.9);
  compare('manifest-get', 'rate', 'manifest GET req/s', '>=', 0.9);
  compare('pull', 'throughput', 'pull MB/s', '>=', 0.9);
  comparePush('tls', 'pushHttps', 'push over HTTPS/1.1 MB/s', 0.8, TLS_PUSH.pushHttps);
  compare('tls', 'pullHttps', 'pull over HTTPS/1.1 MB/s', '>=', 0.8);
  comparePush('tls', 'pushH2', 'push over HTTP/2 MB/s', 0.8, TLS_PUSH.pushH2);
  compare('tls', 'pullH2', 'pull over HTTP/2 MB/s', '>=', 0.8);
  compare('tags', 'walk', 'tags paginated walk time', '<=', 1.5);
  if (workloads.memory) {
    const growth = median(workloads, 'memory', 'growth', 'ours');
    out.push({ workload: 'memory', target: 'RSS growth / bytes stored', goal: '≤ 1.1', value: growth, display: fmt(growth), met: Number.isFinite(growth) ? growth <= 1.1 : null });
  }
  return out;
}

const cell = (m: Metric, target: string): string => {
  const result = m.targets[target];
  if (!result) return '';
  if (result.samples.length === 0) return result.error ? 'failed' : '';
  return `${fmt(result.median)} (${fmt(result.min)})`;
};

const div = (m: Metric, a: string, b: string): string => {
  const x = m.targets[a]?.median ?? NaN;
  const y = m.targets[b]?.median ?? NaN;
  return Number.isFinite(x / y) ? `${fmt(x / y)}` : '';
};

/** The report: a table of every metric (ours, bare, then a column pair for each of `columns`), the goals, and notes. */
function report(workloads: Record<string, Workload>, columns: string[], checked: Check[], meta: Record<string, unknown>): string {
  const lines: string[] = [`\`${String(meta.command)}\``, ''];
  const headers = ['workload', 'metric', 'unit', 'ours median (min)', 'bare node:http median (min)', 'ours / bare'];
  for (const url of columns) headers.push(`${url} median (min)`, `ours / ${url}`);
  lines.push(`| ${headers.join(' | ')} |`, `|${headers.map(() => ' --- ').join('|')}|`);
  const hashing = workloads.sha256?.metrics.throughput;
  for (const [key, workload] of Object.entries(workloads)) {
    for (const [metricKey, m] of Object.entries(workload.metrics)) {
      if (Object.keys(m.targets).length === 0) continue;
      const bareKey = key === 'sha256' ? 'node:crypto' : 'bare';
      const row = [
        key,
        m.title,
        `${m.unit} (${m.better} is better)`,
        key === 'sha256' ? '' : cell(m, 'ours'),
        cell(m, bareKey),
        key === 'sha256' ? '' : div(m, 'ours', 'bare'),
      ];
      if (key.startsWith('push-') && metricKey === 'throughput' && hashing) {
        // Receiving and hashing on one thread, one after the other, cannot beat 1 / (1/http + 1/sha256).
        const ours = m.targets.ours?.median ?? NaN;
        const sha = hashing.targets['node:crypto']?.median ?? NaN;
        const serial = 1 / (1 / (m.targets.bare?.median ?? NaN) + 1 / sha);
        if (Number.isFinite(ours / sha)) row[5] = `${row[5]}; ${fmt(ours / sha)} of sha256; ${fmt(ours / serial)} of serial http+sha256 (${fmt(serial)} MB/s)`;
      }
      const push = key.startsWith('push-') && metricKey === 'throughput' ? PLAIN_PUSH : key === 'tls' ? TLS_PUSH[metricKey] : undefined;
      if (push) {
        const { bound, keeping, busy } = verifyingBound(workloads, key, push);
        if (busy.ours !== undefined && busy.bare !== undefined) row[5] = `${row[5]}; cores busy (server + client): ours ${fmt(busy.ours)}, bare ${fmt(busy.bare)} of ${availableParallelism()}`;
        row[5] += boundsText(bound, keeping);
      }
      for (const url of columns) row.push(cell(m, url), div(m, 'ours', url));
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  lines.push('', '| target | goal | figure | met |', '| --- | --- | --- | --- |');
  for (const c of checked) lines.push(`| ${c.target} | ${c.goal} | ${c.display} | ${c.met === null ? 'not measured' : c.met ? 'yes' : 'NO'} |`);
  const notes: string[] = [];
  for (const [key, workload] of Object.entries(workloads)) {
    for (const note of workload.notes) notes.push(`${key}: ${note}`);
    for (const m of Object.values(workload.metrics)) {
      for (const [target, result] of Object.entries(m.targets)) {
        if (result.error) notes.push(`${key}: ${target} failed: ${result.error}`);
        if (result.info) notes.push(`${key} ${m.title}, ${target}: ${Object.entries(result.info).map(([k, v]) => `${k}=${v}`).join(', ')}`);
      }
    }
  }
  const unique = [...new Set(notes)];
  if (unique.length > 0) lines.push('', 'Notes:', ...unique.map((n) => `- ${n}`));
  lines.push('', `Medians (minimum in brackets) over the rounds; ratios are of medians. "server CPU" is the CPU time of the server process (all threads, /proc/PID/task/*/schedstat) per operation; "by server CPU per op" is bare's / ours. ${String(meta.machine)}; load average ${String(meta.loadBefore)} before, ${String(meta.loadAfter)} after.`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  let config: Config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n${HELP}`);
    return EXIT_USAGE;
  }
  const ctx: Context = {
    config,
    runId: Date.now().toString(36),
    started: performance.now(),
    log: (line) => process.stderr.write(`[${((performance.now() - ctx.started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`),
  };
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const meta: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    uptimeSeconds: Math.round(uptime()),
    loadBefore: load(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
  };
  meta.machine = `node ${process.version}, ${meta.platform}, ${meta.cpus} × ${meta.cpuModel}`;
  ctx.log(`${meta.machine as string}; load average ${meta.loadBefore as string}`);
  if (config.cpuProfDir) mkdirSync(config.cpuProfDir, { recursive: true });

  const workloads: Record<string, Workload> = {};
  const has = (name: (typeof WORKLOADS)[number]) => config.only.has(name);

  if (has('startup')) workloads.startup = await startup(ctx);

  const http = has('push') || has('pull') || has('manifest') || has('tag-create') || has('images') || has('tags');
  const blobs = new Map<number, BigBlob>();
  const blobFor = (size: number) => {
    if (!blobs.has(size)) blobs.set(size, new BigBlob(size));
    return blobs.get(size)!;
  };
  const targets: Target[] = [];
  let failed = false;
  const maxSockets = Math.max(config.inFlight, config.imageConcurrency);
  try {
    if (http) {
      targets.push(await startOurs({ maxSockets, cpuProfDir: config.cpuProfDir, args: config.registryFlags }));
      targets.push(await startBare(config.blobSize, config.tags, maxSockets, { cpuProfDir: config.cpuProfDir }));
      for (const other of config.against) targets.push(other.command ? await startCommand(other.name!, other.command, maxSockets) : await connectOther(other.url!, maxSockets, other.name));
      ctx.log(`targets: ${targets.map((t) => `${t.key} ${t.endpoint.base.origin}${t.pid ? ` (pid ${t.pid})` : ''}`).join(', ')}`);
    }
    if (has('push')) {
      const blob = blobFor(config.blobSize);
      const hashing = hashingCollector();
      // The bare server that keeps what is pushed: in the pushes only (see verifyingBound).
      const keep = await startBare(config.blobSize, 0, maxSockets, { cpuProfDir: config.cpuProfDir, keep: true });
      try {
        // Each round in the order ours, bare, bare-keep, then the --against registries.
        const pushTargets = [...targets.slice(0, 2), keep, ...targets.slice(2)];
        workloads['push-monolithic'] = await pushBig(ctx, pushTargets, 'monolithic', blob, hashing);
        workloads['push-chunked'] = await pushBig(ctx, pushTargets, 'chunked', blob, hashing);
      } finally {
        await keep.stop();
      }
      workloads.sha256 = hashing.workload(['node:crypto']);
    }
    if (has('pull')) workloads.pull = await pullBig(ctx, targets, blobFor(config.blobSize));
    if (has('manifest')) {
      const setupErrors = await setupSmall(targets, ctx.runId);
      workloads['manifest-head'] = await manifestOps(ctx, targets, 'HEAD', setupErrors);
      workloads['manifest-get'] = await manifestOps(ctx, targets, 'GET', setupErrors);
    }
    if (has('tag-create')) workloads['tag-create'] = await tagCreates(ctx, targets);
    if (has('images')) workloads.images = await imagePushes(ctx, targets);
    if (has('tags')) workloads.tags = await tagsList(ctx, targets);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    failed = true;
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
  if (!failed && has('memory')) workloads.memory = await memory(ctx, blobFor);
  if (!failed && has('tls')) workloads.tls = await tlsTransfers(ctx, blobFor(config.blobSize));
  blobs.clear();

  // Requests the client sent again after a server closed their idle connection under them (bench/client.ts).
  const resent = targets.filter((t) => t.endpoint.resent > 0).map((t) => `${t.key} ${t.endpoint.resent}`);
  if (resent.length > 0) {
    meta.resent = resent.join(', ');
    ctx.log(`requests sent again after a server closed their idle connection: ${meta.resent}`);
  }
  meta.loadAfter = load();
  meta.seconds = +((performance.now() - ctx.started) / 1000).toFixed(1);
  const others = targets.filter((t) => t.kind === 'other').map((t) => t.key);
  const checked = checks(workloads, others);
  // bare-keep's column (filled in the pushes only) comes before the other registries'.
  const columns = Object.values(workloads).some((w) => Object.values(w.metrics).some((m) => m.targets['bare-keep'])) ? ['bare-keep', ...others] : others;
  const text = report(workloads, columns, checked, meta);
  process.stdout.write(`\n${text}`);
  if (config.json) {
    mkdirSync(dirname(resolve(config.json)), { recursive: true });
    const { json: _json, only, cpuProfDir: _prof, ...rest } = config;
    writeFileSync(config.json, `${JSON.stringify({ meta, config: { ...rest, only: [...only] }, workloads, targets: checked, others }, null, 2)}\n`);
    ctx.log(`wrote ${config.json}`);
  }
  if (config.cpuProfDir) ctx.log(`CPU profiles of our registry and the bare server in ${config.cpuProfDir}: node bench/profile.mjs ${config.cpuProfDir}/ours-*.cpuprofile`);
  // Our registry or a bare server failing is a failed run (3); another registry failing is reported only.
  const oursFailed = Object.values(workloads).some((w) => Object.values(w.metrics).some((m) => m.targets.ours?.error || m.targets.bare?.error || m.targets['bare-keep']?.error));
  const missed = checked.filter((c) => c.met === false);
  ctx.log(`done in ${meta.seconds as number} s (blob ${fmtBytes(config.blobSize)})${missed.length > 0 ? `; ${missed.length} goal(s) missed: ${missed.map((c) => c.target).join('; ')}` : ''}`);
  return failed || oursFailed ? EXIT_FAILED : missed.length > 0 ? EXIT_MISSED : 0;
}

process.exitCode = await main();
