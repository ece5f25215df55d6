// README.md is the manual; its contents table must reach every section and
// link only to sections that exist, so it stays navigable as sections come.
import t from 'tap';
import { readFile } from 'node:fs/promises';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string): string => heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

t.test('the contents table links every section, and only sections that exist', async (t) => {
  const withoutCode = readme.replace(/```[\s\S]*?```/g, '');
  const sections = [...withoutCode.matchAll(/^## (.+)$/gm)].map((m) => anchor(m[1]!));
  const table = readme.slice(readme.indexOf('Contents:'), readme.indexOf('\n## '));
  const linked = [...table.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
  t.ok(sections.length > 10, 'the README has its sections');
  t.strictSame([...linked].sort(), [...sections].sort(), 'each section linked once, no link to a missing one');
});

t.test('anchors as GitHub makes them', async (t) => {
  t.equal(anchor('HTTPS and HTTP/2'), 'https-and-http2');
  t.equal(anchor('Speed, memory and limits'), 'speed-memory-and-limits');
});
