import { describe, expect, it } from 'vitest';
import { taskProbabilities, trainingPointAt } from './probabilities.ts';
import type { MixPlan, MixStrategy, MixTask } from './types.ts';
import { resolveMixPlan } from './validate.ts';

const tasks: MixTask[] = [
  { name: 'phrasebank', examples: 4846 },
  { name: 'tweets', examples: 9543 },
  { name: 'gsm8k', examples: 7473 },
  { name: 'alpaca', examples: 999, role: 'regularizer' },
];
const trainingTotal = 4846 + 9543 + 7473;
const mixtureEpoch = trainingTotal + 999;

function plan(strategy: MixStrategy, overrides: Partial<MixPlan> = {}): MixPlan {
  return { tasks, strategy, regularizerShare: 0.2, sampleBy: 'example', batchSize: 32, totalSteps: 3000, ...overrides };
}

function probabilitiesAt(mixPlan: MixPlan, step: number): number[] {
  const mix = resolveMixPlan(mixPlan);
  return taskProbabilities(mix, trainingPointAt(mix, step));
}

function expectVectorClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value, `task ${i}`).toBeCloseTo(expected[i]!, 12));
}

describe('training points', () => {
  it('counts mixture epochs of Σnᵢ examples: epoch e = ⌊step·B / Σn⌋ + 1', () => {
    const mix = resolveMixPlan(plan({ kind: 'annealed' }));
    expect(mix.epochs).toBe(Math.ceil((3000 * 32) / mixtureEpoch));
    const firstStepOfEpoch2 = Math.ceil(mixtureEpoch / 32);
    expect(trainingPointAt(mix, firstStepOfEpoch2 - 1).epoch).toBe(1);
    expect(trainingPointAt(mix, firstStepOfEpoch2).epoch).toBe(2);
  });

  it('puts the first step at progress 0 and the last at progress 1', () => {
    const mix = resolveMixPlan(plan({ kind: 'uniform' }));
    expect(trainingPointAt(mix, 0).progress).toBe(0);
    expect(trainingPointAt(mix, 1500).progress).toBeCloseTo(1500 / 2999, 15);
    expect(trainingPointAt(mix, 2999).progress).toBe(1);
  });

  it('keeps the last epoch and progress 1 for steps past the planned end', () => {
    const mix = resolveMixPlan(plan({ kind: 'annealed' }));
    const beyond = trainingPointAt(mix, 10_000);
    expect(beyond.epoch).toBe(mix.epochs);
    expect(beyond.progress).toBe(1);
  });
});

describe('regularizer role', () => {
  it('gives regularizers their share r and training tasks 1 − r, each split by the strategy', () => {
    const p = probabilitiesAt(plan({ kind: 'proportional' }), 0);
    expectVectorClose(p, [0.8 * (4846 / trainingTotal), 0.8 * (9543 / trainingTotal), 0.8 * (7473 / trainingTotal), 0.2]);
  });

  it('splits the regularizer share among several regularizers by the same strategy', () => {
    const withTwo = [...tasks, { name: 'dolly', examples: 3001, role: 'regularizer' as const }];
    const p = probabilitiesAt(plan({ kind: 'proportional' }, { tasks: withTwo, regularizerShare: 0.1 }), 0);
    expect(p[3]).toBeCloseTo(0.1 * (999 / 4000), 12);
    expect(p[4]).toBeCloseTo(0.1 * (3001 / 4000), 12);
  });

  it('defaults the regularizer share to 0.15', () => {
    const p = probabilitiesAt(plan({ kind: 'uniform' }, { regularizerShare: undefined }), 0);
    expectVectorClose(p, [0.85 / 3, 0.85 / 3, 0.85 / 3, 0.15]);
  });

  it('ignores the share when no task is a regularizer', () => {
    const p = probabilitiesAt(plan({ kind: 'uniform' }, { tasks: tasks.slice(0, 3), regularizerShare: 0.5 }), 0);
    expectVectorClose(p, [1 / 3, 1 / 3, 1 / 3]);
  });

  it('never draws a regularizer whose share is 0', () => {
    expect(probabilitiesAt(plan({ kind: 'proportional' }, { regularizerShare: 0 }), 0)[3]).toBe(0);
  });
});

