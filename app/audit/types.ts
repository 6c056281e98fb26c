/**
 * What the audit reads and what it reports. Field names of the report are snake_case because the
 * report is also the JSON `cocktail audit --json` prints (documented in docs/audit-and-adaptive-mixing.md).
 */
import type { Example } from '../data/example.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import type { PiiKind } from './pii.ts';

/** One prepared task: its mapped rows (for text) and the same rows tokenized (for lengths and loss). */
export interface AuditTaskInput {
  name: string;
  role: 'task' | 'regularizer';
  train: readonly Example[];
  validation: readonly Example[];
  tokenizedTrain: readonly TokenizedExample[];
  tokenizedValidation: readonly TokenizedExample[];
  /** Lengths before the cut of the rows max_length dropped whole (tokenization's droppedLengths): they count as cut. */
  droppedLengths?: readonly number[];
  maxLength: number;
}

/** Where a row is: the split and its row in the file that split came from. */
export interface RowRef {
  part: 'train' | 'validation';
  row: number;
}

export interface LengthSummary {
  /** Token counts before truncation (what the row would need). */
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Counts per bin of width max_length / 10 (the last bin holds everything beyond max_length). */
  histogram: { from: number; to: number; count: number }[];
  /** Rows cut at max_length, or dropped because the cut left them nothing to learn from. */
  truncated_share: number;
  /** Tokens that carry loss over all tokens kept. */
  loss_token_share: number;
}

export interface BiasFlag {
  term: string;
  category: string;
  /** Training rows whose prompt mentions the term. */
  rows: number;
  label_counts: Record<string, number>;
  /** What the task's label distribution predicts for that many rows. */
  expected_counts: Record<string, number>;
  statistic: number;
  p_value: number;
  examples: (RowRef & { text: string })[];
}

export interface TaskAudit {
  task: string;
  role: 'task' | 'regularizer';
  /** Training plus validation rows. */
  rows: number;
  train_rows: number;
  validation_rows: number;
  /** From the mixture: examples this task will supply over the run, and passes over its rows. */
  expected_examples: number | null;
  expected_epochs: number | null;
  /** Classification: training rows per label (as written in the file); null for other formats. */
  label_counts: Record<string, number> | null;
  validation_label_counts: Record<string, number> | null;
  /** Accuracy of always answering the most frequent training label: the bar a model must beat. */
  majority: { label: string; train_accuracy: number; validation_accuracy: number | null } | null;
  lengths: LengthSummary;
  /** Within the task (training and validation rows together). */
  duplicates: { exact: number; near: number; examples: { row: RowRef; same_as: RowRef; text: string }[] };
  pii: Record<PiiKind, number> & { examples: (RowRef & { kind: PiiKind; match: string })[] };
  /** Terms mentioned by enough rows to test, and the Bonferroni-corrected level each was tested at. */
  bias_tested: number;
  bias_level: number;
  bias_flags: BiasFlag[];
}

export interface CrossAudit {
  /** Training rows of task_b whose input also is a training input of task_a (a before b in recipe order). */
  duplicates: { task_a: string; task_b: string; count: number; examples: { row_a: number; row_b: number; text: string }[] }[];
  /** Validation rows of validation_task whose input is a training input of train_task (same task included). */
  leakage: { train_task: string; validation_task: string; count: number; examples: { train_row: number; validation_row: number; text: string }[] }[];
}

export type Severity = 'error' | 'warning' | 'info';

/** A recipe edit the studio applies in one click (app/audit/actions.ts). */
export type RecipeChange =
  | { type: 'set_max_examples'; task: string; value: number }
  | { type: 'set_role'; task: string; role: 'regularizer' }
  | { type: 'set_drop_duplicates'; task: string }
  | { type: 'set_temperature'; temperature: number }
  | { type: 'set_max_length'; value: number };

export interface Finding {
  severity: Severity;
  /** The task it concerns; null for the mixture as a whole. */
  task: string | null;
  kind: 'prepare' | 'size' | 'balance' | 'length' | 'duplicates' | 'cross_duplicates' | 'leakage' | 'bias' | 'pii';
  message: string;
  /** What to do, in words. */
  action: string;
  /** The recipe change that does it, where it is one. */
  change: RecipeChange | null;
}

export interface AuditReport {
  tasks: Record<string, TaskAudit>;
  /** Tasks that could not be prepared, with their error; the others are audited all the same. */
  failed: { task: string; code: string; message: string }[];
  cross: CrossAudit;
  findings: Finding[];
}

export interface AuditProgress {
  task: string;
  stage: 'prepare' | 'audit' | 'cross';
  done: number;
  total: number;
}
