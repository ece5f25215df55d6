// Start-up in-process: how long `await startRegistry()` takes inside a test
// process, next to a bare node:http server's listen() in the same process.
// Run in a fresh child by bench/bench.ts (so the benchmark's own heap does
// not count), from the compiled package (`npm run build` first):
//
//   node bench/startup-inprocess.mjs RUNS
//
// Prints one JSON line: importMs (loading dist/index.js), firstMs (the first
// startRegistry, cold), and `runs` samples of each after it, alternating.
import { createServer } from 'node:http';

const runs = Math.max(1, Math.min(10_000, Number(process.argv[2] ?? 20)));

let t0 = performance.now();
const { startRegistry } = await import('../dist/index.js');
const importMs = performance.now() - t0;

t0 = performance.now();
const first = await startRegistry();
const firstMs = performance.now() - t0;
await first.close();

function bareListen() {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => res.end());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const ours = [];
const bare = [];
for (let i = 0; i < runs; i++) {
  let start = performance.now();
  const registry = await startRegistry();
  ours.push(performance.now() - start);
  await registry.close();

  start = performance.now();
  const server = await bareListen();
  bare.push(performance.now() - start);
  await new Promise((resolve) => server.close(resolve));
}

// With TLS: startRegistry({ tls: true }) makes a CA and a server certificate
// (two ECDSA P-256 keys, two signatures) before it listens; the bare
// reference is an https server given a ready certificate.
const { createServer: createHttpsServer } = await import('node:https');
t0 = performance.now();
const firstTls = await startRegistry({ tls: true });
const tlsFirstMs = performance.now() - t0;
const { cert, key } = firstTls.tls;
await firstTls.close();
const tlsOurs = [];
const tlsBare = [];
for (let i = 0; i < runs; i++) {
  let start = performance.now();
  const registry = await startRegistry({ tls: true });
  tlsOurs.push(performance.now() - start);
  await registry.close();

  start = performance.now();
  const server = await new Promise((resolve, reject) => {
    const s = createHttpsServer({ cert, key }, (req, res) => res.end());
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  tlsBare.push(performance.now() - start);
  await new Promise((resolve) => server.close(resolve));
}
process.stdout.write(`${JSON.stringify({ importMs, firstMs, ours, bare, tlsFirstMs, tlsOurs, tlsBare })}\n`);
