import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { acquireTestGpu } from '../../test/gpu.ts';
import { prepareRecipeData, type RecipeData } from '../cli/recipe-tasks.ts';
import type { GpuContext } from '../gpu/device.ts';
import { loadModel } from '../model/load.ts';
import { parseRecipe } from '../train/recipe.ts';
import type { Pooling } from './features.ts';
import { routerInputText } from './prompt.ts';
import { routePrompts, trainRouter, type FeatureCache } from './router.ts';

const TASKS = ['fpb', 'gsm8k', 'alpaca'];

/**
 * Routing accuracy on the real tiny model (aidreams260K) with FPB phrases, GSM8K questions and Alpaca
 * instructions, prepared as `cocktail train` prepares them: a balanced router (64 training prompts and
 * 16 held out per expert, from the training splits only, a 32-unit hidden layer, layer 2) routes the
 * tasks' validation prompts as typed. The features are computed once, by the engine's kernels.
 *
 * What it pins down is docs/router-format.md's measurement, NOT issue 15's 95%, which this model does
 * not reach reliably: with this many training prompts "mean_last" measured 0.904 here (0.91–0.93 over
 * draws in the docs; 0.94–0.955 with 200 per expert), a few points above mean pooling. With 166
 * validation prompts a measured 0.904 has a 95% binomial (Wilson) interval of 0.85–0.94; the bound
 * below leaves four prompts of margin under the seeded measurement.
 */
describe('routing accuracy on aidreams260K with FPB, GSM8K and Alpaca', { timeout: 600_000 }, () => {
  let dir: string;
  let data: RecipeData;
  let ctx: GpuContext;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cocktail-route-accuracy-'));
    const recipe = parseRecipe({
      model: { source: fixturePath('models/aidreams260K') },
      tasks: [
        { name: 'fpb', source: { file: fixturePath('datasets/fpb/Sentences_50Agree.txt'), delimiter: '@', header: false }, format: 'classification', columns: { text: 0, label: 1 }, max_examples: 80, validation_fraction: 0.012 },
        { name: 'gsm8k', source: { file: fixturePath('datasets/gsm8k/test.jsonl') }, format: 'qa', max_examples: 80, validation_fraction: 0.04 },
        { name: 'alpaca', source: { file: fixturePath('datasets/alpaca/alpaca_en_demo.json') }, format: 'instruction', max_examples: 80, validation_fraction: 0.055 },
      ],
      mixture: { strategy: 'round_robin', per: 'batch' },
      lora: { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'], layout: 'per_task' },
      batch_size: 2,
      max_length: 128,
      steps: 1,
      seed: 3,
    });
    data = await prepareRecipeData(recipe, dir, { keepExamples: true });
    ctx = await acquireTestGpu();
  }, 120_000);
  afterAll(async () => {
    ctx?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a balanced "mean_last" router with a hidden layer routes at least 0.88 of 166 validation prompts, more than a mean-pooled one on the same features', async () => {
    const model = await loadModel(ctx, data.files);
    try {
      const validation = data.examples!.flatMap((task, label) => task.validation.map((example) => ({ text: routerInputText(example, 'typed')!, label })));
      const counts = TASKS.map((_, label) => validation.filter((prompt) => prompt.label === label).length);
      counts.forEach((count) => expect(count).toBeGreaterThanOrEqual(45));
      expect(validation.length).toBeGreaterThanOrEqual(150);
      const accuracyWith = async (pooling: Pooling, cache: FeatureCache) => {
        const { router } = await trainRouter(
          ctx,
          model.gpu,
          model.tokenizer,
          TASKS.map((name, index) => ({ name, train: data.examples![index]!.train })),
          { feature: { layer: 2, pooling }, input: 'typed', balance: 'balanced', hidden: 32, seed: 3, cache, policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams260K', revision: null } },
        );
        expect(router.training!.trainCounts).toEqual([64, 64, 64]);
        expect(router.training!.heldOutCounts).toEqual([16, 16, 16]);
        const routed = await routePrompts(ctx, model.gpu, model.tokenizer, router, validation.map((prompt) => prompt.text), { cache });
        return routed.filter((decision, n) => decision.chosen === TASKS[validation[n]!.label]).length / validation.length;
      };
      const joined: FeatureCache = new Map();
      const meanLast = await accuracyWith('mean_last', joined);
      // "mean_last" is [mean ; last] (checked against the Float64 reference in features.gpu.test.ts), so
      // the mean router reads the first C of the same features instead of a second feature pass.
      const C = model.config.hiddenSize;
      const mean = await accuracyWith('mean', new Map([...joined].map(([key, features]) => [key, features.slice(0, C)])));
      // Measured (seeded): mean_last 0.904 (150 of 166), mean 0.873 (145 of 166).
      const measured = `on ${validation.length} validation prompts (${counts.join('/')}): mean_last ${meanLast.toFixed(3)}, mean ${mean.toFixed(3)}`;
      expect(meanLast, measured).toBeGreaterThanOrEqual(0.88);
      expect(meanLast, measured).toBeGreaterThan(mean);
    } finally {
      model.gpu.destroy();
    }
  });
});
