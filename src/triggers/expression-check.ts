/**
 * `validate`'s checks of a trigger's config beyond its shape (app/schema.ts): `match` and
 * `project` are data (SPEC section 6), so operators that run code are errors, wherever they hide;
 * a `project` either includes or excludes fields (never both, `_id` aside) and never excludes
 * `operationType` (docs includes/trigger-project-expression.rst); the schedule is CRON as the
 * platform reads it (triggers/cron.ts).
 */
import type { Diagnostic, TriggerDef } from '../app/types.js';
import { codeOperatorReason, findCodeOperators } from '../shared/query-guard.js';
import { parseCron } from './cron.js';
import { triggerSettings } from './settings.js';

/** The trigger config fields evaluated by mingo. */
export const EXPRESSION_FIELDS = ['match', 'project'] as const;

export function triggerExpressionDiagnostics(trigger: TriggerDef): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const field of EXPRESSION_FIELDS) {
    for (const use of findCodeOperators(trigger.config[field], `$.config.${field}`)) {
      diagnostics.push({
        severity: 'error',
        file: trigger.file,
        jsonPath: use.jsonPath,
        message: `${codeOperatorReason(use.operator)}; trigger '${trigger.name}' cannot fire while its ${field} holds it`,
        hint: `remove ${use.operator}: express the ${field} with query and aggregation operators ($expr, $eq, $in, $regexMatch, ...)`,
      });
    }
  }
  const settings = triggerSettings(trigger);
  if (settings.type === 'DATABASE' && settings.project !== undefined)
    diagnostics.push(...projectDiagnostics(trigger, settings.project));
  return diagnostics;
}

interface ProjectedField {
  path: string;
  jsonPath: string;
  excluded: boolean;
}

/** Each field a projection names, nested specs ({a: {b: 0}}) flattened to dotted paths. */
function projectedFields(
  spec: Record<string, unknown>,
  prefix: string,
  at: string,
): ProjectedField[] {
  const out: ProjectedField[] = [];
  for (const [key, value] of Object.entries(spec)) {
    const path = `${prefix}${key}`;
    const jsonPath = /^[A-Za-z_$][\w$]*$/.test(key)
      ? `${at}.${key}`
      : `${at}[${JSON.stringify(key)}]`;
    const isSpec =
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0 &&
      !Object.keys(value).some((k) => k.startsWith('$'));
    if (isSpec)
      out.push(...projectedFields(value as Record<string, unknown>, `${path}.`, jsonPath));
    else out.push({ path, jsonPath, excluded: value === 0 || value === false });
  }
  return out;
}

function projectDiagnostics(trigger: TriggerDef, project: Record<string, unknown>): Diagnostic[] {
  const fields = projectedFields(project, '', '$.config.project');
  const diagnostics: Diagnostic[] = [];
  const excludedOp = fields.find((f) => f.excluded && f.path === 'operationType');
  if (excludedOp !== undefined) {
    diagnostics.push({
      severity: 'error',
      file: trigger.file,
      jsonPath: excludedOp.jsonPath,
      message: `trigger '${trigger.name}' excludes operationType in its project; App Services never lets a projection exclude it (the trigger must always see the operation type)`,
      hint: 'remove "operationType": 0 from project',
    });
  }
  const included = fields.filter((f) => !f.excluded);
  const excluded = fields.filter((f) => f.excluded && f.path !== '_id');
  if (included.length > 0 && excluded.length > 0) {
    const first = excluded[0]!;
    diagnostics.push({
      severity: 'error',
      file: trigger.file,
      jsonPath: first.jsonPath,
      message: `trigger '${trigger.name}' project mixes inclusion (${included.map((f) => f.path).join(', ')}) and exclusion (${excluded.map((f) => f.path).join(', ')}); a projection is either inclusive or exclusive (only _id may be excluded from an inclusive one)`,
      hint: `keep the included fields and drop the 0s (fields not listed are left out anyway), or exclude only`,
    });
  }
  return diagnostics;
}

/** Every trigger problem `validate` reports beyond the loader's: expressions, project, schedule. */
export function triggerDiagnostics(trigger: TriggerDef): Diagnostic[] {
  const diagnostics = triggerExpressionDiagnostics(trigger);
  const settings = triggerSettings(trigger);
  if (settings.type === 'SCHEDULED' && typeof trigger.config['schedule'] === 'string') {
    for (const problem of parseCron(settings.schedule).problems)
      diagnostics.push({
        severity: problem.severity,
        file: trigger.file,
        jsonPath: '$.config.schedule',
        message: problem.message,
        hint: problem.hint,
      });
  }
  if (
    settings.type === 'DATABASE' &&
    settings.collection === '' &&
    settings.fullDocumentBeforeChange
  ) {
    diagnostics.push({
      severity: 'warning',
      file: trigger.file,
      jsonPath: '$.config.full_document_before_change',
      message: `trigger '${trigger.name}' watches a whole database; App Services disables document preimages for database-level triggers, so its events carry no fullDocumentBeforeChange there`,
      hint: 'name a collection, or set "full_document_before_change": false',
    });
  }
  return diagnostics;
}
