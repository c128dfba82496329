/**
 * Messages that the guest (prelude.js) and the host (validate) must word identically. Plain
 * functions only: the prelude bundles this file.
 */

/** A require() at the top level of a function file: the platform refuses it (SPEC section 2). */
export function topLevelRequireMessage(spec: string, file: string): string {
  return `require('${spec}') at the top level of ${file}: App Services allows require() only inside function bodies; move it into the function`;
}

/**
 * Why `spec` is not something require() may name (SPEC section 2: a package or a built-in, never
 * a path: not ./ or ../, not absolute, not a drive letter or URL, no . or .. segments), or
 * undefined. The guest answers with it before asking the host; bundle.ts checks again.
 */
export function requireSpecProblem(spec: string): string | undefined {
  const segments = spec.split(/[\\/]/);
  if (
    spec === '' ||
    spec.length > 1000 ||
    /^[./\\]|^[A-Za-z]:|^[A-Za-z][A-Za-z0-9+.-]*:\/\/|\\|\0/.test(spec) ||
    segments.includes('.') ||
    segments.includes('..')
  ) {
    return 'a require names a package in functions/node_modules or a Node built-in, never a file path; share code between functions with context.functions.execute()';
  }
  return undefined;
}
