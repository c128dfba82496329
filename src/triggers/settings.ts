/**
 * The one reader of a trigger's config for events, filters, `trigger list` and validate: the
 * normalised config loadApp made (app/schema.ts), or, for a TriggerDef built by hand, the same
 * normaliser's reading of its raw config, so a string `operation_types` means the same everywhere.
 */
import { normaliseTriggerConfig } from '../app/schema.js';
import type {
  AuthenticationTriggerConfig,
  DatabaseTriggerConfig,
  ScheduledTriggerConfig,
  TriggerConfig,
  TriggerDef,
} from '../app/types.js';

export function triggerSettings(trigger: TriggerDef): TriggerConfig {
  if (trigger.settings !== undefined && trigger.settings.type === trigger.type)
    return trigger.settings;
  return normaliseTriggerConfig(trigger.type, trigger.config, trigger.file, []);
}

export function databaseSettings(trigger: TriggerDef): DatabaseTriggerConfig | undefined {
  const settings = triggerSettings(trigger);
  return settings.type === 'DATABASE' ? settings : undefined;
}

export function scheduledSettings(trigger: TriggerDef): ScheduledTriggerConfig | undefined {
  const settings = triggerSettings(trigger);
  return settings.type === 'SCHEDULED' ? settings : undefined;
}

export function authenticationSettings(
  trigger: TriggerDef,
): AuthenticationTriggerConfig | undefined {
  const settings = triggerSettings(trigger);
  return settings.type === 'AUTHENTICATION' ? settings : undefined;
}

/** `shop.orders`, or `shop.*` for a whole-database trigger (`"collection": ""`). */
export function namespaceLabel(settings: DatabaseTriggerConfig): string {
  return `${settings.database}.${settings.collection === '' ? '*' : settings.collection}`;
}
