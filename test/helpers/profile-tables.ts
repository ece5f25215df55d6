// README "Profiles" tables, generated from PROFILES; test/readme-profiles.test.ts
// checks the README holds exactly this. To rewrite the README block:
//   npx tsx test/helpers/profile-tables.ts --write
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROFILES } from '../../src/index.js';

export const START = '<!-- profiles: generated from src/control/profiles.ts by test/helpers/profile-tables.ts -->';
export const END = '<!-- profiles: end -->';
export const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** A short label for a source URL: owner/repo#N, owner/repo@commit, owner/repo file, or host/path. */
export function sourceLabel(url: string): string {
  const u = new URL(url);
  const parts = u.pathname.split('/').filter(Boolean);
  if (u.hostname === 'github.com' && (parts[2] === 'issues' || parts[2] === 'pull')) return `${parts[0]}/${parts[1]}#${parts[3]}`;
  if (u.hostname === 'github.com' && parts[2] === 'commit') return `${parts[0]}/${parts[1]}@${parts[3]!.slice(0, 7)}`;
  if (u.hostname === 'github.com' && parts[2] === 'blob') {
    const ref = /^[0-9a-f]{40}$/.test(parts[3]!) ? parts[3]!.slice(0, 7) : parts[3];
    return `${parts[0]}/${parts[1]}@${ref} ${parts.slice(4).join('/')}${u.hash}`;
  }
  if (u.hostname === 'gitlab.com') {
    const at = parts.indexOf('-');
    return `${parts.slice(0, at).join('/')}${parts[at + 1] === 'merge_requests' ? '!' : '#'}${parts[at + 2]}`;
  }
  return `${u.hostname}${u.pathname.replace(/\/$/, '')}`;
}

const cell = (text: string) => text.replaceAll('|', '\\|');
/** An option value as a TypeScript literal: `{ requests: 100 }`, `['library/**']`, `'text'`. */
function value(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    const key = (k: string) => (/^[A-Za-z_]\w*$/.test(k) ? k : `'${k}'`);
    return `{ ${Object.entries(v).map(([k, inner]) => `${key(k)}: ${value(inner)}`).join(', ')} }`;
  }
  if (typeof v !== 'string') return String(v);
  return v.includes("'") ? JSON.stringify(v) : `'${v}'`;
}

export function profileTables(): string {
  const out: string[] = [START];
  for (const [name, profile] of Object.entries(PROFILES)) {
    out.push('', `#### \`${name}\`: ${profile.description}`, '');
    const set = Object.entries(profile.options).map(([k, v]) => `\`${k}: ${value(v)}\``);
    out.push(set.length > 0 ? `Sets ${set.join(', ')}.` : 'Sets nothing: it answers as the default does; the rows below say where that was checked.', '');
    out.push('| behaviour | what the registry answers | sources |', '| --- | --- | --- |');
    for (const [behaviour, b] of Object.entries(profile.behaviours)) {
      const extra = b.with ? ` (with ${Object.entries(b.with).map(([k, v]) => `\`${k}: ${value(v)}\``).join(', ')})` : '';
      const sources = b.sources.map((s) => `[${cell(sourceLabel(s))}](${s})`).join(', ');
      out.push(`| ${cell(behaviour)} | ${cell(b.answer)}${cell(extra)} | ${sources} |`);
    }
    if (profile.leftOut.length > 0) out.push('', `Left out: ${profile.leftOut.map((l) => l.replace(/\.$/, '')).join('; ')}.`);
  }
  out.push('', END);
  return out.join('\n');
}

/** The README with its profiles block replaced by a fresh one. */
export function withTables(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} block`);
  return readme.slice(0, start) + profileTables() + readme.slice(end + END.length);
}

if (process.argv.includes('--write')) writeFileSync(README, withTables(readFileSync(README, 'utf8')));
