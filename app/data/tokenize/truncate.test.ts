import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../example.ts';
import { trainedCount, truncateSequence } from './truncate.ts';
import type { EncodedSequence } from './types.ts';

const I = IGNORE_INDEX;
/** BOS, a five-token prompt, a three-token answer and EOS. */
const sequence: EncodedSequence = {
  inputIds: Int32Array.from([1, 10, 11, 12, 13, 14, 20, 21, 22, 2]),
  labels: Int32Array.from([I, I, I, I, I, I, 20, 21, 22, 2]),
  turnIndex: Int32Array.from([-1, 0, 0, 0, 0, 0, 1, 1, 1, 1]),
};

describe('truncation', () => {
  it('leaves an example that fits untouched', () => {
    expect(truncateSequence(sequence, 10, 'left', 1)).toEqual({ sequence, droppedTokens: 0, droppedTrainedTokens: 0 });
  });

  it('cuts the prompt from the left, keeping BOS in front and the answer with its EOS', () => {
    const { sequence: cut, droppedTokens, droppedTrainedTokens } = truncateSequence(sequence, 6, 'left', 1);
    expect(Array.from(cut.inputIds)).toEqual([1, 14, 20, 21, 22, 2]);
    expect(Array.from(cut.labels)).toEqual([I, I, 20, 21, 22, 2]);
    expect(Array.from(cut.turnIndex)).toEqual([-1, 0, 1, 1, 1, 1]);
    expect([droppedTokens, droppedTrainedTokens]).toEqual([4, 0]);
  });

  it('takes the label off the first token left after a cut from the left without BOS, since nothing predicts it', () => {
    const { sequence: cut, droppedTrainedTokens } = truncateSequence(sequence, 3, 'left', null);
    expect(Array.from(cut.inputIds)).toEqual([21, 22, 2]);
    expect(Array.from(cut.labels)).toEqual([I, 22, 2]);
    expect(droppedTrainedTokens).toBe(2);
  });

  it('cuts from the right, which can leave no trained token at all', () => {
    const { sequence: cut, droppedTokens, droppedTrainedTokens } = truncateSequence(sequence, 5, 'right', 1);
    expect(Array.from(cut.inputIds)).toEqual([1, 10, 11, 12, 13]);
    expect(trainedCount(cut.labels)).toBe(0);
    expect([droppedTokens, droppedTrainedTokens]).toEqual([5, 4]);
  });

  it('does not change the arrays it was given', () => {
    const before = structuredClone(sequence);
    truncateSequence(sequence, 4, 'left', 1);
    truncateSequence(sequence, 4, 'right', 1);
    expect(sequence).toEqual(before);
  });
});
