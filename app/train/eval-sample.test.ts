/**
 * The evaluation sample on a label-sorted file: the tweets fixture's rows sorted by label, so the
 * validation split (which keeps file order) begins with every "Bearish" tweet. The sample must follow
 * the split's label shares, and two preparations of the same recipe must evaluate the same examples.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawSample, evaluationSample, stratifiedQuotas } from './eval-sample.ts';
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

describe('drawing the sample among the examples tokenization keeps', () => {
  // Two labels in their seeded orders; tokenization drops candidates 5, 2 and 4.
  const plan = { groups: [[5, 1, 3, 0], [2, 4, 6]], requested: 4 };
  const dropped = new Set([5, 2, 4]);

  it('takes the first survivors of each order, sharing out again the quota of a label whose survivors run out', () => {
    // Sizes 4 and 3 share 4 as 16/7 = 2.29 and 12/7 = 1.71: quotas 2 and 2 (the larger remainder takes the one left).
    // The second label keeps only 6, so it counts 1: sizes 4 and 1 share 4 as 3.2 and 0.8, quotas 3 and 1.
    expect(drawSample(plan, (candidate) => !dropped.has(candidate))).toEqual({ candidates: [0, 1, 3, 6] });
  });

  it('asks for the next unknown candidates of each order until it knows enough, and ends with the same sample', () => {
    const known = new Map<number, boolean>();
    const asked: number[][] = [];
    for (;;) {
      const draw = drawSample(plan, (candidate) => known.get(candidate));
      if ('candidates' in draw) {
        expect(draw.candidates).toEqual([0, 1, 3, 6]);
        break;
      }
      asked.push([...draw.need]);
      for (const candidate of draw.need) known.set(candidate, !dropped.has(candidate));
    }
    // Two of each order; then one more of the first (5 was dropped) and the last of the second (2 and 4 were);
    // then, the second label holding one survivor only, a third of the first.
    expect(asked).toEqual([[5, 1, 2, 4], [3, 6], [0]]);
    // Never asked about a candidate the sample did not need.
    expect(known.size).toBe(7);
  });

  it('is the shuffled split when nothing is dropped, and all survivors when fewer survive than asked', () => {
    expect(drawSample({ groups: [[4, 2, 0, 3, 1]], requested: 3 }, () => true)).toEqual({ candidates: [0, 2, 4] });
    expect(drawSample({ groups: [[4, 2, 0, 3, 1]], requested: 4 }, (candidate) => candidate % 2 === 0)).toEqual({ candidates: [0, 2, 4] });
  });
});
