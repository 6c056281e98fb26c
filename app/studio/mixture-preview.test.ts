import { describe, expect, it } from 'vitest';
import { CocktailError } from '../errors.ts';
import type { Recipe, RecipeTask } from '../train/recipe.ts';
import { estimatedTrainingExamples, mixtureEpochs, mixturePreview, optimizerStepOf, taskSizes, type TaskSize } from './mixture-preview.ts';
import { DEFAULT_RECIPE } from './presets.ts';

const phrases: RecipeTask = {
  name: 'phrases',
  source: { file: 'Sentences_50Agree.txt' },
  format: 'classification',
  role: 'task',
  validation_fraction: 0.1,
};
const tweets: RecipeTask = {
  name: 'tweets.finance',
  source: { file: 'sent_train.csv', validation_file: 'sent_valid.csv' },
  format: 'classification',
  role: 'task',
  validation_fraction: 0.1,
};
const alpaca: RecipeTask = {
  name: 'alpaca',
  source: { hub: 'tatsu-lab/alpaca', config: 'default', split: 'train' },
  format: 'instruction',
  role: 'regularizer',
  validation_fraction: 0.05,
  max_examples: 300,
};

function recipeWith(tasks: RecipeTask[], changes: Partial<Recipe> = {}): Recipe {
  return { ...DEFAULT_RECIPE, tasks, ...changes };
}

function sized(...entries: [string, number, ('task' | 'regularizer')?][]): TaskSize[] {
  return entries.map(([name, examples, role]) => ({ name, role: role ?? 'task', examples, basis: 'rows', meanTokens: null }));
}

function ready(result: ReturnType<typeof mixturePreview>) {
  if (result.status !== 'ready') throw new Error(`expected a preview, got ${result.status}`);
  return result;
}

describe('task sizes', () => {
  it('hold out round(rows × validation_fraction) rows unless the task has its own validation file or split', () => {
    expect(estimatedTrainingExamples(phrases, 4846)).toBe(4846 - 485);
    expect(estimatedTrainingExamples(tweets, 9543)).toBe(9543);
    expect(estimatedTrainingExamples({ ...alpaca, max_examples: undefined }, 1000)).toBe(950);
  });

  it('cap the estimate at max_examples', () => {
    expect(estimatedTrainingExamples(alpaca, 1000)).toBe(300);
    expect(estimatedTrainingExamples(alpaca, 200)).toBe(190);
  });

  it('prefer a task’s prepared stats, fall back to its file’s rows, and never guess the rest', () => {
    const recipe = recipeWith([phrases, tweets, alpaca]);
    const sizes = taskSizes(recipe, { 'tweets.finance': { examples: 9000, meanTokens: 41.5 } }, { 'Sentences_50Agree.txt': 4846, 'sent_train.csv': 9543 });
    expect(sizes).toEqual([
      { name: 'phrases', role: 'task', examples: 4361, basis: 'rows', meanTokens: null },
      { name: 'tweets.finance', role: 'task', examples: 9000, basis: 'stats', meanTokens: 41.5 },
      { name: 'alpaca', role: 'regularizer', examples: null, basis: 'unknown', meanTokens: null },
    ]);
    expect(mixturePreview(recipe, sizes)).toEqual({ status: 'needs-sizes', missing: ['alpaca'] });
  });

  it('say when there are no tasks at all', () => {
    expect(mixturePreview(recipeWith([]), [])).toEqual({ status: 'no-tasks' });
  });
});

