/**
 * node:crypto, loaded at its first use. The sandbox process starts without Node's snapshot, where
 * loading node:crypto (and the internals it pulls in) cost 13-20 ms of every start, although
 * only package caches and `crypto.getRandomValues` use it (docs/runtime-notes.md).
 */
export function nodeCrypto(): typeof import('node:crypto') {
  return process.getBuiltinModule('node:crypto');
}
