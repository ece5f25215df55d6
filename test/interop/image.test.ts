// The container image, built from the Dockerfile and run by a real Docker
// engine: a private dockerd (no bridge here, so containers use the host's
// network and the port comes from PORT), a base image made from this
// machine's node (no registry to pull node:20-bookworm-slim from), skopeo
// pushing and pulling from outside, and testcontainers driving it as client
// libraries' test suites do. Needs dockerd, /usr/bin/docker, skopeo, tar and
// ldd, and root (dockerd); .ci/run installs docker.io.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { send } from '../helpers/http.js';
import { readLayout, taggedEntry, writeLayout } from './layout.js';
import { runSkopeo, sampleImage, tempDir } from './skopeo-run.js';
import { importNodeBaseImage, strict } from './image-base.js';
import { DOCKER, startDockerd } from './daemons.js';

/** The `t` a tap test callback receives. */
type Test = Parameters<Extract<Parameters<typeof t.test>[0], (t: never) => unknown>>[0];

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BASE = 'oci-test-registry-test/node-base:local';
const IMAGE = 'oci-test-registry-test/registry:local';
const daemon = await startDockerd(t);
const dockerd = strict(daemon);
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };

/**
 * testcontainers' settings, read when it is first used: this daemon; no
 * Ryuk (its reaper is an image that cannot be pulled here; teardowns remove
 * the containers); and the host's address given, since testcontainers
 * running where /.dockerenv exists would look for the bridge network's
 * gateway, and this daemon has no bridge.
 */
const TESTCONTAINERS_ENV = { DOCKER_HOST: dockerd.host, TESTCONTAINERS_RYUK_DISABLED: 'true', TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1' };

/** A port nobody listens on right now (the containers share the host's network). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

await importNodeBaseImage(dockerd, await tempDir(t, 'image-root'), BASE);
// BuildKit (the default builder of current Docker) with the host's network,
// so `npm ci` in the build stage reaches the npm registry as this machine does.
const built = Date.now();
await dockerd.docker(['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${BASE}`, '-t', IMAGE, ROOT], { env: { DOCKER_BUILDKIT: '1' } });
t.comment(`docker build took ${Date.now() - built} ms`);

async function inspect<T>(what: string, format: string): Promise<T> {
  return JSON.parse((await dockerd.docker(['inspect', '--format', `{{json ${format}}}`, what])).stdout) as T;
}

/**
 * Runs `docker events` for container `name` from now on; `next(status)`
 * resolves when an event with that status (`health_status: healthy`, `die`)
 * arrives. Started before the container, so no event is missed.
 */
function containerEvents(t: Test, name: string): { next(status: string): Promise<void> } {
  const events = spawn(DOCKER, ['-H', dockerd.host, 'events', '--filter', `container=${name}`, '--format', '{{.Status}}'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void events.kill());
  const seen: string[] = [];
  const waiters: { status: string; resolve: () => void }[] = [];
  let buffered = '';
  events.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      seen.push(line.trim());
      for (const waiter of waiters.filter((w) => w.status === line.trim())) waiter.resolve();
    }
  });
  return {
    next: (status) => (seen.includes(status) ? Promise.resolve() : new Promise((resolve) => waiters.push({ status, resolve }))),
  };
}

/** skopeo pushes a sample image to the registry at 127.0.0.1:port and pulls it back, byte for byte. */
async function pushAndPull(t: Test, port: number, name: string): Promise<void> {
  const dir = await tempDir(t, 'image');
  const image = sampleImage(name);
  await writeLayout(join(dir, 'source'), { v1: image });
  const reference = `docker://127.0.0.1:${port}/${name}:v1`;
  const push = await runSkopeo(['copy', '--dest-tls-verify=false', `oci:${join(dir, 'source')}:v1`, reference]);
  t.equal(push.code, 0, 'skopeo pushes into the container', { stderr: push.stderr });
  const pull = await runSkopeo(['copy', '--src-tls-verify=false', '--preserve-digests', reference, `oci:${join(dir, 'back')}:v1`]);
  t.equal(pull.code, 0, 'skopeo pulls it back', { stderr: pull.stderr });
  const back = await readLayout(join(dir, 'back'));
  t.equal(taggedEntry(back, 'v1')?.digest, image.manifest.descriptor.digest, 'the pulled manifest has the pushed digest');
  for (const layer of image.layers) t.ok(back.blobs.get(layer.descriptor.digest)?.equals(layer.bytes), `layer ${layer.descriptor.digest} came back byte for byte`);
}

