/**
 * The audit of one prepared task: label balance, token lengths, duplicates within the task, personal
 * data, and the bias probes. Reads every row once, in slices (stream.ts).
 */
import { IGNORE_INDEX, type Example } from '../data/example.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { findPii, PII_KINDS } from './pii.ts';
import { chiSquarePValue, chiSquareStatistic, quantile } from './statistics.ts';
import { atRow, type StreamContext } from './stream.ts';
import { termPattern, type TermCategory } from './terms.ts';
import { exactKey, exampleText, nearKey, snippet } from './text.ts';
import type { AuditTaskInput, BiasFlag, LengthSummary, RowRef, TaskAudit } from './types.ts';

export interface TaskAuditOptions {
  terms: readonly TermCategory[];
  /** Family-wise level of the bias probes of one task, split over the terms tested (Bonferroni). */
  biasAlpha: number;
  /** A term is tested only when at least this many training rows mention it. */
  biasMinRows: number;
  /** Examples kept per list. */
  maxExamples: number;
}

export const DEFAULT_TASK_AUDIT_OPTIONS: Omit<TaskAuditOptions, 'terms'> = { biasAlpha: 0.01, biasMinRows: 10, maxExamples: 5 };

export async function auditTask(input: AuditTaskInput, options: TaskAuditOptions, context: StreamContext = {}): Promise<Omit<TaskAudit, 'expected_examples' | 'expected_epochs'>> {
  const rows = [...input.train.map((example) => ({ part: 'train' as const, example })), ...input.validation.map((example) => ({ part: 'validation' as const, example }))];
  const exactSeen = new Map<string, RowRef>();
  const nearSeen = new Map<string, RowRef>();
  const duplicates: TaskAudit['duplicates'] = { exact: 0, near: 0, examples: [] };
  const pii: TaskAudit['pii'] = { email: 0, phone: 0, card: 0, url: 0, examples: [] };
  const trainLabels = new Map<string, number>();
  const validationLabels = new Map<string, number>();
  const patterns = options.terms.flatMap((category) => category.terms.map((term) => ({ term, category: category.category, pattern: termPattern(term) })));
  const termRows = patterns.map(() => ({ labels: new Map<string, number>(), examples: [] as (RowRef & { text: string })[] }));
  let hasLabels = false;

  for (const [index, { part, example }] of rows.entries()) {
    await atRow(index, rows.length, context, input.name);
    const ref: RowRef = { part, row: example.source.row };
    const text = exampleText(example);
    const exact = exactKey(text);
    const near = nearKey(text);
    const earlierExact = exactSeen.get(exact);
    const earlierNear = nearSeen.get(near);
    if (earlierExact) {
      duplicates.exact++;
      if (duplicates.examples.length < options.maxExamples) duplicates.examples.push({ row: ref, same_as: earlierExact, text: snippet(text) });
    } else {
      exactSeen.set(exact, ref);
      if (earlierNear) {
        duplicates.near++;
        if (duplicates.examples.length < options.maxExamples) duplicates.examples.push({ row: ref, same_as: earlierNear, text: snippet(text) });
      }
    }
    if (!earlierNear) nearSeen.set(near, ref);

    const found = findPii(`${text.prompt}\n${text.answer}`);
    for (const kind of PII_KINDS) {
      pii[kind] += found[kind].length;
      for (const match of found[kind]) if (pii.examples.length < options.maxExamples * PII_KINDS.length && pii.examples.filter((e) => e.kind === kind).length < options.maxExamples) pii.examples.push({ ...ref, kind, match });
    }

    const label = labelOf(example);
    if (label === undefined) continue;
    hasLabels = true;
    const counts = part === 'train' ? trainLabels : validationLabels;
    counts.set(label, (counts.get(label) ?? 0) + 1);
    if (part !== 'train') continue;
    const probed = text.prompt === '' ? text.answer : text.prompt;
    patterns.forEach(({ pattern }, p) => {
      if (!pattern.test(probed)) return;
      const seen = termRows[p]!;
      seen.labels.set(label, (seen.labels.get(label) ?? 0) + 1);
      if (seen.examples.length < options.maxExamples) seen.examples.push({ ...ref, text: snippet(text) });
    });
  }
  context.onProgress?.(rows.length, rows.length);

  const labelCounts = hasLabels ? sortedRecord(trainLabels) : null;
  const validationCounts = hasLabels ? sortedRecord(validationLabels) : null;
  const bias = hasLabels ? biasFlags(labelCounts!, patterns, termRows, options) : { tested: 0, level: options.biasAlpha, flags: [] };
  return {
    task: input.name,
    role: input.role,
    rows: rows.length,
    train_rows: input.train.length,
    validation_rows: input.validation.length,
    label_counts: labelCounts,
    validation_label_counts: validationCounts,
    majority: labelCounts ? majorityOf(labelCounts, validationCounts!) : null,
    lengths: lengthSummary([...input.tokenizedTrain, ...input.tokenizedValidation], input.droppedLengths ?? [], input.maxLength),
    duplicates,
    pii,
    bias_tested: bias.tested,
    bias_level: bias.level,
    bias_flags: bias.flags,
  };
}

