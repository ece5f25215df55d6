// `npm run test:h2`: every protocol test file that starts its registries
// with startFor runs once more with OCI_TEST_TRANSPORT=h2 (TLS + HTTP/2),
// except the HTTP/1.1-only files listed in h2-excluded.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { H2_EXCLUDED } from './h2-excluded.js';

const files = readdirSync('test')
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/${f}`)
  .filter((f) => readFileSync(f, 'utf8').includes('startFor(') && !(f in H2_EXCLUDED))
  .sort();
for (const [file, why] of Object.entries(H2_EXCLUDED)) process.stdout.write(`h1 only: ${file}: ${why}\n`);
// Every request opens its own TLS session (as agent: false does for HTTP/1.1): allow the files more time.
const result = spawnSync('npx', ['tap', '--timeout=240', ...process.argv.slice(2), ...files], { stdio: 'inherit', env: { ...process.env, OCI_TEST_TRANSPORT: 'h2' } });
process.exit(result.status ?? 1);
