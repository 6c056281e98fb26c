import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../train/recipe.ts';
import type { PreparedTask } from '../train/task-data.ts';
import { armRecipe, armSteps, checkBudget } from './budget.ts';
import { incrementalStages, planArms, singleArmsTogether, validateExperiment, type ExperimentSpec } from './design.ts';

const recipe = (overrides: Record<string, unknown> = {}) =>
  parseRecipe({
    model: { source: 'aidreams260K' },
    tasks: [
      ...['a', 'b', 'c'].map((name) => ({ name, source: { file: `${name}.jsonl` }, format: 'prompt_completion' })),
      { name: 'reg', source: { file: 'reg.jsonl' }, format: 'text', role: 'regularizer' },
    ],
    mixture: { strategy: 'uniform' },
    batch_size: 4,
    grad_accum: 2,
    steps: 10,
    seed: 5,
    ...overrides,
  });

const spec = (overrides: Partial<ExperimentSpec> = {}): ExperimentSpec => ({ recipe: recipe(), targets: ['a'], designs: ['single'], seeds: 3, budget: 'steps', ...overrides });

/** Prepared tasks of given training sizes (only the sizes matter to budgets). */
const prepared = (sizes: Record<string, number>): PreparedTask[] =>
  Object.entries(sizes).map(([name, size]) => ({ name, role: name === 'reg' ? 'regularizer' : 'task', metric: 'loss', train: Array.from({ length: size }, () => ({}) as never), validation: [], validationPrompts: [], meanTokens: 10 }));

describe('experiment designs', () => {
  const ids = (s: ExperimentSpec) => planArms(s).map((arm) => arm.id);

  it('plans single, all and leave-one-out arms over the candidate tasks, never varying the regularizer', () => {
    expect(ids(spec({ designs: ['single'] }))).toEqual(['a', 'b', 'c']);
    expect(ids(spec({ designs: ['all'] }))).toEqual(['a', 'a+b+c']);
    expect(ids(spec({ designs: ['leave-one-out'] }))).toEqual(['a', 'a+b+c', 'b+c', 'a+c', 'a+b']);
  });

  it('pairs each target with each other task and shares arms between designs', () => {
    const arms = planArms(spec({ targets: ['a', 'b'], designs: ['pairs', 'single'] }));
    expect(arms.map((arm) => arm.id)).toEqual(['a', 'b', 'a+b', 'a+c', 'b+c', 'c']);
    expect(arms.find((arm) => arm.id === 'a')!.designs).toEqual(['single']);
  });

  it('adds tasks to the targets in the given order for incremental', () => {
    const s = spec({ designs: ['incremental'], order: ['c', 'b'] });
    expect(incrementalStages(s)).toEqual([['a'], ['a', 'c'], ['a', 'c', 'b']]);
    expect(ids(s)).toEqual(['a', 'a+c', 'a+b+c']);
  });

  it('takes custom task sets', () => {
    expect(ids(spec({ designs: ['custom'], custom: [['c', 'b']] }))).toEqual(['a', 'b+c']);
  });

  it('builds each arm’s recipe with its tasks, the regularizer, the seed and a shared adapter', () => {
    const arm = armRecipe(recipe({ lora: { layout: 'per_task' }, mixture: { strategy: 'manual', weights: { a: 1, b: 2, c: 3, reg: 1 }, per: 'batch' } }), ['c', 'a'], 9, 20);
    expect(arm.tasks.map((t) => t.name)).toEqual(['a', 'c', 'reg']);
    expect(arm.mixture.weights).toEqual({ a: 1, c: 3, reg: 1 });
    expect([arm.seed, arm.steps, arm.lora.layout]).toEqual([9, 20, 'shared']);
  });

  it('gives every arm the base steps under "steps", and more steps to mixtures under "target-examples"', () => {
    const tasks = prepared({ a: 200, b: 200, c: 200, reg: 200 });
    const r = recipe({ mixture: { strategy: 'uniform', regularizer_share: 0.25 } });
    expect(armSteps(r, tasks, ['a', 'b'], ['a'], 'steps')).toBe(10);
    // Single arm: the target draws 3/4 of examples (the regularizer 1/4); with b it draws 3/8: twice the steps.
    expect(armSteps(r, tasks, ['a'], ['a'], 'target-examples')).toBe(Math.ceil(10 / 0.75));
    expect(armSteps(r, tasks, ['a', 'b'], ['a'], 'target-examples')).toBe(Math.ceil(10 / 0.375));
    expect(armSteps(r, tasks, ['b', 'c'], ['a'], 'target-examples')).toBe(10);
  });
});

