import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureOnGpu } from '../../test/model.ts';
import { GEMMA3_TINY, randomModel } from '../../test/random-model.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import { referenceHiddenStates, type ReferenceWeights } from '../model/reference.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { relativeError } from '../util/numeric.ts';
import { defaultRouterLayer, featureWidth, routerFeatures, type Pooling } from './features.ts';
import { headProbabilities } from './head.ts';
import { routerInputText, routerPromptIds, truncationNotice } from './prompt.ts';
import { routePrompts, trainRouter } from './router.ts';
import type { ConversationExample } from '../data/example.ts';

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

/** The pooled hidden state of one prompt, in Float64, from the reference model run alone. */
function referenceFeature(ids: readonly number[], layer: number, pooling: Pooling, weights: ReferenceWeights = reference): Float64Array {
  const C = weights.config.hiddenSize;
  const states = referenceHiddenStates(weights, ids)[layer]!;
  const last = states.slice((ids.length - 1) * C, ids.length * C);
  const mean = new Float64Array(C);
  for (let t = 0; t < ids.length; t++) for (let c = 0; c < C; c++) mean[c]! += states[t * C + c]! / ids.length;
  if (pooling === 'last') return last;
  if (pooling === 'mean') return mean;
  const joined = new Float64Array(2 * C);
  joined.set(mean, 0);
  joined.set(last, C);
  return joined;
}

const TEXTS = [
  'Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.',
  'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
  'Give three tips for staying healthy.',
  'Hi',
];

describe('router features on the real aidreams260K model', () => {
  it('defaults to the middle layer, hidden_states[2] of 4', () => {
    expect(defaultRouterLayer(model.config)).toBe(2);
  });

  for (const pooling of ['mean', 'last', 'mean_last'] as const) {
    it(`pool (${pooling}) hidden_states of prompts of different lengths, batched and padded, as the Float64 reference computes each alone, at layers 0, 2 and 4`, async () => {
      const prompts = TEXTS.map((text) => routerPromptIds(tokenizer, text, model.config).ids);
      expect(new Set(prompts.map((ids) => ids.length)).size).toBe(prompts.length);
      const C = featureWidth(pooling, model.config.hiddenSize);
      for (const layer of [0, 2, 4]) {
        const features = await routerFeatures(ctx, model, prompts, { layer, pooling });
        expect(features).toHaveLength(prompts.length * C);
        prompts.forEach((ids, index) => {
          const want = referenceFeature(ids, layer, pooling);
          expect(relativeError(features.subarray(index * C, (index + 1) * C), want), `prompt ${index}, layer ${layer}`).toBeLessThan(1e-4);
        });
      }
    });
  }

  it('trains and routes on "mean_last" features: a head over 2C inputs, routed probabilities = the head over the reference-checked features, and a router of another width is refused', async () => {
    const asExample = (text: string, row: number): ConversationExample => ({ kind: 'conversation', source: { row }, typed: text, turns: [{ role: 'user', content: text, train: false }] });
    const finance = ['Profit rose to EUR 3 mn.', 'Net sales fell 5 %.', 'Operating loss widened in the quarter.', 'The company sold its unit for EUR 20 mn.'];
    const questions = ['How many apples does Tom have left?', 'What is 3 times 4 plus 2?', 'How much did she pay in total?', 'How many hours did he work?'];
    const C = model.config.hiddenSize;
    const { router } = await trainRouter(ctx, model, tokenizer, [{ name: 'fpb', train: finance.map(asExample) }, { name: 'gsm8k', train: questions.map(asExample) }], {
      feature: { layer: 2, pooling: 'mean_last' }, input: 'typed', balance: 'balanced', hidden: 8, maxSteps: 20, seed: 1,
      policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams260K', revision: null },
    });
    expect(router.head.featureMean).toHaveLength(2 * C);
    expect(router.head.layers[0]!.inFeatures).toBe(2 * C);
    const routed = await routePrompts(ctx, model, tokenizer, router, TEXTS);
    const features = await routerFeatures(ctx, model, TEXTS.map((text) => routerPromptIds(tokenizer, text, model.config).ids), router.feature);
    const probabilities = await headProbabilities(ctx, router.head, features);
    routed.forEach((decision, n) => expect(Object.values(decision.probabilities)).toEqual(Array.from(probabilities.subarray(n * 2, n * 2 + 2))));
    await expect(routePrompts(ctx, model, tokenizer, { ...router, feature: { layer: 2, pooling: 'mean' } }, TEXTS)).rejects.toMatchObject({ code: 'ROUTER_MODEL_MISMATCH', message: expect.stringMatching(/reads 128 features, but mean pooling of this model's hidden size 64 gives 64/) });
  });

  it('reads what a person types: the classification text and the question without their templates', () => {
    const source = { row: 1 };
    const classification = { kind: 'conversation' as const, source, typed: 'Profit rose.', turns: [{ role: 'user' as const, content: 'Classify the sentiment: Profit rose.\nAnswer with one of: positive, negative', train: false }, { role: 'assistant' as const, content: 'positive', train: true }] };
    expect(routerInputText(classification, 'typed')).toBe('Profit rose.');
    expect(routerInputText(classification, 'template')).toBe(classification.turns[0]!.content);
    const instruction = { kind: 'conversation' as const, source, turns: [{ role: 'user' as const, content: 'Translate.\n\nBonjour', train: false }, { role: 'assistant' as const, content: 'Hello', train: true }] };
    expect(routerInputText(instruction, 'typed')).toBe('Translate.\n\nBonjour');
    expect(routerInputText({ kind: 'text', source, text: 'corpus' }, 'typed')).toBeUndefined();
  });

  it('cuts a prompt longer than the context to its first 128 tokens, with a notice naming both lengths', async () => {
    const prompt = routerPromptIds(tokenizer, 'the market rose again and again '.repeat(40), model.config);
    expect(prompt.ids).toHaveLength(128);
    expect(prompt.truncatedFrom).toBeGreaterThan(128);
    expect(truncationNotice(prompt, model.config)).toMatch(new RegExp(`has ${prompt.truncatedFrom} tokens, more than the model's context of 128`));
    const features = await routerFeatures(ctx, model, [prompt.ids], { layer: 2, pooling: 'mean' });
    expect(relativeError(features, referenceFeature(prompt.ids, 2, 'mean'))).toBeLessThan(1e-4);
  });

  it('scales Gemma’s embeddings by √C before the first layer, as the model does, at every layer (a random Gemma 3)', async () => {
    const gemma = await randomModel(ctx, GEMMA3_TINY, 'f32', 7);
    try {
      expect(gemma.gpu.embeddingScale).not.toBe(1);
      const prompts = [[2, 17, 40, 5, 88], [2, 9, 9, 31]];
      const C = gemma.config.hiddenSize;
      for (const layer of [0, 1, 2]) {
        const features = await routerFeatures(ctx, gemma.gpu, prompts, { layer, pooling: 'mean' });
        prompts.forEach((ids, index) => expect(relativeError(features.subarray(index * C, (index + 1) * C), referenceFeature(ids, layer, 'mean', gemma.reference)), `prompt ${index}, layer ${layer}`).toBeLessThan(1e-4));
      }
    } finally {
      gemma.gpu.destroy();
    }
  });
});