function labelOf(example: Example): string | undefined {
  return example.kind === 'conversation' && example.expected?.kind === 'label' ? example.expected.label : undefined;
}

function sortedRecord(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

function majorityOf(train: Record<string, number>, validation: Record<string, number>): NonNullable<TaskAudit['majority']> {
  const [label] = Object.entries(train).reduce((best, entry) => (entry[1] > best[1] ? entry : best));
  const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
  const validationTotal = total(validation);
  return { label, train_accuracy: train[label]! / total(train), validation_accuracy: validationTotal > 0 ? (validation[label] ?? 0) / validationTotal : null };
}

/**
 * For each term mentioned by at least biasMinRows training rows: Pearson's chi-square of its rows'
 * label counts against counts in the task's proportions, k − 1 degrees of freedom; flagged when
 * p < biasAlpha / (terms tested).
 */
function biasFlags(
  taskCounts: Record<string, number>,
  patterns: readonly { term: string; category: string }[],
  termRows: readonly { labels: Map<string, number>; examples: (RowRef & { text: string })[] }[],
  options: TaskAuditOptions,
): { tested: number; level: number; flags: BiasFlag[] } {
  const labels = Object.keys(taskCounts);
  const total = Object.values(taskCounts).reduce((a, b) => a + b, 0);
  const candidates = patterns.flatMap((pattern, p) => {
    const rows = [...termRows[p]!.labels.values()].reduce((a, b) => a + b, 0);
    return rows >= options.biasMinRows && labels.length > 1 ? [{ ...pattern, p, rows }] : [];
  });
  const level = options.biasAlpha / Math.max(1, candidates.length);
  const flags: BiasFlag[] = [];
  for (const candidate of candidates) {
    const seen = termRows[candidate.p]!;
    const observed = labels.map((label) => seen.labels.get(label) ?? 0);
    const expected = labels.map((label) => (candidate.rows * taskCounts[label]!) / total);
    const statistic = chiSquareStatistic(observed, expected);
    const pValue = chiSquarePValue(statistic, labels.length - 1);
    if (pValue >= level) continue;
    flags.push({
      term: candidate.term,
      category: candidate.category,
      rows: candidate.rows,
      label_counts: Object.fromEntries(labels.map((label, i) => [label, observed[i]!])),
      expected_counts: Object.fromEntries(labels.map((label, i) => [label, expected[i]!])),
      statistic,
      p_value: pValue,
      examples: seen.examples,
    });
  }
  return { tested: candidates.length, level, flags };
}

function lengthSummary(examples: readonly TokenizedExample[], droppedLengths: readonly number[], maxLength: number): LengthSummary {
  // Rows dropped for length are part of the picture: with prompts never cut, most overlong rows are dropped, not cut.
  const full = [...examples.map((example) => example.inputIds.length + example.truncatedTokens), ...droppedLengths].sort((a, b) => a - b);
  let kept = 0;
  let withLoss = 0;
  for (const example of examples) {
    kept += example.inputIds.length;
    for (const label of example.labels) if (label !== IGNORE_INDEX) withLoss++;
  }
  const width = Math.max(1, Math.ceil(maxLength / 10));
  const histogram = Array.from({ length: 11 }, (_, bin) => ({ from: bin * width, to: bin === 10 ? Math.max(maxLength, full.at(-1) ?? 0) : (bin + 1) * width, count: 0 }));
  for (const length of full) histogram[length > maxLength ? 10 : Math.min(9, Math.floor((length - 1) / width))]!.count++;
  return {
    mean: full.length > 0 ? full.reduce((a, b) => a + b, 0) / full.length : 0,
    min: full[0] ?? 0,
    p50: quantile(full, 0.5),
    p90: quantile(full, 0.9),
    p99: quantile(full, 0.99),
    max: full.at(-1) ?? 0,
    histogram,
    truncated_share: full.length > 0 ? (examples.filter((example) => example.truncatedTokens > 0).length + droppedLengths.length) / full.length : 0,
    loss_token_share: kept > 0 ? withLoss / kept : 0,
  };
}
