/**
 * Masks secret values in everything a run prints: log lines, error messages, stacks and rendered
 * results. The runner adds each value it hands to a function; any later output containing it shows
 * ******** instead, whatever Value it came through, and in whichever form output prints it: raw,
 * JSON-escaped (a secret inside a logged object, or in Extended JSON, which escapes strings the
 * same way), and JSON-escaped twice (a JSON string inside a logged object, or a log line inside
 * `-f json` output).
 */
export const MASK = '********';
/** Shorter values would mask ordinary text; the platform's secrets are never this short. */
const MIN_MASKED_LENGTH = 3;
/** How many levels of JSON string escaping are masked (raw, escaped, escaped twice, ...). */
const ESCAPE_LEVELS = 3;

/** Every form in which output can print `value`, the raw one first. */
export function printedForms(value: string): string[] {
  const forms = [value];
  let form = value;
  for (let level = 1; level < ESCAPE_LEVELS; level++) {
    form = JSON.stringify(form).slice(1, -1);
    if (!forms.includes(form)) forms.push(form);
  }
  return forms;
}

export class SecretMask {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  add(value: string): void {
    if (value.length < MIN_MASKED_LENGTH || this.values.has(value)) return;
    this.values.add(value);
    const forms = new Set<string>();
    for (const secret of this.values) for (const form of printedForms(secret)) forms.add(form);
    // Longest first, so that a secret (or a form) containing another is masked whole.
    const alternatives = [...forms]
      .sort((a, b) => b.length - a.length)
      .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }

  /** Whether any secret has been handed out (masking is a no-op until then). */
  get active(): boolean {
    return this.pattern !== undefined;
  }

  apply(text: string): string {
    return this.pattern === undefined ? text : String(text).replace(this.pattern, MASK);
  }

  /**
   * Masks the strings of an Extended JSON text value by value, so that the text stays valid JSON
   * whatever a secret looks like (a secret such as `true,` must not cut through the syntax).
   */
  applyToJSON(json: string): string {
    if (this.pattern === undefined) return json;
    // Most results hold no secret: one scan of the text (every form is in the pattern, and a
    // secret inside a JSON string appears there in its escaped form) skips the parse.
    this.pattern.lastIndex = 0;
    if (!this.pattern.test(json)) return json;
    const mask = (value: unknown): unknown => {
      if (typeof value === 'string') return this.apply(value);
      if (Array.isArray(value)) return value.map(mask);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(
          Object.entries(value).map(([key, item]) => [this.apply(key), mask(item)]),
        );
      }
      return value;
    };
    return JSON.stringify(mask(JSON.parse(json)));
  }
}
