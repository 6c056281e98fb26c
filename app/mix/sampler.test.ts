import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import { MixSampler } from './sampler.ts';
import { chiSquare, countBy, expectCountsToFit } from './test-support.ts';
import type { Draw, MixConfig, MixSamplerState, MixStrategy, MixTask } from './types.ts';

const fourTasks: MixTask[] = [
  { name: 'phrasebank', examples: 4846 },
  { name: 'tweets', examples: 9543 },
  { name: 'gsm8k', examples: 747 },
  { name: 'alpaca', examples: 999, role: 'regularizer' },
];

function config(strategy: MixStrategy, overrides: Partial<MixConfig> = {}): MixConfig {
  return { tasks: fourTasks, strategy, regularizerShare: 0.15, sampleBy: 'example', batchSize: 50, totalSteps: 2000, seed: 2024, ...overrides };
}

function drawSteps(sampler: MixSampler, steps: number): Draw[][] {
  return Array.from({ length: steps }, () => sampler.nextBatch());
}

function taskCounts(batches: readonly Draw[][], taskCount: number): number[] {
  return countBy(batches.flat().map((draw) => draw.task), taskCount);
}

/** Multiplies within-role probabilities by the role's share: training tasks 1 − r, regularizers r. */
function withShare(trainingWeights: readonly number[], regularizerShare: number): number[] {
  const sum = trainingWeights.reduce((a, b) => a + b, 0);
  return [...trainingWeights.map((w) => ((1 - regularizerShare) * w) / sum), regularizerShare];
}

describe('MixSampler: batches', () => {
  it('yields batchSize draws per step, each a task index and a row within that task', () => {
    const sampler = MixSampler.create(config({ kind: 'uniform' }, { batchSize: 7 }));
    for (const batch of drawSteps(sampler, 50)) {
      expect(batch).toHaveLength(7);
      for (const { task, row } of batch) {
        expect(row).toBeGreaterThanOrEqual(0);
        expect(row).toBeLessThan(fourTasks[task]!.examples);
      }
    }
    expect(sampler.step).toBe(50);
  });

  it('gives the same sequence for the same seed', () => {
    const a = drawSteps(MixSampler.create(config({ kind: 'temperature', temperature: 2 })), 40);
    const b = drawSteps(MixSampler.create(config({ kind: 'temperature', temperature: 2 })), 40);
    expect(b).toEqual(a);
  });

  it('gives a different sequence for a different seed', () => {
    const a = drawSteps(MixSampler.create(config({ kind: 'uniform' })), 10);
    const b = drawSteps(MixSampler.create(config({ kind: 'uniform' }, { seed: 4202 })), 10);
    expect(b).not.toEqual(a);
  });

  it('draws a task’s rows without replacement, reshuffling when its epoch ends', () => {
    const tasks = [{ name: 'small', examples: 37 }, { name: 'large', examples: 200 }];
    const sampler = MixSampler.create(config({ kind: 'uniform' }, { tasks, batchSize: 10, totalSteps: 100 }));
    const rows = drawSteps(sampler, 100).flat().filter((draw) => draw.task === 0).map((draw) => draw.row);
    const passes = Math.floor(rows.length / 37);
    expect(passes).toBeGreaterThanOrEqual(3);
    const everyRow = Array.from({ length: 37 }, (_, row) => row);
    const pass = (k: number): number[] => rows.slice(k * 37, (k + 1) * 37);
    for (let k = 0; k < passes; k++) expect([...pass(k)].sort((a, b) => a - b)).toEqual(everyRow);
    expect(pass(1)).not.toEqual(pass(0));
    expect(pass(0)).not.toEqual(everyRow);
  });

  it('counts epochs per task', () => {
    const tasks = [{ name: 'small', examples: 37 }, { name: 'large', examples: 200 }];
    const sampler = MixSampler.create(config({ kind: 'uniform' }, { tasks, batchSize: 10, totalSteps: 100 }));
    const counts = taskCounts(drawSteps(sampler, 100), 2);
    expect(sampler.taskEpochs()).toEqual([Math.floor(counts[0]! / 37), Math.floor(counts[1]! / 200)]);
  });

  it('counts mixture epochs as Σnᵢ examples drawn', () => {
    const tasks = [{ name: 'small', examples: 37 }, { name: 'large', examples: 200 }];
    const sampler = MixSampler.create(config({ kind: 'uniform' }, { tasks, batchSize: 10, totalSteps: 100 }));
    drawSteps(sampler, 100);
    expect(sampler.mixtureEpochsDrawn()).toBeCloseTo(1000 / 237, 12);
  });
});

