/**
 * A run tokenizes only the validation examples its evaluations score, and they must be the very
 * sample the evaluator draws from the wholly tokenized split, even where tokenization drops examples
 * (a prompt longer than max_length): a sample drawn before tokenization once lost them, and an
 * evaluation asked for 6 tweets scored 5.
 */
import { describe, expect, it } from 'vitest';
import { drawSample, evaluationSample, planSample } from '../eval-sample.ts';
import { prepareTasks } from '../prepare.ts';
import type { PreparedTask } from '../task-data.ts';
import { FPB_TASK, TWEETS_TASK, fixtureTokenizer, openRecipeFile, testRecipe } from './test-support.ts';

const rowsOf = (task: PreparedTask, indices: readonly number[]) => indices.map((index) => task.validation[index]!.source.row);

describe('the validation examples a run tokenizes', () => {
  it('are the evaluation sample of the whole split, drawn before tokenization', { timeout: 120_000 }, async () => {
    const tokenizer = await fixtureTokenizer();
    const recipe = testRecipe([{ ...FPB_TASK, validation_fraction: 0.05, max_examples: 16 }], { eval_examples: 20, seed: 5 });
    const whole = (await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile })).tasks[0]!;
    const run = (await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile, evaluatedOnly: true })).tasks[0]!;

    expect(whole.validation.length).toBeGreaterThan(200);
    expect(whole.validationSplit).toBeUndefined();
    expect(run.validation).toHaveLength(20);
    expect(run.validationPrompts).toHaveLength(20);
    const fromWhole = evaluationSample(whole, 20, 5);
    const fromRun = evaluationSample(run, 20, 5);
    expect(run.validation.map((example) => example.source.row)).toEqual(rowsOf(whole, fromWhole.indices));
    expect(fromRun.indices).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect({ ...fromRun, indices: [] }).toEqual({ ...fromWhole, indices: [] });
    expect(fromRun.splitSize).toBe(whole.validation.length);
    expect(Object.values(fromRun.splitLabels!).reduce((a, b) => a + b, 0)).toBe(whole.validation.length);

    // The whole split when asked for, as a run with eval_whole_split tokenizes it.
    const all = (await prepareTasks({ ...recipe, eval_whole_split: true }, { tokenizer, openFile: openRecipeFile, evaluatedOnly: true })).tasks[0]!;
    expect(all.validation).toHaveLength(whole.validation.length);
    expect(all.validationSample).toBeUndefined();
  });

  // At max_length 96, truncation leaves about half of the tweets' validation examples with no answer
  // token (dropped); with overlong "drop" at 128, a sixth are left out whole.
  for (const { max_length, overlong } of [{ max_length: 96, overlong: 'truncate' }, { max_length: 128, overlong: 'drop' }] as const) {
    it(`are the sample of the examples tokenization keeps, when it drops some (max_length ${max_length}, overlong "${overlong}")`, { timeout: 240_000 }, async () => {
      const tokenizer = await fixtureTokenizer();
      const base = testRecipe([{ ...TWEETS_TASK, validation_fraction: 0.02, max_examples: 40 }], { max_length, overlong, seed: 3 });
      const prepared = await prepareTasks(base, { tokenizer, openFile: openRecipeFile });
      const whole = prepared.tasks[0]!;
      const report = prepared.reports[0]!.tokenize.validation;
      const droppedRows = new Set([...report.untrained.rows, ...report.overlong.rows]);
      expect(droppedRows.size).toBeGreaterThan(10);
      expect(whole.validationSplit).toHaveLength(report.examplesIn);
      expect(whole.validation).toHaveLength(report.examplesIn - droppedRows.size);

      // 6 as in the Evaluate e2e; 80, where a label's survivors run out before its share; 150, more than survive.
      for (const requested of [6, 80, 150]) {
        const recipe = { ...base, eval_examples: requested };
        const run = (await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile, evaluatedOnly: true })).tasks[0]!;
        const fromWhole = evaluationSample(whole, requested, 3);
        const fromRun = evaluationSample(run, requested, 3);

        // A draw that ignores tokenization takes dropped rows: the case that lost examples.
        const naive = drawSample(planSample(whole, whole.validationSplit!, requested, 3), () => true);
        if ('need' in naive) throw new Error('a draw that knows every answer needs nothing');
        expect(naive.candidates.some((candidate) => droppedRows.has(whole.validationSplit![candidate]!.row))).toBe(true);

        // Same examples, same order, same prompts, and every one of them kept by tokenization.
        const sampledRows = rowsOf(whole, fromWhole.indices);
        expect(run.validation.map((example) => example.source.row)).toEqual(sampledRows);
        expect(run.validationPrompts.map((prompt) => prompt.expected)).toEqual(fromWhole.indices.map((index) => whole.validationPrompts[index]!.expected));
        expect(run.validation.map((example) => Array.from(example.inputIds))).toEqual(fromWhole.indices.map((index) => Array.from(whole.validation[index]!.inputIds)));
        expect(sampledRows.every((row) => !droppedRows.has(row))).toBe(true);
        // As many as asked while the split keeps that many, all that survive otherwise.
        expect(sampledRows).toHaveLength(Math.min(requested, whole.validation.length));
        expect({ ...fromRun, indices: [] }).toEqual({ ...fromWhole, indices: [] });
        expect(fromRun.splitSize).toBe(report.examplesIn);
        expect(Object.values(fromRun.labels!).reduce((a, b) => a + b, 0)).toBe(sampledRows.length);
        if (requested > whole.validation.length) expect(fromRun.notices.join(' ')).toContain(`tokenization kept fewer of the validation split of "tweets"`);
      }
    });
  }
});
