/**
 * A run tokenizes only the validation examples its evaluations score: the evaluation sample drawn
 * before tokenization must be the very sample the evaluator would draw from the whole tokenized split,
 * and report the whole split's size and label counts.
 */
import { describe, expect, it } from 'vitest';
import { evaluationSample } from '../eval-sample.ts';
import { prepareTasks } from '../prepare.ts';
import { FPB_TASK, fixtureTokenizer, openRecipeFile, testRecipe } from './test-support.ts';

describe('the validation examples a run tokenizes', () => {
  it('are the evaluation sample of the whole split, drawn before tokenization', { timeout: 120_000 }, async () => {
    const tokenizer = await fixtureTokenizer();
    const recipe = testRecipe([{ ...FPB_TASK, validation_fraction: 0.05, max_examples: 16 }], { eval_examples: 20, seed: 5 });
    const whole = (await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile })).tasks[0]!;
    const run = (await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile, evaluatedOnly: true })).tasks[0]!;

    expect(whole.validation.length).toBeGreaterThan(200);
    expect(run.validation).toHaveLength(20);
    expect(run.validationPrompts).toHaveLength(20);
    const fromWhole = evaluationSample(whole, 20, 5);
    const fromRun = evaluationSample(run, 20, 5);
    expect(run.validation.map((example) => example.source.row)).toEqual(fromWhole.indices.map((index) => whole.validation[index]!.source.row));
    expect(fromRun.indices).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect({ ...fromRun, indices: [] }).toEqual({ ...fromWhole, indices: [] });
    expect(fromRun.splitSize).toBe(whole.validation.length);
    expect(Object.values(fromRun.splitLabels!).reduce((a, b) => a + b, 0)).toBe(whole.validation.length);

    // The whole split when asked for, as a run with eval_whole_split tokenizes it.
    const all = (await prepareTasks({ ...recipe, eval_whole_split: true }, { tokenizer, openFile: openRecipeFile, evaluatedOnly: true })).tasks[0]!;
    expect(all.validation).toHaveLength(whole.validation.length);
    expect(all.validationSample).toBeUndefined();
  });
});
