import { describe, expect, it } from 'vitest';
import type { TokenizedExample } from '../data/tokenize/types.ts';
import { buildBatch, buildTrainingBatch, IGNORE_INDEX } from './batch.ts';

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

describe('training micro-batches', () => {
  const draw = (task: number, length: number, row: number) => ({ task, example: example(Array.from({ length }, (_, t) => 10 * row + t), Array.from({ length }, (_, t) => (t === 0 ? -100 : 10 * row + t)), row) });

  it('pads each batch to its own longest row, not to max_length', () => {
    const batch = buildTrainingBatch([draw(0, 3, 1), draw(0, 5, 2)], 64, false);
    expect([batch.B, batch.T]).toEqual([2, 5]);
    expect(Array.from(batch.segments)).toEqual([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('packs short examples into rows, each its own segment with positions from 0 and its own shifted labels', () => {
    const batch = buildTrainingBatch([draw(0, 3, 1), draw(1, 4, 2), draw(0, 5, 3), draw(1, 2, 4)], 8, true);
    // First fit in the order drawn: [3 + 4], [5 + 2].
    expect([batch.B, batch.T]).toEqual([2, 7]);
    expect(Array.from(batch.segments)).toEqual([1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 2, 2]);
    expect(Array.from(batch.positions)).toEqual([0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3, 4, 0, 1]);
    expect(Array.from(batch.ids)).toEqual([10, 11, 12, 20, 21, 22, 23, 30, 31, 32, 33, 34, 40, 41]);
    // The last token of each example predicts nothing: no label crosses into the next example.
    expect(Array.from(batch.targets)).toEqual([11, 12, -100, 21, 22, 23, -100, 31, 32, 33, 34, -100, 41, -100]);
    expect(batch.spans).toEqual([
      { row: 0, start: 0, length: 3, task: 0, labels: 2 },
      { row: 0, start: 3, length: 4, task: 1, labels: 3 },
      { row: 1, start: 0, length: 5, task: 0, labels: 4 },
      { row: 1, start: 5, length: 2, task: 1, labels: 1 },
    ]);
    expect(batch.labelCount).toBe(10);
    expect(batch.labelCount).toBe(buildTrainingBatch([draw(0, 3, 1), draw(1, 4, 2), draw(0, 5, 3), draw(1, 2, 4)], 8, false).labelCount);
  });

  it('refuses an example longer than max_length, packed or not, naming its row', () => {
    expect(() => buildTrainingBatch([draw(0, 9, 5)], 8, true)).toThrow(/9 tokens \(row 5\) does not fit max_length 8/);
  });
});
