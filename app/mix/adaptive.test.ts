import { describe, expect, it } from 'vitest';
import { AdaptiveMixer, adaptiveProbabilities, boundedShares, DEFAULT_ADAPTIVE_OPTIONS, type AdaptiveOptions } from './adaptive.ts';
import { MixSampler } from './sampler.ts';
import { chiSquare, countBy, expectCountsToFit } from './test-support.ts';
import type { MixConfig, MixSamplerState } from './types.ts';
import { findMixPlanProblems } from './validate.ts';

const options: AdaptiveOptions = { ...DEFAULT_ADAPTIVE_OPTIONS, minShare: 0.02, maxShare: 0.98 };

function config(overrides: Partial<MixConfig> = {}): MixConfig {
  return {
    tasks: [
      { name: 'large', examples: 900 },
      { name: 'small', examples: 100 },
    ],
    strategy: { kind: 'proportional' },
    sampleBy: 'example',
    batchSize: 50,
    totalSteps: 4000,
    seed: 7,
    adaptive: options,
    ...overrides,
  };
}

describe('boundedShares', () => {
  it('fixes tasks below the minimum and above the maximum, and shares the rest in proportion', () => {
    expect(boundedShares([0.9, 0.05, 0.05], 0.1, 0.8)).toEqual([0.8, 0.1, 0.1]);
    const shares = boundedShares([0.5, 0.3, 0.2, 0], 0.25, 1);
    expect(shares[3]).toBe(0);
    expect(shares[2]).toBe(0.25);
    expect(shares[0]! / shares[1]!).toBeCloseTo(0.5 / 0.3, 12);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('leaves shares already within the bounds as they are', () => {
    expect(boundedShares([0.6, 0.4], 0.1, 0.9)).toEqual([0.6, 0.4]);
  });
});

describe('adaptiveProbabilities', () => {
  it('multiplies within each role and keeps the regularizer share', () => {
    const p = adaptiveProbabilities([0.6, 0.25, 0.15], [1, 0.5, 3], ['task', 'task', 'regularizer'], { minShare: 0, maxShare: 1 });
    // Training tasks: 0.6·1 and 0.25·0.5 share 0.85 in proportion; the lone regularizer keeps 0.15.
    expect(p[0]).toBeCloseTo((0.85 * 0.6) / 0.725, 12);
    expect(p[1]).toBeCloseTo((0.85 * 0.125) / 0.725, 12);
    expect(p[2]).toBeCloseTo(0.15, 12);
  });
});

describe('AdaptiveMixer', () => {
  it('cuts the weight of a task whose validation loss rises above its best by more than the threshold', () => {
    const mixer = AdaptiveMixer.create(['large', 'small'], options);
    expect(mixer.update(10, [2.0, 1.5])).toBeNull();
    const change = mixer.update(20, [1.8, 1.7]);
    expect(change?.multipliers).toEqual([1, 0.5]);
    expect(change?.reasons).toHaveLength(1);
    expect(change?.reasons[0]?.task).toBe('small');
    expect(change?.reasons[0]?.reason).toMatch(/rose above/);
    // A rise within the threshold (2% of the best 1.5 is 0.03) changes nothing.
    expect(mixer.update(30, [1.7, 1.52])).toBeNull();
    expect(mixer.state().history).toHaveLength(1);
  });

  it('drives weight by softmax of the distance from each task’s best, averaging 1', () => {
    const mixer = AdaptiveMixer.create(['a', 'b'], { ...options, rule: 'distance', temperature: 0.5, riseThreshold: 10 });
    mixer.update(1, [2, 2]);
    const change = mixer.update(2, [1, 3]);
    // s = [0, 0.5]: drive = 2·exp(s/τ)/Σ exp(s/τ), computed here from the formula.
    const e = [Math.exp(0), Math.exp(1)];
    expect(change!.multipliers[0]).toBeCloseTo((2 * e[0]!) / (e[0]! + e[1]!), 12);
    expect(change!.multipliers[1]).toBeCloseTo((2 * e[1]!) / (e[0]! + e[1]!), 12);
  });

  it('is deterministic and resumes from its JSON state exactly', () => {
    const losses = [[2, 1.5], [1.8, 1.7], [1.7, 1.9], [1.75, 1.6]];
    const straight = AdaptiveMixer.create(['a', 'b'], { ...options, rule: 'remaining', temperature: 0.7 });
    for (const [i, l] of losses.entries()) straight.update(i, l);
    const first = AdaptiveMixer.create(['a', 'b'], { ...options, rule: 'remaining', temperature: 0.7 });
    first.update(0, losses[0]!);
    first.update(1, losses[1]!);
    const resumed = AdaptiveMixer.fromState(['a', 'b'], first.options, JSON.parse(JSON.stringify(first.state())));
    resumed.update(2, losses[2]!);
    resumed.update(3, losses[3]!);
    expect(resumed.state()).toEqual(straight.state());
  });

  it('refuses options that cannot be met', () => {
    expect(() => AdaptiveMixer.create(['a', 'b', 'c'], { ...options, minShare: 0.4 })).toThrow(/adds up to more than 1/);
    expect(() => AdaptiveMixer.create(['a'], { ...options, factor: 1 })).toThrow(/factor f must be in \(0, 1\)/);
  });
});

describe('MixSampler with adaptive mixing', () => {
  it('draws the small task less after its validation loss rises: realised frequencies follow the new weights (chi-square, seed 7)', () => {
    const sampler = MixSampler.create(config());
    const before = sampler.probabilities();
    expect(before).toEqual([0.9, 0.1]);
    const mixer = AdaptiveMixer.create(['large', 'small'], options);
    mixer.update(0, [2.0, 1.5]);
    mixer.update(0, [1.9, 1.8]);
    sampler.setMultipliers(mixer.multipliers);
    const after = sampler.probabilities();
    expect(after[1]).toBeCloseTo(0.05 / 0.95, 12);
    const draws = Array.from({ length: 2000 }, () => sampler.nextBatch()).flat();
    const observed = countBy(draws.map((draw) => draw.task), 2);
    expectCountsToFit(observed, after.map((p) => p * draws.length));
    // The old weights no longer describe the draws: far beyond the 0.001 critical value (10.8 at 1 df).
    expect(chiSquare(observed, before.map((p) => p * draws.length))).toBeGreaterThan(100);
  });

  it('resumes across a re-weighting exactly where an uninterrupted sampler is', () => {
    const straight = MixSampler.create(config());
    const interrupted = MixSampler.create(config());
    for (const sampler of [straight, interrupted]) for (let i = 0; i < 30; i++) sampler.nextBatch();
    straight.setMultipliers([1, 0.25]);
    interrupted.setMultipliers([1, 0.25]);
    for (let i = 0; i < 5; i++) interrupted.nextBatch();
    const resumed = MixSampler.fromState(JSON.parse(JSON.stringify(interrupted.state())) as MixSamplerState);
    const straightDraws = Array.from({ length: 40 }, () => straight.nextBatch()).slice(5);
    const resumedDraws = Array.from({ length: 35 }, () => resumed.nextBatch());
    expect(resumedDraws).toEqual(straightDraws);
  });

  it('refuses adaptive mixing over a strategy that draws no probabilities', () => {
    const problems = findMixPlanProblems(config({ strategy: { kind: 'sequential' } }));
    expect(problems.map((problem) => problem.code)).toContain('MIX_ADAPTIVE_BASE_INVALID');
  });
});
