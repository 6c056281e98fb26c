import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import type { HubServer } from '../test/hub-server.ts';
import { noGpu, startTestEngine, TEST_REPO, type TestEngine } from '../test/engine.ts';
import { wideContextModel, type WideContextModel } from '../test/wide-context-model.ts';
import type { EngineBridge } from '../app/state/bridge.ts';
import type { PrepareProgress } from '../app/train/prepare.ts';
import type { RecipeTask } from '../app/train/recipe.ts';
import type { TokenViewRequest } from './protocol.ts';

let engine: TestEngine;
let server: HubServer;
let bridge: EngineBridge;
let wide: WideContextModel;

/** aidreams260K with 512 positions: whole FPB and tweet examples fit, as they do not in its real 128. */
const WIDE_REPO = 'aidreams/aidreams260K-512-positions';

beforeAll(async () => {
  wide = await wideContextModel(WHOLE_EXAMPLES);
  engine = await startTestEngine(noGpu('the token view needs no GPU'), { [WIDE_REPO]: wide.dir });
  ({ server, bridge } = engine);
  const file = async (path: string) => new Blob([await readFile(fixturePath(path))]);
  await bridge.request('data.import', { name: 'fpb.txt', file: await file('datasets/fpb/Sentences_50Agree.txt'), options: { delimiter: '@', header: false } });
  await bridge.request('data.import', { name: 'sent_train.csv', file: await file('datasets/twitter_fin_sentiment/sent_train.csv') });
});
afterAll(async () => {
  await engine.close();
  await wide.remove();
});

const FPB: RecipeTask = { name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, role: 'task', validation_fraction: 0.1 };
const TWEETS: RecipeTask = {
  name: 'tweets',
  source: { file: 'sent_train.csv' },
  format: 'classification',
  columns: { text: 'text', label: 'label' },
  labels: { '0': 'bearish', '1': 'bullish', '2': 'neutral' },
  role: 'task',
  validation_fraction: 0.1,
};

/** Longer than every FPB and tweet example, so no row is dropped for length (prepare never cuts the start of a prompt). */
const WHOLE_EXAMPLES = 512;

/** A few rows of FPB, for properties that do not need the whole file. */
const FPB_SAMPLE: RecipeTask = { ...FPB, max_examples: 20, validation_fraction: 0 };

const view = (task: RecipeTask, options: Partial<TokenViewRequest> = {}, onProgress?: (progress: PrepareProgress) => void) =>
  bridge.request(
    'data.tokenView',
    { source: WIDE_REPO, revision: 'main', hubEndpoint: server.endpoint, task, maxLength: WHOLE_EXAMPLES, trainOnPrompts: false, examples: 3, ...options },
    onProgress ? { onProgress } : {},
  );

