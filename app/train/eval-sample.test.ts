/**
 * The evaluation sample on a label-sorted file: the tweets fixture's rows sorted by label, so the
 * validation split (which keeps file order) begins with every "Bearish" tweet. The sample must follow
 * the split's label shares, and two preparations of the same recipe must evaluate the same examples.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluationSample, stratifiedQuotas } from './eval-sample.ts';
import { prepareTasks } from './prepare.ts';
import { fixtureTokenizer, RECIPE_DIR, testRecipe, TWEETS_TASK } from './prepare/test-support.ts';
import type { PreparedTask } from './task-data.ts';

/** The tweets file with its rows sorted by label (a CSV row may span lines inside quotes: sort parsed records). */
async function labelSortedTweets(): Promise<Blob> {
  const text = await readFile(path.resolve(RECIPE_DIR, TWEETS_TASK.source.file), 'utf8');
  const records: string[] = [];
  let current = '';
  for (const line of text.split('\n').slice(1)) {
    current = current ? `${current}\n${line}` : line;
    if ((current.match(/"/g)?.length ?? 0) % 2 === 0) {
      if (current.trim()) records.push(current);
      current = '';
    }
  }
  const labelOf = (record: string) => record.slice(record.lastIndexOf(',') + 1).trim();
  const sorted = records.filter((record) => /^[012]$/.test(labelOf(record))).sort((a, b) => labelOf(a).localeCompare(labelOf(b)));
  return new Blob([`text,label\n${sorted.join('\n')}\n`]);
}

async function prepareSorted(seed: number): Promise<PreparedTask> {
  const tokenizer = await fixtureTokenizer();
  const recipe = testRecipe([{ ...TWEETS_TASK, source: { file: 'sorted.csv' }, validation_fraction: 0.05, max_examples: 16 }], { seed });
  const sorted = await labelSortedTweets();
  const { tasks } = await prepareTasks(recipe, { tokenizer, openFile: async () => sorted });
  return tasks[0]!;
}

const countLabels = (task: PreparedTask, indices: readonly number[]) => {
  const counts: Record<string, number> = {};
  for (const index of indices) counts[task.validationPrompts[index]!.expected] = (counts[task.validationPrompts[index]!.expected] ?? 0) + 1;
  return counts;
};

describe('the evaluation sample', { timeout: 240_000 }, () => {
  // Two preparations of the same recipe, as two runs make them.
  let task: PreparedTask;
  let again: PreparedTask;
  beforeAll(async () => {
    task = await prepareSorted(17);
    again = await prepareSorted(17);
  }, 240_000);

  it('follows the label shares of a label-sorted validation split, where the first examples are one label only', () => {
    const size = 30;
    const first = countLabels(task, task.validation.slice(0, size).map((_, i) => i));
    // The old prefix: one label only.
    expect(Object.keys(first)).toEqual(['Bearish']);

    const sample = evaluationSample(task, size, 17);
    expect(sample.indices).toHaveLength(size);
    expect(new Set(sample.indices).size).toBe(size);
    const split = countLabels(task, task.validation.map((_, i) => i));
    const chosen = countLabels(task, sample.indices);
    expect(Object.keys(split).sort()).toEqual(['Bearish', 'Bullish', 'Neutral']);
    for (const label of Object.keys(split)) {
      const share = (split[label]! * size) / task.validation.length;
      expect(Math.abs((chosen[label] ?? 0) - share)).toBeLessThan(1);
    }
    expect(sample.labels).toEqual(chosen);
    expect(sample.splitLabels).toEqual(split);
    expect(sample.notices).toEqual([]);
  });

  it('is the same examples in two runs of the same recipe and seed, and other examples with another seed', () => {
    const rows = (prepared: PreparedTask, seed: number) => evaluationSample(prepared, 24, seed).indices.map((index) => prepared.validation[index]!.source.row);
    expect(rows(task, 17)).toEqual(rows(again, 17));
    expect(rows(again, 18)).not.toEqual(rows(task, 17));
  });

  it('uses the whole split when asked for more examples than it holds, and says so', () => {
    const sample = evaluationSample(task, 10_000, 17);
    expect(sample.indices).toEqual(task.validation.map((_, i) => i));
    expect(sample.notices).toEqual([`10000 evaluation examples were asked for, but the validation split of "tweets" holds ${task.validation.length}: all ${task.validation.length} are evaluated.`]);
    expect(evaluationSample(task, 'all', 17).indices).toHaveLength(task.validation.length);
  });

  it('names a label the validation split lacks', () => {
    const withoutBullish = task.validationPrompts.map((prompt, i) => ({ prompt, example: task.validation[i]! })).filter(({ prompt }) => prompt.expected !== 'Bullish');
    const lacking = { ...task, validation: withoutBullish.map(({ example }) => example), validationPrompts: withoutBullish.map(({ prompt }) => prompt) };
    const sample = evaluationSample(lacking, 10, 17);
    expect(sample.notices).toEqual(['The validation split of "tweets" has no example labelled "Bullish": its recall cannot be measured and the sample cannot include it.']);
    expect(sample.labels).toMatchObject({ Bullish: 0 });
  });
});

describe('stratified quotas', () => {
  it('give each group its share by largest remainders, never more than it has', () => {
    expect(stratifiedQuotas([50, 30, 20], 10)).toEqual([5, 3, 2]);
    expect(stratifiedQuotas([1, 1, 1], 2)).toEqual([1, 1, 0]);
    expect(stratifiedQuotas([7, 2, 1], 4)).toEqual([3, 1, 0]);
    expect(stratifiedQuotas([2, 0, 5], 7)).toEqual([2, 0, 5]);
  });
});
