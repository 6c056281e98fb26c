import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureOnGpu } from '../../test/model.ts';
import { GEMMA3_TINY, randomModel } from '../../test/random-model.ts';
import type { ConversationExample } from '../data/example.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import { referenceHiddenStates, type ReferenceWeights } from '../model/reference.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { relativeError } from '../util/numeric.ts';
import { featureWidth, POOLINGS, routerFeatures, routerFeaturesByLayer } from './features.ts';
import { bestLayer, compareRouterLayers, type LayerComparisonProgress, type LayerResult } from './layers.ts';
import { routerPromptIds } from './prompt.ts';
import { trainRouter, type ExpertTask } from './router.ts';

let ctx: GpuContext;
let model: GpuModel;
let reference: ReferenceWeights;
let tokenizer: TextTokenizer;
beforeAll(async () => {
  ({ ctx, model, reference, tokenizer } = await fixtureOnGpu());
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});

const TEXTS = [
  'Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.',
  'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
  'Give three tips for staying healthy.',
  'Hi',
];

const asExample = (text: string, row: number): ConversationExample => ({ kind: 'conversation', source: { row }, typed: text, turns: [{ role: 'user', content: text, train: false }] });
/** The first twelve words: short prompts keep the feature pass quick on SwiftShader. */
const opening = (text: string) => text.trim().split(/\s+/).slice(0, 12).join(' ');

describe('every layer of the router from one forward pass (aidreams260K)', { timeout: 120_000 }, () => {
  it('gives, at every layer 0..4 and every pooling, exactly the features routerFeatures computes for that layer alone, and the Float64 reference’s to 1e-4', async () => {
    const prompts = TEXTS.map((text) => routerPromptIds(tokenizer, text, model.config).ids);
    const layers = [0, 1, 2, 3, 4];
    const batches: number[] = [];
    const byLayer = await routerFeaturesByLayer(ctx, model, prompts, layers, POOLINGS, { onBatch: (done) => batches.push(done) });
    expect(batches.at(-1)).toBe(prompts.length);
    for (const [l, layer] of layers.entries()) {
      const states = prompts.map((ids) => referenceHiddenStates(reference, ids)[layer]!);
      for (const [p, pooling] of POOLINGS.entries()) {
        const alone = await routerFeatures(ctx, model, prompts, { layer, pooling });
        expect(byLayer[l]![p], `layer ${layer}, ${pooling}`).toEqual(alone);
        const C = model.config.hiddenSize;
        const width = featureWidth(pooling, C);
        prompts.forEach((ids, n) => {
          const last = states[n]!.slice((ids.length - 1) * C, ids.length * C);
          const mean = new Float64Array(C);
          for (let t = 0; t < ids.length; t++) for (let c = 0; c < C; c++) mean[c]! += states[n]![t * C + c]! / ids.length;
          const want = pooling === 'mean' ? mean : pooling === 'last' ? last : Float64Array.from([...mean, ...last]);
          expect(relativeError(byLayer[l]![p]!.subarray(n * width, (n + 1) * width), want), `prompt ${n}, layer ${layer}, ${pooling}`).toBeLessThan(1e-4);
        });
      }
    }
  });

  it('gives exactly the same features when little staging memory reads the layers in turns as the pass goes (one layer per read)', async () => {
    const prompts = TEXTS.map((text) => routerPromptIds(tokenizer, text, model.config).ids);
    const layers = [0, 1, 2, 3, 4];
    const longest = Math.max(...prompts.map((ids) => ids.length));
    // Room for one layer of the one batch (4 prompts padded to the longest): five reads in one pass.
    const tight = await routerFeaturesByLayer(ctx, model, prompts, layers, POOLINGS, { stagingBytes: prompts.length * longest * model.config.hiddenSize * 4 });
    const roomy = await routerFeaturesByLayer(ctx, model, prompts, layers, POOLINGS);
    layers.forEach((layer, l) => POOLINGS.forEach((pooling, p) => expect(tight[l]![p], `layer ${layer}, ${pooling}`).toEqual(roomy[l]![p])));
  });

  it('reads layers in any order asked, each once, and scales Gemma’s embeddings at every layer as routerFeatures does (a random Gemma 3)', async () => {
    const gemma = await randomModel(ctx, GEMMA3_TINY, 'f32', 7);
    try {
      const prompts = [[2, 17, 40, 5, 88], [2, 9, 9, 31]];
      const layers = [gemma.config.numLayers, 0, 1];
      const byLayer = await routerFeaturesByLayer(ctx, gemma.gpu, prompts, layers, ['mean']);
      for (const [l, layer] of layers.entries()) expect(byLayer[l]![0], `layer ${layer}`).toEqual(await routerFeatures(ctx, gemma.gpu, prompts, { layer, pooling: 'mean' }));
    } finally {
      gemma.gpu.destroy();
    }
  });

  it('refuses a layer past the model’s last hidden state and an unknown pooling, naming them', async () => {
    await expect(routerFeaturesByLayer(ctx, model, [[1, 2]], [0, 5], ['mean'])).rejects.toMatchObject({ code: 'ROUTER_BAD_LAYER', message: expect.stringMatching(/router layer 5 .* 4-layer model/) });
    await expect(routerFeaturesByLayer(ctx, model, [[1, 2]], [1], ['max' as never])).rejects.toMatchObject({ code: 'ROUTER_BAD_POOLING', message: expect.stringMatching(/"max"/) });
  });
});

