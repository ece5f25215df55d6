// The benchmark runs: `bench/bench.ts` on tiny sizes exits 0 or 1 (a goal
// missed, as tiny sizes may) and its --json output has every workload, each
// with numeric figures for our registry and the bare server (and, in the
// pushes, bare-keep), and every goal. No timing is asserted (the numbers
// belong to `npm run bench`, not to the test suite). Needs the compiled
// dist/ (`npm test` builds it).
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, 'bench', 'bench.ts');

const TINY = [
  '--rounds', '1', '--blob-size', '1MiB', '--chunk-size', '256KiB', '--memory', '4MiB', '--memory-rounds', '1',
  '--startup-runs', '2', '--ops-seconds', '0.2', '--in-flight', '4', '--images', '10', '--tag-creates', '20', '--image-concurrency', '4',
  '--tags', '250', '--page-size', '100', '--max-minutes', '2',
];

/** Each workload, the metrics it must report, and whether the bare server is measured beside ours. */
const EXPECTED: Record<string, { metrics: string[]; bare: boolean }> = {
  startup: { metrics: ['inProcessCold', 'inProcessWarm', 'cli', 'cli200'], bare: true },
  'push-monolithic': { metrics: ['throughput', 'cpu', 'faults', 'clientCpu', 'cold'], bare: true },
  'push-chunked': { metrics: ['throughput', 'cpu', 'faults', 'clientCpu', 'cold'], bare: true },
  pull: { metrics: ['throughput'], bare: true },
  'manifest-head': { metrics: ['rate', 'p50', 'p99', 'cpu', 'faults'], bare: true },
  'manifest-get': { metrics: ['rate', 'p50', 'p99', 'cpu', 'faults'], bare: true },
  'tag-create': { metrics: ['rate', 'cpu', 'faults'], bare: true },
  images: { metrics: ['rate', 'cpu', 'faults'], bare: true },
  tags: { metrics: ['full', 'walk'], bare: true },
  memory: { metrics: ['growth', 'peak', 'throughput'], bare: false },
};

interface Result {
  samples: number[];
  median: number;
  min: number;
  error?: string;
}
interface Output {
  workloads: Record<string, { metrics: Record<string, { unit: string; targets: Record<string, Result> }> }>;
  targets: { target: string; goal: string; value: number; display: string; met: boolean | null }[];
}

type Run = { code: number | null; stdout: string; stderr: string };

/** Runs the bench; no time limit (a busy machine is only slow): a hang fails on tap's timeout, and the teardown ends it. */
function run(t: { teardown(fn: () => unknown): void }, args: string[]): Promise<Run> {
  return runNode(t, [BENCH, ...args]);
}

