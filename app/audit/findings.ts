/**
 * Findings: each problem the audit sees, with a severity, what to do, and the recipe change that does
 * it where there is one. Thresholds are stated here and in the docs.
 */
import type { AuditReport, Finding, TaskAudit } from './types.ts';

export const THRESHOLDS = {
  /** A task seen fewer times than this over the run is under-used... */
  minEpochs: 1,
  /** ...and more than this, likely memorized. */
  maxEpochs: 10,
  /** Task sizes this many times apart under proportional sampling: the small task is drowned out. */
  sizeRatio: 10,
  /** Majority label share above which a task is called imbalanced. */
  majorityShare: 0.7,
  /** Share of rows cut at max_length above which raising it is suggested. */
  truncatedShare: 0.05,
};

/** The length a task was cut at, and the model's context (positions) when the audit knows it. */
export interface LengthLimits {
  maxLength: number;
  contextLength?: number;
}

export function taskFindings(audit: TaskAudit, strategy: string, limits?: LengthLimits): Finding[] {
  const findings: Finding[] = [];
  const task = audit.task;
  const add = (finding: Omit<Finding, 'task'>): void => {
    findings.push({ task, ...finding });
  };
  const epochs = audit.expected_epochs;
  if (epochs !== null && epochs < THRESHOLDS.minEpochs) {
    const keep = Math.max(1, Math.ceil(audit.expected_examples ?? 0));
    add({ severity: 'warning', kind: 'size', message: `"${task}" will be seen ${epochs.toFixed(2)} times over the run: ${Math.round((1 - epochs) * 100)}% of its training rows are never drawn.`, action: `cap it at the ${keep} rows the run will draw, or train longer`, change: { type: 'set_max_examples', task, value: keep } });
  }
  if (epochs !== null && epochs > THRESHOLDS.maxEpochs) {
    add({
      severity: 'warning',
      kind: 'size',
      message: `"${task}" will be seen ${epochs.toFixed(1)} times over the run: the model is likely to memorize it.`,
      action: audit.role === 'task' ? 'mark it as a regularizer (a fixed share of the draws), or train for fewer steps' : 'lower the regularizer share, or train for fewer steps',
      change: audit.role === 'task' && strategy !== 'proportional' ? { type: 'set_role', task, role: 'regularizer' } : null,
    });
  }
  if (audit.majority && audit.majority.train_accuracy > THRESHOLDS.majorityShare) {
    add({ severity: 'warning', kind: 'balance', message: `"${task}" is imbalanced: "${audit.majority.label}" is ${(audit.majority.train_accuracy * 100).toFixed(1)}% of its training rows; always answering it scores ${((audit.majority.validation_accuracy ?? audit.majority.train_accuracy) * 100).toFixed(1)}% on validation.`, action: 'judge its accuracy against that bar, or rebalance the file', change: null });
  } else if (audit.majority) {
    add({ severity: 'info', kind: 'balance', message: `"${task}": always answering "${audit.majority.label}" scores ${((audit.majority.validation_accuracy ?? audit.majority.train_accuracy) * 100).toFixed(1)}% on validation; a trained model must beat that.`, action: 'compare its accuracy with this bar', change: null });
  }
  if (audit.label_counts && audit.validation_label_counts && audit.validation_rows > 0) {
    const missing = Object.keys(audit.label_counts).filter((label) => !(audit.validation_label_counts![label]! > 0));
    if (missing.length > 0) add({ severity: 'warning', kind: 'balance', message: `"${task}"'s validation split has no row labelled ${missing.map((label) => JSON.stringify(label)).join(', ')}.`, action: 'raise validation_fraction, or give a validation file with every label', change: null });
  }
  if (audit.lengths.truncated_share > THRESHOLDS.truncatedShare) add(lengthFinding(audit, limits));
  if (audit.duplicates.exact > 0) {
    add({ severity: 'warning', kind: 'duplicates', message: `"${task}" has ${audit.duplicates.exact} exact duplicate row${audit.duplicates.exact === 1 ? '' : 's'} (same prompt and answer as an earlier row).`, action: 'drop duplicates', change: { type: 'set_drop_duplicates', task } });
  }
  if (audit.duplicates.near > 0) {
    add({ severity: 'info', kind: 'duplicates', message: `"${task}" has ${audit.duplicates.near} near duplicate${audit.duplicates.near === 1 ? '' : 's'} (equal once case, punctuation and spacing are ignored).`, action: 'look at the examples; edit the file if they are the same row', change: null });
  }
  const personal = audit.pii.email + audit.pii.phone + audit.pii.card;
  if (personal > 0) {
    add({ severity: 'warning', kind: 'pii', message: `"${task}" contains what looks like personal data: ${audit.pii.email} e-mail address(es), ${audit.pii.phone} phone number(s), ${audit.pii.card} card-like number(s).`, action: 'redact them in the file before training: a model can repeat what it was trained on', change: null });
  }
  if (audit.pii.url > 0) add({ severity: 'info', kind: 'pii', message: `"${task}" contains ${audit.pii.url} URL(s).`, action: 'check that none identifies a person', change: null });
  for (const flag of audit.bias_flags) {
    const counts = Object.entries(flag.label_counts).map(([label, count]) => `${label} ${count}`).join(', ');
    add({ severity: 'warning', kind: 'bias', message: `In "${task}", rows mentioning "${flag.term}" (${flag.category}) are labelled ${counts}, unlike the task as a whole (chi-square p = ${flag.p_value.toExponential(2)} < ${audit.bias_level.toExponential(2)}).`, action: 'read the examples: balance the rows that mention the term, or check their labels', change: null });
  }
  return findings;
}

