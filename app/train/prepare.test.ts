import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hubParquetFileUrl, hubParquetListUrl, importFile } from '../data/index.ts';
import { writeTinyParquet } from '../data/test-support/tiny-parquet.ts';
import { tokenizerIdentity } from '../data/tokenize/index.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { openFileStorage } from '../store/fs.ts';
import { prepareTasks, type PreparedTasks, type PrepareProgress } from './prepare.ts';
import { ALPACA_TASK, firstTrained, fixtureTokenizer, FPB_TASK, GSM8K_TASK, modelFiles, openRecipeFile, RECIPE_DIR, testRecipe, trainedIds, TWEETS_TASK } from './prepare/test-support.ts';

let tokenizer: TextTokenizer;
beforeAll(async () => {
  tokenizer = await fixtureTokenizer();
});

describe('the finance cocktail, prepared from the real files', () => {
  const recipe = () =>
    testRecipe([
      { ...FPB_TASK, validation_fraction: 0.05, max_examples: 300 },
      { ...TWEETS_TASK, validation_fraction: 0.02, max_examples: 300 },
      { ...GSM8K_TASK, validation_fraction: 0.01, max_examples: 100 },
      { ...ALPACA_TASK, validation_fraction: 0.05, max_examples: 200 },
    ]);
  let prepared: PreparedTasks;
  const progress: PrepareProgress[] = [];
  beforeAll(async () => {
    prepared = await prepareTasks(recipe(), { tokenizer, openFile: openRecipeFile, onProgress: (event) => progress.push(event) });
  }, 120_000);

  it('reads every row of each file, drops none, and splits them into sizes that add up', () => {
    const { reports } = prepared;
    expect(reports.map((report) => [report.task, report.rows, report.droppedRows])).toEqual([
      ['fpb', 4846, 0],
      ['tweets', 9543, 0],
      ['gsm8k', 7473, 0],
      ['alpaca', 999, 0],
    ]);
    expect(reports.map(({ split }) => [split.method, split.examples, split.trainAvailable, split.validation, split.train, split.unusedByCap])).toEqual([
      ['seeded', 4846, 4604, 242, 300, 4304],
      ['seeded', 9543, 9352, 191, 300, 9052],
      ['seeded', 7473, 7398, 75, 100, 7298],
      ['seeded', 999, 949, 50, 200, 749],
    ]);
    for (const { split } of reports) expect(split.trainAvailable + split.validation).toBe(split.examples);
  });

  it('maps each format as the recipe says: FPB by column position, the tweets by name, defaults for the rest', () => {
    const [fpb, tweets, gsm8k, alpaca] = prepared.reports;
    expect(fpb!.sources[0]!.columns).toEqual(['column_1', 'column_2']);
    expect(fpb!.mapping).toEqual({
      format: 'classification',
      text: 'column_1',
      label: 'column_2',
      verbalizer: { negative: 'negative', neutral: 'neutral', positive: 'positive' },
      template: '{text}\nAnswer with one of: {labels}.',
    });
    expect(tweets!.labels).toMatchObject({ labels: ['0', '1', '2'], words: ['Bearish', 'Bullish', 'Neutral'], inferred: false });
    expect(tweets!.labels!.counts.reduce((a, b) => a + b, 0)).toBe(9543);
    expect(gsm8k!.mapping).toMatchObject({ format: 'question-answer', extractor: { kind: 'after-marker', marker: '####' } });
    expect(alpaca!.mapping).toEqual({ format: 'instruction' });
    // The fixture has no chat template: each format gets its plain template.
    expect(prepared.reports.map((report) => report.template)).toEqual([
      { kind: 'plain', name: 'bare' },
      { kind: 'plain', name: 'bare' },
      { kind: 'plain', name: 'question-answer' },
      { kind: 'plain', name: 'instruction-response' },
    ]);
  });

  it('gives each task its role, its default metric and, for classification, its label words', () => {
    expect(prepared.tasks.map((task) => [task.name, task.role, task.metric, task.labelWords])).toEqual([
      ['fpb', 'task', 'accuracy', ['negative', 'neutral', 'positive']],
      ['tweets', 'task', 'accuracy', ['Bearish', 'Bullish', 'Neutral']],
      ['gsm8k', 'task', 'numeric_match', undefined],
      ['alpaca', 'regularizer', 'rouge_l', undefined],
    ]);
  });

  it('gives every training example at least one trained token, within max_length', () => {
    for (const [index, task] of prepared.tasks.entries()) {
      const report = prepared.reports[index]!;
      expect(task.train.length).toBe(report.tokenize.train.examples);
      expect(task.train.length + report.tokenize.train.untrained.count).toBe(report.split.train);
      expect(task.train.length).toBeGreaterThan(0);
      for (const example of task.train) {
        expect(trainedIds(example).length).toBeGreaterThan(0);
        expect(example.inputIds.length).toBeLessThanOrEqual(512);
      }
      const tokens = task.train.reduce((sum, example) => sum + example.inputIds.length, 0);
      expect(task.meanTokens).toBeCloseTo(tokens / task.train.length, 10);
    }
  });

  it('teaches classification tasks their label word and EOS, and asks with the label list', () => {
    const [fpb, tweets] = prepared.tasks;
    for (const task of [fpb!, tweets!]) {
      const answers = new Set(task.train.map((example) => tokenizer.decode(trainedIds(example))));
      expect([...answers].sort()).toEqual(task.labelWords!.map((word) => `${word}</s>`));
    }
    const prompt = tokenizer.decode(Array.from(tweets!.validationPrompts[0]!.promptIds), { skipSpecialTokens: true });
    expect(prompt.endsWith('\nAnswer with one of: Bearish, Bullish, Neutral.\n')).toBe(true);
  });

  it('lines up one validation prompt with each validation example: the ids before its answer, and the answer expected', () => {
    for (const task of prepared.tasks) {
      expect(task.validationPrompts).toHaveLength(task.validation.length);
      task.validation.forEach((example, i) => {
        const { promptIds, expected } = task.validationPrompts[i]!;
        expect(promptIds[0]).toBe(tokenizer.bosId);
        // Training keeps the start of every example, so the prompt is always whole; a cut takes the end of the answer.
        expect(Array.from(promptIds)).toEqual(Array.from(example.inputIds.subarray(0, firstTrained(example.labels))));
        const answer = tokenizer.decode(trainedIds(example), { skipSpecialTokens: true }).trim();
        if (example.truncatedTokens > 0) expect(example.inputIds.length).toBe(512);
        else if (task.name === 'gsm8k') expect(answer.replace(/,/g, '')).toContain(`#### ${expected}`);
        else expect(answer).toBe(expected.trim());
      });
    }
    // "Answer: " ends in a space that training merged into the answer's first token where the vocabulary
    // has one ("▁7"), so the prompt stops before it and the model says it; elsewhere "▁" stands alone.
    const prompts = prepared.tasks[2]!.validationPrompts.map(({ promptIds }) => ({ length: promptIds.length, text: tokenizer.decode(Array.from(promptIds), { skipSpecialTokens: true }) }));
    for (const { text } of prompts) expect(text).toMatch(/\nAnswer: ?$/);
    expect(prompts.some(({ text }) => text.endsWith('\nAnswer:'))).toBe(true);
    const whole = prompts.filter(({ length }) => length < 511);
    expect(whole.length).toBeGreaterThan(10);
    for (const { text } of whole) expect(text.startsWith('Question: ')).toBe(true);
  });

  it('gives each classification prompt every label word as a candidate, tokenized as training tokenizes the answer', () => {
    for (const task of prepared.tasks.filter((t) => t.labelWords)) {
      task.validation.forEach((example, i) => {
        const { candidates, expected } = task.validationPrompts[i]!;
        expect(candidates).toHaveLength(task.labelWords!.length);
        if (example.truncatedTokens > 0) return;
        // The expected word's candidate is the training example itself (less the appended EOS), scored where training's loss starts.
        const own = candidates![task.labelWords!.indexOf(expected)]!;
        expect(Array.from(own.ids)).toEqual(Array.from(example.inputIds.subarray(0, own.ids.length)));
        expect(own.scoreFrom).toBe(firstTrained(example.labels));
      });
    }
  });

  it('reports progress for each stage of each task, ending with done = total', () => {
    for (const name of ['fpb', 'tweets', 'gsm8k', 'alpaca']) {
      const events = progress.filter((event) => event.task === name);
      expect([...new Set(events.map((event) => event.stage))]).toEqual(['import', 'map', 'tokenize']);
      for (const stage of ['import', 'map', 'tokenize'] as const) {
        const last = events.filter((event) => event.stage === stage).at(-1)!;
        expect(last.done).toBe(last.total);
      }
    }
    expect(progress.filter((event) => event.task === 'fpb' && event.stage === 'tokenize').at(-1)!.total).toBe(300 + 242);
  });
});

