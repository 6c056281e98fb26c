/**
 * Evaluation batches with several sequences per row. Scoring label words needs one short forward per
 * (prompt, label word) pair; giving each pair a whole [B, T] row (or, as before, a whole forward per
 * prompt) wastes most of the work on padding. Here sequences are laid end to end in rows of T tokens,
 * each its own attention segment with positions from 0 (batch.ts), so a sequence's per-token losses
 * are exactly those it has alone in a row.
 */
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { buildRowsBatch, type HostBatch } from './batch.ts';

export interface PackedBatch {
  batch: HostBatch;
  /** The batch's segment ids are bit sets of candidate trees (eval-tree-packing.ts) rather than one id per sequence. */
  segmentBits: boolean;
  /** For each sequence of the batch: its index in the input, and where its tokens start in the flat [B·T] arrays. */
  places: { sequence: number; start: number; length: number }[];
}

/** Packs sequences in order (next fit): a row takes sequences while they fit, a batch takes B rows. */
export function packSequences(sequences: readonly TokenizedExample[], B: number, T: number): PackedBatch[] {
  const rows: number[][] = [];
  let used = T;
  sequences.forEach((sequence, index) => {
    const n = sequence.inputIds.length;
    if (used + n > T) {
      rows.push([]);
      used = 0;
    }
    rows.at(-1)!.push(index);
    used += n;
  });
  const batches: PackedBatch[] = [];
  for (let first = 0; first < rows.length; first += B) {
    const members = rows.slice(first, first + B);
    // buildRowsBatch refuses a sequence longer than T with BATCH_TOO_LONG, naming its row.
    const batch = buildRowsBatch(members.map((row) => row.map((index) => ({ task: 0, example: sequences[index]! }))), T);
    const order = members.flat();
    batches.push({ batch, segmentBits: false, places: batch.spans.map((span, i) => ({ sequence: order[i]!, start: span.row * T + span.start, length: span.length })) });
  }
  return batches;
}
