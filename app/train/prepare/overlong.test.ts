/**
 * An example longer than max_length keeps the start of its prompt: the end of its answer is cut, or,
 * with overlong "drop", the example is left out whole. Alpaca rows, cut from the left as before,
 * lost their whole instruction and trained on nothing but answer tokens.
 */
import { describe, expect, it } from 'vitest';
import { prepareTasks } from '../prepare.ts';
import { ALPACA_TASK, fixtureTokenizer, openRecipeFile, testRecipe } from './test-support.ts';

const LIMIT = 160;

async function alpaca(extra: Record<string, unknown>) {
  const tokenizer = await fixtureTokenizer();
  const recipe = testRecipe([{ ...ALPACA_TASK, validation_fraction: 0.05, max_examples: 120 }], extra);
  return prepareTasks(recipe, { tokenizer, openFile: openRecipeFile });
}

describe('examples longer than max_length', { timeout: 120_000 }, () => {
  it('lose the end of their answer, never the start of their prompt', async () => {
    const [whole, cut] = await Promise.all([alpaca({ max_length: 4096 }), alpaca({ max_length: LIMIT })]);
    const full = new Map(whole.tasks[0]!.train.map((example) => [example.source.row, example]));
    const long = cut.tasks[0]!.train.filter((example) => example.truncatedTokens > 0);
    expect(long.length).toBeGreaterThan(5);
    for (const example of long) {
      const original = full.get(example.source.row)!;
      expect(example.inputIds.length).toBe(LIMIT);
      expect(example.truncatedTokens).toBe(original.inputIds.length - LIMIT);
      // The first LIMIT tokens of the whole example, prompt and the answer's start, with the same labels.
      expect(Array.from(example.inputIds)).toEqual(Array.from(original.inputIds.subarray(0, LIMIT)));
      expect(Array.from(example.labels)).toEqual(Array.from(original.labels.subarray(0, LIMIT)));
    }
  });

  it('are left out whole with overlong "drop", counted and listed by row', async () => {
    const [whole, dropped] = await Promise.all([alpaca({ max_length: 4096 }), alpaca({ max_length: LIMIT, overlong: 'drop' })]);
    const longRows = whole.tasks[0]!.train.filter((example) => example.inputIds.length > LIMIT).map((example) => example.source.row);
    const task = dropped.tasks[0]!;
    expect(task.train.every((example) => example.truncatedTokens === 0 && example.inputIds.length <= LIMIT)).toBe(true);
    expect(task.train.map((example) => example.source.row)).toEqual(whole.tasks[0]!.train.filter((example) => example.inputIds.length <= LIMIT).map((example) => example.source.row));
    expect(dropped.reports[0]!.tokenize.train.overlong).toEqual({ count: longRows.length, rows: longRows });
  });
});
