/** What changed between two loads of an app, as the one line a reload prints. */
import type { App } from '../app/types.js';

export interface AppDiff {
  functionsAdded: string[];
  functionsRemoved: string[];
  functionsChanged: string[];
  valuesChanged: string[];
  environmentChanged: boolean;
  triggersChanged: string[];
  /** Files whose content differs (for reloads found by re-reading rather than by an event). */
  files: string[];
}

function changedKeys<T>(
  before: Map<string, T>,
  after: Map<string, T>,
  same: (a: T, b: T) => boolean,
): [string[], string[], string[]] {
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter(
    (k) => before.has(k) && !same(before.get(k) as T, after.get(k) as T),
  );
  return [added.sort(), removed.sort(), changed.sort()];
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function diffApps(before: App, after: App): AppDiff {
  const [fAdded, fRemoved, fChanged] = changedKeys(before.functions, after.functions, sameJson);
  const [vAdded, vRemoved, vChanged] = changedKeys(before.values, after.values, sameJson);
  const [tAdded, tRemoved, tChanged] = changedKeys(before.triggers, after.triggers, sameJson);
  const files = new Set<string>();
  for (const name of [...fAdded, ...fChanged]) files.add(after.functions.get(name)?.file ?? name);
  for (const name of fRemoved) files.add(before.functions.get(name)?.file ?? name);
  for (const name of [...vAdded, ...vChanged]) files.add(after.values.get(name)?.file ?? name);
  for (const name of vRemoved) files.add(before.values.get(name)?.file ?? name);
  for (const name of [...tAdded, ...tChanged]) files.add(after.triggers.get(name)?.file ?? name);
  for (const name of tRemoved) files.add(before.triggers.get(name)?.file ?? name);
  const environmentChanged = !sameJson(before.environment, after.environment);
  if (environmentChanged)
    files.add(after.environment.file ?? before.environment.file ?? 'environments/');
  return {
    functionsAdded: fAdded,
    functionsRemoved: fRemoved,
    functionsChanged: fChanged,
    valuesChanged: [...vAdded, ...vRemoved, ...vChanged].sort(),
    environmentChanged,
    triggersChanged: [...tAdded, ...tRemoved, ...tChanged].sort(),
    files: [...files].sort(),
  };
}

export function isEmptyDiff(diff: AppDiff): boolean {
  return (
    diff.functionsAdded.length +
      diff.functionsRemoved.length +
      diff.functionsChanged.length +
      diff.valuesChanged.length +
      diff.triggersChanged.length ===
      0 && !diff.environmentChanged
  );
}

/** `rebuilt greet; added hello; reloaded values greeting` */
export function describeDiff(diff: AppDiff, after: App): string {
  const parts: string[] = [];
  if (diff.functionsChanged.length > 0) parts.push(`rebuilt ${diff.functionsChanged.join(', ')}`);
  if (diff.functionsAdded.length > 0) parts.push(`added ${diff.functionsAdded.join(', ')}`);
  if (diff.functionsRemoved.length > 0) parts.push(`removed ${diff.functionsRemoved.join(', ')}`);
  if (diff.valuesChanged.length > 0) parts.push(`reloaded values ${diff.valuesChanged.join(', ')}`);
  if (diff.environmentChanged)
    parts.push(`reloaded environment '${after.environment.tag || 'no-environment'}'`);
  if (diff.triggersChanged.length > 0)
    parts.push(`reloaded triggers ${diff.triggersChanged.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'nothing that runs changed';
}
