// Private container daemons for the interop tests: a `dockerd` and a
// `containerd`, each with every path (data, state, sockets, pid file, config)
// in its own temporary directory, so nothing of the machine's daemons is used
// or touched. Each is started by a tap test and stopped in its teardown:
// SIGTERM to the daemon's PID, then wait for it to exit (SIGKILL only if it
// has not exited after STOP_GRACE_MS), unmount anything left under the
// directory, remove the directory.
//
//   const dockerd = await startDockerd(t);
//   await dockerd.docker(['push', `${registry.host}/x:v1`]); // → Outcome
//   const containerd = await startContainerd(t);
//   await containerd.ctr(['images', 'pull', '--plain-http', ref]);
//
// Readiness is the daemon answering on its socket (GET /_ping for dockerd,
// `ctr version` for containerd), polled; a daemon that exits first, or does
// not answer within START_LIMIT_MS, fails the start with its log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClient, type Outcome, type RunOptions } from './client-run.js';

export const DOCKERD = process.env.DOCKERD ?? 'dockerd';
/** Debian's docker CLI, which matches Debian's daemon (another `docker` may be first on PATH). */
export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';
export const CONTAINERD = process.env.CONTAINERD ?? 'containerd';
export const CTR = process.env.CTR ?? 'ctr';

/** Upper bound for a daemon to answer on its socket: a hang guard, not a timing assertion. */
const START_LIMIT_MS = 60_000;
/** How long a daemon may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 30_000;

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Dockerd {
  /** The DOCKER_HOST value: `unix://<dir>/docker.sock`. */
  host: string;
  /** The docker CLI config directory (`--config`): login credentials go here, not to ~/.docker. */
  configDir: string;
  /** Runs Debian's docker CLI against this daemon (never throws; see Outcome). */
  docker(args: string[], options?: RunOptions): Promise<Outcome>;
  /** SIGTERM, wait for exit, clean up; idempotent, and also run in the test's teardown. */
  stop(): Promise<void>;
}

export interface Containerd {
  /** The containerd socket (`ctr --address`). */
  address: string;
  /** Runs `ctr --address <socket> args…` (never throws; see Outcome). */
  ctr(args: string[], options?: RunOptions): Promise<Outcome>;
  stop(): Promise<void>;
}

/** A started daemon process whose stdout and stderr go to `log`. */
interface Daemon {
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

async function spawnDaemon(file: string, args: string[], log: string): Promise<Daemon> {
  const fd = openSync(log, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  // If the test process ends without its teardown (an uncaught error, a
  // process.exit), the daemon is still asked to shut down cleanly: SIGTERM
  // lets it unmount and stop what it started, after this process is gone.
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  }).then(() => {
    process.removeListener('exit', onExit);
  });
  const startError = new Promise<Error | undefined>((resolve) => {
    child.once('error', resolve);
    child.once('spawn', () => resolve(undefined));
  });
  const error = await startError;
  if (error) throw new Error(`${file} could not be started: ${error.message}`);
  return { child, exited, log };
}

/** Polls `ready` until it resolves true; fails when the daemon exits first or after START_LIMIT_MS. */
async function waitReady(daemon: Daemon, what: string, ready: () => Promise<boolean>): Promise<void> {
  let gone = false;
  void daemon.exited.then(() => {
    gone = true;
  });
  const limit = Date.now() + START_LIMIT_MS;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    if (gone) throw new Error(`${what} exited before it was ready (code ${daemon.child.exitCode}, signal ${daemon.child.signalCode}):\n${await logTail(daemon.log)}`);
    if (await ready()) return;
    if (Date.now() > limit) throw new Error(`${what} did not answer on its socket within ${START_LIMIT_MS} ms:\n${await logTail(daemon.log)}`);
    // Poll again shortly, or as soon as the daemon exits.
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), daemon.exited]);
  }
}

async function logTail(log: string): Promise<string> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

/** Stops a daemon: SIGTERM, wait for exit, SIGKILL after STOP_GRACE_MS. */
async function stopDaemon(daemon: Daemon): Promise<void> {
  const { child } = daemon;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await daemon.exited;
    clearTimeout(timer);
  }
}

