/** Looking triggers up and describing them in one line, for `trigger list`. */
import type { TriggerDef } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import { didYouMean } from '../shared/suggest.js';
import { namespaceLabel, triggerSettings } from './settings.js';

/** The trigger with this name, or a TriggerNotFound error with "did you mean". */
export function findTrigger(triggers: Map<string, TriggerDef>, name: string): TriggerDef {
  const trigger = triggers.get(name);
  if (trigger === undefined) {
    throw new TriggerboxError('TriggerNotFound', `trigger not found: '${name}'`, {
      hint:
        didYouMean(name, triggers.keys()) ||
        "the app's triggers are listed by `triggerbox trigger list`",
    });
  }
  return trigger;
}

/** One line: the namespace (`shop.*` for a whole database), operation types, match, project ... */
export function describeTrigger(trigger: TriggerDef): string {
  const settings = triggerSettings(trigger);
  switch (settings.type) {
    case 'DATABASE': {
      const parts = [
        settings.collection === ''
          ? `${namespaceLabel(settings)} (all collections)`
          : namespaceLabel(settings),
        settings.operationTypes.join(',') || '(no operation types)',
      ];
      if (settings.match !== undefined) parts.push(`match ${JSON.stringify(settings.match)}`);
      if (settings.project !== undefined) parts.push(`project ${JSON.stringify(settings.project)}`);
      if (settings.fullDocument) parts.push('full_document');
      if (settings.fullDocumentBeforeChange) parts.push('full_document_before_change');
      return parts.join(' ');
    }
    case 'AUTHENTICATION':
      return `${settings.operationTypes.join(',') || 'LOGIN'} via ${settings.providers.join(',') || '(any provider)'}`;
    case 'SCHEDULED':
      return `schedule "${settings.schedule}" (UTC)`;
  }
}
