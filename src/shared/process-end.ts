/**
 * Work a one-off command's process stops before it ends (cli/run.ts). That process ends as a
 * natural exit does, once nothing holds its event loop: background work started for calls that
 * will not come now (a package's bundling ahead of its first require) would hold it. The module
 * that starts such work registers how to stop it, when it starts it.
 */
const stoppers = new Set<() => unknown>();

/** `stop` runs when the command's process ends (once; a failure in it is ignored). */
export function stopAtProcessEnd(stop: () => unknown): void {
  stoppers.add(stop);
}

/** Stops what was registered: called by the CLI once its command is done. */
export function stopBackgroundWork(): void {
  for (const stop of stoppers) {
    try {
      void Promise.resolve(stop()).catch(() => undefined);
    } catch {
      // The process is ending; the exit's grace period covers what could not be stopped.
    }
  }
  stoppers.clear();
}
