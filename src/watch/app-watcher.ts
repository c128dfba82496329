/**
 * The only owner of chokidar: watches what an app is made of and reports changed paths in
 * batches. RUNTIME-NOTES: chokidar can drop a second change to the same file within ~50 ms,
 * so consumers re-read the files themselves after a batch (and once more a little later),
 * instead of trusting one event per write.
 */
import { statSync, watch as watchDirectory, type FSWatcher as DirectoryWatcher } from 'node:fs';
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

/**
 * Whether a file (not a folder) inside functions/, values/, environments/ or triggers/ can be
 * part of the app: the loader reads only `.js` and `.json` there. Everything else is an editor's
 * or tool's temp file (`sed -i` writes `triggers/sed7TrGe4`, JetBrains `x.js___jb_tmp___`).
 */
function appFile(relative: string): boolean {
  const parts = relative.split(path.sep);
  if (
    parts.length < 2 ||
    !['functions', 'values', 'environments', 'triggers'].includes(parts[0] ?? '')
  )
    return true;
  return /\.(js|json)$/.test(parts[parts.length - 1] ?? '');
}

export interface AppWatcherOptions {
  root: string;
  /** Called with the app-relative paths (forward slashes) changed since the last batch. */
  onChange(paths: string[]): void;
  /** Quiet time before a batch is reported; bursts of saves become one batch. */
  debounceMs?: number;
  /**
   * The app folder was moved away or deleted (`gone: true`; nothing is reported until it is
   * back), or is back and watched again (`gone: false`; re-read everything).
   */
  onRootChange?(gone: boolean): void;
}

/**
 * Closes a chokidar watcher for good. chokidar 5.0.0's `add()` sets `closed = false`, and the
 * watcher calls it itself when an add still in flight finds its path gone (to watch for its
 * return): a watcher closed while the app folder was renamed away came back to life and kept an
 * fs.watch handle open on the folder, so `dev` (and a test's process) never exited. Such late
 * adds are dropped.
 */
async function closeWatcher(watcher: FSWatcher): Promise<void> {
  watcher.add = () => watcher;
  await watcher.close();
}

/** A directory's identity: a folder renamed away and another put in its place differ. */
function identity(dir: string): string | undefined {
  try {
    const stat = statSync(dir);
    return stat.isDirectory() ? `${stat.dev}:${stat.ino}` : undefined;
  } catch {
    return undefined;
  }
}

export class AppWatcher {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private parentWatcher: DirectoryWatcher | undefined;
  private parentTimer: NodeJS.Timeout | undefined;
  /** The identity of the folder being watched; undefined while it is gone. */
  private watched: string | undefined;
  private closed = false;
  /** Root checks run one at a time: a check closes and starts watchers. */
  private checking: Promise<void> = Promise.resolve();
  private readonly root: string;

  private constructor(private readonly options: AppWatcherOptions) {
    this.root = path.resolve(options.root);
  }

  static async start(options: AppWatcherOptions): Promise<AppWatcher> {
    const appWatcher = new AppWatcher(options);
    await appWatcher.watchRoot();
    appWatcher.watchParent();
    return appWatcher;
  }

  private async watchRoot(): Promise<void> {
    const root = this.root;
    this.watched = identity(root);
    const watcher = watch(root, {
      ignoreInitial: true,
      ignored: (file: string) => ignoredPath(path.relative(root, file)),
      // Temp-file-and-rename saves arrive as one change (chokidar's atomic handling).
      atomic: true,
    });
    this.watcher = watcher;
    watcher.on('all', (event: string, file: string) => {
      const relative = path.relative(root, file);
      if (event === 'addDir' || event === 'unlinkDir' || appFile(relative)) this.note(relative);
    });
    await new Promise<void>((resolve, reject) => {
      watcher.once('ready', () => resolve());
      watcher.once('error', (error: unknown) =>
        reject(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  /**
   * chokidar's watches follow the folder's inode: an app folder renamed away (and back) leaves
   * them watching the wrong place or nothing, silently. Its parent folder tells when that
   * happens.
   */
  private watchParent(): void {
    try {
      this.parentWatcher = watchDirectory(path.dirname(this.root), (event, name) => {
        if (event !== 'rename') return;
        if (name !== null && name.toString() !== path.basename(this.root)) return;
        // Renames come in bursts (away, back): look once things are quiet.
        if (this.parentTimer !== undefined) clearTimeout(this.parentTimer);
        this.parentTimer = setTimeout(() => {
          this.parentTimer = undefined;
          this.checking = this.checking.then(() => this.checkRoot()).catch(() => undefined);
        }, 20);
      });
      this.parentWatcher.on('error', () => undefined);
    } catch {
      // An unwatchable parent (permissions): renames of the app folder go unnoticed, as before.
    }
  }

  private async checkRoot(): Promise<void> {
    if (this.closed) return;
    const now = identity(this.root);
    // Even back under the same inode, chokidar may have torn its watches down: start afresh.
    const old = this.watcher;
    this.watcher = undefined;
    this.pending.clear();
    if (old !== undefined) await closeWatcher(old);
    if (now === undefined) {
      if (this.watched !== undefined) {
        this.watched = undefined;
        this.options.onRootChange?.(true);
      }
      return;
    }
    if (this.closed) return;
    await this.watchRoot();
    if (this.closed) {
      const late = this.watcher as FSWatcher | undefined;
      if (late !== undefined) await closeWatcher(late);
      return;
    }
    this.options.onRootChange?.(false);
  }

  private note(relative: string): void {
    if (this.watched === undefined) return;
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
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.parentTimer !== undefined) clearTimeout(this.parentTimer);
    this.parentWatcher?.close();
    await this.checking;
    if (this.watcher !== undefined) await closeWatcher(this.watcher);
  }
}