/** Removes a container at teardown, whatever state it is in. */
function removeAtEnd(t: Test, name: string): void {
  t.teardown(() => dockerd.docker(['rm', '--force', name]).catch(() => undefined));
}

t.test('the image: labels, non-root user, port 5000, health check, node as the entry point', async (t) => {
  const config = await inspect<{
    User: string; ExposedPorts: Record<string, unknown>; Labels: Record<string, string>; Entrypoint: string[];
    Env: string[]; Healthcheck: { Test: string[] };
  }>(IMAGE, '.Config');
  t.equal(config.User, 'node', 'runs as the non-root user node');
  t.same(Object.keys(config.ExposedPorts), ['5000/tcp'], 'EXPOSE 5000');
  t.equal(config.Labels['org.opencontainers.image.version'], pkg.version, 'the version label is package.json\'s version');
  t.equal(config.Labels['org.opencontainers.image.licenses'], pkg.license, 'the licenses label is package.json\'s license');
  t.match(config.Labels['org.opencontainers.image.source'], /^https:\/\//, 'a source label');
  t.same(config.Entrypoint, ['node', '/app/bin/oci-test-registry.cjs'], 'node itself is the entry point (PID 1), flags follow the image name');
  t.ok(config.Env.includes('OCI_TEST_REGISTRY_HOST=0.0.0.0') && config.Env.includes('PORT=5000'), 'listens on 0.0.0.0:5000 by default');
  t.same(config.Healthcheck.Test, ['CMD', 'node', '/app/dist/cli/health-check.js'], 'the health check is node, no curl');
  const files = await dockerd.docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', IMAGE, '-e', 'console.log(require("fs").readdirSync("/app").join(" "))']);
  t.equal(files.stdout.trim(), 'bin dist package.json', 'the runtime holds only bin/, dist/ and package.json: no node_modules, no sources');
});

t.test('docker run: healthy, not root, push and pull, flags and env vars, docker stop exits 0', async (t) => {
  const name = `oci-test-registry-run-${process.pid}`;
  const port = await freePort();
  removeAtEnd(t, name);
  const events = containerEvents(t, name);
  const started = Date.now();
  await dockerd.docker([
    'run', '--detach', '--name', name, '--network', 'host',
    '--env', `PORT=${port}`, '--env', 'OCI_TEST_REGISTRY_WARNINGS=set by env',
    IMAGE, '--no-deletes', '--log',
  ]);
  await events.next('health_status: healthy');
  t.comment(`start to healthy: ${Date.now() - started} ms`);
  t.equal(await inspect<string>(name, '.State.Health.Status'), 'healthy', 'the health check passes on the port PORT names');

  const pid1 = await dockerd.docker(['exec', name, 'node', '-e', 'const fs = require("fs"); console.log(fs.readFileSync("/proc/1/cmdline", "utf8").split("\\0").join(" ").trim()); console.log(fs.readFileSync("/proc/1/status", "utf8").match(/^Uid:\\s+(\\d+)/m)[1])']);
  const [cmdline, uid] = pid1.stdout.trim().split('\n');
  t.equal(cmdline, 'node /app/bin/oci-test-registry.cjs --no-deletes --log', 'PID 1 is the registry (no --init), with the flags given after the image name');
  t.not(uid, '0', 'PID 1 is not root');
  t.equal(uid, '1000', 'it runs as node (uid 1000)');

  await pushAndPull(t, port, 'container/run');

  const base = await send(`http://127.0.0.1:${port}`, 'GET', '/v2/');
  t.equal(base.status, 200, 'GET /v2/ from outside the container');
  t.equal(base.headers.warning, '299 - "set by env"', 'OCI_TEST_REGISTRY_WARNINGS reached the registry');
  const head = await send(`http://127.0.0.1:${port}`, 'HEAD', '/v2/container/run/manifests/v1');
  const removal = await send(`http://127.0.0.1:${port}`, 'DELETE', `/v2/container/run/manifests/${head.headers['docker-content-digest']}`);
  t.equal(removal.status, 405, '--no-deletes given to docker run reached the registry: DELETE → 405');

  const stopping = Date.now();
  await dockerd.docker(['stop', '--time', '30', name]);
  t.comment(`docker stop returned after ${Date.now() - stopping} ms`);
  const state = await inspect<{ ExitCode: number; OOMKilled: boolean }>(name, '.State');
  t.equal(state.ExitCode, 0, 'SIGTERM ends it with exit code 0 (not 137, a SIGKILL after the stop timeout)');

  const logs = await dockerd.docker(['logs', name]);
  t.match(logs.stdout, new RegExp(`^oci-test-registry listening on http://0\\.0\\.0\\.0:${port}\\n$`), 'the ready line names 0.0.0.0 and the port PORT gave');
  const warnings = logs.stderr.split('\n').filter((line) => line.includes('warning'));
  t.equal(warnings.length, 1, 'one warning line');
  t.match(warnings[0], /^oci-test-registry: warning: listening on 0\.0\.0\.0: anyone who can reach this machine can push to and pull from this registry/, 'it says anyone can push');
  t.match(logs.stderr, /^DELETE \/v2\/container\/run\/manifests\/sha256:[0-9a-f]{64} 405 UNSUPPORTED /m, '--log lines on stderr');
});

t.test('SIGINT (docker kill --signal INT) also ends PID 1 with exit code 0', async (t) => {
  const name = `oci-test-registry-int-${process.pid}`;
  removeAtEnd(t, name);
  const events = containerEvents(t, name);
  await dockerd.docker(['run', '--detach', '--name', name, '--network', 'host', '--env', `PORT=${await freePort()}`, IMAGE]);
  await events.next('health_status: healthy');
  await dockerd.docker(['kill', '--signal', 'INT', name]);
  await events.next('die');
  t.equal(await inspect<number>(name, '.State.ExitCode'), 0, 'exit code 0');
});

t.test('a bad flag or variable: exit code 2 and one line saying what to fix', async (t) => {
  const flag = await daemon.docker(['run', '--rm', '--network', 'none', IMAGE, '--max-page-size', 'lots']);
  t.equal(flag.code, 2, 'a bad flag: exit code 2');
  t.match(flag.stderr, /^oci-test-registry: invalid value "lots" for --max-page-size: give a whole number[^\n]*\n$/, 'one line naming the flag');
  const variable = await daemon.docker(['run', '--rm', '--network', 'none', '--env', 'OCI_TEST_REGISTRY_DELETES=maybe', IMAGE]);
  t.equal(variable.code, 2, 'a bad variable: exit code 2');
  t.match(variable.stderr, /^oci-test-registry: invalid \$OCI_TEST_REGISTRY_DELETES: [^\n]*\n$/, 'one line naming the variable');
});

t.test('testcontainers: GenericContainer waits for the health check; push, pull, stop', async (t) => {
  Object.assign(process.env, TESTCONTAINERS_ENV);
  const { GenericContainer, Wait } = await import('testcontainers');
  const port = await freePort();
  const container = await new GenericContainer(IMAGE)
    .withNetworkMode('host')
    .withEnvironment({ PORT: String(port), OCI_TEST_REGISTRY_PROFILE: 'distribution' })
    .withWaitStrategy(Wait.forHealthCheck())
    .start();
  removeAtEnd(t, container.getId());
  t.equal(await inspect<string>(container.getId(), '.State.Health.Status'), 'healthy', 'started once healthy');

  await pushAndPull(t, port, 'container/testcontainers');
  const referrers = await send(`http://127.0.0.1:${port}`, 'GET', `/v2/container/testcontainers/referrers/sha256:${'0'.repeat(64)}`);
  t.equal(referrers.status, 404, 'OCI_TEST_REGISTRY_PROFILE=distribution reached the registry: no referrers API');

  const stopped = await container.stop({ timeout: 30_000, remove: false });
  t.equal(await inspect<number>(stopped.getId(), '.State.ExitCode'), 0, 'stop() ends it with exit code 0');
});

t.test('README "As a container": the testcontainers example runs', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## As a container'));
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!t.ok(example?.includes("from 'testcontainers'"), 'the section has a TypeScript testcontainers example')) return;
  const port = await freePort();
  // This daemon has no bridge network to map ports on: the container shares
  // the host's network, on a port chosen by PORT. The rest runs as written.
  const code = example!
    .replaceAll("'oci-test-registry:latest'", `'${IMAGE}'`)
    .replace('.withExposedPorts(5000)', `.withNetworkMode('host').withEnvironment({ PORT: '${port}' })`)
    .replaceAll('registry.getMappedPort(5000)', String(port));
  t.not(code, example, 'the example was adapted to the host network');
  // Inside the project, so that `import 'testcontainers'` resolves.
  await mkdir(join(ROOT, 'node_modules/.cache'), { recursive: true });
  const dir = await mkdtemp(join(ROOT, 'node_modules/.cache/image-readme-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'example.mts');
  await writeFile(file, code);
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: ROOT,
    env: { ...process.env, ...TESTCONTAINERS_ENV, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
  t.equal(exitCode, 0, 'the example exits 0', { output });
  t.match(output, new RegExp(`registry at http://\\S+:${port}`), 'it printed the registry URL');
});
