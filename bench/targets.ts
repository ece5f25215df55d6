// The servers a benchmark run talks to, each in its own process so that the
// client's work never shares a server's event loop:
//   ours  the registry's CLI (bin/oci-test-registry.cjs, from dist/), forked
//         with an IPC channel: it stops when the benchmark goes away;
//   bare  bench/bare-server.mjs, the node:http ceiling shaped like a registry;
//   bare-keep  the same server with --keep, in the plain push workloads
//         only: what keeping the pushed bytes costs node, with no hash;
//   other another registry given with --against: URL or NAME=URL, already
//         running on loopback, or NAME=CMD, a command this run starts.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Endpoint, expect, isLoopbackHost } from './client.js';

export const BIN = fileURLToPath(new URL('../bin/oci-test-registry.cjs', import.meta.url));
export const BARE_SERVER = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export type TargetKind = 'ours' | 'bare' | 'other';

/** A registry to measure beside ours (--against): a URL, or a command to start (NAME=CMD). */
export interface Against {
  name?: string;
  url?: string;
  command?: string;
}

/** One --against value: `URL[,URL…]`, `NAME=URL` or `NAME=CMD` (a command is never split on commas). */
export function parseAgainst(value: string): Against[] {
  const named = /^([a-z0-9-]+)=(.*)$/s.exec(value.trim());
  if (!named) return value.split(',').map((v) => v.trim()).filter(Boolean).map((url) => ({ url: checkedUrl(url) }));
  const [, name, rest] = named as unknown as [string, string, string];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) return [{ name, url: checkedUrl(rest) }];
  if (!rest.includes('{port}')) throw new Error(`--against ${name}=…: a command must say where to listen with {port} (e.g. ${name}='/path/to/registry -port {port}'); a URL must start with http://`);
  return [{ name, command: rest }];
}

function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--against: ${JSON.stringify(url)} is not a URL; write http://127.0.0.1:PORT`);
  }
  if (parsed.protocol !== 'http:') throw new Error(`--against ${url}: only http:// is benchmarked`);
  if (!isLoopbackHost(parsed.hostname)) throw new Error(`--against ${url}: not a loopback address (127.0.0.0/8, localhost, [::1]); the benchmark talks to nothing else`);
  return url;
}


export interface Target {
  /** `ours`, `bare`, or the URL given with --against: the key in the JSON output. */
  key: string;
  kind: TargetKind;
  endpoint: Endpoint;
  /** The server's process id, when this run started it. */
  pid?: number;
  stop(): Promise<void>;
}

/** The environment of a child: ours, less loaders injected through NODE_OPTIONS (tap, tsx). */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.PORT;
  return env;
}

