// Memory: RSS growth of a registry process while it holds pushed blobs.
//
//   npx tsx bench/memory.ts [--gib 1] [--chunk-mib 8] [--blobs 1]
//
// The registry runs in a child process (this file with `serve`), so the
// client's buffers never count. The parent pushes `--gib` GiB of generated
// bytes as `--blobs` blobs in chunked PATCHes and reads the child's VmRSS and
// VmHWM (peak) from /proc before and after. Pass: growth ≈ bytes stored.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { startRegistry } from '../src/index.js';

const MiB = 1024 * 1024;

if (process.argv[2] === 'serve') {
  const registry = await startRegistry();
  process.stdout.write(`${registry.url}\n`);
} else {
  await main();
}

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

function send(url: string, method: string, path: string, headers: Record<string, string | number>, body?: Buffer): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { gib: { type: 'string', default: '1' }, 'chunk-mib': { type: 'string', default: '8' }, blobs: { type: 'string', default: '1' } } });
  const total = Math.round(Number(values.gib) * 1024 * MiB);
  const chunkSize = Number(values['chunk-mib']) * MiB;
  const blobs = Number(values.blobs);
  const child = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, 'serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const before = memory(child.pid!);

  // One chunk buffer, its first 8 bytes changed per chunk so every chunk differs.
  const chunk = Buffer.alloc(chunkSize, 7);
  const perBlob = Math.floor(total / blobs);
  const started = performance.now();
  for (let b = 0; b < blobs; b++) {
    const hash = createHash('sha256');
    let location = (await send(url, 'POST', '/v2/bench/memory/blobs/uploads/', { 'Content-Length': 0 })).headers.location as string;
    for (let offset = 0, i = 0; offset < perBlob; offset += chunkSize, i++) {
      const size = Math.min(chunkSize, perBlob - offset);
      chunk.writeUInt32BE(b, 0);
      chunk.writeUInt32BE(i, 4);
      const piece = chunk.subarray(0, size);
      hash.update(piece);
      const reply = await send(url, 'PATCH', location, { 'Content-Range': `${offset}-${offset + size - 1}`, 'Content-Length': size }, piece);
      if (reply.status !== 202) throw new Error(`PATCH answered ${reply.status}`);
      location = reply.headers.location as string;
    }
    const done = await send(url, 'PUT', `${location}?digest=sha256:${hash.digest('hex')}`, { 'Content-Length': 0 });
    if (done.status !== 201) throw new Error(`PUT answered ${done.status}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const after = memory(child.pid!);
  child.kill('SIGTERM');
  const stored = perBlob * blobs;
  const growth = after.rss - before.rss;
  console.log(JSON.stringify({
    storedMiB: +(stored / MiB).toFixed(1),
    rssBeforeMiB: +(before.rss / MiB).toFixed(1),
    rssAfterMiB: +(after.rss / MiB).toFixed(1),
    peakMiB: +(after.peak / MiB).toFixed(1),
    growthPerByteStored: +(growth / stored).toFixed(3),
    peakGrowthPerByteStored: +((after.peak - before.rss) / stored).toFixed(3),
    pushMBps: +(stored / 1e6 / seconds).toFixed(1),
  }));
}
