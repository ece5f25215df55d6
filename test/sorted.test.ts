// compareLexical folds ASCII letters in place (no strings allocated per
// comparison); its order must stay the spec's "case-insensitive
// alphanumeric order" with code-unit tie-breaks, written here from the rule.
import t from 'tap';
import { compareLexical, SortedSet } from '../src/store/sorted.js';

/** The rule itself: lower-case both, compare; equal when folded → by code unit. */
function byRule(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

t.test('the same order as the rule, over every pair of short strings from a mixed alphabet', async (t) => {
  // Upper and lower case, the characters between 'Z' and 'a' in ASCII, digits, separators, and non-ASCII letters.
  const alphabet = ['a', 'A', 'b', 'B', 'z', 'Z', '_', '.', '-', '0', '9', 'É', 'é'];
  const words: string[] = [''];
  for (const x of alphabet) {
    words.push(x);
    for (const y of alphabet) words.push(x + y);
  }
  let mismatches = 0;
  for (const a of words) for (const b of words) if (Math.sign(compareLexical(a, b)) !== Math.sign(byRule(a, b))) mismatches++;
  t.equal(mismatches, 0, `${words.length ** 2} pairs`);
  t.equal(compareLexical('Tag', 'tag'), -1, 'a case-only difference is decided by code unit');
  t.equal(compareLexical('v1', 'V10'), -1, 'a prefix sorts first whatever its case');
  t.equal(compareLexical('latest', 'latest'), 0);
});

t.test('SortedSet keeps tags in that order as they are added in any order', async (t) => {
  const tags = ['b', 'A', 'a', '10', '9', 'B', '_x', 'Z'];
  const set = new SortedSet();
  for (const tag of tags) set.add(tag);
  set.add('a');
  t.strictSame(set.page({}), { items: [...tags].sort(byRule), more: false });
});

t.test('SortedSet: adds between reads, re-adds and deletes keep one ordered copy of each', async (t) => {
  const set = new SortedSet();
  for (const tag of ['b', 'a', 'b', 'C']) set.add(tag);
  t.strictSame(set.page({ n: 2 }), { items: ['a', 'b'], more: true }, 'the first read sorts what was added, once each');
  set.add('a');
  set.add('B');
  set.delete('b');
  t.strictSame(set.page({}), { items: ['a', 'B', 'C'], more: false }, 'a delete after adds sees them; a re-added tag is not doubled');
  t.equal(set.size, 3);
  set.add('0');
  t.strictSame(set.page({ last: 'a' }), { items: ['B', 'C'], more: false }, 'paging after last merges the new ones first');
  t.strictSame(set.page({ n: 1 }), { items: ['0'], more: true });
  set.clear();
  set.add('x');
  t.strictSame(set.page({}), { items: ['x'], more: false });
});
