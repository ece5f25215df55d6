import type { Page, PageRequest } from './store.js';

/**
 * spec "Listing Tags": tags MUST be in lexical order, "i.e. case-insensitive
 * alphanumeric order". We compare case-insensitively and break ties (`A` vs
 * `a`) by code unit, so the order is total and stable.
 */
export function compareLexical(a: string, b: string): number {
  // Tags and names are ASCII by their grammars: fold A-Z in place rather than
  // lower-casing both strings, which allocated two strings per comparison
  // (about 28 per tag a manifest PUT inserts among 10,000).
  const length = Math.min(a.length, b.length);
  /** The first code unit that differs (the tie-break). */
  let tie = 0;
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x > 127 || y > 127) return compareFolded(a, b);
    if (tie === 0) tie = x < y ? -1 : 1;
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return tie;
}

/** The same order for any string (toLowerCase folds beyond ASCII). */
function compareFolded(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first entry strictly after `key`. */
function upperBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareLexical(sorted[mid]!, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A set of strings kept in lexical order, so a page is a binary search and a
 * slice: listing 10,000 tags never sorts them again.
 */
export class SortedSet {
  #items: string[] = [];

  get size(): number {
    return this.#items.length;
  }

  add(value: string): void {
    const at = upperBound(this.#items, value);
    if (at > 0 && this.#items[at - 1] === value) return;
    this.#items.splice(at, 0, value);
  }

  clear(): void {
    this.#items = [];
  }

  delete(value: string): void {
    const at = upperBound(this.#items, value) - 1;
    if (at >= 0 && this.#items[at] === value) this.#items.splice(at, 1);
  }

  /** At most `n` entries strictly after `last` (whether or not `last` is in the set). */
  page({ n, last }: PageRequest = {}): Page {
    const start = last === undefined ? 0 : upperBound(this.#items, last);
    const end = n === undefined ? this.#items.length : Math.min(this.#items.length, start + n);
    // spec "Listing Tags": n=0 is an empty list with no Link, so never "more".
    return { items: this.#items.slice(start, end), more: n !== 0 && end < this.#items.length };
  }
}
