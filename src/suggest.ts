/**
 * "Did you mean …?" for names a user typed: CLI flags and option names.
 * Levenshtein distance, one row at a time.
 */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known name nearest to `word` (at most two edits away, or one it starts), if any. */
export function closestName(word: string, names: Iterable<string>): string | undefined {
  return [...names]
    .map((name) => [name, editDistance(word, name)] as const)
    .filter(([name, d]) => d <= 2 || (word.length >= 3 && name.startsWith(word)))
    .sort((a, b) => a[1] - b[1])[0]?.[0];
}