/** Runs node with tsx on `args`; resolves at 'close', once every holder of the child's stdout and stderr has let go. */
function runNode(t: { teardown(fn: () => unknown): void }, args: string[]): Promise<Run> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('npm run bench on tiny sizes: exits 0 (or 1 for a goal missed), --json has every workload with numbers and every goal', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-smoke-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, 'out.json');
  const { code, stdout, stderr } = await run(t, [...TINY, '--json', json]);
  t.match(stdout, /\| workload \| metric \|/, 'prints the results table');
  t.match(stdout, /\| target \| goal \| figure \| met \|/, 'prints the goals table');

  const output = JSON.parse(await readFile(json, 'utf8')) as Output;
  const missed = output.targets.filter((c) => c.met === false);
  t.equal(code, missed.length > 0 ? 1 : 0, 'exit status 1 exactly when a goal is missed', { stderr });
  for (const c of missed) t.match(stdout, `| ${c.target} | ${c.goal} |`, `the missed goal "${c.target}" is in the table`);
  t.ok(output.targets.every((c) => /^[≥≤] \d/.test(c.goal)), 'each goal is stated');
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const workload = output.workloads[name];
    t.ok(workload, `workload ${name} is reported`);
    if (!workload) continue;
    for (const metric of expected.metrics) {
      const m = workload.metrics[metric];
      t.ok(m && typeof m.unit === 'string', `${name}.${metric} has a unit`);
      const who = metric === 'inProcessCold' || !expected.bare ? ['ours'] : ['ours', 'bare'];
      for (const target of who) {
        const result = m?.targets[target];
        t.notOk(result?.error, `${name}.${metric} ${target}: no error`);
        t.ok(result && result.samples.length > 0 && result.samples.every(Number.isFinite), `${name}.${metric} ${target}: numeric samples`);
        t.ok(result && Number.isFinite(result.median) && Number.isFinite(result.min), `${name}.${metric} ${target}: numeric median and min`);
      }
    }
  }
  const hashing = output.workloads.sha256?.metrics.throughput?.targets['node:crypto'];
  t.ok(hashing && Number.isFinite(hashing.median), 'the sha256 ceiling is measured');
  // The push goals carry the bound any verifying server meets in the run, from the run's own figures.
  const push = output.workloads['push-monolithic']!.metrics;
  const bare = (metric: string) => push[metric]!.targets.bare!.median;
  const perGb = bare('cpu') + bare('clientCpu') + 1000 / hashing!.median;
  const expected = Math.min(bare('throughput'), hashing!.median, (availableParallelism() / perGb) * 1000) / bare('throughput');
  const shown = /bound for any verifying server here: ([\d.]+)/.exec(output.targets.find((c) => c.target.startsWith('push monolithic'))!.display);
  t.ok(shown && Math.abs(Number(shown[1]) - expected) <= 0.006 * expected, `the monolithic push's bound (${shown?.[1]}) is min(bare, sha256, cores / CPU per GB) / bare (${expected})`);
  t.ok(expected > 0 && expected <= 1);
  // And the bound for a server that keeps the bytes, with bare-keep (the bare server keeping every push) in the bare server's place.
  for (const name of ['push-monolithic', 'push-chunked']) {
    for (const metric of ['throughput', 'cpu', 'clientCpu']) {
      const result = output.workloads[name]!.metrics[metric]!.targets['bare-keep'];
      t.ok(result && result.samples.length > 0 && result.samples.every(Number.isFinite), `${name}.${metric} bare-keep: numeric samples`);
    }
  }
  const keep = (metric: string) => push[metric]!.targets['bare-keep']!.median;
  const keepPerGb = keep('cpu') + keep('clientCpu') + 1000 / hashing!.median;
  const keeping = Math.min(keep('throughput'), hashing!.median, (availableParallelism() / keepPerGb) * 1000) / bare('throughput');
  const keepShown = /for one that keeps the bytes in node \(bare-keep \+ sha256\): ([\d.]+)/.exec(output.targets.find((c) => c.target.startsWith('push monolithic'))!.display);
  t.ok(keepShown && Math.abs(Number(keepShown[1]) - keeping) <= 0.006 * keeping, `the monolithic push's keeping bound (${keepShown?.[1]}) is min(bare-keep, sha256, cores / CPU per GB) / bare (${keeping})`);
  t.match(stdout, /\| ours \/ bare \| bare-keep median \(min\) \| ours \/ bare-keep \|/, "bare-keep's column follows the bare server's");
  t.notMatch(output.targets.find((c) => c.target.startsWith('push over HTTPS'))!.display, /bare-keep/, 'no keeping bound where bare-keep did not run (TLS)');
  // Page faults per operation, beside the CPU per operation: counts, so never negative.
  for (const name of ['push-monolithic', 'push-chunked', 'manifest-head', 'tag-create', 'images']) {
    const faults = output.workloads[name]!.metrics.faults!;
    t.ok(Object.values(faults.targets).every((r) => r.samples.every((v) => v >= 0)), `${name}: page faults per operation are not negative`);
  }
  t.match(stdout, /\| tag-create \| server minor page faults per tag \| faults \(lower is better\) \|/, 'the table has the page faults row');
  t.ok(output.targets.length >= 14 && output.targets.every((c) => Number.isFinite(c.value)), 'every goal is checked with a number');
  t.strictSame(output.targets.filter((c) => c.met === null), [], 'every goal was measured');
});

