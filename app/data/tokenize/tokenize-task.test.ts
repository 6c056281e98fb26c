import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, type Example } from '../example.ts';
import { createExampleTokenizer } from './example-tokenizer.ts';
import { taskStatistics } from './statistics.ts';
import { alpacaExamples, chatTokenizer, fixtureTokenizer, fpbExamples, gsm8kExamples, SMOLLM2_TEMPLATE, trainedIds, tweetTextExamples } from './test-support.ts';
import { formatTokenizeReport, tokenizeTask } from './tokenize-task.ts';
import { trainedCount } from './truncate.ts';

describe('tokenizing a task of real rows', () => {
  it('teaches each of the 4,846 Financial PhraseBank sentences its label word and EOS, and nothing else', async () => {
    const tokenizer = await fixtureTokenizer();
    const examples = await fpbExamples();
    const task = await tokenizeTask(examples, tokenizer, { template: { kind: 'plain', name: 'bare' } }, { task: 'Sentences_50Agree.txt' });
    expect(task.examples).toHaveLength(4846);
    const answers = new Set(task.examples.map((example) => tokenizer.decode(trainedIds(example))));
    expect([...answers].sort()).toEqual(['negative</s>', 'neutral</s>', 'positive</s>']);
    expect(task.examples.map((example) => example.source.row)).toEqual(examples.map((example) => example.source.row));
    expect(task.report).toEqual({
      task: 'Sentences_50Agree.txt',
      examplesIn: 4846,
      examples: 4846,
      truncatedExamples: 0,
      droppedTokens: 0,
      droppedTrainedTokens: 0,
      untrained: { count: 0, byTruncation: 0, rows: [] },
      overlong: { count: 0, rows: [] },
      droppedLengths: [],
    });
  }, 120_000);

  it('counts exactly what truncation cut from GSM8K, keeping every answer’s end when cutting the prompt from the left', async () => {
    const tokenizer = await fixtureTokenizer();
    const examples = (await gsm8kExamples()).slice(0, 200);
    const options = { template: { kind: 'plain', name: 'question-answer' } } as const;
    const full = (await tokenizeTask(examples, tokenizer, options, { task: 'train.jsonl' })).examples;
    const task = await tokenizeTask(examples, tokenizer, { ...options, maxLength: 256 }, { task: 'train.jsonl' });
    const over = full.filter((example) => example.inputIds.length > 256);
    expect(over.length).toBeGreaterThan(10);
    expect(task.report.truncatedExamples).toBe(over.length);
    expect(task.report.droppedTokens).toBe(over.reduce((sum, example) => sum + example.inputIds.length - 256, 0));
    expect(task.examples.every((example) => example.inputIds.length <= 256 && example.inputIds[0] === 1 && example.inputIds.at(-1) === 2)).toBe(true);
    task.examples.forEach((example, i) => {
      const original = full[i]!;
      expect(example.truncatedTokens).toBe(Math.max(0, original.inputIds.length - 256));
      expect(Array.from(example.inputIds.subarray(1))).toEqual(Array.from(original.inputIds.subarray(original.inputIds.length - example.inputIds.length + 1)));
    });
    const stats = taskStatistics(task);
    expect(stats.maxTokens).toBe(256);
    expect(stats.truncatedExamples).toBe(over.length);
  }, 60_000);

  it('drops and lists the examples that a cut from the right leaves with nothing to learn', async () => {
    const tokenizer = await fixtureTokenizer();
    const examples = (await gsm8kExamples()).slice(0, 50);
    const task = await tokenizeTask(examples, tokenizer, { template: { kind: 'plain', name: 'alpaca' }, maxLength: 64, truncationSide: 'right' }, { task: 'train.jsonl' });
    // Alpaca's preamble alone is longer than 64 tokens of the fixture's small vocabulary.
    expect(task.examples).toHaveLength(0);
    expect(task.report.untrained).toEqual({ count: 50, byTruncation: 50, rows: examples.map((example) => example.source.row) });
    expect(formatTokenizeReport(task.report)).toContain('50 example(s) had no trained token left and were dropped (50 by truncation; raise maxLength or cut from the other side): row 1, row 2,');
    // Each dropped example's length before the cut, as tokenizing it without a limit gives it (what the audit counts).
    const whole = await tokenizeTask(examples, tokenizer, { template: { kind: 'plain', name: 'alpaca' } }, { task: 'train.jsonl' });
    expect(task.report.droppedLengths).toEqual(whole.examples.map((example) => example.inputIds.length));
  }, 60_000);

  it('tokenizes Alpaca with a chat template: the statistics agree with the arrays', async () => {
    const tokenizer = chatTokenizer(SMOLLM2_TEMPLATE, { specialTokens: ['<|im_start|>', '<|im_end|>'], bos: '<|im_start|>', eos: '<|im_end|>' });
    const examples = (await alpacaExamples()).slice(0, 100);
    const task = await tokenizeTask(examples, tokenizer, { template: { kind: 'chat' } }, { task: 'alpaca_en_demo.json' });
    const stats = taskStatistics(task);
    const lengths = task.examples.map((example) => example.inputIds.length);
    expect(stats).toMatchObject({
      examples: 100,
      tokens: lengths.reduce((a, b) => a + b, 0),
      trainedTokens: task.examples.reduce((sum, example) => sum + trainedCount(example.labels), 0),
      minTokens: Math.min(...lengths),
      maxTokens: Math.max(...lengths),
    });
    expect(stats.meanTokensPerExample).toBeCloseTo(stats.tokens / 100, 10);
    // Each trained span is the answer and the template's own end of turn, <|im_end|> (the EOS).
    for (const example of task.examples) expect(trainedIds(example).filter((id) => id === 513)).toHaveLength(1);
  }, 60_000);

  it('trains every token of continued pre-training text', async () => {
    const tokenizer = await fixtureTokenizer();
    const task = await tokenizeTask((await tweetTextExamples()).slice(0, 100), tokenizer, { template: { kind: 'plain', name: 'bare' } }, { task: 'sent_train.csv' });
    expect(task.examples.every((example) => trainedCount(example.labels) === example.inputIds.length - 1)).toBe(true);
  });

  it('reports every pre-tokenized row that does not fit the tokenizer in one error', async () => {
    const tokenizer = await fixtureTokenizer();
    const rows: Example[] = Array.from({ length: 15 }, (_, i) => ({
      kind: 'tokens',
      source: { row: i + 1, line: i + 1 },
      inputIds: Int32Array.from([1, i % 3 === 0 ? 600 : 300, 2]),
      labels: Int32Array.from([IGNORE_INDEX, 300, 2]),
    }));
    const error = await tokenizeTask(rows, tokenizer, { template: { kind: 'plain', name: 'bare' } }, { task: 'tokens.jsonl' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TOKENIZE_BAD_TOKENS', details: { rows: 5 } });
    expect((error as Error).message).toMatch(/^tokens\.jsonl: 5 pre-tokenized row\(s\) do not fit this tokenizer:\ntokens\.jsonl, line 1 \(row 1\), field "input_ids": token 2 is 600/);
  });

  it('reports progress and stops when cancelled', async () => {
    const tokenizer = await fixtureTokenizer();
    const examples = (await fpbExamples()).slice(0, 600);
    const progress: number[] = [];
    const controller = new AbortController();
    const run = tokenizeTask(examples, tokenizer, { template: { kind: 'plain', name: 'bare' } }, {
      task: 'Sentences_50Agree.txt',
      signal: controller.signal,
      onProgress: ({ done, total }) => {
        progress.push(done);
        expect(total).toBe(600);
        if (done >= 256) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'DATA_CANCELLED', message: 'Tokenization of Sentences_50Agree.txt was cancelled.' });
    expect(progress).toEqual([0, 256]);
  });

  it('gives one example the same arrays alone as within its task', async () => {
    const tokenizer = await fixtureTokenizer();
    const examples = (await gsm8kExamples()).slice(0, 3);
    const options = { template: { kind: 'plain', name: 'alpaca' }, maxLength: 300 } as const;
    const task = await tokenizeTask(examples, tokenizer, options, { task: 'train.jsonl' });
    expect(createExampleTokenizer(tokenizer, options, 'train.jsonl').tokenize(examples[2]!).example).toEqual(task.examples[2]);
  });
});