describe('preparing the same recipe again', { timeout: 30_000 }, () => {
  const fpbOnly = (seed: number) => testRecipe([{ ...FPB_TASK, validation_fraction: 0.02, max_examples: 60 }], { seed });

  it('gives the same examples, arrays and prompts for the same seed, and another choice for another seed', async () => {
    const first = await prepareTasks(fpbOnly(5), { tokenizer, openFile: openRecipeFile });
    const second = await prepareTasks(fpbOnly(5), { tokenizer, openFile: openRecipeFile });
    const other = await prepareTasks(fpbOnly(6), { tokenizer, openFile: openRecipeFile });
    expect(second.tasks).toEqual(first.tasks);
    const rows = (result: PreparedTasks) => result.tasks[0]!.train.map((example) => example.source.row);
    expect(rows(first)).toHaveLength(60);
    // The cap keeps file order, so the trainer's sampler alone decides the order of training.
    expect(rows(first)).toEqual([...rows(first)].sort((a, b) => a - b));
    expect(rows(other)).not.toEqual(rows(first));
    const validationRows = (result: PreparedTasks) => result.tasks[0]!.validation.map((example) => example.source.row);
    expect(validationRows(other)).not.toEqual(validationRows(first));
  });

  it('holds the validation set still when only max_examples changes', async () => {
    const small = await prepareTasks(fpbOnly(5), { tokenizer, openFile: openRecipeFile });
    const larger = await prepareTasks(testRecipe([{ ...FPB_TASK, validation_fraction: 0.02, max_examples: 90 }], { seed: 5 }), { tokenizer, openFile: openRecipeFile });
    expect(larger.tasks[0]!.validation).toEqual(small.tasks[0]!.validation);
    expect(larger.tasks[0]!.train).toHaveLength(90);
  });

  it('tokenizes once and reads the cache after, with equal results', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'prepare-cache-'));
    try {
      const storage = await openFileStorage(root);
      const identity = await tokenizerIdentity(await modelFiles());
      const options = { tokenizer, openFile: openRecipeFile, storage, tokenizerIdentity: identity };
      const cold = await prepareTasks(fpbOnly(5), options);
      const warm = await prepareTasks(fpbOnly(5), options);
      expect(cold.reports[0]!.cache).toMatchObject({ train: { outcome: 'miss' }, validation: { outcome: 'miss' } });
      expect(warm.reports[0]!.cache).toMatchObject({ train: { outcome: 'hit' }, validation: { outcome: 'hit' } });
      expect(warm.tasks).toEqual(cold.tasks);
      // The file is not parsed again either: its rows and their problem report come from the cache.
      expect(cold.reports[0]!.sources[0]!.fromCache).toBe(false);
      expect(warm.reports[0]!.sources[0]).toEqual({ ...cold.reports[0]!.sources[0], fromCache: true });
      const changed = await prepareTasks(testRecipe([{ ...FPB_TASK, validation_fraction: 0.02, max_examples: 61 }], { seed: 5 }), options);
      expect(changed.reports[0]!.cache).toMatchObject({ train: { outcome: 'miss' }, validation: { outcome: 'hit' } });
      await storage.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('a task without validation', () => {
  it('holds nothing out with validation_fraction 0, and caches the empty validation part too', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'prepare-none-'));
    try {
      const storage = await openFileStorage(root);
      const options = { tokenizer, openFile: openRecipeFile, storage, tokenizerIdentity: 'sha256:test' };
      const recipe = testRecipe([{ ...FPB_TASK, validation_fraction: 0, max_examples: 30 }]);
      const cold = await prepareTasks(recipe, options);
      expect(cold.reports[0]!.split).toMatchObject({ examples: 4846, trainAvailable: 4846, validation: 0, train: 30 });
      expect(cold.tasks[0]!).toMatchObject({ validation: [], validationPrompts: [] });
      const warm = await prepareTasks(recipe, options);
      expect(warm.reports[0]!.cache).toMatchObject({ train: { outcome: 'hit' }, validation: { outcome: 'hit' } });
      expect(warm.tasks).toEqual(cold.tasks);
      await storage.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('how the recipe says a file is read', () => {
  const NOTES = 'Revenue rose 5% in the quarter.\nMargins held steady.\n\nThe board approved a dividend.\n\nGuidance was cut.\nShares fell 3%.\n';
  const openNotes = async (file: string) => (file === 'notes.txt' ? new Blob([NOTES]) : openRecipeFile(file));
  const notesRecipe = (source: Record<string, unknown>) => testRecipe([{ name: 'notes', source: { file: 'notes.txt', ...source }, format: 'text', validation_fraction: 0 }]);
  const texts = (result: PreparedTasks) => result.tasks[0]!.train.map((example) => tokenizer.decode(trainedIds(example), { skipSpecialTokens: true }).trim());

  it('reads plain text by paragraph when it says so, and never reuses rows or tokens of the file read by line', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'prepare-read-as-'));
    try {
      const storage = await openFileStorage(root);
      const options = { tokenizer, openFile: openNotes, storage, tokenizerIdentity: 'sha256:test' };
      const byLine = await prepareTasks(notesRecipe({}), options);
      expect(byLine.reports[0]!.rows).toBe(5);
      const byParagraph = await prepareTasks(notesRecipe({ file_format: 'text', splitting: 'paragraphs' }), options);
      expect(byParagraph.reports[0]!.sources[0]!.fromCache).toBe(false);
      expect(byParagraph.reports[0]!.cache).toMatchObject({ train: { outcome: 'miss' } });
      expect(texts(byParagraph)).toEqual(['Revenue rose 5% in the quarter.\nMargins held steady.', 'The board approved a dividend.', 'Guidance was cut.\nShares fell 3%.']);
      const again = await prepareTasks(notesRecipe({ file_format: 'text', splitting: 'paragraphs' }), options);
      expect(again.reports[0]!.sources[0]!.fromCache).toBe(true);
      expect(again.reports[0]!.cache).toMatchObject({ train: { outcome: 'hit' } });
      expect(again.tasks).toEqual(byParagraph.tasks);
      await storage.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reads a CSV as lines of text when the format says text, header line included', async () => {
    const file = 'twitter_fin_sentiment/sent_valid.csv';
    const recipe = testRecipe([{ name: 'tweets', source: { file, file_format: 'text' }, format: 'text', validation_fraction: 0, max_examples: 5 }]);
    const { tasks, reports } = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile });
    const lines = (await readFile(path.resolve(RECIPE_DIR, file), 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
    expect(reports[0]!.sources[0]!.columns).toEqual(['text']);
    expect(reports[0]!.rows).toBe(lines.length);
    for (const example of tasks[0]!.train) expect(tokenizer.decode(trainedIds(example), { skipSpecialTokens: true }).trim()).toBe(lines[example.source.row - 1]);
  });
});

describe('cancelling', () => {
  it('stops between rows when the signal fires, naming the task', async () => {
    const controller = new AbortController();
    const run = prepareTasks(testRecipe([FPB_TASK, GSM8K_TASK]), {
      tokenizer,
      openFile: openRecipeFile,
      signal: controller.signal,
      onProgress: ({ stage }) => {
        if (stage === 'map') controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'DATA_CANCELLED', message: 'Preparation of task "fpb" was cancelled.' });
  });
});

describe('bad rows and bad files', () => {
  /** Real GSM8K rows with faults put in on purpose, served under a path of the recipe. */
  async function brokenGsm8k(): Promise<Blob> {
    const lines = (await readFile(path.resolve(RECIPE_DIR, GSM8K_TASK.source.file), 'utf8')).split('\n').slice(0, 40);
    lines[6] = lines[6]!.slice(0, -1); // bad JSON on line 7
    lines[8] = JSON.stringify({ question: 'What is 2+2?' }); // no answer on line 9
    lines[9] = JSON.stringify({ question: 'What is 3+3?', answer: 'Six, but no marker.' }); // no "####" on line 10
    return new Blob([lines.join('\n')]);
  }

  it('drops bad rows and keeps their count and reasons, with line, row and field', async () => {
    const recipe = testRecipe([{ name: 'gsm8k', source: { file: 'gsm8k/broken.jsonl' }, format: 'qa', validation_fraction: 0.1 }]);
    const openFile = async (file: string) => (file === 'gsm8k/broken.jsonl' ? brokenGsm8k() : openRecipeFile(file));
    const { tasks, reports } = await prepareTasks(recipe, { tokenizer, openFile });
    const report = reports[0]!;
    expect(report).toMatchObject({ rows: 40, droppedRows: 3, split: { examples: 37, train: 33, validation: 4 } });
    const kinds = report.sources[0]!.validation.kinds;
    expect(kinds.map((kind) => [kind.code, kind.rows])).toEqual([
      ['BAD_JSON', [7]],
      ['MISSING_FIELD', [9]],
      ['ANSWER_NOT_FOUND', [10]],
    ]);
    expect(kinds[1]!.messages[0]).toBe('gsm8k/broken.jsonl, line 9 (row 9), field "answer": the row has no field "answer"');
    expect(tasks[0]!.train.map((example) => example.source.row)).not.toContain(9);
  });

  it('refuses a token or label outside the model’s vocabulary, naming the task, file, row and position', async () => {
    // The fixture's tokenizer knows 512 tokens; a model with fewer rows cannot take labels past its vocab_size.
    const recipe = testRecipe([{ ...FPB_TASK, max_examples: 8 }]);
    const prepared = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile });
    const largest = Math.max(...prepared.tasks[0]!.train.flatMap((example) => [...example.labels]));
    const offending = prepared.tasks[0]!.train.find((example) => [...example.inputIds, ...example.labels].some((value) => value >= largest))!;
    const error = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile, modelVocabSize: largest }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PREPARE_OUT_OF_VOCABULARY', details: { task: 'fpb', file: FPB_TASK.source.file, row: offending.source.row } });
    expect((error as Error).message).toMatch(new RegExp(`^Task "fpb" \\(${FPB_TASK.source.file.replace(/[./]/g, '\\$&')}\\), row \\d+: (input_ids|labels)\\[\\d+\\] is \\d+, outside the model's vocabulary \\[0, ${largest}\\)`));
    await expect(prepareTasks(recipe, { tokenizer, openFile: openRecipeFile, modelVocabSize: 512 })).resolves.toMatchObject({ tasks: [{ name: 'fpb' }] });
  }, 60_000);

  it('names the task and the path of a file that does not open', async () => {
    const recipe = testRecipe([{ ...FPB_TASK, source: { ...FPB_TASK.source, file: 'fpb/Sentences_AllAgree.txt' } }]);
    const error = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PREPARE_FILE_NOT_FOUND', details: { task: 'fpb', file: 'fpb/Sentences_AllAgree.txt' } });
    expect((error as Error).message).toMatch(/^Task "fpb": cannot open its file "fpb\/Sentences_AllAgree\.txt" \(.+\)$/);
  });

  it('names the task, the file, the column and the columns found when a column name is wrong', async () => {
    const recipe = testRecipe([{ ...TWEETS_TASK, columns: { text: 'tweet' } }]);
    const error = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PREPARE_MISSING_COLUMN', details: { task: 'tweets', file: 'twitter_fin_sentiment/sent_train.csv', columns: ['text', 'label'] } });
    expect((error as Error).message).toBe(
      'Task "tweets": twitter_fin_sentiment/sent_train.csv, field "tweet": the classification mapping uses column "tweet", which the file does not have (its columns: text, label).',
    );
  });

  it('says to give columns by position when a file without a header is mapped by the usual names', async () => {
    const { columns: _columns, ...withoutColumns } = FPB_TASK;
    const error = await prepareTasks(testRecipe([withoutColumns]), { tokenizer, openFile: openRecipeFile }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PREPARE_MISSING_COLUMN' });
    expect((error as Error).message).toContain('uses column "text", which the file does not have (its columns: column_1, column_2)');
    expect((error as Error).message).toContain('The file has no header row, so its columns have no names: give them by position in "columns", counting from 0.');
  });

  it('names the columns a position beyond the file would need', async () => {
    const recipe = testRecipe([{ ...FPB_TASK, columns: { text: 0, label: 2 } }]);
    await expect(prepareTasks(recipe, { tokenizer, openFile: openRecipeFile })).rejects.toMatchObject({
      code: 'PREPARE_BAD_MAPPING',
      message: 'Task "fpb" (fpb/Sentences_50Agree.txt): columns.label is column 2 (counting from 0), but the file has 2 column(s): column_1, column_2.',
    });
  });

  it('refuses a label outside the verbalizer row by row, and the file when no row is left', async () => {
    const recipe = testRecipe([{ ...TWEETS_TASK, labels: { bearish: 'Bearish', bullish: 'Bullish' } }]);
    const error = await prepareTasks(recipe, { tokenizer, openFile: openRecipeFile }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'PREPARE_NO_EXAMPLES', details: { task: 'tweets' } });
    expect((error as Error).message).toContain('Task "tweets" (twitter_fin_sentiment/sent_train.csv): no usable row is left after dropping the bad ones.');
    expect((error as Error).message).toContain('error LABEL_NOT_IN_SET x9543');
  });
});