describe('data.tokenView: a task tokenized as training tokenizes it', { timeout: 120_000 }, () => {
  it('shows the first rows of the file, each token with whether it carries loss: the label word and EOS do, the prompt does not', async () => {
    const result = await view(FPB);
    expect(result.examples.map((example) => example.row)).toEqual([1, 2, 3]);
    const first = result.examples[0]!;
    expect(first.tokens[0]).toMatchObject({ id: 1, special: true, trained: false });
    const trainedText = first.tokens.filter((token) => token.trained).map((token) => token.token).join('');
    expect(trainedText).toMatch(/neutral/);
    expect(first.tokens.at(-1)).toMatchObject({ id: 2, trained: true });
    expect(first.trained).toBe(first.tokens.filter((token) => token.trained).length);
    expect(first.trained).toBeLessThan(first.tokens.length / 2);
  });

  it("gives the whole task's statistics: rows, training and validation examples, mean tokens and mean trained tokens", async () => {
    const { stats } = await view(FPB);
    expect(stats.rows).toBe(4846);
    expect(stats.examples + stats.validation).toBe(4846);
    expect(stats.validation).toBeGreaterThan(400);
    expect(stats.meanTokens).toBeGreaterThan(stats.meanTrainedTokens);
    expect(stats.meanTrainedTokens).toBeGreaterThan(1);
  });

  it('trains every token but the first when asked to train on prompts', async () => {
    const { examples } = await view(FPB_SAMPLE, { trainOnPrompts: true, examples: 1 });
    expect(examples[0]!.trained).toBe(examples[0]!.tokens.length - 1);
  });

  it('cuts an example longer than max_length from the end of its answer, keeping the whole prompt', async () => {
    const [whole] = (await view(FPB_SAMPLE, { examples: 1 })).examples;
    const { examples } = await view(FPB_SAMPLE, { maxLength: whole!.tokens.length - 1, examples: 1 });
    const cut = examples[0]!;
    expect(cut.row).toBe(whole!.row);
    expect(cut.truncated).toBe(true);
    expect(cut.tokens).toEqual(whole!.tokens.slice(0, -1));
    expect(cut.tokens.at(-1)!.trained).toBe(true);
    expect(cut.trained).toBe(whole!.trained - 1);
  });

  it('reports the preparation’s progress: import, map, tokenize', async () => {
    const stages = new Set<string>();
    await view(TWEETS, {}, (progress) => stages.add(progress.stage));
    expect([...stages]).toEqual(['import', 'map', 'tokenize']);
  });

  it('lists the rows it skipped with the reason, and shows the next rows instead', async () => {
    const result = await view({ ...TWEETS, labels: { '0': 'bearish', '1': 'bullish' } }, { examples: 5 });
    expect(result.skipped.length).toBeGreaterThan(0);
    expect(result.skipped[0]!.reason).toMatch(/label/i);
    const skippedRows = new Set(result.skipped.map((skip) => skip.row));
    expect(result.examples.some((example) => skippedRows.has(example.row))).toBe(false);
  });

  it('names the task, the file and the column when the mapping names a column the file lacks', async () => {
    await expect(view({ ...TWEETS, columns: { text: 'tweet', label: 'label' } })).rejects.toMatchObject({
      code: 'PREPARE_MISSING_COLUMN',
      message: expect.stringMatching(/Task "tweets".*sent_train\.csv[\s\S]*"tweet"/),
    });
  });

  it('names the task and the file when the file was never imported', async () => {
    await expect(view({ ...FPB, source: { file: 'missing.txt' } })).rejects.toMatchObject({
      code: 'PREPARE_FILE_NOT_FOUND',
      message: expect.stringMatching(/Task "fpb"[\s\S]*missing\.txt[\s\S]*import it on the Tasks page/),
    });
  });
});

describe("data.tokenView at max_length beyond the model's context", { timeout: 120_000 }, () => {
  it('counts at max_length clamped to the 128 positions of the model, as a run does: 1024 gives the counts of 128', async () => {
    const task: RecipeTask = { ...FPB, max_examples: 400, validation_fraction: 0 };
    const atContext = await view(task, { source: TEST_REPO, maxLength: 128, examples: 400 });
    const beyond = await view(task, { source: TEST_REPO, maxLength: 1024, examples: 400 });
    // Rows longer than 128 tokens exist, so an unclamped 1024 would count differently.
    const longest = Math.max(...atContext.examples.map((example) => example.tokens.length));
    expect(atContext.examples.some((example) => example.truncated) || atContext.skipped.some((skip) => /max_length 128/.test(skip.reason))).toBe(true);
    expect(longest).toBeLessThanOrEqual(128);
    expect(beyond.maxLength).toBe(128);
    expect(atContext.maxLength).toBe(128);
    expect(beyond.contextNotice).toBe("max_length 1024 is longer than the model's context of 128 positions (max_position_embeddings): this run uses 128.");
    expect(atContext.contextNotice).toBeUndefined();
    expect(beyond.stats).toEqual(atContext.stats);
    expect(beyond.examples).toEqual(atContext.examples);
    expect(beyond.skipped).toEqual(atContext.skipped);
  });
});
