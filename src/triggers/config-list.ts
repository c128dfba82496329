/** A trigger config field that may be one string or a list of them (operation types, providers). */
export function configList(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
}
