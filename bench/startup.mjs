// Start-up time of `oci-test-registry`: spawn → ready line on stdout, median
// of N runs, next to a bare `node -e` that listens on a port and prints a
// line (the floor Node itself sets). Runs alternate so drift hits both alike.
// Usage: npm run build && node bench/startup.mjs [N=20]   (from the package root)
import { spawn } from 'node:child_process';

const N = Number(process.argv[2] ?? 20);
const BARE = "require('node:http').createServer().listen(0,'127.0.0.1',function(){console.log('listening on http://127.0.0.1:'+this.address().port)})";
const commands = {
  'oci-test-registry --port 0': [process.execPath, ['bin/oci-test-registry.js', '--port', '0']],
  'node -e (bare listen + print)': [process.execPath, ['-e', BARE]],
};

function once([cmd, args]) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        child.kill('SIGTERM');
        child.once('exit', () => resolve(ms));
      }
    });
    child.once('error', reject);
  });
}

const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (let i = 0; i < N; i++) for (const [name, command] of Object.entries(commands)) times[name].push(await once(command));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [name, xs] of Object.entries(times)) {
  const sorted = [...xs].sort((a, b) => a - b);
  console.log(`${name.padEnd(32)} median ${median(xs).toFixed(1)} ms  (min ${sorted[0].toFixed(1)}, max ${sorted.at(-1).toFixed(1)}, ${N} runs)`);
}
console.log(`node ${process.version}, ${process.platform} ${process.arch}`);
