/**
 * The command line: `oci-test-registry [options]` runs a registry in the
 * foreground until SIGINT or SIGTERM. Its flags map onto the same
 * {@link RegistryOptions} object the API takes. Signals and `process.exit`
 * live here and nowhere else.
 *
 * Start-up time is part of the product: `npx oci-test-registry` runs this
 * module from one esbuild bundle compiled with V8's code cache (see
 * bin/code-cache.cjs); the layout reader and writer, and `check`, are
 * evaluated only when asked for, and no builtin is imported dynamically
 * (a code-cached script cannot).
 */
import type { RegistryOptions } from './options.js';
import { startRegistry, type RunningRegistry } from './registry.js';
import type { RequestRecord } from './http/record.js';
import { writeCa } from './cli/tls.js';
import { filePromises } from './builtins.js';
import { EXIT_USAGE, PROGRAM, UsageError, helpText } from './cli/flags.js';
import { inFlagTerms, parseCommandLine, type CommandLine } from './cli/command-line.js';

function formatRecord(record: RequestRecord): string {
  const code = record.code ? ` ${record.code}` : '';
  const aborted = record.completed ? '' : ' (aborted)';
  return `${record.method} ${record.path} ${record.status}${code} in=${record.bytesIn}B out=${record.bytesOut}B ${record.durationMs}ms${aborted}\n`;
}

