import { describe, expect, it } from 'vitest';
import { routerSplit } from './balance.ts';
import { decide } from './decide.ts';

const pool = (name: string, count: number) => ({ name, items: Array.from({ length: count }, (_, i) => `${name}-${i}`) });
const counts = (items: { label: number }[], experts: number) => Array.from({ length: experts }, (_, k) => items.filter((item) => item.label === k).length);

describe('the router’s balanced training set', () => {
  it('takes the smallest task’s count from every expert, after an equal held-out slice, with no prompt in both', () => {
    const split = routerSplit([pool('fpb', 500), pool('gsm8k', 50), pool('alpaca', 80)], { balance: 'balanced', seed: 1 });
    expect(split.heldOutCounts).toEqual([10, 10, 10]);
    expect(split.trainCounts).toEqual([40, 40, 40]);
    expect(counts(split.train, 3)).toEqual([40, 40, 40]);
    expect(counts(split.heldOut, 3)).toEqual([10, 10, 10]);
    const held = new Set(split.heldOut.map(({ item }) => item));
    expect(split.train.filter(({ item }) => held.has(item))).toEqual([]);
    expect(new Set(split.train.map(({ item }) => item)).size).toBe(120);
  });

  it('keeps the ten-to-one imbalance when asked for "unbalanced", and caps at per-expert', () => {
    const split = routerSplit([pool('big', 550), pool('small', 55)], { balance: 'unbalanced', seed: 2 });
    expect(split.trainCounts).toEqual([539, 44]);
    expect(split.heldOutCounts).toEqual([11, 11]);
    expect(routerSplit([pool('big', 550), pool('small', 55)], { balance: 'unbalanced', perExpert: 100, seed: 2 }).trainCounts).toEqual([100, 44]);
  });

  it('oversamples the smaller tasks with repetition only when asked', () => {
    const balanced = routerSplit([pool('big', 100), pool('small', 20)], { balance: 'balanced', perExpert: 60, seed: 3 });
    expect(balanced.trainCounts).toEqual([16, 16]);
    const oversampled = routerSplit([pool('big', 100), pool('small', 20)], { balance: 'balanced', perExpert: 60, oversample: true, seed: 3 });
    expect(oversampled.trainCounts).toEqual([60, 60]);
    const small = oversampled.train.filter(({ label }) => label === 1).map(({ item }) => item);
    expect(new Set(small).size).toBe(16);
  });

  it('is the same for the same seed', () => {
    const a = routerSplit([pool('a', 30), pool('b', 30)], { balance: 'balanced', seed: 9 });
    expect(routerSplit([pool('a', 30), pool('b', 30)], { balance: 'balanced', seed: 9 })).toEqual(a);
  });

  it('refuses fewer than two experts, and a task with fewer than two prompts, naming it', () => {
    expect(() => routerSplit([pool('only', 10)], { balance: 'balanced', seed: 1 })).toThrow(/at least two experts; got 1/);
    expect(() => routerSplit([pool('a', 10), pool('tiny', 1)], { balance: 'balanced', seed: 1 })).toThrow(/"tiny" \(1\)/);
  });
});

describe('routing decisions', () => {
  const experts = ['fpb', 'gsm8k', 'alpaca'];
  it('picks the top expert, and falls back below the confidence threshold', () => {
    expect(decide([0.2, 0.7, 0.1], experts, { topK: 1, threshold: 0, fallback: null })).toMatchObject({ chosen: 'gsm8k', fellBack: false, probabilities: { fpb: 0.2, gsm8k: 0.7, alpaca: 0.1 } });
    expect(decide([0.4, 0.35, 0.25], experts, { topK: 1, threshold: 0.5, fallback: 'shared' })).toMatchObject({ chosen: 'shared', fellBack: true });
    expect(decide([0.4, 0.35, 0.25], experts, { topK: 1, threshold: 0.5, fallback: 'base' })).toMatchObject({ chosen: 'base', fellBack: true });
  });

  it('mixes the top k with their probabilities renormalized', () => {
    const decision = decide([0.2, 0.5, 0.3], experts, { topK: 2, threshold: 0, fallback: null });
    expect(decision.mixture!.map((m) => m.expert)).toEqual(['gsm8k', 'alpaca']);
    expect(decision.mixture![0]!.weight).toBeCloseTo(0.625, 15);
    expect(decision.mixture![1]!.weight).toBeCloseTo(0.375, 15);
  });
});
