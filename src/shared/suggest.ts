/** "did you mean ...?" candidates: names within a small edit distance, closest first. */
export function suggestNames(wanted: string, candidates: Iterable<string>, max = 3): string[] {
  const scored: [number, string][] = [];
  const lower = wanted.toLowerCase();
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    const limit = Math.max(2, Math.floor(wanted.length / 3));
    if (
      distance <= limit ||
      candidate.toLowerCase().includes(lower) ||
      lower.includes(candidate.toLowerCase())
    ) {
      scored.push([distance, candidate]);
    }
  }
  return scored
    .sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]))
    .slice(0, max)
    .map(([, name]) => name);
}

export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

export function didYouMean(wanted: string, candidates: Iterable<string>): string {
  const names = suggestNames(wanted, candidates);
  return names.length > 0 ? `did you mean ${names.map((n) => `'${n}'`).join(' or ')}?` : '';
}
