/**
 * From sampled examples to the arrays of one micro-batch: B rows of T tokens, right-padded, one
 * example per row or, packed, several short examples per row, each its own attention segment with
 * positions restarting at 0 (so it is computed exactly as on its own). Labels are shifted here (HF
 * labels are aligned with input ids; the loss at position t predicts labels[t + 1]), padding carries
 * no loss and is masked out of attention (segment 0).
 */
import { CocktailError } from '../errors.ts';
import type { TokenizedExample } from '../data/tokenize/types.ts';

export const IGNORE_INDEX = -100;

export interface HostBatch {
  B: number;
  T: number;
  ids: Uint32Array<ArrayBuffer>;
  positions: Uint32Array<ArrayBuffer>;
  /** [B, T]: 1 on an example's tokens, 0 on padding. */
  segments: Uint32Array<ArrayBuffer>;
  /** [B·T] shifted targets, IGNORE_INDEX where no loss is taken. */
  targets: Int32Array<ArrayBuffer>;
  /** Task index of each row (its first example's), for per-task losses and per-task adapters. */
  rowTask: Int32Array;
  /** Labelled positions per row. */
  rowLabels: Int32Array;
  /** Where each example went, in the order given. */
  spans: ExampleSpan[];
  labelCount: number;
}

/** One example's place in a batch: positions start .. start + length − 1 of `row`. */
export interface ExampleSpan {
  row: number;
  start: number;
  length: number;
  task: number;
  /** Labelled positions of the example (after the shift). */
  labels: number;
}

type Draw = { task: number; example: TokenizedExample };

/**
 * A training micro-batch padded to its own longest row (not the data set's), at most maxLength.
 * With packing, each example goes into the first row with room for it, in the order drawn.
 */
export function buildTrainingBatch(examples: readonly Draw[], maxLength: number, packing: boolean): HostBatch {
  const rows: { draws: Draw[]; used: number }[] = [];
  for (const draw of examples) {
    const n = draw.example.inputIds.length;
    if (n > maxLength) tooLong(draw.example, maxLength);
    const row = packing ? rows.find((candidate) => candidate.used + n <= maxLength) : undefined;
    if (row) {
      row.draws.push(draw);
      row.used += n;
    } else rows.push({ draws: [draw], used: n });
  }
  return fillBatch(rows.map((row) => row.draws), Math.max(1, ...rows.map((row) => row.used)));
}

/** One example per row, every row padded to T. */
export function buildBatch(examples: readonly Draw[], T: number, padId = 0): HostBatch {
  return fillBatch(examples.map((draw) => [draw]), T, padId);
}

/** Rows as given (several examples to a row, each its own segment), every row padded to T: evaluation packs this way. */
export function buildRowsBatch(rows: readonly (readonly Draw[])[], T: number): HostBatch {
  return fillBatch(rows, T);
}

function tooLong(example: TokenizedExample, T: number): never {
  throw new CocktailError('BATCH_TOO_LONG', `an example of ${example.inputIds.length} tokens (row ${example.source.row}) does not fit max_length ${T}; tokenize with truncation`, { row: example.source.row });
}

function fillBatch(rows: readonly (readonly Draw[])[], T: number, padId = 0): HostBatch {
  const B = rows.length;
  const ids = new Uint32Array(B * T).fill(padId);
  const positions = new Uint32Array(B * T);
  const segments = new Uint32Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const rowTask = new Int32Array(B);
  const rowLabels = new Int32Array(B);
  const spans: ExampleSpan[] = [];
  let labelCount = 0;
  rows.forEach((draws, row) => {
    rowTask[row] = draws[0]!.task;
    let start = 0;
    draws.forEach(({ task, example }, index) => {
      const n = example.inputIds.length;
      if (start + n > T) tooLong(example, T);
      const base = row * T + start;
      let labels = 0;
      for (let t = 0; t < n; t++) {
        ids[base + t] = example.inputIds[t]!;
        positions[base + t] = t;
        segments[base + t] = index + 1;
        const target = t + 1 < n ? example.labels[t + 1]! : IGNORE_INDEX;
        targets[base + t] = target;
        if (target !== IGNORE_INDEX) labels++;
      }
      spans.push({ row, start, length: n, task, labels });
      rowLabels[row]! += labels;
      start += n;
    });
    // Padding needs valid positions for RoPE; attention masks it out and it carries no loss.
    for (let t = start; t < T; t++) positions[row * T + t] = t;
    labelCount += rowLabels[row]!;
  });
  return { B, T, ids, positions, segments, targets, rowTask, rowLabels, spans, labelCount };
}