describe('MixSampler: empirical frequencies match the probabilities (chi-square, level 0.001, fixed seed)', () => {
  // 2000 steps of 50: 10⁵ draws per test. Expectations are computed here from the formulas.
  const draws = 2000 * 50;
  const trainingSizes = [4846, 9543, 747];

  it('proportional with a cap: pᵢ ∝ min(nᵢ, K)', () => {
    const batches = drawSteps(MixSampler.create(config({ kind: 'proportional', cap: 5000 })), 2000);
    const p = withShare([4846, 5000, 747], 0.15);
    expectCountsToFit(taskCounts(batches, 4), p.map((pi) => pi * draws));
  });

  it('uniform', () => {
    const batches = drawSteps(MixSampler.create(config({ kind: 'uniform' })), 2000);
    expectCountsToFit(taskCounts(batches, 4), withShare([1, 1, 1], 0.15).map((pi) => pi * draws));
  });

  it('temperature: pᵢ ∝ nᵢ^(1/T)', () => {
    const batches = drawSteps(MixSampler.create(config({ kind: 'temperature', temperature: 3 })), 2000);
    const p = withShare(trainingSizes.map((n) => n ** (1 / 3)), 0.15);
    expectCountsToFit(taskCounts(batches, 4), p.map((pi) => pi * draws));
  });

  it('manual weights', () => {
    const weights = { phrasebank: 1, tweets: 0, gsm8k: 3, alpaca: 1 };
    const batches = drawSteps(MixSampler.create(config({ kind: 'manual', weights })), 2000);
    expectCountsToFit(taskCounts(batches, 4), withShare([1, 0, 3], 0.15).map((pi) => pi * draws));
  });

  it('annealed: pᵢ ∝ nᵢ^α with α = 1 in the first epoch and 0.2 in the last', () => {
    // Without the regularizer: Σn = 15136; 2000 steps of 50 = 10⁵ draws, so E = 7 epochs of 15136.
    const tasks = fourTasks.slice(0, 3);
    const batches = drawSteps(MixSampler.create(config({ kind: 'annealed' }, { tasks })), 2000);
    const mixtureEpoch = 15136;
    const epochOf = (step: number): number => Math.min(7, Math.floor((step * 50) / mixtureEpoch) + 1);
    const countsInEpoch = (epoch: number): number[] =>
      taskCounts(batches.filter((_, step) => epochOf(step) === epoch), 3);
    const expectedInEpoch = (epoch: number, alpha: number): number[] => {
      const steps = batches.filter((_, step) => epochOf(step) === epoch).length;
      const w = trainingSizes.map((n) => n ** alpha);
      const sum = w.reduce((a, b) => a + b, 0);
      return w.map((x) => (x / sum) * steps * 50);
    };
    expectCountsToFit(countsInEpoch(1), expectedInEpoch(1, 1));
    expectCountsToFit(countsInEpoch(4), expectedInEpoch(4, 1 - (0.8 * 3) / 6));
    expectCountsToFit(countsInEpoch(7), expectedInEpoch(7, 0.2));
  });

  it('reverse-annealed: pᵢ ∝ nᵢ^0.2 in the first epoch, proportional in the last', () => {
    const tasks = fourTasks.slice(0, 3);
    const batches = drawSteps(MixSampler.create(config({ kind: 'reverse-annealed' }, { tasks })), 2000);
    const epochOf = (step: number): number => Math.min(7, Math.floor((step * 50) / 15136) + 1);
    const inEpoch = (epoch: number): Draw[][] => batches.filter((_, step) => epochOf(step) === epoch);
    const expected = (epoch: number, alpha: number): number[] => {
      const w = trainingSizes.map((n) => n ** alpha);
      const sum = w.reduce((a, b) => a + b, 0);
      return w.map((x) => (x / sum) * inEpoch(epoch).length * 50);
    };
    expectCountsToFit(taskCounts(inEpoch(1), 3), expected(1, 0.2));
    expectCountsToFit(taskCounts(inEpoch(7), 3), expected(7, 1));
  });

  it('schedule: each segment of a piecewise-constant schedule follows its own weights', () => {
    const points = [
      { at: 0, weights: { phrasebank: 1, tweets: 1, gsm8k: 0, alpaca: 1 } },
      { at: 0.5, weights: { phrasebank: 0, tweets: 1, gsm8k: 4, alpaca: 1 } },
    ];
    const batches = drawSteps(MixSampler.create(config({ kind: 'schedule', points }, { totalSteps: 2001 })), 2001);
    // Progress = step / 2000, so steps 0..999 use the first point and 1000..2000 the second.
    expectCountsToFit(taskCounts(batches.slice(0, 1000), 4), withShare([1, 1, 0], 0.15).map((pi) => pi * 1000 * 50));
    expectCountsToFit(taskCounts(batches.slice(1000), 4), withShare([0, 1, 4], 0.15).map((pi) => pi * 1001 * 50));
  });

  it('the chi-square statistic averages its degrees of freedom over many seeds, so one fixed seed hides no bias', () => {
    // 30 seeds of 20 000 draws; the mean of 30 χ²(3) values has standard deviation √(2·3/30) = 0.447.
    const p = withShare(trainingSizes, 0.15);
    const statistics = Array.from({ length: 30 }, (_, seed) => {
      const sampler = MixSampler.create(config({ kind: 'proportional' }, { seed: seed + 1, totalSteps: 400 }));
      return chiSquare(taskCounts(drawSteps(sampler, 400), 4), p.map((pi) => pi * 400 * 50));
    });
    const mean = statistics.reduce((a, b) => a + b, 0) / statistics.length;
    expect(Math.abs(mean - 3)).toBeLessThan(4 * 0.447);
  });

  it('per batch: the task of each batch follows the probabilities', () => {
    const batches = drawSteps(MixSampler.create(config({ kind: 'proportional' }, { sampleBy: 'batch', batchSize: 4, totalSteps: 20_000 })), 20_000);
    const batchTasks = countBy(batches.map((batch) => batch[0]!.task), 4);
    expectCountsToFit(batchTasks, withShare(trainingSizes, 0.15).map((pi) => pi * 20_000));
  });
});