/** Waits for a child to exit; SIGKILL after `graceMs`. */
function ended(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not ready after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface OursOptions {
  /** Write a V8 CPU profile of the registry process into this directory (written when it exits). */
  cpuProfDir?: string;
  maxSockets: number;
  /** Extra CLI flags. */
  args?: string[];
  /** Reach it over TLS (its flags then include --tls and --ca-out CA_FILE). */
  tls?: { caFile: string; http2: boolean };
}

/** TLS for the bare server: its certificate and key files, the CA that signed them, and whether to offer h2. */
export interface BareTls {
  certFile: string;
  keyFile: string;
  ca: string;
  http2: boolean;
}

/** Forks the registry's CLI on a free loopback port and waits for its IPC ready message. */
export async function startOurs(options: OursOptions): Promise<Target> {
  const execArgv = options.cpuProfDir ? profileFlags(options.cpuProfDir, 'ours') : [];
  const child = fork(BIN, ['--port', '0', '--host', '127.0.0.1', ...(options.args ?? [])], {
    execArgv,
    env: childEnv(),
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const ready = new Promise<{ url: string; pid: number }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { url: string; pid: number }));
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`oci-test-registry exited (${code ?? signal}) before it was ready; run \`npm run build\` first?`)));
  });
  try {
    const { url, pid } = await withTimeout(ready, 30_000, 'oci-test-registry');
    const endpoint = new Endpoint(url, options.maxSockets, options.tls && { ca: readFileSync(options.tls.caFile, 'utf8'), http2: options.tls.http2 });
    return {
      key: 'ours',
      kind: 'ours',
      endpoint,
      pid,
      async stop() {
        endpoint.close();
        child.kill('SIGTERM');
        await ended(child);
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** node flags that write a CPU profile named `<who>-<time>.cpuprofile` into `dir` when the process exits. */
function profileFlags(dir: string, who: string): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${who}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`];
}

/** How the bare server runs: profiled, over TLS, keeping what is pushed to it. */
export interface BareOptions {
  cpuProfDir?: string;
  tls?: BareTls;
  /** Keep every pushed body until its blob is deleted (bare-server.mjs --keep): the target `bare-keep`. */
  keep?: boolean;
}

/** Starts bench/bare-server.mjs; it serves a blob of `blobSize` bytes and `tags` tags. */
export async function startBare(blobSize: number, tags: number, maxSockets: number, { cpuProfDir, tls, keep = false }: BareOptions = {}): Promise<Target> {
  const key = keep ? 'bare-keep' : 'bare';
  const execArgv = cpuProfDir ? profileFlags(cpuProfDir, key) : [];
  const tlsArgs = tls ? ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, ...(tls.http2 ? ['--http2'] : [])] : [];
  const child = spawn(process.execPath, [...execArgv, BARE_SERVER, '--blob-size', String(blobSize), '--tags', String(tags), ...tlsArgs, ...(keep ? ['--keep'] : [])], {
    env: childEnv(),
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const ready = new Promise<{ url: string; pid: number }>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(out.slice(0, newline)) as { url: string; pid: number });
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${key} server exited (${code ?? signal}) before it was ready`)));
  });
  try {
    const { url, pid } = await withTimeout(ready, 30_000, `${key} server`);
    const endpoint = new Endpoint(url, maxSockets, tls && { ca: tls.ca, http2: tls.http2 });
    return {
      key,
      kind: 'bare',
      endpoint,
      pid,
      async stop() {
        endpoint.close();
        child.stdin!.end();
        child.kill('SIGTERM');
        await ended(child);
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** A registry already running at `url` (loopback only); checked with GET /v2/. Its column is `name`, else its origin. */
export async function connectOther(url: string, maxSockets: number, name?: string): Promise<Target> {
  const endpoint = new Endpoint(url.replace(/\/+$/, ''), maxSockets);
  try {
    expect(await endpoint.send('GET', '/v2/', { idleTimeoutMs: 10_000 }), `GET ${url}/v2/ (no auth is supported)`, 200);
  } catch (error) {
    endpoint.close();
    throw new Error(`--against ${url}: ${(error as Error).message}`);
  }
  const pid = pidListeningOn(Number(endpoint.base.port || 80));
  return {
    key: name ?? endpoint.base.origin,
    kind: 'other',
    endpoint,
    pid,
    async stop() {
      endpoint.close();
    },
  };
}

/** A free loopback port (the kernel's pick, released at once for the command to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `--against NAME=CMD`: runs the shell command CMD with `{port}` replaced by a
 * free loopback port (e.g. go-containerregistry's registry, built locally),
 * waits until `GET /v2/` answers 200 there, and measures it like any other
 * registry. Stopping it ends the command's whole process group.
 */
export async function startCommand(name: string, command: string, maxSockets: number): Promise<Target> {
  const port = await freePort();
  const child = spawn('sh', ['-c', command.replaceAll('{port}', String(port))], { detached: true, stdio: ['ignore', 'ignore', 'inherit'], env: childEnv() });
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  // A benchmark that dies (an uncaught error) still ends the command, which
  // shares its stderr and would keep whoever reads that waiting: 'exit' runs even then.
  const onExit = () => group('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    group('SIGTERM');
    const timer = setTimeout(() => group('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`--against ${name}: the command exited (${child.exitCode}) before answering on ${url}`);
    try {
      const target = await connectOther(url, maxSockets, name);
      return { ...target, stop: async () => (await target.stop(), await stop()) };
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`--against ${name}: no 200 on ${url}/v2/ within 30 s: ${(error as Error).message}`);
      }
      // Not listening yet: look again when the command has had a moment (bounded by the deadline above).
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Resident set size now, and its peak (VmHWM), of a process of this machine (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * CPU time a process has used so far, all its threads (JavaScript, GC
 * helpers, libuv pool), in nanoseconds, from the schedstat of each of /proc/PID/task.
 * Unlike wall-clock rates it barely moves with other load on the machine.
 * Undefined where /proc is not there.
 */
export function cpuNs(pid: number): number | undefined {
  try {
    let total = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/**
 * Minor page faults a process has taken so far, all its threads (Linux
 * /proc/PID/stat, field minflt): each is a page of memory touched for the
 * first time since the process got it, which the kernel must find and map
 * (13-14 µs each on the VM of bench/README). Like the CPU, a count that other
 * load on the machine does not move. Undefined where /proc is not there.
 */
export function minorFaults(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt.
    return Number(fields[7]);
  } catch {
    return undefined;
  }
}

/**
 * The process listening on a local TCP port, when this user may see it
 * (Linux /proc: the socket's inode in /proc/net/tcp*, then the process that
 * holds it); used to measure the CPU of an --against registry too.
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; field 9 is the inode.
      if (fields.length > 9 && fields[3] === '0A' && parseInt(fields[1]!.split(':')[1]!, 16) === port) inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
  }
  return undefined;
}
