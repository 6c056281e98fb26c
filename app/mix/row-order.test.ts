import { describe, expect, it } from 'vitest';
import { shuffledRowOrder } from './row-order.ts';

describe('row order of a task epoch', () => {
  it('is a permutation of every row', () => {
    const order = shuffledRowOrder(7, 2, 0, 1000);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, row) => row));
  });

  it('is the same for the same seed, task and epoch', () => {
    expect(shuffledRowOrder(7, 2, 3, 500)).toEqual(shuffledRowOrder(7, 2, 3, 500));
  });

  it('differs between epochs, tasks and seeds', () => {
    const order = shuffledRowOrder(7, 2, 3, 500);
    expect(shuffledRowOrder(7, 2, 4, 500)).not.toEqual(order);
    expect(shuffledRowOrder(7, 1, 3, 500)).not.toEqual(order);
    expect(shuffledRowOrder(8, 2, 3, 500)).not.toEqual(order);
  });

  it('puts each row at each position with equal frequency across epochs', () => {
    // 3! = 6 orders of 3 rows; over 6000 epochs each row should start an epoch about 2000 times.
    const firsts = [0, 0, 0];
    for (let epoch = 0; epoch < 6000; epoch++) firsts[shuffledRowOrder(1, 0, epoch, 3)[0]!]!++;
    // Binomial(6000, 1/3) has a standard deviation of 36.5; 5 of them is 183.
    for (const count of firsts) expect(Math.abs(count - 2000)).toBeLessThan(183);
  });

  it('handles a task with a single row', () => {
    expect([...shuffledRowOrder(1, 0, 0, 1)]).toEqual([0]);
  });
});