/** Kills the process whose PID is in `pidFile`, if the file exists and the process still runs. */
async function stopByPidFile(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const limit = Date.now() + STOP_GRACE_MS;
  for (let delay = 10; alive(); delay = Math.min(delay * 2, 250)) {
    if (Date.now() > limit) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Mount points under `dir` (itself included), deepest first, from this process's mountinfo. */
async function mountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .map((point) => point.replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a daemon's directory once the daemon has exited: first unmounts
 * whatever it left mounted there (dockerd bind-mounts its network namespace
 * under exec-root/netns), so `rm -r` never meets a busy mount point; fails
 * the teardown, naming them, if mounts cannot be undone.
 */
async function removeDaemonDir(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) await runClient('umount', ['-l', point]);
  const left = await mountsUnder(dir);
  if (left.length) throw new Error(`could not unmount ${left.join(', ')}; ${dir} is left behind`);
  await rm(dir, { recursive: true, force: true });
}

/** Runs `stop` once, however often it is called (the test's teardown and an explicit stop()). */
function once(stop: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => (stopping ??= stop());
}

/**
 * Starts a private dockerd: vfs storage (no overlay mounts), no iptables, no
 * bridge, no userland proxy, every path under a fresh temp dir. The daemon
 * trusts a plain-HTTP registry on 127.0.0.1 by default (127.0.0.0/8 is an
 * insecure registry CIDR built into dockerd). `config` adds daemon.json
 * keys (`registry-mirrors`, …).
 */
export async function startDockerd(t: Teardown, { config = {} }: { config?: Record<string, unknown> } = {}): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const execRoot = join(dir, 'exec');
  const configDir = join(dir, 'cli');
  await mkdir(configDir);
  // A daemon config of its own, so /etc/docker/daemon.json of the machine is
  // not read, and the daemon's identity key goes here, not to /etc/docker/key.json.
  await writeFile(join(dir, 'daemon.json'), `${JSON.stringify({ ...config, 'deprecated-key-path': join(dir, 'key.json') })}\n`);
  // The directory is removed by stop(), after the daemon has exited (not by
  // a teardown of its own that could run first); stop() is registered before
  // the spawn, so a daemon that fails to start is cleaned up too.
  let daemon: Daemon | undefined;
  const stop = once(async () => {
    if (daemon) await stopDaemon(daemon);
    // dockerd runs its own containerd and stops it on a clean exit; after a
    // SIGKILL it would be left running, so stop it by its pid file too.
    await stopByPidFile(join(execRoot, 'containerd', 'containerd.pid'));
    await removeDaemonDir(dir);
  });
  t.teardown(stop);
  daemon = await spawnDaemon(
    DOCKERD,
    [
      '--config-file', join(dir, 'daemon.json'),
      '--data-root', join(dir, 'data'),
      '--exec-root', execRoot,
      '--pidfile', join(dir, 'dockerd.pid'),
      '-H', `unix://${socket}`,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--userland-proxy=false',
    ],
    join(dir, 'dockerd.log'),
  );
  await waitReady(daemon!, 'dockerd', () => ping(socket));
  const host = `unix://${socket}`;
  return {
    host,
    configDir,
    docker: (args, options = {}) =>
      runClient(DOCKER, ['--config', configDir, ...args], { ...options, env: { ...process.env, ...options.env, DOCKER_HOST: host } }),
    stop,
  };
}

/** GET /_ping on the docker API socket answers 200 OK. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts a private containerd: its own root, state, sockets and opt dir,
 * the `native` snapshotter (plain copies, no mounts), and no CRI plugin.
 */
export async function startContainerd(t: Teardown): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-containerd-'));
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  const toml = (value: string) => JSON.stringify(value);
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${toml(join(dir, 'root'))}`,
      `state = ${toml(join(dir, 'state'))}`,
      // Only what ctr needs to push and pull: no CRI, no snapshotter that mounts.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.overlayfs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = ${toml(address)}`,
      '[ttrpc]',
      `  address = ${toml(`${address}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${toml(join(dir, 'opt'))}`,
      '',
    ].join('\n'),
  );
  let daemon: Daemon | undefined;
  const stop = once(async () => {
    if (daemon) await stopDaemon(daemon);
    await removeDaemonDir(dir);
  });
  t.teardown(stop);
  daemon = await spawnDaemon(CONTAINERD, ['--config', config], join(dir, 'containerd.log'));
  const ctr = (args: string[], options: RunOptions = {}) => runClient(CTR, ['--address', address, ...args], options);
  await waitReady(daemon!, 'containerd', async () => (await ctr(['version'], { timeoutMs: 10_000 })).code === 0);
  return { address, ctr, stop };
}
