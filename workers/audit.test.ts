import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../test/fixtures.ts';
import { noGpu, startTestEngine, TEST_REPO, type TestEngine } from '../test/engine.ts';
import type { RecipeTask } from '../app/train/recipe.ts';

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine(noGpu('the audit needs no GPU'));
  const file = new Blob([await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'))]);
  await engine.bridge.request('data.import', { name: 'fpb.txt', file, options: { delimiter: '@', header: false } });
});
afterAll(() => engine.close());

const FPB: RecipeTask = { name: 'fpb', source: { file: 'fpb.txt', delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, role: 'task', validation_fraction: 0.1, max_examples: 300 };

const audit = (maxLength: number) =>
  engine.bridge.request('audit.run', {
    recipe: { model: { source: TEST_REPO, revision: 'main' }, tasks: [FPB], max_length: maxLength, steps: 4, batch_size: 2, seed: 3 },
    hubEndpoint: engine.server.endpoint,
  });

describe("audit.run at max_length beyond the model's context", { timeout: 120_000 }, () => {
  it('audits at max_length clamped to the 128 positions of the model, as a run prepares it: 1024 gives the report of 128', async () => {
    const atContext = await audit(128);
    const beyond = await audit(1024);
    // Rows longer than 128 tokens exist and are cut at 128, so an unclamped 1024 would report other shares and bins.
    expect(atContext.tasks.fpb!.lengths.max).toBeGreaterThan(128);
    expect(atContext.tasks.fpb!.lengths.truncated_share).toBeGreaterThan(0);
    expect(beyond).toEqual(atContext);
  });
});
