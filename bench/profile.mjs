// Reads a V8 .cpuprofile (from `node --cpu-prof`, e.g. the registry child of
// `npm run bench -- --cpu-prof DIR`) and prints the top frames by self time,
// and the top source files of the project by inclusive time.
//
//   node bench/profile.mjs FILE.cpuprofile [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/profile.mjs FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const top = Number(values.top);

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Self time per node: each sample's delta belongs to the node it landed in.
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    self.set(id, (self.get(id) ?? 0) + dt);
  });

  const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*\/(dist|src|bench)\//, '$1/').replace(/^node:/, 'node:');
  const frameKey = (frame) => `${frame.functionName || '(anonymous)'}  ${short(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;

  const selfByFrame = new Map();
  for (const [id, ms] of self) {
    const key = frameKey(byId.get(id).callFrame);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + ms);
  }
  // Inclusive time per project file: a sample counts once for every file on its stack.
  const inclusiveByFile = new Map();
  for (const [id, ms] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at).callFrame.url;
      if (!/\/(dist|src)\//.test(url) || seen.has(url)) continue;
      seen.add(url);
      inclusiveByFile.set(short(url), (inclusiveByFile.get(short(url)) ?? 0) + ms);
    }
  }
  // Inclusive time per project function (each counted once per sample).
  const inclusiveByFunction = new Map();
  for (const [id, ms] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at).callFrame;
      if (!/\/(dist|src)\//.test(frame.url)) continue;
      const key = frameKey(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusiveByFunction.set(key, (inclusiveByFunction.get(key) ?? 0) + ms);
    }
  }
  const idle = [...selfByFrame].filter(([key]) => key.startsWith('(idle)')).reduce((sum, [, ms]) => sum + ms, 0);

  console.log(`${file}: ${total.toFixed(0)} ms sampled, ${(total - idle).toFixed(0)} ms busy (${idle.toFixed(0)} ms idle)`);
  console.log('\nself time (ms, % of busy)');
  for (const [key, ms] of [...selfByFrame].filter(([key]) => !key.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(1).padStart(9)}  ${((100 * ms) / Math.max(total - idle, 1e-9)).toFixed(1).padStart(5)}%  ${key}`);
  }
  console.log('\ninclusive time of project functions (ms, % of busy)');
  for (const [key, ms] of [...inclusiveByFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(1).padStart(9)}  ${((100 * ms) / Math.max(total - idle, 1e-9)).toFixed(1).padStart(5)}%  ${key}`);
  }
  console.log('\ninclusive time of project files (ms, % of busy)');
  for (const [url, ms] of [...inclusiveByFile].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${ms.toFixed(1).padStart(9)}  ${((100 * ms) / Math.max(total - idle, 1e-9)).toFixed(1).padStart(5)}%  ${url}`);
  }
  console.log('');
}