describe('MixSampler: per-batch sampling', () => {
  it.each(['proportional', 'round-robin', 'sequential'] as const)('keeps one task per batch (%s)', (kind) => {
    const tasks = [{ name: 'a', examples: 7 }, { name: 'b', examples: 30 }, { name: 'r', examples: 5, role: 'regularizer' as const }];
    const sampler = MixSampler.create(config({ kind }, { tasks, sampleBy: 'batch', batchSize: 8, totalSteps: 300 }));
    const batches = drawSteps(sampler, 300);
    for (const batch of batches) expect(new Set(batch.map((draw) => draw.task)).size).toBe(1);
    expect(new Set(batches.map((batch) => batch[0]!.task)).size).toBe(3);
  });
});

describe('MixSampler: regularizer share', () => {
  it('gives regularizers the share r of the draws under a random strategy', () => {
    const batches = drawSteps(MixSampler.create(config({ kind: 'proportional' }, { regularizerShare: 0.15 })), 2000);
    const regularizerDraws = taskCounts(batches, 4)[3]!;
    // Binomial(10⁵, 0.15): standard deviation 112.9; 4 standard deviations is 452.
    expect(Math.abs(regularizerDraws - 15_000)).toBeLessThan(452);
  });

  it.each(['round-robin', 'sequential'] as const)('meets the share to within one draw at every step (%s)', (kind) => {
    const sampler = MixSampler.create(config({ kind }, { regularizerShare: 0.2, batchSize: 3, totalSteps: 500 }));
    let drawn = 0;
    let regularizerDraws = 0;
    for (let step = 0; step < 500; step++) {
      for (const draw of sampler.nextBatch()) {
        drawn++;
        if (draw.task === 3) regularizerDraws++;
      }
      expect(Math.abs(regularizerDraws - 0.2 * drawn)).toBeLessThanOrEqual(1);
    }
  });
});

