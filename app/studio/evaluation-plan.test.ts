import { describe, expect, it } from 'vitest';
import { parseRecipe, type Recipe } from '../train/recipe.ts';
import { mergeEvaluations, runEvaluationJobs, singleTaskRecipe } from './evaluation-plan.ts';
import { FINANCE_COCKTAIL } from './presets.ts';

const manual: Recipe = {
  ...FINANCE_COCKTAIL,
  mixture: { strategy: 'manual', per: 'example', regularizer_share: 0.2, weights: { phrase_sentiment: 2, tweet_sentiment: 1, math_word_problems: 1, general_instructions: 1 } },
};

describe('evaluation jobs', () => {
  it('evaluates a shared-adapter run with one request and its adapter', () => {
    expect(runEvaluationJobs({ runId: 'r1', recipe: manual, adapterKeys: ['r1/shared'] })).toEqual([{ recipe: manual, adapterKey: 'r1/shared' }]);
  });

  it('evaluates each task of a per-task run with its own adapter and a recipe of that task alone', () => {
    const recipe: Recipe = { ...manual, lora: { ...manual.lora, layout: 'per_task' } };
    const keys = recipe.tasks.map((task) => `r2/${task.name}`);
    const jobs = runEvaluationJobs({ runId: 'r2', recipe, adapterKeys: keys });
    expect(jobs.map((job) => job.adapterKey)).toEqual(keys);
    expect(jobs.map((job) => job.recipe.tasks.map((task) => task.name))).toEqual(recipe.tasks.map((task) => [task.name]));
  });

  it('refuses a run that exported no adapter yet', () => {
    expect(() => runEvaluationJobs({ runId: 'r0', recipe: manual, adapterKeys: [] })).toThrow(/run "r0" has no adapter: only finished runs/);
  });

  it('refuses a per-task run that lacks a task’s adapter', () => {
    const recipe: Recipe = { ...manual, lora: { ...manual.lora, layout: 'per_task' } };
    expect(() => runEvaluationJobs({ runId: 'r3', recipe, adapterKeys: ['r3/phrase_sentiment'] })).toThrow(/no adapter for task "tweet_sentiment"/);
  });

  it('makes single-task recipes that are valid recipes, the task kept as it was apart from its role', () => {
    const single = singleTaskRecipe(manual, 'math_word_problems');
    expect(() => parseRecipe(single)).not.toThrow();
    expect(single.tasks).toEqual([{ ...manual.tasks[2]!, role: 'task' }]);
    expect(single.mixture).toEqual({ strategy: 'proportional', per: 'example' });
    expect(single.seed).toBe(manual.seed);
  });

  it('puts the results of several requests back together', () => {
    const task = (name: string) => ({ task: name, metric: 'accuracy' as const, loss: 1, score: 0.5, examples: 4, samples: [] });
    expect(mergeEvaluations([{ step: 0, tasks: [task('a')] }, { step: 0, tasks: [task('b')] }])).toEqual({ step: 0, tasks: [task('a'), task('b')] });
  });
});
