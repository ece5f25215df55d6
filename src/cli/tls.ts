/**
 * The command line's TLS flags beyond --tls and --http2 (which are option
 * rows in cli.ts): the parts of the `tls` option object, and where to write
 * the generated CA for the clients a CI job runs (--ca-out, --certs-dir).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryOptions, TlsOptions } from '../options.js';
import { filePromises, requireBuiltin } from '../builtins.js';
import type { RunningRegistry } from '../registry.js';

/** Flag → the `tls` option field it sets (each implies --tls). */
const TLS_FIELDS = { 'tls-cert': 'cert', 'tls-key': 'key', 'tls-client-ca': 'clientCa', 'tls-host': 'hosts' } as const;

/** Where the CLI writes the CA: one file, and/or a certs.d-style directory. */
export interface CaOutput {
  caOut?: string;
  certsDir?: string;
}

/** parseArgs entries for the flags of this file. */
export const TLS_ARGS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'tls-host': { type: 'string', multiple: true },
  'ca-out': { type: 'string' },
  'certs-dir': { type: 'string' },
} as const;

/** Takes one flag of this file; false when the flag is not one of them. */
export function applyTlsFlag(name: string, value: string, options: RegistryOptions, output: CaOutput): boolean {
  if (name === 'ca-out' || name === 'certs-dir') {
    if (value === '') throw new TypeError(`--${name} needs a ${name === 'ca-out' ? 'file' : 'directory'}`);
    if (name === 'ca-out') output.caOut = value;
    else output.certsDir = value;
    options.tls ||= true;
    return true;
  }
  if (!(name in TLS_FIELDS)) return false;
  const field = TLS_FIELDS[name as keyof typeof TLS_FIELDS];
  const tls: TlsOptions = typeof options.tls === 'object' ? options.tls : {};
  if (field === 'hosts') tls.hosts = [...(tls.hosts ?? []), value];
  else tls[field] = value;
  options.tls = tls;
  return true;
}

/**
 * Writes the CA where the flags ask (--ca-out FILE; --certs-dir DIR as
 * DIR/<host>:<port>/ca.crt for every name of the server, the layout Docker,
 * containerd and podman read), else to a fresh temp file, whose directory
 * is removed when this process exits (it is ours, unlike the flags' paths).
 * Returns the path --json reports; undefined without a generated CA.
 */
export async function writeCa(registry: RunningRegistry, output: CaOutput): Promise<string | undefined> {
  const ca = registry.tls?.ca;
  if (!ca) return undefined;
  const { mkdir, mkdtemp, writeFile } = filePromises();
  let path: string | undefined;
  if (output.caOut !== undefined) {
    await writeFile(output.caOut, ca);
    path = output.caOut;
  }
  if (output.certsDir !== undefined) {
    const hosts = new Set([registry.options.host, '127.0.0.1', 'localhost', ...(typeof registry.options.tls === 'object' ? (registry.options.tls.hosts ?? []) : [])]);
    for (const host of hosts) {
      const dir = join(output.certsDir, `${host.includes(':') ? `[${host}]` : host}:${registry.port}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'ca.crt'), ca);
      path ??= join(dir, 'ca.crt');
    }
  }
  if (path === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'oci-test-registry-'));
    // 'exit' covers every way out (a signal's shutdown, a second signal, a failure); it must be synchronous.
    process.once('exit', () => (requireBuiltin('node:fs') as typeof import('node:fs')).rmSync(dir, { recursive: true, force: true }));
    path = join(dir, 'ca.crt');
    await writeFile(path, ca);
  }
  return path;
}
