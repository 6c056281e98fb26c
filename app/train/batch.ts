/**
 * From sampled examples to the arrays of one micro-batch: B rows of T tokens, one example per row,
 * right-padded. Labels are shifted here (HF labels are aligned with input ids; the loss at position t
 * predicts labels[t + 1]), padding carries no loss and is masked out of attention (segment 0).
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
  /** Task index of each row, for per-task losses. */
  rowTask: Int32Array;
  /** Labelled positions per row. */
  rowLabels: Int32Array;
  labelCount: number;
}

export function buildBatch(examples: readonly { task: number; example: TokenizedExample }[], T: number, padId = 0): HostBatch {
  const B = examples.length;
  const ids = new Uint32Array(B * T).fill(padId);
  const positions = new Uint32Array(B * T);
  const segments = new Uint32Array(B * T);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const rowTask = new Int32Array(B);
  const rowLabels = new Int32Array(B);
  let labelCount = 0;
  examples.forEach(({ task, example }, row) => {
    const n = example.inputIds.length;
    if (n > T) {
      throw new CocktailError('BATCH_TOO_LONG', `an example of ${n} tokens (row ${example.source.row}) does not fit max_length ${T}; tokenize with truncation`, { row: example.source.row });
    }
    rowTask[row] = task;
    const base = row * T;
    for (let t = 0; t < n; t++) {
      ids[base + t] = example.inputIds[t]!;
      positions[base + t] = t;
      segments[base + t] = 1;
      const target = t + 1 < n ? example.labels[t + 1]! : IGNORE_INDEX;
      targets[base + t] = target;
      if (target !== IGNORE_INDEX) rowLabels[row]!++;
    }
    // Padding needs valid positions for RoPE; attention masks it out and it carries no loss.
    for (let t = n; t < T; t++) positions[base + t] = t;
    labelCount += rowLabels[row]!;
  });
  return { B, T, ids, positions, segments, targets, rowTask, rowLabels, labelCount };
}
