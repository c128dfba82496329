/** Looking triggers up and describing them in one line, for `trigger list`. */
import type { TriggerDef } from '../app/types.js';
import { TriggerboxError } from '../shared/errors.js';
import { didYouMean } from '../shared/suggest.js';
import { configList } from './config-list.js';

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

export function describeTrigger(trigger: TriggerDef): string {
  const c = trigger.config;
  switch (trigger.type) {
    case 'DATABASE': {
      const parts = [
        `${String(c['database'])}.${String(c['collection'])}`,
        configList(c['operation_types']).join(',') || '(no operation types)',
      ];
      if (c['match'] !== undefined && Object.keys(c['match'] as object).length > 0)
        parts.push(`match ${JSON.stringify(c['match'])}`);
      if (c['project'] !== undefined && Object.keys(c['project'] as object).length > 0)
        parts.push(`project ${JSON.stringify(c['project'])}`);
      if (c['full_document'] === true) parts.push('full_document');
      if (c['full_document_before_change'] === true) parts.push('full_document_before_change');
      return parts.join(' ');
    }
    case 'AUTHENTICATION':
      return `${configList(c['operation_type']).join(',') || 'LOGIN'} via ${configList(c['providers']).join(',') || '(any provider)'}`;
    case 'SCHEDULED':
      return `schedule "${String(c['schedule'])}" (UTC)`;
  }
}
