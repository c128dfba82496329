/**
 * Masks secret values in everything a run prints: log lines, error messages and stacks. The
 * runner adds each value it hands to a function; any later output containing it shows
 * ******** instead, whatever Value it came through.
 */
export const MASK = '********';
/** Shorter values would mask ordinary text; the platform's secrets are never this short. */
const MIN_MASKED_LENGTH = 3;

export class SecretMask {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  add(value: string): void {
    if (value.length < MIN_MASKED_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    // Longest first, so that a secret containing another is masked whole.
    const alternatives = [...this.values]
      .sort((a, b) => b.length - a.length)
      .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }

  apply(text: string): string {
    return this.pattern === undefined ? text : text.replace(this.pattern, MASK);
  }
}