describe('mixture preview', () => {
  const n = [4361, 9543];

  it('gives temperature T probabilities pᵢ = nᵢ^(1/T) / Σ nⱼ^(1/T) and expected examples steps × batch × pᵢ', () => {
    const recipe = recipeWith([phrases, tweets], { mixture: { strategy: 'temperature', temperature: 2, per: 'example' }, steps: 200, batch_size: 4 });
    const result = ready(mixturePreview(recipe, sized(['phrases', n[0]!], ['tweets.finance', n[1]!])));
    const root = n.map((size) => Math.sqrt(size));
    const p = root.map((r) => r / (root[0]! + root[1]!));
    expect(result.optimizerSteps).toBe(200);
    result.tasks.forEach((task, i) => {
      expect(task.first).toBeCloseTo(p[i]!, 12);
      expect(task.last).toBeCloseTo(p[i]!, 12);
      expect(task.expectedExamples).toBeCloseTo(200 * 4 * p[i]!, 9);
      expect(task.passes).toBeCloseTo((200 * 4 * p[i]!) / n[i]!, 12);
      expect(task.expectedTokens).toBeNull();
    });
    expect(result.series[0]).toEqual({ step: 1, task0: result.tasks[0]!.first, task1: result.tasks[1]!.first });
    expect(result.series.at(-1)!.step).toBe(200);
    expect(result.estimated).toBe(true);
  });

  it('gives regularizers the regularizer share and the tasks the rest, each role split by the formula', () => {
    const recipe = recipeWith([phrases, tweets, alpaca], {
      mixture: { strategy: 'temperature', temperature: 3, per: 'example', regularizer_share: 0.2 },
      steps: 100,
      batch_size: 8,
    });
    const result = ready(mixturePreview(recipe, sized(['phrases', n[0]!], ['tweets.finance', n[1]!], ['alpaca', 300, 'regularizer'])));
    const cube = n.map((size) => size ** (1 / 3));
    const expected = [(0.8 * cube[0]!) / (cube[0]! + cube[1]!), (0.8 * cube[1]!) / (cube[0]! + cube[1]!), 0.2];
    result.tasks.forEach((task, i) => {
      expect(task.first).toBeCloseTo(expected[i]!, 12);
      expect(task.expectedExamples).toBeCloseTo(100 * 8 * expected[i]!, 9);
    });
  });

  it('counts round-robin turns exactly and charts equal long-run shares', () => {
    const recipe = recipeWith([phrases, tweets], { mixture: { strategy: 'round_robin', per: 'example' }, steps: 25, batch_size: 3 });
    const result = ready(mixturePreview(recipe, sized(['phrases', n[0]!], ['tweets.finance', n[1]!])));
    // 75 turns alternate between the two tasks, the first task taking the odd one.
    expect(result.tasks.map((task) => task.expectedExamples)).toEqual([38, 37]);
    expect(result.tasks.map((task) => task.first)).toEqual([0.5, 0.5]);
  });

  it('changes the annealed exponent α = 1 − 0.8·(e − 1)/(E − 1) once per mixture epoch', () => {
    const sizes = [30, 10];
    const recipe = recipeWith([phrases, tweets], { mixture: { strategy: 'annealed', per: 'example' }, steps: 30, batch_size: 4 });
    const result = ready(mixturePreview(recipe, sized(['phrases', sizes[0]!], ['tweets.finance', sizes[1]!])));
    // 30 steps × 4 examples over 40 rows: E = 3 epochs, α = 1, 0.6, 0.2.
    const probabilityAt = (alpha: number) => sizes[0]! ** alpha / (sizes[0]! ** alpha + sizes[1]! ** alpha);
    expect(result.tasks[0]!.first).toBeCloseTo(probabilityAt(1), 12);
    expect(result.tasks[0]!.last).toBeCloseTo(probabilityAt(0.2), 12);
    const expectedFirst = 10 * 4 * (probabilityAt(1) + probabilityAt(0.6) + probabilityAt(0.2));
    expect(result.tasks[0]!.expectedExamples).toBeCloseTo(expectedFirst, 9);
  });

  it('derives the steps of an epochs recipe from the task sizes: ⌈epochs × Σ nᵢ / (batch × grad_accum)⌉', () => {
    const recipe = recipeWith([phrases, tweets], { steps: undefined, epochs: 0.5, batch_size: 4, grad_accum: 2, mixture: { strategy: 'proportional', per: 'example' } });
    const result = ready(mixturePreview(recipe, sized(['phrases', 100], ['tweets.finance', 300])));
    expect(result.optimizerSteps).toBe(Math.ceil((0.5 * 400) / 8));
    // The sampler draws per micro-batch: steps × grad_accum × batch examples in all.
    expect(result.plan.totalSteps).toBe(25 * 2);
    expect(result.tasks[0]!.expectedExamples).toBeCloseTo(25 * 2 * 4 * 0.25, 9);
    expect(result.series.at(-1)!.step).toBe(25);
  });

  it('multiplies expected examples by each task’s mean tokens, and leaves tokens pending for tasks without stats', () => {
    const recipe = recipeWith([phrases, tweets], { mixture: { strategy: 'uniform', per: 'example' }, steps: 10, batch_size: 4 });
    const sizes: TaskSize[] = [
      { name: 'phrases', role: 'task', examples: 4000, basis: 'stats', meanTokens: 37.25 },
      { name: 'tweets.finance', role: 'task', examples: 9000, basis: 'rows', meanTokens: null },
    ];
    const result = ready(mixturePreview(recipe, sizes));
    expect(result.tasks[0]!.expectedTokens).toBeCloseTo(20 * 37.25, 9);
    expect(result.tasks[1]!.expectedTokens).toBeNull();
  });

  it('passes on the mixture’s own error for an invalid setting', () => {
    const recipe = recipeWith([phrases, tweets], { mixture: { strategy: 'temperature', temperature: 0, per: 'example' } });
    expect(() => mixturePreview(recipe, sized(['phrases', 10], ['tweets.finance', 10]))).toThrow(CocktailError);
    expect(() => mixturePreview(recipe, sized(['phrases', 10], ['tweets.finance', 10]))).toThrow(/temperature must be a finite number > 0/);
  });

  it('says the run length is missing instead of previewing NaN steps', () => {
    const recipe = recipeWith([phrases, tweets], { steps: undefined, epochs: undefined });
    expect(() => mixturePreview(recipe, sized(['phrases', 10], ['tweets.finance', 10]))).toThrow(/run length is not set/);
  });

  it('numbers optimizer steps from 1, grad_accum micro-batches each', () => {
    expect([0, 1, 2, 3, 4].map((micro) => optimizerStepOf(micro, 2))).toEqual([1, 1, 2, 2, 3]);
  });
});

