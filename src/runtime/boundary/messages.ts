/**
 * Messages that the guest (prelude.js) and the host (validate) must word identically. Plain
 * functions only: the prelude bundles this file.
 */

/** A require() at the top level of a function file: the platform refuses it (SPEC section 2). */
export function topLevelRequireMessage(spec: string, file: string): string {
  return `require('${spec}') at the top level of ${file}: App Services allows require() only inside function bodies; move it into the function`;
}
