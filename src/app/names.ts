/** Naming rules of App Services (SPEC sections 2, 4, 5). */

/** Values and Secrets: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`. */
export const VALUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const VALUE_NAME_RULE =
  'names must be at most 64 characters long, contain only ASCII letters, digits, underscores (_) and hyphens (-), and start with a letter or digit';

/** Functions: letters, digits, `_`, `-`, and `/` between folder segments; at most 64 characters. */
export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

export const FUNCTION_NAME_RULE =
  'function names must be at most 64 characters long and contain only ASCII letters, digits, underscores (_), hyphens (-), and slashes (/) between folder names';

export function checkValueName(name: string): string | undefined {
  return VALUE_NAME_PATTERN.test(name) ? undefined : `invalid name '${name}': ${VALUE_NAME_RULE}`;
}

export function checkFunctionName(name: string): string | undefined {
  if (name.length <= 64 && FUNCTION_NAME_PATTERN.test(name)) return undefined;
  return `invalid function name '${name}': ${FUNCTION_NAME_RULE}`;
}
