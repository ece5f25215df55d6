// Running a real client binary from a test: its exit code, stdout and stderr
// reported instead of thrown, stdin fed when given (for `login
// --password-stdin`), and a generous timeout so a hung client fails its test
// instead of hanging the suite.
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import type { Test } from 'tap';

/** One client command; generous, since CI machines can be slow. */
export const CLIENT_TIMEOUT_MS = 120_000;

/** How a client command ended. */
export interface Outcome {
  /** Exit code; null when the client could not be started or was killed. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written (or piped, from a stream) to the client's stdin, which is then closed (stdin is empty otherwise). */
  input?: string | Buffer | Readable;
  timeoutMs?: number;
}

/** Runs `file args…` to its end and reports how it ended; never throws. */
export function runClient(file: string, args: string[], options: RunOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let why = '';
    const timer = setTimeout(() => {
      why = `\n(killed after ${options.timeoutMs ?? CLIENT_TIMEOUT_MS} ms: ${file} ${args.join(' ')})`;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? CLIENT_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // a client that exits without reading stdin
    if (options.input instanceof Readable) options.input.pipe(child.stdin);
    else child.stdin.end(options.input ?? '');
    child.on('error', (error) => {
      why += `\n(${file} could not be started: ${error.message})`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') + (signal && !why ? `\n(${signal})` : '') + why });
    });
  });
}

/** Asserts a client command exited 0, showing its stderr when not; returns whether it did. */
export function succeeded(t: Test, outcome: Outcome, what: string): boolean {
  return t.equal(outcome.code, 0, `${what} exits 0`, { stderr: outcome.stderr });
}
