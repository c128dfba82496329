/**
 * The only owner of chokidar: watches what an app is made of and reports changed paths in
 * batches. RUNTIME-NOTES: chokidar can drop a second change to the same file within ~50 ms,
 * so consumers re-read the files themselves after a batch (and once more a little later),
 * instead of trusting one event per write.
 */
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** Top-level entries of an app that affect what triggerbox runs. */
const WATCHED_TOP = new Set([
  'functions',
  'values',
  'environments',
  'triggers',
  '.triggerbox',
  '.env',
  'root_config.json',
  'realm_config.json',
  'config.json',
  'stitch.json',
]);

/** Editor and tool droppings that never matter: temp files, swap files, locks, packages. */
function ignoredPath(relative: string): boolean {
  if (relative === '') return false;
  const parts = relative.split(path.sep);
  const top = parts[0] ?? '';
  if (!WATCHED_TOP.has(top)) return true;
  const base = parts[parts.length - 1] ?? '';
  if (parts.includes('node_modules') || parts.includes('.git')) return true;
  if (
    top === '.triggerbox' &&
    base !== '.triggerbox' &&
    base !== 'secrets.json' &&
    base !== 'master.key'
  )
    return true;
  return /(\.tmp|\.swp|\.swx|~|\.crswap)$/.test(base) || base === '4913' || /^\.#/.test(base);
}

export interface AppWatcherOptions {
  root: string;
  /** Called with the app-relative paths (forward slashes) changed since the last batch. */
  onChange(paths: string[]): void;
  /** Quiet time before a batch is reported; bursts of saves become one batch. */
  debounceMs?: number;
}

export class AppWatcher {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly watcher: FSWatcher,
    private readonly options: AppWatcherOptions,
  ) {}

  static async start(options: AppWatcherOptions): Promise<AppWatcher> {
    const root = path.resolve(options.root);
    const watcher = watch(root, {
      ignoreInitial: true,
      ignored: (file: string) => ignoredPath(path.relative(root, file)),
      // Temp-file-and-rename saves arrive as one change (chokidar's atomic handling).
      atomic: true,
    });
    const appWatcher = new AppWatcher(watcher, options);
    watcher.on('all', (_event: string, file: string) => appWatcher.note(path.relative(root, file)));
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', () => resolve());
      watcher.once('error', (error: unknown) =>
        reject(error instanceof Error ? error : new Error(String(error))),
      );
    });
    return appWatcher;
  }

  private note(relative: string): void {
    this.pending.add(relative.split(path.sep).join('/'));
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.options.debounceMs ?? 8);
  }

  private flush(): void {
    this.timer = undefined;
    const paths = [...this.pending].sort();
    this.pending = new Set();
    if (paths.length > 0) this.options.onChange(paths);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.watcher.close();
  }
}