/**
 * Rows cut at max_length: raise it to the p99 length, but never past the model's context, which a run
 * clamps max_length to (app/train/context-length.ts); rows longer than the context are cut whatever the recipe says.
 */
function lengthFinding(audit: TaskAudit, limits: LengthLimits | undefined): Omit<Finding, 'task'> {
  const { p99 } = audit.lengths;
  const cut = `${(audit.lengths.truncated_share * 100).toFixed(1)}% of "${audit.task}"'s rows are cut at max_length`;
  const context = limits?.contextLength;
  if (context === undefined || p99 <= context) {
    return { severity: 'warning', kind: 'length', message: `${cut}; 99% of them need ${p99} tokens or fewer.`, action: `raise max_length to ${p99}`, change: { type: 'set_max_length', value: p99 } };
  }
  const beyond = `99% of them need ${p99} tokens or fewer, more than the model's context (${context} tokens): rows longer than that will be cut, or dropped when the cut leaves no answer tokens, whatever max_length says.`;
  if (limits!.maxLength < context) {
    return { severity: 'warning', kind: 'length', message: `${cut}; ${beyond}`, action: `raise max_length to ${context}, the model's context; shorten the longest rows or choose a model with a longer context for the rest`, change: { type: 'set_max_length', value: context } };
  }
  return { severity: 'warning', kind: 'length', message: `${cut}, already the model's context (${context} tokens); ${beyond}`, action: 'shorten the longest rows, or choose a model with a longer context', change: null };
}

export function mixtureFindings(tasks: readonly TaskAudit[], strategy: string): Finding[] {
  const trained = tasks.filter((task) => task.role === 'task');
  if (trained.length < 2 || strategy !== 'proportional') return [];
  const sizes = trained.map((task) => task.train_rows);
  const ratio = Math.max(...sizes) / Math.min(...sizes);
  if (ratio < THRESHOLDS.sizeRatio) return [];
  const small = trained[sizes.indexOf(Math.min(...sizes))]!.task;
  return [{ severity: 'warning', task: null, kind: 'size', message: `Task sizes differ ${ratio.toFixed(0)}-fold under proportional sampling: "${small}" gets so few draws that the model may ignore it.`, action: 'raise the temperature (T = 2 samples ∝ √n)', change: { type: 'set_temperature', temperature: 2 } }];
}

export function crossFindings(report: Pick<AuditReport, 'cross'>): Finding[] {
  const findings: Finding[] = [];
  for (const entry of report.cross.duplicates) {
    findings.push({ severity: 'warning', task: entry.task_b, kind: 'cross_duplicates', message: `${entry.count} training input(s) of "${entry.task_b}" also are training inputs of "${entry.task_a}".`, action: `remove them from one of the two files, or keep them on purpose`, change: null });
  }
  for (const entry of report.cross.leakage) {
    const same = entry.train_task === entry.validation_task;
    findings.push({
      severity: 'error',
      task: entry.validation_task,
      kind: 'leakage',
      message: `${entry.count} validation row(s) of "${entry.validation_task}" appear in the training rows of ${same ? 'the same task' : `"${entry.train_task}"`}: its validation scores would be flattered.`,
      action: `remove those rows from ${same ? 'its training file' : `"${entry.train_task}"'s file`}`,
      change: null,
    });
  }
  return findings;
}