/** Why listening failed, and what to do about it, in one line. */
function describeListenError(error: NodeJS.ErrnoException, host: string, port: number): string {
  switch (error.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use: stop what holds it, pick another with --port N (or $PORT), or use --port 0 for a free one`;
    case 'EACCES':
      return `not allowed to listen on port ${port}: ports below 1024 need privileges; pick another with --port N, or --port 0 for a free one`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}: no such address on this machine; use --host 127.0.0.1 (or 0.0.0.0 for every interface)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: the host name does not resolve; use --host 127.0.0.1 (or 0.0.0.0 for every interface)`;
    default:
      return `cannot listen on ${host}:${port}: ${error.message}`;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Leaves with `code` once stdout and stderr have flushed (on some platforms
 * pipes are asynchronous, and a last line must not be lost). Exiting, rather
 * than waiting for the loop to drain, is what makes a forked child with an
 * IPC channel go away.
 */
function exit(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
  // Should a stream never flush (a parent that stopped reading), leave anyway.
  setTimeout(() => process.exit(code), 1000).unref();
}

function fail(message: string, code = EXIT_USAGE): void {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  exit(code);
}

/**
 * The version in our package.json: the nearest one above this module, which
 * runs from dist/cli.js or, bundled, from dist/bundle/cli.cjs.
 */
async function printVersion(): Promise<void> {
  for (let depth = 1; depth <= 3; depth++) {
    let text: string;
    try {
      text = await filePromises().readFile(new URL(`${'../'.repeat(depth)}package.json`, import.meta.url), 'utf8');
    } catch {
      continue;
    }
    const pkg = JSON.parse(text) as { name?: string; version: string };
    if (pkg.name === PROGRAM) {
      process.stdout.write(`${pkg.version}\n`);
      return;
    }
  }
  throw new Error(`no package.json of ${PROGRAM} above ${import.meta.url}`);
}

/**
 * Runs the command line. Resolves once the process is committed to an exit
 * (the registry keeps serving until a signal arrives).
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  // A parent that closed our pipes must not turn a write into a crash.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  // `check` is a command of its own (src/cli/check.ts), not a registry flag.
  if (argv[0] === 'check') return exit(await (await import('./cli/check.js')).checkMain(argv.slice(1)));

  let line: CommandLine;
  try {
    line = parseCommandLine(argv, process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return fail(error.message);
  }
  if (line.help) {
    process.stdout.write(helpText());
    return exit(0);
  }
  if (line.version) {
    await printVersion();
    return exit(0);
  }
  if (line.profiles) {
    const { profileList } = await import('./cli/profiles.js');
    process.stdout.write(profileList());
    return exit(0);
  }

  let registry: RunningRegistry | undefined;
  let started = false;
  let stopping: Promise<void> | undefined;
  /** Settles with start-up's problem, if any (then main reports it and exits 2). */
  let starting: Promise<string | undefined> = Promise.resolve(undefined);

  const shutdown = async (): Promise<void> => {
    if ((await starting) !== undefined) return;
    if (!registry) return exit(0);
    await registry.close();
    if (started && line.exportDir !== undefined) {
      try {
        const { exportLayouts } = await import('./layout/export.js');
        for (const result of await exportLayouts(registry.store, line.exportDir)) {
          if (result.missing.length > 0) {
            process.stderr.write(`${PROGRAM}: warning: --export ${result.dir} is incomplete: the registry no longer holds ${result.missing.join(', ')}\n`);
          }
        }
      } catch (error) {
        return fail(`--export failed: ${(error as Error).message}`, 1);
      }
    }
    exit(0);
  };
  const stop = (why: string) => {
    if (stopping) {
      process.stderr.write(`${PROGRAM}: ${why} during shutdown: exiting now\n`);
      return exit(1);
    }
    stopping = shutdown();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Forked with an IPC channel: when the parent goes away (or disconnects), so do we.
  if (process.connected) process.on('disconnect', () => stop('disconnect'));

  const { options } = line;
  if (line.log) {
    const json = line.log === 'json';
    options.onRequest = (record) => {
      process.stderr.write(json ? `${JSON.stringify(record)}\n` : formatRecord(record));
    };
  }
  if (line.exportDir !== undefined) {
    // Fail now, not after a whole CI job, if the directory cannot be made.
    try {
      await filePromises().mkdir(line.exportDir, { recursive: true });
    } catch (error) {
      return fail(`cannot create the --export directory ${line.exportDir}: ${(error as Error).message}`);
    }
    if (stopping) return;
  }

  const start = async (): Promise<string | undefined> => {
    try {
      registry = await startRegistry(options);
    } catch (error) {
      const err = error as NodeJS.ErrnoException;
      return err.code ? describeListenError(err, options.host, options.port) : inFlagTerms(err.message);
    }
    if (line.seeds.length > 0) {
      const { importLayout } = await import('./layout/import.js');
      for (const seed of line.seeds) {
        if (stopping) return undefined;
        try {
          await importLayout(registry.store, seed.dir, { name: seed.name, tag: seed.tag, maxManifestBytes: registry.options.maxManifestBytes });
        } catch (error) {
          return `--seed ${seed.arg}: ${(error as Error).message}`;
        }
      }
    }
    return undefined;
  };
  starting = start();
  const problem = await starting;
  if (problem !== undefined) {
    await registry?.close();
    return fail(problem);
  }
  if (stopping || !registry) return;

  if (!isLoopback(options.host)) {
    const who = options.auth ? 'anyone who can reach this machine can try credentials on' : 'anyone who can reach this machine can push to and pull from';
    process.stderr.write(`${PROGRAM}: warning: listening on ${options.host}: ${who} this registry; use --host 127.0.0.1 to keep it local\n`);
  }
  const { url, host, port } = registry;
  let ca: string | undefined;
  try {
    ca = await writeCa(registry, line.ca);
  } catch (error) {
    await registry.close();
    return fail(`cannot write the CA certificate: ${(error as Error).message}`);
  }
  const ready = ca === undefined ? { url, host, port, pid: process.pid } : { url, host, port, pid: process.pid, ca };
  process.stdout.write(line.json ? `${JSON.stringify(ready)}\n` : `${PROGRAM} listening on ${url}\n`);
  started = true;
  if (process.send && process.connected) {
    process.send({ ready: true, url, host, port, pid: process.pid }, (error: Error | null) => void error);
  }
}
