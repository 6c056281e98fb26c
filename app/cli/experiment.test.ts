import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../train/recipe.ts';
import { experimentSpecOf } from './experiment.ts';

const recipe = parseRecipe({
  model: { source: 'aidreams260K' },
  tasks: ['fpb', 'tweets'].map((name) => ({ name, source: { file: `${name}.csv` }, format: 'classification' })),
  steps: 4,
  seed: 2,
});

describe('cocktail experiment arguments', () => {
  it('reads designs, targets, order, seeds and budget, with 3 seeds and the steps budget by default', () => {
    expect(experimentSpecOf(recipe, { design: 'single, pairs', targets: 'fpb' })).toMatchObject({ designs: ['single', 'pairs'], targets: ['fpb'], seeds: 3, budget: 'steps' });
    expect(experimentSpecOf(recipe, { design: 'incremental', targets: 'fpb', order: 'tweets', seeds: 2, budget: 'target-examples' })).toMatchObject({ order: ['tweets'], seeds: 2, budget: 'target-examples' });
  });

  it('reads the custom design\'s task sets from --sets, each set joined with +', () => {
    expect(experimentSpecOf(recipe, { design: 'single,custom', targets: 'fpb', sets: 'fpb+tweets, tweets' })).toMatchObject({ designs: ['single', 'custom'], custom: [['fpb', 'tweets'], ['tweets']] });
  });

  it('refuses bad input before anything loads, with the reason', () => {
    expect(() => experimentSpecOf(recipe, { design: 'singles', targets: 'fpb' })).toThrow(/--design "singles" is not one of single, all, leave-one-out, pairs, incremental, greedy/);
    expect(() => experimentSpecOf(recipe, { design: 'single', targets: 'alpaca' })).toThrow(/targets: "alpaca" is not a task of the recipe; its tasks are "fpb", "tweets"/);
    expect(() => experimentSpecOf(recipe, { design: 'incremental', targets: 'fpb', order: 'gsm8k' })).toThrow(/order: "gsm8k" is not a task/);
    expect(() => experimentSpecOf(recipe, { design: 'single', targets: 'fpb', seeds: 0 })).toThrow(/seeds must be a whole number of at least 1/);
    expect(() => experimentSpecOf(recipe, { design: 'single', targets: 'fpb', budget: 'tokens' })).toThrow(/--budget must be "steps" or "target-examples"/);
    expect(() => experimentSpecOf(recipe, { design: 'custom', targets: 'fpb' })).toThrow(/--design custom needs its task sets: --sets a\+b,a\+c/);
    expect(() => experimentSpecOf(recipe, { design: 'single', targets: 'fpb', sets: 'fpb+tweets' })).toThrow(/--sets gives the custom design its task sets: add custom to --design/);
    expect(() => experimentSpecOf(recipe, { design: 'custom', targets: 'fpb', sets: 'fpb+gsm8k' })).toThrow(/custom\[0\]: "gsm8k" is not a task/);
  });
});
