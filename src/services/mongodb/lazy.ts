/**
 * The app's local database, opened on first use: `function run` and `trigger fire` of a function
 * that never touches the database neither lock nor create `.triggerbox/db`, and keep working
 * while `dev` owns it. The engine's code (the store, the query engine, mingo) is loaded then too,
 * not when a command starts: about 50 ms of every one-off run that never used it.
 */
import type { EmbeddedEngine } from './engine/embedded-engine.js';

export class LazyAppDatabase {
  private opening: Promise<EmbeddedEngine> | undefined;
  private readonly listeners: ((engine: EmbeddedEngine) => void | Promise<void>)[] = [];
  /** The engine once open. */
  engine: EmbeddedEngine | undefined;

  constructor(private readonly options: { root: string; warn?: (message: string) => void }) {}

  /**
   * Called once, right after the database opens: open() waits for each in turn (one may load
   * its own code), so they all run before any operation does. Register before the first open().
   */
  onOpen(listener: (engine: EmbeddedEngine) => void | Promise<void>): void {
    this.listeners.push(listener);
    if (this.engine !== undefined) void listener(this.engine);
  }

  open(): Promise<EmbeddedEngine> {
    this.opening ??= this.openNow();
    // A failure (the database is locked by dev, or damaged) is tried again by the next call.
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  private async openNow(): Promise<EmbeddedEngine> {
    const { openAppDatabase } = await import('./data.js');
    const engine = await openAppDatabase({ root: this.options.root, warn: this.options.warn });
    this.engine = engine;
    try {
      for (const listener of this.listeners) await listener(engine);
    } catch (error) {
      this.engine = undefined;
      await engine.close();
      throw error;
    }
    return engine;
  }

  async close(): Promise<void> {
    const engine = await this.opening?.catch(() => undefined);
    this.opening = undefined;
    this.engine = undefined;
    await engine?.close();
  }
}
