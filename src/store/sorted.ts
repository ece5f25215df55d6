import type { Page, PageRequest } from './store.js';

/**
 * spec "Listing Tags": tags MUST be in lexical order, "i.e. case-insensitive
 * alphanumeric order". We compare case-insensitively and break ties (`A` vs
 * `a`) by code unit, so the order is total and stable.
 */
export function compareLexical(a: string, b: string): number {
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
