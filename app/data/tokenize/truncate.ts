/**
 * Cutting an encoded example to a maximum length. From the right: the first maxLength tokens stay.
 * From the left: the last tokens stay, and a BOS in front stays in front (the model was trained with
 * it there). Whatever stays first gets label -100, since nothing predicts it.
 */
import { IGNORE_INDEX } from '../example.ts';
import type { EncodedSequence } from './types.ts';

export type CutSide = 'left' | 'right';

export interface TruncatedSequence {
  readonly sequence: EncodedSequence;
  readonly droppedTokens: number;
  /** Tokens that carried loss before the cut and do not after it. */
  readonly droppedTrainedTokens: number;
}

export function truncateSequence(sequence: EncodedSequence, maxLength: number, side: CutSide, bosId: number | null): TruncatedSequence {
  const length = sequence.inputIds.length;
  if (length <= maxLength) return { sequence, droppedTokens: 0, droppedTrainedTokens: 0 };
  const keepBos = side === 'left' && bosId !== null && sequence.inputIds[0] === bosId;
  const pick = (array: Int32Array): Int32Array => {
    if (side === 'right') return array.slice(0, maxLength);
    if (!keepBos) return array.slice(length - maxLength);
    const kept = new Int32Array(maxLength);
    kept[0] = array[0]!;
    kept.set(array.subarray(length - maxLength + 1), 1);
    return kept;
  };
  const cut = { inputIds: pick(sequence.inputIds), labels: pick(sequence.labels), turnIndex: pick(sequence.turnIndex) };
  cut.labels[0] = IGNORE_INDEX;
  return {
    sequence: cut,
    droppedTokens: length - maxLength,
    droppedTrainedTokens: trainedCount(sequence.labels) - trainedCount(cut.labels),
  };
}

export function trainedCount(labels: Int32Array): number {
  let count = 0;
  for (const label of labels) if (label !== IGNORE_INDEX) count++;
  return count;
}