describe('mixture epochs', () => {
  const annealed = (steps: number, changes: Partial<Recipe> = {}) =>
    ready(mixturePreview(recipeWith([phrases, { ...tweets, name: 'tweets' }], { mixture: { ...DEFAULT_RECIPE.mixture, strategy: 'annealed' }, batch_size: 2, grad_accum: 1, steps, ...changes }), sized(['phrases', 30], ['tweets', 10])));

  it('says a run shorter than one mixture epoch has one, and where the second would start', () => {
    // 40 examples, 2 a step: an epoch is 20 steps; a 5-step run never reaches the second.
    const short = annealed(5);
    expect(short.epochs).toEqual({ count: 1, stepsPerEpoch: 20, changeSteps: [] });
    // Flat: the first epoch's probabilities (proportional, 30:10) all the way.
    for (const [task, p] of [[0, 0.75], [1, 0.25]] as const) {
      expect(short.tasks[task]!.first).toBeCloseTo(p, 12);
      expect(short.tasks[task]!.last).toBeCloseTo(p, 12);
    }
  });

  it('gives the steps where each later epoch starts, where the annealed probabilities change', () => {
    const long = annealed(50);
    expect(long.epochs).toEqual({ count: 3, stepsPerEpoch: 20, changeSteps: [21, 41] });
    const at = (step: number) => long.series.filter((point) => point.step === step).map((point) => point.task0);
    expect(at(20).at(-1)).toBeCloseTo(0.75, 12);
    expect(at(21)[0]).toBeLessThan(0.75);
  });

  it('counts epochs in optimizer steps when micro-batches are accumulated', () => {
    // 45 examples, micro-batches of 2: epoch 2 starts at micro-step ⌈45/2⌉ = 23, optimizer step ⌊23/4⌋ + 1 = 6.
    expect(mixtureEpochs(45, 3, { batch_size: 2, grad_accum: 4 })).toEqual({ count: 3, stepsPerEpoch: 5, changeSteps: [6, 12] });
  });
});