describe('experiment bad input, refused before anything runs', () => {
  it('trains the single-task arms of a seed together only when there are two or more, with equal steps and no regularizer', () => {
    const noRegularizer = (overrides: Partial<ExperimentSpec> = {}) => spec({ recipe: recipe({ tasks: recipe().tasks.filter((task) => task.role !== 'regularizer') }), ...overrides });
    const withSteps = (s: ExperimentSpec, steps: (id: string) => number) => planArms(s).map((arm) => ({ ...arm, steps: steps(arm.id) }));
    expect(singleArmsTogether(noRegularizer({ designs: ['single', 'all'] }), withSteps(noRegularizer({ designs: ['single', 'all'] }), () => 10))).toEqual(['a', 'b', 'c']);
    // The regularizer would share each single arm's adapter.
    expect(singleArmsTogether(spec(), withSteps(spec(), () => 10))).toEqual([]);
    // One single arm (the target's) has nothing to train with.
    expect(singleArmsTogether(noRegularizer({ designs: ['pairs'] }), withSteps(noRegularizer({ designs: ['pairs'] }), () => 10))).toEqual([]);
    expect(singleArmsTogether(noRegularizer(), withSteps(noRegularizer(), (id) => (id === 'b' ? 12 : 10)))).toEqual([]);
  });

  it('refuses a design naming a task that is not in the recipe', () => {
    expect(() => validateExperiment(spec({ designs: ['incremental'], order: ['b', 'zzz'] }))).toThrow(/order: "zzz" is not a task of the recipe; its tasks are "a", "b", "c"/);
    expect(() => validateExperiment(spec({ designs: ['custom'], custom: [['a', 'nope']] }))).toThrow(/custom\[0\]: "nope" is not a task/);
  });

  it('refuses a target that is not a task, or is a regularizer', () => {
    expect(() => validateExperiment(spec({ targets: ['x'] }))).toThrow(expect.objectContaining({ code: 'EXPERIMENT_UNKNOWN_TASK' }));
    expect(() => validateExperiment(spec({ targets: ['reg'] }))).toThrow(/"reg" is a regularizer/);
  });

  it('refuses zero seeds, an unknown design and an unknown budget', () => {
    expect(() => validateExperiment(spec({ seeds: 0 }))).toThrow(expect.objectContaining({ code: 'EXPERIMENT_SEEDS' }));
    expect(() => validateExperiment(spec({ designs: ['triples' as never] }))).toThrow(/design "triples" is not one of/);
    expect(() => validateExperiment(spec({ budget: 'tokens' as never }))).toThrow(/budget must be/);
  });

  it('refuses a "target-examples" budget that a target task is too small for', () => {
    // 10 steps × batch 4 × grad_accum 2 = 80 target examples per arm.
    expect(() => checkBudget(recipe(), prepared({ a: 79, b: 500, c: 500, reg: 500 }), ['a'], 'target-examples')).toThrow(/task "a" has 79 training examples, but each arm must see 80/);
    expect(() => checkBudget(recipe(), prepared({ a: 80, b: 5, c: 5, reg: 5 }), ['a'], 'target-examples')).not.toThrow();
    expect(() => checkBudget(recipe(), prepared({ a: 1, b: 5, c: 5, reg: 5 }), ['a'], 'steps')).not.toThrow();
  });
});