describe('MixSampler: deterministic strategies', () => {
  const small: MixTask[] = [{ name: 'a', examples: 3 }, { name: 'b', examples: 2 }, { name: 'c', examples: 4 }];

  it('sequential is in file order: each task’s rows in order, tasks one after the other, then again', () => {
    const sampler = MixSampler.create(config({ kind: 'sequential' }, { tasks: small, batchSize: 4, totalSteps: 5 }));
    const fileOrder = [
      [0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [2, 0], [2, 1], [2, 2], [2, 3],
    ];
    const expected = [...fileOrder, ...fileOrder, ...fileOrder].slice(0, 20).map(([task, row]) => ({ task, row }));
    expect(drawSteps(sampler, 5).flat()).toEqual(expected);
  });

  it('sequential does not depend on the seed', () => {
    const a = drawSteps(MixSampler.create(config({ kind: 'sequential' }, { tasks: small })), 20);
    const b = drawSteps(MixSampler.create(config({ kind: 'sequential' }, { tasks: small, seed: 999 })), 20);
    expect(b).toEqual(a);
  });

  it('sequential per batch stays on a task until its pass ends, continuing its rows in file order', () => {
    const sampler = MixSampler.create(config({ kind: 'sequential' }, { tasks: small, sampleBy: 'batch', batchSize: 2, totalSteps: 6 }));
    const batches = drawSteps(sampler, 6).map((batch) => batch.map((draw) => [draw.task, draw.row]));
    expect(batches).toEqual([
      [[0, 0], [0, 1]],
      [[0, 2], [0, 0]], // the pass over task a ends inside this batch, which finishes on its next pass
      [[1, 0], [1, 1]],
      [[2, 0], [2, 1]],
      [[2, 2], [2, 3]],
      [[0, 1], [0, 2]],
    ]);
  });

  it('sequential interleaves a regularizer, itself in file order, at its share', () => {
    const tasks: MixTask[] = [...small, { name: 'r', examples: 2, role: 'regularizer' }];
    const sampler = MixSampler.create(config({ kind: 'sequential' }, { tasks, regularizerShare: 0.25, batchSize: 8, totalSteps: 1 }));
    // Choices 3 and 7 are regularizer turns (⌊(c + 1)/4⌋ > ⌊c/4⌋).
    expect(sampler.nextBatch().map((draw) => [draw.task, draw.row])).toEqual([
      [0, 0], [0, 1], [0, 2], [3, 0], [1, 0], [1, 1], [2, 0], [3, 1],
    ]);
  });

  it('round-robin visits the tasks in turn', () => {
    const sampler = MixSampler.create(config({ kind: 'round-robin' }, { tasks: small, batchSize: 5, totalSteps: 2 }));
    expect(drawSteps(sampler, 2).flat().map((draw) => draw.task)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
  });
});

describe('MixSampler: exact resume', () => {
  const tasks: MixTask[] = [
    { name: 'a', examples: 7 },
    { name: 'b', examples: 13 },
    { name: 'c', examples: 5 },
    { name: 'r', examples: 3, role: 'regularizer' },
  ];
  const weights = { a: 1, b: 2, c: 0.5, r: 1 };
  const strategies: MixStrategy[] = [
    { kind: 'proportional' },
    { kind: 'proportional', cap: 6 },
    { kind: 'uniform' },
    { kind: 'temperature', temperature: 2.5 },
    { kind: 'annealed' },
    { kind: 'reverse-annealed' },
    { kind: 'round-robin' },
    { kind: 'manual', weights },
    { kind: 'schedule', interpolation: 'constant', points: [{ at: 0, weights }, { at: 0.4, weights: { a: 0, b: 1, c: 1, r: 1 } }] },
    { kind: 'schedule', interpolation: 'linear', points: [{ at: 0.1, weights }, { at: 0.9, weights: { a: 0, b: 1, c: 1, r: 1 } }] },
    { kind: 'sequential' },
  ];
  const nameOf = (strategy: MixStrategy): string =>
    strategy.kind + ('cap' in strategy ? ' with cap' : '') + ('interpolation' in strategy ? ` (${strategy.interpolation})` : '');
  const cases = strategies.flatMap((strategy) =>
    (['example', 'batch'] as const).map((sampleBy) => ({ label: `${nameOf(strategy)}, per ${sampleBy}`, strategy, sampleBy })),
  );
  // 60 steps of 4 over Σn = 28: about 8.6 mixture epochs, so annealing, schedules and per-task reshuffles all move.
  const total = 60;

  it.each(cases)('N draws straight equal k draws, a JSON round trip of the state, and N − k more: $label', ({ strategy, sampleBy }) => {
    const resumeConfig = config(strategy, { tasks, sampleBy, batchSize: 4, totalSteps: total, regularizerShare: 0.2 });
    const straight = drawSteps(MixSampler.create(resumeConfig), total);
    for (const k of [1, 9, 31, 59]) {
      const first = MixSampler.create(resumeConfig);
      const before = drawSteps(first, k);
      const saved = JSON.parse(JSON.stringify(first.state())) as MixSamplerState;
      const resumed = MixSampler.fromState(saved);
      const after = drawSteps(resumed, total - k);
      expect([...before, ...after], `resumed after ${k} steps`).toEqual(straight);
      expect(resumed.state()).toEqual(drawUntil(MixSampler.create(resumeConfig), total).state());
    }
  });

  it('keeps drawing past the planned end with the last planned probabilities', () => {
    const sampler = MixSampler.create(config({ kind: 'annealed' }, { tasks, totalSteps: 10 }));
    drawSteps(sampler, 10);
    const atEnd = sampler.probabilities();
    drawSteps(sampler, 5);
    expect(sampler.probabilities()).toEqual(atEnd);
  });

  it('serializes to plain JSON', () => {
    const sampler = MixSampler.create(config({ kind: 'proportional' }, { tasks }));
    drawSteps(sampler, 3);
    const state = sampler.state();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it('refuses a state whose cursors do not add up to the steps drawn', () => {
    const sampler = MixSampler.create(config({ kind: 'uniform' }, { tasks, batchSize: 4 }));
    drawSteps(sampler, 3);
    const state = sampler.state();
    const tampered = { ...state, step: 4 };
    expect(() => MixSampler.fromState(tampered)).toThrow(CocktailError);
    expect(() => MixSampler.fromState(tampered)).toThrow(/account for 12 rows but 4 steps of 4 drew 16/);
  });

  it('refuses a state with a cursor past the end of its task', () => {
    const state = MixSampler.create(config({ kind: 'uniform' }, { tasks })).state();
    const tampered = { ...state, tasks: state.tasks.map((task, index) => (index === 2 ? { epoch: 0, cursor: 5 } : task)) };
    expect(() => MixSampler.fromState(tampered)).toThrow(/tasks\[2\]/);
  });

  it('refuses an all-zero PRNG state', () => {
    const state = MixSampler.create(config({ kind: 'uniform' }, { tasks })).state();
    try {
      MixSampler.fromState({ ...state, random: [0, 0, 0, 0] });
      expect.unreachable();
    } catch (error) {
      expect((error as CocktailError).code).toBe('MIX_STATE_INVALID');
    }
  });

  it('refuses a state of another version', () => {
    const state = MixSampler.create(config({ kind: 'uniform' }, { tasks })).state();
    expect(() => MixSampler.fromState({ ...state, version: 2 } as unknown as MixSamplerState)).toThrow(/version 1/);
  });
});

function drawUntil(sampler: MixSampler, steps: number): MixSampler {
  drawSteps(sampler, steps);
  return sampler;
}
