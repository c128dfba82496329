/** Whether this Node can host an isolated-vm inspector session itself. */

/**
 * Why this Node cannot host a debugger session, or undefined when it can. isolated-vm 7.0.1's
 * `createInspectorSession()` aborts the whole process under Node 26's V8 ("Check failed:
 * IsCreationThread()" from a cppgc thread check when V8 creates the session; docs/runtime-notes.md,
 * "Inspector (24/26)"). Under such a Node the debugger's sandbox process runs under a Node 24
 * (node24.ts); only when none can be had is inspect mode refused, before anything is started.
 */
export function inspectorRefusal(nodeVersion: string = process.versions.node): string | undefined {
  const major = Number(nodeVersion.split('.')[0]);
  if (major < 25) return undefined;
  return `the debugger cannot run under Node ${nodeVersion}: isolated-vm 7.0.1's inspector aborts the process under this Node's V8 (a thread check fails when a debugger session is created)`;
}

/** The two ways out when no Node 24 can be had for the debugger's sandbox. */
export const INSPECTOR_REFUSAL_HINT =
  'set TRIGGERBOX_INSPECT_NODE=/path/to/node to the absolute path of a Node 24 binary (the debugger\'s sandbox then runs under it; with nvm: `TRIGGERBOX_INSPECT_NODE="$(nvm which 24)"`), or run this command under Node 24 (with nvm: `nvm exec 24 npx triggerbox ...`; in a triggerbox checkout: `scripts/node.sh 24 npx triggerbox ...`); everything else works under this Node';
