/** Data audits over prepared tasks: balance, lengths, duplicates, leakage, bias probes, personal data. */
export type * from './types.ts';
export { runAudit, type AuditOptions, type TaskAuditCache, type TaskAuditCore } from './audit.ts';
export { DEFAULT_TERM_LIST, parseTermList, type TermCategory } from './terms.ts';
export { applyRecipeChange, describeRecipeChange } from './actions.ts';
export { THRESHOLDS } from './findings.ts';
export { DEFAULT_TASK_AUDIT_OPTIONS } from './task-audit.ts';
