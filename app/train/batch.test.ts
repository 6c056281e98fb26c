import { describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { buildBatch, IGNORE_INDEX } from './batch.ts';

const example = (ids: number[], labels: number[], row = 1): TokenizedExample => ({
  source: { row },
  inputIds: Int32Array.from(ids),
  labels: Int32Array.from(labels),
  turnIndex: new Int32Array(ids.length),
  roles: [],
  truncatedTokens: 0,
});

describe('micro-batches', () => {
  it('shifts labels so position t predicts the label of t + 1, and pads without loss or attention', () => {
    const batch = buildBatch([{ task: 1, example: example([1, 10, 11, 12], [-100, -100, 11, 12]) }], 6);
    expect(Array.from(batch.ids)).toEqual([1, 10, 11, 12, 0, 0]);
    expect(Array.from(batch.targets)).toEqual([-100, 11, 12, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]);
    expect(Array.from(batch.segments)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(Array.from(batch.positions)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batch.labelCount).toBe(2);
  });

  it('keeps each row’s task and label count for per-task losses', () => {
    const batch = buildBatch([{ task: 0, example: example([1, 2, 3], [-100, 2, 3]) }, { task: 2, example: example([1, 5], [-100, 5]) }], 3);
    expect(Array.from(batch.rowTask)).toEqual([0, 2]);
    expect(Array.from(batch.rowLabels)).toEqual([2, 1]);
    expect(batch.labelCount).toBe(3);
  });

  it('refuses an example longer than the batch, naming its row', () => {
    expect(() => buildBatch([{ task: 0, example: example([1, 2, 3, 4], [-100, 2, 3, 4], 17) }], 3)).toThrow(/4 tokens \(row 17\) does not fit max_length 3/);
  });
});
