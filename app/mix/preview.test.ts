import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import { previewMix } from './preview.ts';
import { MixSampler } from './sampler.ts';
import type { MixPlan, MixStrategy, MixTask } from './types.ts';

const tasks: MixTask[] = [
  { name: 'phrasebank', examples: 4846 },
  { name: 'tweets', examples: 9543 },
  { name: 'gsm8k', examples: 7473 },
  { name: 'alpaca', examples: 999, role: 'regularizer' },
];
const trainingTotal = 4846 + 9543 + 7473;

function plan(strategy: MixStrategy, overrides: Partial<MixPlan> = {}): MixPlan {
  return { tasks, strategy, regularizerShare: 0.1, sampleBy: 'example', batchSize: 16, totalSteps: 5000, ...overrides };
}

function expectVectorClose(actual: readonly number[], expected: readonly number[], digits = 9): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(value, `task ${i}`).toBeCloseTo(expected[i]!, digits));
}

function realizedCounts(mixPlan: MixPlan): number[] {
  const sampler = MixSampler.create({ ...mixPlan, seed: 3 });
  const counts = new Array<number>(mixPlan.tasks.length).fill(0);
  for (let step = 0; step < mixPlan.totalSteps; step++) for (const draw of sampler.nextBatch()) counts[draw.task]!++;
  return counts;
}

