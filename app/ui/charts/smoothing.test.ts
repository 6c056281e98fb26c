import { describe, expect, it } from 'vitest';
import { smoothRows } from './smoothing.ts';

describe('EMA smoothing of per-step charts', () => {
  it('is the debiased exponential moving average, computed here step by step in Float64', () => {
    const values = [4, 2, 3, 1, 5];
    const w = 0.6;
    const rows = values.map((loss, i) => ({ step: i + 1, loss }));
    const expected: number[] = [];
    let biased = 0;
    values.forEach((value, i) => {
      biased = w * biased + (1 - w) * value;
      expected.push(biased / (1 - w ** (i + 1)));
    });
    const smoothed = smoothRows(rows, ['loss'], w).map((row) => row.loss);
    smoothed.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 12));
    // The first point is the first value (debiased), not pulled towards zero.
    expect(smoothed[0]).toBeCloseTo(4, 12);
    // Known answer for the second: (0.6·0.4·4 + 0.4·2) / (1 − 0.36) = 1.76 / 0.64.
    expect(smoothed[1]).toBeCloseTo(2.75, 12);
  });

  it('keeps steps without a value empty and carries the average over the gap; leaves the step and other keys alone', () => {
    const rows = [
      { step: 1, task0: 2, lr: 0.1 },
      { step: 2, task0: null, lr: 0.2 },
      { step: 3, task0: 4, lr: 0.3 },
    ];
    const smoothed = smoothRows(rows, ['task0'], 0.5);
    expect(smoothed.map((row) => row.task0)).toEqual([2, null, (0.5 * 0.5 * 2 + 0.5 * 4) / (1 - 0.25)]);
    expect(smoothed.map((row) => [row.step, row.lr])).toEqual(rows.map((row) => [row.step, row.lr]));
  });

  it('leaves the values as they are at weight 0, and does not change the rows it was given', () => {
    const rows = [{ step: 1, loss: 3 }, { step: 2, loss: 1 }];
    expect(smoothRows(rows, ['loss'], 0)).toEqual(rows);
    smoothRows(rows, ['loss'], 0.9);
    expect(rows).toEqual([{ step: 1, loss: 3 }, { step: 2, loss: 1 }]);
  });
});