describe('comparing the router’s layers on FPB, GSM8K and Alpaca prompts (aidreams260K)', { timeout: 180_000 }, () => {
  let tasks: ExpertTask[];
  beforeAll(async () => {
    const fpb = (await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'), 'latin1')).split(/\r?\n/).map((line) => line.split('@')[0]!).filter((text) => text.trim() !== '');
    const gsm8k = (await readFile(fixturePath('datasets/gsm8k/test.jsonl'), 'utf8')).split('\n').filter((line) => line.trim() !== '').map((line) => (JSON.parse(line) as { question: string }).question);
    const alpaca = (JSON.parse(await readFile(fixturePath('datasets/alpaca/alpaca_en_demo.json'), 'utf8')) as { instruction: string }[]).map((row) => row.instruction);
    tasks = [
      { name: 'fpb', train: fpb.slice(0, 24).map(opening).map(asExample) },
      { name: 'gsm8k', train: gsm8k.slice(0, 24).map(opening).map(asExample) },
      { name: 'alpaca', train: alpaca.slice(0, 30).map(opening).map(asExample) },
    ];
  });

  const options = { input: 'typed', balance: 'balanced', hidden: 8, maxSteps: 40, seed: 5, policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams260K', revision: null } } as const;

  it('reports for every layer and pooling the held-out accuracy, train accuracy and steps trainRouter reports with the same split, head options and seed; the best is their arg-max, ties to the earlier layer', async () => {
    const progress: LayerComparisonProgress[] = [];
    const comparison = await compareRouterLayers(ctx, model, tokenizer, tasks, { ...options, poolings: ['mean_last', 'mean'], onProgress: (event) => progress.push(event) });
    expect(comparison.results.map((result) => `${result.layer} ${result.pooling}`)).toEqual([0, 1, 2, 3, 4].flatMap((layer) => [`${layer} mean_last`, `${layer} mean`]));
    // The smallest task has 24 prompts: 4 held out per expert, 20 to train on.
    expect(comparison.heldOutCounts).toEqual([4, 4, 4]);
    expect(comparison.trainCounts).toEqual([20, 20, 20]);
    for (const result of comparison.results) {
      const { router, history } = await trainRouter(ctx, model, tokenizer, tasks, { ...options, feature: { layer: result.layer, pooling: result.pooling } });
      const kept = history.find((evaluation) => evaluation.step === router.training!.bestStep)!;
      expect(result, `layer ${result.layer} ${result.pooling}`).toEqual({
        layer: result.layer,
        pooling: result.pooling,
        heldOutAccuracy: router.training!.heldOutAccuracy,
        trainAccuracy: kept.trainAccuracy,
        heldOutLoss: kept.heldOutLoss,
        bestStep: router.training!.bestStep,
        steps: history.at(-1)!.step,
        stoppedEarly: router.training!.stoppedEarly,
      });
    }
    const top = Math.max(...comparison.results.map((result) => result.heldOutAccuracy));
    expect(comparison.best).toBe(comparison.results.find((result) => result.heldOutAccuracy === top));
    // Progress: the feature pass to every prompt, then one event per head, the last with nothing left.
    expect(progress.filter((event) => event.phase === 'features').at(-1)).toMatchObject({ done: 72, total: 72 });
    const heads = progress.filter((event) => event.phase === 'heads');
    expect(heads.map((event) => event.done)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(heads.at(-1)).toMatchObject({ total: 10, etaSeconds: 0 });
  });

  it('is cancelled by its signal, with the typed error', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(compareRouterLayers(ctx, model, tokenizer, tasks, { ...options, poolings: ['mean'], signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
  });

  it('refuses a layer out of range and an empty list before any work', async () => {
    await expect(compareRouterLayers(ctx, model, tokenizer, tasks, { ...options, poolings: ['mean'], layers: [2, 9] })).rejects.toMatchObject({ code: 'ROUTER_BAD_LAYER', message: expect.stringMatching(/router layer 9/) });
    await expect(compareRouterLayers(ctx, model, tokenizer, tasks, { ...options, poolings: [] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('the best layer', () => {
  const result = (layer: number, heldOutAccuracy: number): LayerResult => ({ layer, pooling: 'mean', heldOutAccuracy, trainAccuracy: 1, heldOutLoss: 0, bestStep: 0, steps: 0, stoppedEarly: false });
  it('is the highest held-out accuracy, and a tie goes to the earlier layer', () => {
    expect(bestLayer([result(0, 0.5), result(1, 0.9), result(2, 0.9), result(3, 0.7)]).layer).toBe(1);
    expect(bestLayer([result(0, 0.95), result(1, 0.9)]).layer).toBe(0);
  });
});
