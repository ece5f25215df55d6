// The CLI run from source (tsx) as a child process, for tests that need
// the command line without building dist/ first.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface RunningCli {
  url: string;
  host: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<number | null>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Runs the CLI from source (tsx) with `args` on a free port; resolves once its ready line is out. */
export function startCli(t: Teardown, args: string[]): Promise<RunningCli> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.PORT;
  const script = `import { main } from ${JSON.stringify(CLI)}; await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => {
    // Wait for both pipes to drain so stderr holds every log line.
    let pending = 3;
    let code: number | null = null;
    const done = () => --pending === 0 && resolve(code);
    child.once('exit', (c) => ((code = c), done()));
    child.stdout.once('close', done);
    child.stderr.once('close', done);
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      // The text ready line, or the --json one.
      const match = /^oci-test-registry listening on (https?:\/\/(\S+))\n/.exec(stdout) ?? /^\{"url":"(https?:\/\/([^"]+))".*\n/.exec(stdout);
      if (match) resolve({ url: match[1]!, host: match[2]!, stdout: () => stdout, stderr: () => stderr, stop: () => (child.kill('SIGTERM'), exited) });
    });
    void exited.then((code) => reject(new Error(`the CLI exited with ${code} before its ready line: ${stderr}`)));
  });
}

/** How a CLI run from source ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source (tsx) with `args` to its end (e.g. `check … -- COMMAND`). */
export function runCli(args: string[], options: { cwd?: string; onSpawn?: (child: ChildProcess) => void } = {}): Promise<CliRun> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const script = `import { main } from ${JSON.stringify(CLI)}; await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: options.cwd });
  options.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
