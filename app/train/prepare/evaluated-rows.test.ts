/**
 * A run tokenizes only the validation examples its evaluations score, and they must be the very
 * sample the evaluator draws from the wholly tokenized split, even where tokenization drops examples
 * (a prompt longer than max_length): a sample drawn before tokenization once lost them, and an
 * evaluation asked for 6 tweets scored 5.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TextTokenizer } from '../../model/tokenizer.ts';
import { openFileStorage } from '../../store/fs.ts';
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

/** The real tokenizer, counting the texts it is asked to encode. */
function countingTokenizer(real: TextTokenizer): { tokenizer: TextTokenizer; encoded: Map<string, number> } {
  const encoded = new Map<string, number>();
  const tokenizer: TextTokenizer = Object.create(real) as TextTokenizer;
  Object.defineProperty(tokenizer, 'encode', {
    value: (text: string, options?: { addSpecialTokens?: boolean }) => {
      encoded.set(text, (encoded.get(text) ?? 0) + 1);
      return real.encode(text, options);
    },
  });
  return { tokenizer, encoded };
}

describe('a run tokenizes each evaluated validation example once', () => {
  // Plain text (no validation prompts, which encode prompts for generation apart from training's
  // tokenization): a training example's text is encoded once per tokenization. Duplicates dropped, so
  // one text is one example; overlong rows dropped at 96 tokens, so the draw asks about more candidates
  // than it takes.
  const recipe = testRecipe([{ name: 'phrases', source: FPB_TASK.source, format: 'text', columns: { text: 0 }, drop_duplicates: true, validation_fraction: 0.1, max_examples: 16 }], {
    eval_examples: 24,
    max_length: 96,
    overlong: 'drop',
    seed: 9,
  });

  for (const cached of [false, true]) {
    it(cached ? 'through the tokenization cache: a miss reuses the draw’s tokenizations, a hit reads them' : 'without a cache', { timeout: 120_000 }, async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'evaluated-once-'));
      try {
        const storage = cached ? await openFileStorage(dir) : undefined;
        const prepare = async () => {
          const { tokenizer, encoded } = countingTokenizer(await fixtureTokenizer());
          const options = { tokenizer, openFile: openRecipeFile, evaluatedOnly: true, keepExamples: true } as const;
          const prepared = await prepareTasks(recipe, storage ? { ...options, storage, tokenizerIdentity: 'aidreams260K' } : options);
          return { prepared, encoded };
        };
        const { prepared, encoded } = await prepare();
        const task = prepared.tasks[0]!;
        const split = prepared.examples![0]!.validation;
        const textOfRow = new Map(split.map((example) => [example.source.row, example.kind === 'text' ? example.text : '']));
        expect(task.validation).toHaveLength(24);
        expect(prepared.reports[0]!.tokenize.validation.examplesIn).toBe(24);
        const evaluatedTexts = task.validation.map((example) => textOfRow.get(example.source.row)!);
        expect(new Set(evaluatedTexts).size).toBe(24);
        expect(evaluatedTexts.map((text) => encoded.get(text))).toEqual(evaluatedTexts.map(() => 1));
        // The candidates the draw asked about and did not take (dropped as overlong) were tokenized once too, the rest of the split never.
        const splitCounts = split.map((example) => encoded.get(example.kind === 'text' ? example.text : '') ?? 0);
        expect(Math.max(...splitCounts)).toBe(1);
        expect(splitCounts.filter((count) => count === 1).length).toBeGreaterThan(24);
        if (storage) {
          expect(prepared.reports[0]!.cache?.validation.outcome).toBe('miss');
          const again = await prepare();
          expect(again.prepared.reports[0]!.cache?.validation.outcome).toBe('hit');
          expect(again.prepared.tasks[0]!.validation).toEqual(task.validation);
          expect(evaluatedTexts.map((text) => again.encoded.get(text))).toEqual(evaluatedTexts.map(() => 1));
          await storage.close();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
