// A private Docker daemon for the container image test: its own data root,
// exec root, pid file and socket under a temporary directory, so the test
// neither needs nor disturbs a system daemon. No bridge network and no
// iptables here (the sandbox and CI machines may not allow them): containers
// run with --network host. vfs storage works on any filesystem.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Debian's client, matching its dockerd (/usr/local/bin/docker may be another client). */
export const DOCKER = process.env.DOCKER ?? '/usr/bin/docker';
const DOCKERD = process.env.DOCKERD ?? 'dockerd';
/** How long the daemon may take to answer `docker version`; a busy CI machine is slow. */
const READY_TIMEOUT_MS = 120_000;
/** One docker command (a vfs build of the image takes minutes). */
const COMMAND_TIMEOUT_MS = 540_000;

export interface Dockerd {
  /** For DOCKER_HOST: `unix://<tmp>/docker.sock`. */
  host: string;
  /** Runs the docker client against this daemon; rejects (with stderr) on a non-zero exit. */
  docker(args: string[], options?: { input?: Buffer | Readable; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Starts dockerd and resolves once it answers; stopped and cleaned up at teardown. */
export async function startDockerd(t: Teardown): Promise<Dockerd> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-dockerd-'));
  const host = `unix://${join(dir, 'docker.sock')}`;
  // An empty config file: the machine's /etc/docker/daemon.json must not apply.
  await writeFile(join(dir, 'daemon.json'), '{}\n');
  let log = '';
  const daemon = spawn(
    DOCKERD,
    [
      '--config-file', join(dir, 'daemon.json'),
      '--data-root', join(dir, 'data'),
      '--exec-root', join(dir, 'exec'),
      '--pidfile', join(dir, 'dockerd.pid'),
      '-H', host,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  daemon.stdout.setEncoding('utf8').on('data', (c: string) => (log += c));
  daemon.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));

  const docker: Dockerd['docker'] = (args, options = {}) =>
    new Promise((resolve, reject) => {
      const child = execFile(
        DOCKER,
        ['-H', host, ...args],
        { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...options.env, DOCKER_HOST: host } },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`docker ${args.join(' ')} failed (${error.code ?? error.signal}): ${stderr}`));
          else resolve({ stdout, stderr });
        },
      );
      if (Buffer.isBuffer(options.input)) child.stdin!.end(options.input);
      else if (options.input) options.input.pipe(child.stdin!);
      else child.stdin!.end();
    });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        daemon.kill('SIGTERM');
        await exited;
      }
      // dockerd leaves its data root bind-mounted and its default network
      // namespace mounted: unmount what is left under the directory, deepest first.
      const mounts = (await readFile('/proc/self/mounts', 'utf8'))
        .split('\n')
        .map((line) => line.split(' ')[1] ?? '')
        .filter((point) => point === dir || point.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const point of mounts) await execFileAsync('umount', [point]).catch(() => execFileAsync('umount', ['--lazy', point]));
      await rm(dir, { recursive: true, force: true });
    })());
  t.teardown(stop);

  // Readiness: the daemon answers on its socket. Each attempt is a real
  // round trip, and the loop ends when the daemon does or the time is up.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`dockerd exited: ${log}`);
    try {
      await execFileAsync(DOCKER, ['-H', host, 'version'], { timeout: 10_000 });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`dockerd did not answer within ${READY_TIMEOUT_MS} ms: ${(error as Error).message}\n${log}`);
      // Try again on the daemon's next log line (its last one says it listens), at the latest in a second.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        function done() {
          clearTimeout(timer);
          daemon.stderr.off('data', done);
          resolve();
        }
        daemon.stderr.once('data', done);
      });
    }
  }
  return { host, docker, stop };
}
