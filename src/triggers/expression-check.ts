/**
 * `validate`'s check of what a trigger hands to the query engine: `match` and `project` are data
 * (SPEC section 6), so operators that run code are errors, wherever they hide.
 */
import type { Diagnostic, TriggerDef } from '../app/types.js';
import { codeOperatorReason, findCodeOperators } from '../shared/query-guard.js';

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
  return diagnostics;
}
