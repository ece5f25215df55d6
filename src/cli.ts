import { parseArgs } from 'node:util';
import { startRegistry } from './registry.js';

/**
 * `oci-test-registry [--port N] [--host H]`: runs a registry in the
 * foreground until SIGINT/SIGTERM. Signals and process.exit live here only.
 */
async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`oci-test-registry: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const portText = values.port ?? process.env.PORT ?? '5000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    process.stderr.write(`oci-test-registry: invalid port ${JSON.stringify(portText)}: use --port with a number from 0 to 65535\n`);
    process.exit(2);
  }
  let registry;
  try {
    registry = await startRegistry({ host: values.host, port });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? `port ${port} is in use: pick another with --port, or --port 0 for a free one` : err.message;
    process.stderr.write(`oci-test-registry: ${why}\n`);
    process.exit(2);
  }
  process.stdout.write(`oci-test-registry listening on ${registry.url}\n`);
  const stop = () => {
    void registry.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
