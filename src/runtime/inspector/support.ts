/** Whether this Node can host an isolated-vm inspector session at all. */

/**
 * Why this Node cannot host a debugger session, or undefined when it can. isolated-vm 7.0.1's
 * `createInspectorSession()` aborts the whole process under Node 26's V8 ("Check failed:
 * IsCreationThread()" from a cppgc thread check when V8 creates the session; docs/runtime-notes.md,
 * "Inspector (24/26)"), so the refusal comes before anything is started.
 */
export function inspectorRefusal(nodeVersion: string = process.versions.node): string | undefined {
  const major = Number(nodeVersion.split('.')[0]);
  if (major < 25) return undefined;
  return `the debugger cannot run under Node ${nodeVersion}: isolated-vm 7.0.1's inspector aborts the process under this Node's V8 (a thread check fails when a debugger session is created)`;
}

export const INSPECTOR_REFUSAL_HINT =
  'run this command under Node 24 (e.g. `scripts/node.sh 24 npx triggerbox ...`, or nvm/volta with Node 24); everything else works under this Node';
