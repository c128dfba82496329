/**
 * The app's local database, opened on first use: `function run` and `trigger fire` of a function
 * that never touches the database neither lock nor create `.triggerbox/db`, and keep working
 * while `dev` owns it.
 */
import type { EmbeddedEngine } from './engine/embedded-engine.js';
import { openAppDatabase } from './data.js';

export class LazyAppDatabase {
  private opening: Promise<EmbeddedEngine> | undefined;
  private readonly listeners: ((engine: EmbeddedEngine) => void)[] = [];
  /** The engine once open. */
  engine: EmbeddedEngine | undefined;

  constructor(private readonly options: { root: string; warn?: (message: string) => void }) {}

  /** Called once, right after the database opens (before any operation runs on it). */
  onOpen(listener: (engine: EmbeddedEngine) => void): void {
    this.listeners.push(listener);
    if (this.engine !== undefined) listener(this.engine);
  }

  open(): Promise<EmbeddedEngine> {
    this.opening ??= openAppDatabase({ root: this.options.root, warn: this.options.warn }).then(
      (engine) => {
        this.engine = engine;
        for (const listener of this.listeners) listener(engine);
        return engine;
      },
    );
    // A failure (the database is locked by dev, or damaged) is tried again by the next call.
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  async close(): Promise<void> {
    const engine = await this.opening?.catch(() => undefined);
    this.opening = undefined;
    this.engine = undefined;
    await engine?.close();
  }
}
