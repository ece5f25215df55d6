// `npm run test:busy`: the whole `npm test` while busy loops hold every core,
// as on a loaded CI machine. A test that passes only on an idle machine (a
// stopwatch, a watchdog, a whole-process bound) fails here. One loop per core
// (at least two); they are stopped by PID when the tests end, and exit by
// themselves should this script die first (their IPC channel closes).
// Exits with the status of `npm test`. Extra arguments go to `npm test`.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

/** The loop: spins in 50 ms slices, yielding between them only to notice that its parent is gone. */
const LOOP = `
process.on('disconnect', () => process.exit(0));
const spin = () => { const end = Date.now() + 50; while (Date.now() < end); setImmediate(spin); };
spin();
`;

const cores = Math.max(2, availableParallelism());
// An 'ipc' stdio entry gives each loop a channel to its parent, so it sees 'disconnect' when this process dies.
const loops = Array.from({ length: cores }, () => spawn(process.execPath, ['--eval', LOOP], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));

function stopLoops() {
  for (const loop of loops) {
    if (loop.exitCode === null && loop.signalCode === null) process.kill(loop.pid, 'SIGKILL');
  }
}

const started = Date.now();
console.error(`test:busy: ${loops.length} busy loops (pids ${loops.map((l) => l.pid).join(', ')}) hold ${cores} cores; running npm test`);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Its own process group, so that a signal here reaches tap and its test processes, not only npm.
const tests = spawn(npm, ['test', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])], { stdio: 'inherit', detached: true });

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    try {
      process.kill(-tests.pid, signal);
    } catch {
      // the group has already gone
    }
  });
}

tests.on('exit', (code, signal) => {
  stopLoops();
  const seconds = Math.round((Date.now() - started) / 1000);
  console.error(`test:busy: npm test ${signal ? `ended by ${signal}` : `exited ${code}`} after ${seconds} s under ${loops.length} busy loops`);
  process.exit(signal ? 1 : (code ?? 1));
});