describe('validation from the recipe\'s own file or split', () => {
  /** The first rows of the tweets' validation file (the header and `rows` rows), as a file of its own. */
  async function tweetsValidationHead(rows: number): Promise<Blob> {
    const text = await readFile(path.resolve(RECIPE_DIR, 'twitter_fin_sentiment/sent_valid.csv'), 'utf8');
    return new Blob([text.split('\n').slice(0, rows + 1).join('\n')]);
  }

  it('takes the validation file whole and the task file as training data', async () => {
    const recipe = testRecipe([{ ...TWEETS_TASK, source: { ...TWEETS_TASK.source, validation_file: 'twitter_fin_sentiment/valid-head.csv' }, max_examples: 80 }]);
    const openFile = async (file: string) => (file.endsWith('valid-head.csv') ? tweetsValidationHead(40) : openRecipeFile(file));
    const { tasks, reports } = await prepareTasks(recipe, { tokenizer, openFile });
    expect(reports[0]!.split).toMatchObject({ method: 'file', examples: 9543, trainAvailable: 9543, train: 80, validation: 40 });
    expect(reports[0]!.sources.map((source) => [source.file, source.rows])).toEqual([
      ['twitter_fin_sentiment/sent_train.csv', 9543],
      ['twitter_fin_sentiment/valid-head.csv', 40],
    ]);
    expect(tasks[0]!.validation.map((example) => example.source.row)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(tasks[0]!.validationPrompts).toHaveLength(40);
  });

  it('names the validation file when it does not open, before reading the task file', async () => {
    const recipe = testRecipe([{ ...TWEETS_TASK, source: { ...TWEETS_TASK.source, validation_file: 'twitter_fin_sentiment/sent_dev.csv' } }]);
    await expect(prepareTasks(recipe, { tokenizer, openFile: openRecipeFile })).rejects.toMatchObject({
      code: 'PREPARE_FILE_NOT_FOUND',
      message: expect.stringMatching(/^Task "tweets": cannot open its validation_file "twitter_fin_sentiment\/sent_dev\.csv"/),
    });
  });

  it('reads a Hub data set’s train and validation splits from its Parquet files once, stores them, and caches by their rows', async () => {
    const imported = await importFile(await openRecipeFile('twitter_fin_sentiment/sent_valid.csv'));
    const parquet = (rows: typeof imported.rows) =>
      writeTinyParquet([
        { name: 'text', kind: 'string', values: rows.map((row) => String(row.values.text)) },
        { name: 'label', kind: 'int64', values: rows.map((row) => BigInt(String(row.values.label))) },
      ]);
    const endpoint = 'http://mirror.test';
    const repo = 'zeroshot/twitter-financial-news-sentiment';
    const files = new Map<string, Uint8Array>();
    const listings = new Map<string, string[]>();
    for (const [split, rows] of [['train', imported.rows.slice(0, 120)], ['validation', imported.rows.slice(120, 150)]] as const) {
      const ref = { endpoint, repo, config: 'default', split };
      files.set(hubParquetFileUrl(ref, 0), parquet(rows));
      listings.set(hubParquetListUrl(ref), [`${endpoint}/api/datasets/${repo}/parquet/default/${split}/0.parquet`]);
    }
    let online = true;
    const requests: string[] = [];
    const fetch = async (url: string, init: RequestInit = {}): Promise<Response> => {
      if (!online) throw new TypeError('Failed to fetch');
      requests.push(url);
      const listing = listings.get(url);
      if (listing) return Response.json(listing);
      const body = files.get(url);
      if (!body) return new Response('Entry not found', { status: 404, statusText: 'Not Found' });
      if (init.method === 'HEAD') return new Response(null, { headers: { 'content-length': String(body.byteLength) } });
      const range = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init.headers).get('Range') ?? '');
      return range ? new Response(body.slice(Number(range[1]), Number(range[2]) + 1), { status: 206 }) : new Response(body.slice());
    };

    const recipe = testRecipe([{ ...TWEETS_TASK, source: { hub: repo, validation_split: 'validation' } }]);
    const root = await mkdtemp(path.join(tmpdir(), 'prepare-hub-'));
    try {
      const storage = await openFileStorage(root);
      const options = { tokenizer, openFile: openRecipeFile, fetch, hubEndpoint: endpoint, storage, tokenizerIdentity: 'sha256:test' };
      const cold = await prepareTasks(recipe, options);
      const report = cold.reports[0]!;
      expect(report.sources.map((source) => [source.file, source.rows, source.droppedRows])).toEqual([
        [`${repo} (default/train)`, 120, 0],
        [`${repo} (default/validation)`, 30, 0],
      ]);
      expect(report.split).toMatchObject({ method: 'file', train: 120, validation: 30 });
      expect(cold.tasks[0]!.labelWords).toEqual(['Bearish', 'Bullish', 'Neutral']);
      expect(cold.tasks[0]!.validationPrompts).toHaveLength(30);
      // Each split was listed once and its one file downloaded once, into the datasets store.
      const splitRequests = (split: string) => [hubParquetListUrl({ endpoint, repo, config: 'default', split }), hubParquetFileUrl({ endpoint, repo, config: 'default', split }, 0)];
      expect(requests).toEqual([...splitRequests('train'), ...splitRequests('validation')]);
      online = false;
      const warm = await prepareTasks(recipe, options);
      expect(warm.reports[0]!.cache).toMatchObject({ train: { outcome: 'hit' }, validation: { outcome: 'hit' } });
      expect(warm.tasks).toEqual(cold.tasks);
      await storage.close();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('a classification mapped to the wrong column', () => {
  it('asks whether the label column is right when it holds more than 50 distinct values (FPB’s sentences as labels), before tokenizing', async () => {
    const task = { name: 'fpb', source: FPB_TASK.source, format: 'classification', columns: { text: 1, label: 0 } };
    const progress: PrepareProgress[] = [];
    const failure = await prepareTasks(testRecipe([task]), { tokenizer, openFile: openRecipeFile, onProgress: (event) => progress.push(event) }).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      code: 'PREPARE_TOO_MANY_LABELS',
      message: expect.stringMatching(/^Task "fpb" \(fpb\/Sentences_50Agree\.txt\): the label column "column_1" holds \d{4} distinct values .*Is the label column right\? Map "label" in the task's "columns" to the column of class names \(the file's columns: column_1, column_2\)/),
      details: { field: 'columns.label', limit: 50 },
    });
    expect((failure as { details: { labels: number } }).details.labels).toBeGreaterThan(4800);
    expect(progress.some((event) => event.stage === 'tokenize')).toBe(false);
  });
});
