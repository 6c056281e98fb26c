import { describe, expect, it } from 'vitest';
import { experimentSpecOf, type ExperimentForm } from './experiment.ts';

const recipe = {
  model: { source: 'aidreams260K' },
  tasks: ['fpb', 'tweets', 'alpaca'].map((name) => ({ name, source: { file: `${name}.csv` }, format: 'classification' })),
  steps: 4,
};
const form = (change: Partial<ExperimentForm>): ExperimentForm => ({ targets: ['fpb'], designs: ['single'], seeds: 2, budget: 'steps', order: '', custom: '', ...change });

describe('the Experiments page form', () => {
  it('reads the custom design’s task sets: comma-separated sets, each set’s tasks joined with +', () => {
    expect(experimentSpecOf(recipe, form({ designs: ['single', 'custom'], custom: ' fpb + tweets, fpb+alpaca ,' }))).toMatchObject({ designs: ['single', 'custom'], custom: [['fpb', 'tweets'], ['fpb', 'alpaca']] });
    // Sets typed and then the design unticked: not part of the experiment.
    expect(experimentSpecOf(recipe, form({ custom: 'fpb+tweets' }))).not.toHaveProperty('custom');
  });

  it('refuses a custom design without sets, or with a task the recipe lacks, before anything runs', () => {
    expect(() => experimentSpecOf(recipe, form({ designs: ['custom'], custom: ' , ' }))).toThrow(/custom design needs at least one task set/);
    expect(() => experimentSpecOf(recipe, form({ designs: ['custom'], custom: 'fpb+gsm8k' }))).toThrow(/custom\[0\]: "gsm8k" is not a task/);
  });
});