describe('strategies over training', () => {
  it('temperature applies pᵢ ∝ min(nᵢ, K)^(1/T) within the training tasks', () => {
    const w = [4846 ** (1 / 3), 5000 ** (1 / 3), 5000 ** (1 / 3)];
    const sum = w[0]! + w[1]! + w[2]!;
    const p = probabilitiesAt(plan({ kind: 'temperature', temperature: 3, cap: 5000 }), 0);
    expectVectorClose(p, [0.8 * (w[0]! / sum), 0.8 * (w[1]! / sum), 0.8 * (w[2]! / sum), 0.2]);
  });

  it('annealed is proportional in the first epoch and pᵢ ∝ nᵢ^0.2 in the last', () => {
    const mixPlan = plan({ kind: 'annealed' });
    const first = probabilitiesAt(mixPlan, 0);
    expectVectorClose(first, [0.8 * (4846 / trainingTotal), 0.8 * (9543 / trainingTotal), 0.8 * (7473 / trainingTotal), 0.2]);
    const w = [4846 ** 0.2, 9543 ** 0.2, 7473 ** 0.2];
    const sum = w[0]! + w[1]! + w[2]!;
    expectVectorClose(probabilitiesAt(mixPlan, 2999), [0.8 * (w[0]! / sum), 0.8 * (w[1]! / sum), 0.8 * (w[2]! / sum), 0.2]);
  });

  it('annealed alpha in a middle epoch e is 1 − 0.8·(e − 1)/(E − 1)', () => {
    const mixPlan = plan({ kind: 'annealed' }, { tasks: tasks.slice(0, 3) });
    const epochs = Math.ceil((3000 * 32) / trainingTotal);
    const stepInEpoch3 = Math.ceil((2 * trainingTotal) / 32);
    const alpha = 1 - (0.8 * 2) / (epochs - 1);
    const w = [4846 ** alpha, 9543 ** alpha, 7473 ** alpha];
    const sum = w[0]! + w[1]! + w[2]!;
    expectVectorClose(probabilitiesAt(mixPlan, stepInEpoch3), w.map((x) => x / sum));
  });

  it('reverse-annealed is pᵢ ∝ nᵢ^0.2 in the first epoch and proportional in the last', () => {
    const mixPlan = plan({ kind: 'reverse-annealed' }, { tasks: tasks.slice(0, 3) });
    const w = [4846 ** 0.2, 9543 ** 0.2, 7473 ** 0.2];
    const sum = w[0]! + w[1]! + w[2]!;
    expectVectorClose(probabilitiesAt(mixPlan, 0), w.map((x) => x / sum));
    expectVectorClose(probabilitiesAt(mixPlan, 2999), [4846 / trainingTotal, 9543 / trainingTotal, 7473 / trainingTotal]);
  });

  it('manual weights are normalized within each role', () => {
    const weights = { phrasebank: 1, tweets: 1, gsm8k: 2, alpaca: 7 };
    expectVectorClose(probabilitiesAt(plan({ kind: 'manual', weights }), 0), [0.8 * 0.25, 0.8 * 0.25, 0.8 * 0.5, 0.2]);
  });

  it('round-robin gives every training task an equal share', () => {
    expectVectorClose(probabilitiesAt(plan({ kind: 'round-robin' }), 0), [0.8 / 3, 0.8 / 3, 0.8 / 3, 0.2]);
  });

  it('sequential reports the long-run share of file-order passes, proportional to nᵢ', () => {
    const p = probabilitiesAt(plan({ kind: 'sequential' }, { tasks: tasks.slice(0, 3) }), 0);
    expectVectorClose(p, [4846 / trainingTotal, 9543 / trainingTotal, 7473 / trainingTotal]);
  });
});

describe('piecewise schedule', () => {
  const three = tasks.slice(0, 3);
  const points = [
    { at: 0.25, weights: { phrasebank: 1, tweets: 0, gsm8k: 0 } },
    { at: 0.75, weights: { phrasebank: 0, tweets: 1, gsm8k: 3 } },
  ];
  // 101 steps put progress = step / 100 exactly on the points.
  const scheduled = (interpolation: 'constant' | 'linear'): MixPlan =>
    plan({ kind: 'schedule', points, interpolation }, { tasks: three, totalSteps: 101 });

  it('uses the first point’s weights before the first point', () => {
    expectVectorClose(probabilitiesAt(scheduled('constant'), 0), [1, 0, 0]);
    expectVectorClose(probabilitiesAt(scheduled('linear'), 10), [1, 0, 0]);
  });

  it('holds each point’s weights until the next point when piecewise-constant', () => {
    expectVectorClose(probabilitiesAt(scheduled('constant'), 74), [1, 0, 0]);
    expectVectorClose(probabilitiesAt(scheduled('constant'), 75), [0, 0.25, 0.75]);
  });

  it('blends the probabilities of neighbouring points linearly when linear', () => {
    // At progress 0.5, halfway from 0.25 to 0.75.
    expectVectorClose(probabilitiesAt(scheduled('linear'), 50), [0.5, 0.125, 0.375]);
  });

  it('keeps the last point’s weights after the last point', () => {
    expectVectorClose(probabilitiesAt(scheduled('linear'), 100), [0, 0.25, 0.75]);
  });

  it('defaults to piecewise-constant', () => {
    const mixPlan = plan({ kind: 'schedule', points }, { tasks: three, totalSteps: 101 });
    expectVectorClose(probabilitiesAt(mixPlan, 50), [1, 0, 0]);
  });
});
