/**
 * The container image's HEALTHCHECK: `node dist/cli/health-check.js` asks
 * the registry's base endpoint (`GET /v2/`, distribution-spec "Determining
 * support") on the port the registry was told through the environment, and
 * exits 0 if it answers, 1 if not. Node itself does it, so the image needs
 * no curl or wget. Any answer below 500 counts: a registry with `auth`
 * answers 401 there, and that is a registry that is up.
 *
 * It reads the same variables as the CLI: `PORT` (default 5000) and
 * `OCI_TEST_REGISTRY_HOST` (a wildcard address is asked on loopback).
 */
import { request } from 'node:http';
import { variableName } from './environment.js';

/** Long enough for a busy machine, shorter than the image's HEALTHCHECK --timeout. */
const TIMEOUT_MS = 2000;
const WILDCARD: Record<string, string> = { '0.0.0.0': '127.0.0.1', '::': '::1', '': '127.0.0.1' };

function target(env: NodeJS.ProcessEnv): { host: string; port: number } {
  const host = env[variableName('host')] ?? '';
  return { host: WILDCARD[host] ?? host, port: Number(env.PORT || 5000) };
}

const { host, port } = target(process.env);
const req = request({ host, port, path: '/v2/', method: 'GET', timeout: TIMEOUT_MS, agent: false }, (res) => {
  res.resume();
  const up = res.statusCode !== undefined && res.statusCode < 500;
  process.stdout.write(`GET http://${host.includes(':') ? `[${host}]` : host}:${port}/v2/ → ${res.statusCode}\n`);
  process.exitCode = up ? 0 : 1;
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (error) => {
  process.stdout.write(`GET /v2/ on ${host}:${port} failed: ${error.message}\n`);
  process.exitCode = 1;
});
req.end();