t.test('bare-server.mjs --keep keeps what is pushed to it: its resident memory grows by the blob', async (t) => {
  const size = 48 << 20;
  const body = Buffer.alloc(size, 7);
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'bare-server.mjs'), '--keep'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const { url, pid } = await new Promise<{ url: string; pid: number }>((resolve) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
    });
  });
  // Resident memory, read through /proc (the server reports nothing of itself).
  const rss = async () => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const before = await rss();
  const post = await fetch(`${url}/v2/keep/blobs/uploads/`, { method: 'POST' });
  t.equal(post.status, 202);
  const location = post.headers.get('location')!;
  const put = await fetch(`${url}${location}?digest=sha256:${'a'.repeat(64)}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } });
  t.equal(put.status, 201);
  const grown = (await rss()) - before;
  t.ok(grown >= size * 0.9, `resident memory grew by what was pushed (${grown} bytes for ${size})`);
  t.equal((await fetch(`${url}/v2/keep/blobs/sha256:${'a'.repeat(64)}`, { method: 'DELETE' })).status, 202);
  child.stdin.end();
  await new Promise((resolve) => child.once('close', resolve));
});

t.test('bench refuses a non-loopback --against before sending anything', async (t) => {
  const { code, stderr } = await run(t, ['--only', 'pull', '--rounds', '1', '--blob-size', '64KiB', '--against', 'http://192.0.2.1:5000']);
  t.not(code, 0, 'non-zero exit');
  t.match(stderr, /not a loopback address/);
});

t.test('--against NAME=CMD starts the command on a free port, measures it as NAME, and stops it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-against-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, 'out.json');
  // Our own CLI stands in for another registry.
  const command = `${JSON.stringify(process.execPath)} bin/oci-test-registry.cjs --port {port} --host 127.0.0.1`;
  const { code, stdout, stderr } = await run(t, ['--only', 'tag-create', '--rounds', '1', '--tag-creates', '20', '--image-concurrency', '2', '--json', json, '--against', `peer=${command}`]);
  t.ok(code === 0 || code === 1, 'the run completes (0, or 1 for a goal missed)', { stderr });
  t.match(stdout, /\| peer median \(min\) \| ours \/ peer \|/, 'a column named peer');
  const output = JSON.parse(await readFile(json, 'utf8')) as Output & { others: string[] };
  t.strictSame(output.others, ['peer']);
  const peer = output.workloads['tag-create']?.metrics.rate?.targets.peer;
  t.ok(peer && peer.samples.length === 1 && Number.isFinite(peer.median), 'peer was measured');
  t.ok(output.workloads['tag-create']?.metrics.cpu?.targets.peer, "peer's server CPU was measured (its process found by its port)");
});

t.test('--against parsing: URLs split on commas, NAME=URL, NAME=CMD needs {port}', async (t) => {
  const { parseAgainst } = await import('../bench/targets.js');
  t.strictSame(parseAgainst('http://127.0.0.1:1,http://localhost:2'), [{ url: 'http://127.0.0.1:1' }, { url: 'http://localhost:2' }]);
  t.strictSame(parseAgainst('distribution=http://127.0.0.1:5099'), [{ name: 'distribution', url: 'http://127.0.0.1:5099' }]);
  t.strictSame(parseAgainst('ggcr=/tmp/ggcr -a,b -port {port}'), [{ name: 'ggcr', command: '/tmp/ggcr -a,b -port {port}' }], 'a command keeps its commas');
  t.throws(() => parseAgainst('ggcr=/tmp/ggcr'), /\{port\}/);
  t.throws(() => parseAgainst('x=http://192.0.2.1:5000'), /not a loopback address/);
});

t.test("minorFaults reads a process's minor page faults from /proc (the counter getrusage gives)", async (t) => {
  const { minorFaults } = await import('../bench/targets.js');
  const before = minorFaults(process.pid);
  // getrusage's ru_minflt counts the same faults for this process: it falls between two reads of /proc.
  const usage = process.resourceUsage().minorPageFault;
  // Touch fresh memory, so the count grows.
  Buffer.alloc(8 << 20).fill(1);
  const after = minorFaults(process.pid);
  t.ok(before !== undefined && after !== undefined, 'read on Linux');
  t.ok(before! <= usage && usage <= after!, `/proc before (${before}) <= getrusage (${usage}) <= /proc after (${after})`);
  t.ok(after! > usage, 'touching 8 MiB of fresh memory adds faults');
  t.equal(minorFaults(2 ** 22 + 1), undefined, 'no such process: undefined');
});

t.test('the bench client sends a request again, once, when the server closed the idle keep-alive connection under it', async (t) => {
  const { createServer } = await import('node:net');
  const { Endpoint } = await import('../bench/client.js');
  const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok';
  // Each connection answers its first request; a later request on it is cut
  // off unanswered, as by a server closing an idle connection; with
  // `resetFirst`, so is the first request of the first connection.
  const serve = async (t: { teardown(fn: () => unknown): void }, resetFirst = false) => {
    const seen: { connection: number; request: number; body: string }[] = [];
    let connections = 0;
    const server = createServer((socket) => {
      const connection = ++connections;
      let requests = 0;
      let pending = '';
      socket.on('data', (data) => {
        pending += data.toString('latin1');
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        seen.push({ connection, request: ++requests, body: pending.slice(end + 4, end + 4 + length) });
        pending = '';
        if (requests > 1 || (resetFirst && connection === 1)) socket.resetAndDestroy();
        else socket.write(OK);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
  };
  const endpointFor = (t: { teardown(fn: () => unknown): void }, url: string, resendAfterIdleMs: number) => {
    const endpoint = new Endpoint(url, 1, undefined, resendAfterIdleMs);
    t.teardown(() => endpoint.close());
    return endpoint;
  };

  t.test('on a connection idle long enough: sent again, whole, on a new connection', async (t) => {
    const server = await serve(t);
    // Any idle time counts here, so the test needs no wait.
    const endpoint = endpointFor(t, server.url, 0);
    t.equal((await endpoint.send('PUT', '/a', { body: Buffer.from('one') })).status, 200);
    const second = await endpoint.send('PUT', '/b', { body: Buffer.from('two') });
    t.equal(second.status, 200, 'answered on the new connection');
    t.equal(second.body.toString(), 'ok');
    t.strictSame(server.seen, [
      { connection: 1, request: 1, body: 'one' },
      { connection: 1, request: 2, body: 'two' },
      { connection: 2, request: 1, body: 'two' },
    ]);
    t.equal(endpoint.resent, 1, 'counted, for the report');
  });

  t.test('on a connection used a moment before: the cut is the server\'s doing, and the request fails', async (t) => {
    const server = await serve(t);
    const endpoint = endpointFor(t, server.url, 60_000);
    t.equal((await endpoint.send('PUT', '/a', { body: Buffer.from('one') })).status, 200);
    await t.rejects(endpoint.send('PUT', '/b', { body: Buffer.from('two') }), { code: 'ECONNRESET' });
    t.strictSame(server.seen, [
      { connection: 1, request: 1, body: 'one' },
      { connection: 1, request: 2, body: 'two' },
    ], 'not sent again');
    t.equal(endpoint.resent, 0);
  });

  t.test('on a new connection: the request fails', async (t) => {
    const server = await serve(t, true);
    const endpoint = endpointFor(t, server.url, 0);
    await t.rejects(endpoint.send('PUT', '/c', { body: Buffer.from('three') }), { code: 'ECONNRESET' });
    t.strictSame(server.seen, [{ connection: 1, request: 1, body: 'three' }], 'not sent again');
  });
});

t.test('a benchmark that dies of an uncaught error still ends the --against command it started', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-dies-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'pid');
  // The command answers GET /v2/ (so startCommand takes it) and says its pid.
  const command = `exec ${process.execPath} -e "require('fs').writeFileSync('${pidFile}', String(process.pid)); require('http').createServer((q, s) => s.end()).listen({port}, '127.0.0.1')"`;
  const script = `
    const { startCommand } = await import(${JSON.stringify(new URL('../bench/targets.ts', import.meta.url).href)});
    await startCommand('other', ${JSON.stringify(command)}, 1);
    process.stdout.write('started\\n');
    setImmediate(() => { throw new Error('the benchmark dies'); });
  `;
  // The command shares the run's stderr, so the run closes only once the command is gone too.
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    runNode(t, ['--input-type=module', '-e', script]),
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 60_000))),
  ]);
  clearTimeout(timer);
  if (!result) {
    const pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  }
  t.ok(result, 'nothing the run started holds its stderr open');
  t.equal(result?.stdout, 'started\n', 'the command was started and answered');
  t.match(result?.stderr ?? '', /the benchmark dies/);
  t.equal(result?.code, 1, 'the run exited 1');
  const pid = Number(await readFile(pidFile, 'utf8'));
  // Gone, or dead and not yet reaped by init (its parent, the benchmark, is gone).
  const state = await readFile(`/proc/${pid}/stat`, 'utf8').then((stat) => stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), () => 'gone');
  t.ok(state === 'gone' || state === 'Z', `the command process is gone (${state})`);
});
