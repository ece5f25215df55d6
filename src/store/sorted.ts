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
 * slice: listing 10,000 tags never sorts them all again. Strings added wait
 * in arrival order until the next read, which sorts them and merges them in:
 * a manifest PUT by a new tag costs O(1) instead of moving every later tag
 * (a splice into 10,000 was a few percent of each PUT).
 */
export class SortedSet {
  #items: string[] = [];
  #pending: string[] = [];

  get size(): number {
    return this.#settled().length;
  }

  add(value: string): void {
    this.#pending.push(value);
  }

  clear(): void {
    this.#items = [];
    this.#pending = [];
  }

  delete(value: string): void {
    const items = this.#settled();
    const at = upperBound(items, value) - 1;
    if (at >= 0 && items[at] === value) items.splice(at, 1);
  }

  /** At most `n` entries strictly after `last` (whether or not `last` is in the set). */
  page({ n, last }: PageRequest = {}): Page {
    const items = this.#settled();
    const start = last === undefined ? 0 : upperBound(items, last);
    const end = n === undefined ? items.length : Math.min(items.length, start + n);
    // spec "Listing Tags": n=0 is an empty list with no Link, so never "more".
    return { items: items.slice(start, end), more: n !== 0 && end < items.length };
  }

  /** The items in order, with what was added since the last read merged in (once each). */
  #settled(): string[] {
    if (this.#pending.length === 0) return this.#items;
    const added = this.#pending.sort(compareLexical);
    this.#pending = [];
    const items = this.#items;
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    while (i < items.length || j < added.length) {
      const next = j >= added.length || (i < items.length && compareLexical(items[i]!, added[j]!) <= 0) ? items[i++]! : added[j++]!;
      // The order is total, so a string added twice, or added again, is next to itself.
      if (merged[merged.length - 1] !== next) merged.push(next);
    }
    return (this.#items = merged);
  }
}
