import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../test/fixtures.ts';
import { fixtureOnGpu } from '../../test/model.ts';
import type { ConversationExample } from '../data/example.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { GpuModel } from '../model/gpu-model.ts';
import type { TextTokenizer } from '../model/tokenizer.ts';
import { routePrompts, trainRouter, type ExpertTask, type FeatureCache } from './router.ts';

let ctx: GpuContext;
let model: GpuModel;
let tokenizer: TextTokenizer;
beforeAll(async () => {
  ({ ctx, model, tokenizer } = await fixtureOnGpu());
});
afterAll(() => {
  model?.destroy();
  ctx?.destroy();
});

const asExample = (sentence: string, row: number): ConversationExample => ({ kind: 'conversation', source: { row }, typed: sentence, turns: [{ role: 'user', content: sentence, train: false }] });

describe('balance matters for the router (real model, FPB sentences)', { timeout: 120_000 }, () => {
  it('a router trained on a 10:1 set routes most of a balanced test set to the large task; the balanced router, with equal counts, does not', async () => {
    // Two "tasks" from one source (positive and negative FPB sentences) that the tiny model's features
    // barely tell apart: what a router learns beyond the features is the prior of its training set.
    const lines = (await readFile(fixturePath('datasets/fpb/Sentences_50Agree.txt'), 'latin1')).split(/\r?\n/).map((line) => line.split('@'));
    // The first ten words of each sentence: short prompts keep the feature pass quick on SwiftShader.
    const of = (label: string) => lines.filter((parts) => parts[1]?.trim() === label).map((parts) => parts[0]!.trim().split(/\s+/).slice(0, 10).join(' '));
    const [positive, negative] = [of('positive'), of('negative')];
    const big: ExpertTask = { name: 'big', train: positive.slice(0, 200).map(asExample) };
    const small: ExpertTask = { name: 'small', train: negative.slice(0, 20).map(asExample) };
    const test = [...positive.slice(400, 430), ...negative.slice(400, 430)];
    // Both routers read the same prompts at the same layer: their features are computed once.
    const cache: FeatureCache = new Map();
    const train = (balance: 'balanced' | 'unbalanced') =>
      trainRouter(ctx, model, tokenizer, [big, small], { feature: { layer: 1, pooling: 'mean' }, input: 'typed', balance, policy: { topK: 1, threshold: 0, fallback: null }, baseModel: { name: 'aidreams260K', revision: null }, maxSteps: 150, seed: 3, cache });
    const shareToBig = async (trained: Awaited<ReturnType<typeof train>>) => (await routePrompts(ctx, model, tokenizer, trained.router, test, { cache })).filter((routed) => routed.chosen === 'big').length / test.length;

    const balanced = await train('balanced');
    const unbalanced = await train('unbalanced');
    expect(balanced.router.training!.trainCounts).toEqual([16, 16]);
    expect(unbalanced.router.training!.trainCounts).toEqual([196, 16]);
    expect(balanced.router.training!.heldOutCounts).toEqual([4, 4]);

    const biased = await shareToBig(unbalanced);
    const fair = await shareToBig(balanced);
    // Measured (seeded): about 0.73 of the balanced test set goes to the large task with the 10:1 router,
    // about 0.38 with the balanced one. The bounds leave a few prompts of margin either way.
    expect(biased).toBeGreaterThanOrEqual(0.65);
    expect(fair).toBeLessThanOrEqual(0.55);
    expect(biased - fair).toBeGreaterThanOrEqual(0.2);
  });
});