describe('previewMix', () => {
  it('gives each task’s probability at every evaluation point', () => {
    const preview = previewMix(plan({ kind: 'proportional' }), { steps: [0, 2500, 4999] });
    expect(preview.points.map((point) => point.step)).toEqual([0, 2500, 4999]);
    const p = [0.9 * (4846 / trainingTotal), 0.9 * (9543 / trainingTotal), 0.9 * (7473 / trainingTotal), 0.1];
    for (const point of preview.points) expectVectorClose(point.probabilities, p, 12);
  });

  it('expects totalSteps · batchSize · pᵢ examples of each task under a constant strategy', () => {
    const preview = previewMix(plan({ kind: 'uniform' }));
    expectVectorClose(preview.expectedExamples, [0.3, 0.3, 0.3, 0.1].map((p) => p * 5000 * 16), 6);
  });

  it('sums the annealed probabilities epoch by epoch', () => {
    const three = tasks.slice(0, 3);
    const preview = previewMix(plan({ kind: 'annealed' }, { tasks: three }));
    // 80 000 examples over Σn = 21 862: E = 4. Epoch e starts at step ⌈(e − 1)·21 862 / 16⌉.
    expect(preview.epochs).toBe(4);
    const starts = [0, 1367, 2733, 4100, 5000];
    const expected = [0, 0, 0];
    for (let epoch = 1; epoch <= 4; epoch++) {
      const alpha = 1 - (0.8 * (epoch - 1)) / 3;
      const w = [4846 ** alpha, 9543 ** alpha, 7473 ** alpha];
      const sum = w[0]! + w[1]! + w[2]!;
      const examples = (starts[epoch]! - starts[epoch - 1]!) * 16;
      w.forEach((x, task) => (expected[task]! += (x / sum) * examples));
    }
    expectVectorClose(preview.expectedExamples, expected, 6);
  });

  it('shows both sides of every epoch boundary by default, so annealing charts as steps', () => {
    const preview = previewMix(plan({ kind: 'annealed' }, { tasks: tasks.slice(0, 3) }), { pointCount: 3 });
    expect(preview.points.map((point) => point.step)).toEqual([0, 1366, 1367, 2500, 2732, 2733, 4099, 4100, 4999]);
    const epochs = preview.points.map((point) => point.epoch);
    expect(epochs).toEqual([1, 1, 2, 2, 2, 3, 3, 4, 4]);
  });

  it('shows both sides of every schedule point by default', () => {
    const weights = { phrasebank: 1, tweets: 1, gsm8k: 1, alpaca: 1 };
    const points = [{ at: 0, weights }, { at: 0.3, weights: { ...weights, gsm8k: 5 } }];
    const preview = previewMix(plan({ kind: 'schedule', points }, { totalSteps: 11 }), { pointCount: 2 });
    expect(preview.points.map((point) => point.step)).toEqual([0, 2, 3, 10]);
    expect(preview.points[1]!.probabilities[2]).toBeCloseTo(0.3, 12);
    expect(preview.points[2]!.probabilities[2]).toBeCloseTo(0.9 * (5 / 7), 12);
  });

  it('expects tokens per task as expected examples times mean tokens per example', () => {
    const preview = previewMix(plan({ kind: 'uniform' }), { meanTokensPerExample: [40, 30, 180, 250] });
    expectVectorClose(preview.expectedTokens!, [0.3 * 80_000 * 40, 0.3 * 80_000 * 30, 0.3 * 80_000 * 180, 0.1 * 80_000 * 250], 4);
  });

  it('leaves expected tokens out when no token means are given', () => {
    expect(previewMix(plan({ kind: 'uniform' })).expectedTokens).toBeNull();
  });

  it('reports how many passes over its rows each task gets', () => {
    const preview = previewMix(plan({ kind: 'uniform' }));
    expectVectorClose(preview.expectedTaskEpochs, [24_000 / 4846, 24_000 / 9543, 24_000 / 7473, 8000 / 999], 9);
  });

  it.each([
    ['round-robin', 'example'],
    ['round-robin', 'batch'],
    ['sequential', 'example'],
    ['sequential', 'batch'],
  ] as const)('gives the exact counts a %s sampler draws per %s', (kind, sampleBy) => {
    const small: MixTask[] = [{ name: 'a', examples: 37 }, { name: 'b', examples: 11 }, { name: 'r', examples: 5, role: 'regularizer' }];
    const mixPlan = plan({ kind }, { tasks: small, sampleBy, batchSize: 6, totalSteps: 97, regularizerShare: 0.15 });
    expect(previewMix(mixPlan).expectedExamples).toEqual(realizedCounts(mixPlan));
  });

  it('round-robin gives each training task an equal share of the non-regularizer draws', () => {
    const preview = previewMix(plan({ kind: 'round-robin' }, { totalSteps: 100, batchSize: 10 }));
    // 1000 choices: ⌊1000 · 0.1⌋ = 100 regularizer turns; 900 training turns, 300 each.
    expect(preview.expectedExamples).toEqual([300, 300, 300, 100]);
  });

  it('sequential shows which task each evaluated step draws from', () => {
    const small: MixTask[] = [{ name: 'a', examples: 40 }, { name: 'b', examples: 20 }];
    const preview = previewMix(plan({ kind: 'sequential' }, { tasks: small, batchSize: 8, totalSteps: 20 }), { steps: [0, 4, 5, 7] });
    // Rows 0–39 of a are steps 0–4; step 5 starts b; b's 20 rows end halfway through step 7.
    expect(preview.points.map((point) => point.probabilities)).toEqual([[1, 0], [1, 0], [0, 1], [0.5, 0.5]]);
  });

  it('needs no seed and does not change its input', () => {
    const mixPlan = plan({ kind: 'temperature', temperature: 2 });
    const copy = JSON.parse(JSON.stringify(mixPlan)) as MixPlan;
    expect(previewMix(mixPlan)).toEqual(previewMix(copy));
    expect(mixPlan).toEqual(copy);
  });

  it('refuses an evaluation step outside the run', () => {
    expect(() => previewMix(plan({ kind: 'uniform' }), { steps: [5000] })).toThrow(CocktailError);
    expect(() => previewMix(plan({ kind: 'uniform' }), { steps: [5000] })).toThrow(/\[0, 4999\]/);
  });

  it('refuses token means that do not match the tasks', () => {
    expect(() => previewMix(plan({ kind: 'uniform' }), { meanTokensPerExample: [1, 2] })).toThrow(/one finite number >= 0 per task \(4\)/);
  });

  it('refuses an invalid plan with the validation error', () => {
    expect(() => previewMix(plan({ kind: 'temperature', temperature: -1 }))).toThrow(/strategy.temperature/);
  });
});
