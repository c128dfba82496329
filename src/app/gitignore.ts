/** Keeping triggerbox's local files out of an app's git history. */
import path from 'node:path';
import { writeFileAtomic } from '../shared/atomic-file.js';
import { readRegularFile } from './regular-file.js';

/**
 * Appends `entries`, under a `# comment` line, to the app's .gitignore, leaving out those a line
 * already covers (`covers`; by default the entry itself or with a leading `/`). Atomic; creates
 * the file when absent. Returns why nothing was written when .gitignore is not a regular file.
 */
export function ignoreInGit(
  root: string,
  entries: string[],
  comment: string,
  covers: (line: string, entry: string) => boolean = (line, entry) =>
    line === entry || line === `/${entry}`,
): string | undefined {
  const gitignore = path.join(root, '.gitignore');
  const read = readRegularFile(gitignore);
  if (!read.ok && !read.missing) return read.reason;
  const current = read.ok ? read.text : '';
  const lines = current.split(/\r?\n/);
  const missing = entries.filter((entry) => !lines.some((line) => covers(line, entry)));
  if (missing.length === 0) return undefined;
  const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  writeFileAtomic(gitignore, `${prefix}# ${comment}\n${missing.join('\n')}\n`);
  return undefined;
}
