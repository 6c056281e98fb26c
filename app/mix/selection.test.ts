import { describe, expect, it } from 'vitest';
import { isRegularizerTurn, pickByProbability, regularizerTurnsBefore, roundRobinTask } from './selection.ts';
import type { MixTask } from './types.ts';
import { resolveMixPlan } from './validate.ts';

function mixWith(tasks: MixTask[], regularizerShare: number) {
  return resolveMixPlan({ tasks, strategy: { kind: 'round-robin' }, regularizerShare, sampleBy: 'example', batchSize: 1, totalSteps: 10 });
}

describe('picking by probability', () => {
  it('returns the task whose cumulative probability first exceeds u', () => {
    const p = [0.2, 0.3, 0.5];
    expect(pickByProbability(p, 0)).toBe(0);
    expect(pickByProbability(p, 0.1999)).toBe(0);
    expect(pickByProbability(p, 0.2)).toBe(1);
    expect(pickByProbability(p, 0.5)).toBe(2);
    expect(pickByProbability(p, 0.9999999)).toBe(2);
  });

  it('never returns a task with probability 0', () => {
    expect(pickByProbability([0.5, 0, 0.5, 0], 0.5)).toBe(2);
    expect(pickByProbability([0.5, 0, 0.5, 0], 0.99999999999)).toBe(2);
  });

  it('returns the last possible task when rounding leaves the total below u', () => {
    expect(pickByProbability([0.3, 0.3, 0.3999999999, 0], 0.99999999999)).toBe(2);
  });
});

describe('regularizer turns', () => {
  const mix = mixWith([{ name: 'a', examples: 5 }, { name: 'r', examples: 5, role: 'regularizer' }], 0.15);

  it('after C choices, exactly ⌊C·r⌋ went to regularizers', () => {
    let turns = 0;
    for (let choice = 0; choice < 10_000; choice++) {
      expect(turns).toBe(Math.floor(choice * 0.15));
      if (isRegularizerTurn(mix, choice)) turns++;
    }
    expect(regularizerTurnsBefore(mix, 10_000)).toBe(turns);
  });

  it('never gives a turn to regularizers when there are none', () => {
    const without = mixWith([{ name: 'a', examples: 5 }], 0.5);
    expect(Array.from({ length: 100 }, (_, choice) => isRegularizerTurn(without, choice)).some(Boolean)).toBe(false);
  });
});

describe('round-robin', () => {
  it('visits the tasks in order, again and again', () => {
    const mix = mixWith([{ name: 'a', examples: 5 }, { name: 'b', examples: 50 }, { name: 'c', examples: 500 }], 0.15);
    expect(Array.from({ length: 7 }, (_, choice) => roundRobinTask(mix, choice))).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('interleaves the regularizers, in turn, at their share', () => {
    const mix = mixWith(
      [
        { name: 'a', examples: 5 },
        { name: 'r1', examples: 5, role: 'regularizer' },
        { name: 'b', examples: 5 },
        { name: 'r2', examples: 5, role: 'regularizer' },
      ],
      0.25,
    );
    // r = 1/4: choices 3, 7, 11, 15 are regularizer turns.
    const order = Array.from({ length: 16 }, (_, choice) => roundRobinTask(mix, choice));
    expect(order).toEqual([0, 2, 0, 1, 2, 0, 2, 3, 0, 2, 0, 1, 2, 0, 2, 3]);
  });
});
