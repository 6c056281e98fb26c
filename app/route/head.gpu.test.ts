import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../test/gpu-harness.ts';
import { headProbabilitiesReference } from '../gpu/reference/router_head.ts';
import { relativeError } from '../util/numeric.ts';
import { Random } from '../util/random.ts';
import { headProbabilities, standardize, trainRouterHead, type LabelledFeatures } from './head.ts';

const gpu = setUpTestGpu();

/** K clusters in C dimensions (centres ±3 on a few axes, unit noise), offset and scaled like raw hidden states. */
function clusters(perClass: number, K: number, C: number, seed: number): LabelledFeatures {
  const random = Random.fromSeed(seed);
  const centres = Array.from({ length: K }, (_, k) => Float64Array.from({ length: C }, (_, c) => (c % K === k ? 3 : 0)));
  const features = new Float32Array(perClass * K * C);
  const labels = new Int32Array(perClass * K);
  for (let n = 0; n < perClass * K; n++) {
    const k = n % K;
    labels[n] = k;
    for (let c = 0; c < C; c++) features[n * C + c] = 40 + 10 * (centres[k]![c]! + random.uniform(-1.5, 1.5));
  }
  return { features, labels };
}

describe('training the router head on the GPU', () => {
  for (const hidden of [undefined, 16]) {
    it(`separates three clusters with a ${hidden ? 'one-hidden-layer' : 'linear'} head, the held-out loss falling, and its GPU probabilities equal the Float64 reference's`, async () => {
      const C = 24;
      const train = clusters(30, 3, C, 1);
      const heldOut = clusters(10, 3, C, 2);
      const result = await trainRouterHead(gpu.ctx, train, heldOut, { experts: 3, maxSteps: 60, evalEvery: 10, seed: 4, ...(hidden ? { hidden } : {}) });
      const first = result.history[0]!;
      const best = result.history.find((evaluation) => evaluation.step === result.bestStep)!;
      expect(best.heldOutLoss).toBeLessThan(first.heldOutLoss);
      expect(best.heldOutAccuracy).toBeGreaterThanOrEqual(0.95);
      expect(result.head.layers.map((layer) => [layer.inFeatures, layer.outFeatures])).toEqual(hidden ? [[C, hidden], [hidden, 3]] : [[C, 3]]);

      const probs = await headProbabilities(gpu.ctx, result.head, heldOut.features);
      const want = headProbabilitiesReference({ layers: result.head.layers, temperature: 1 }, standardize(result.head, heldOut.features), heldOut.labels.length);
      expect(relativeError(probs, want)).toBeLessThan(1e-5);
    });
  }

  it('stops early once the held-out loss stops improving, keeping the best evaluation’s weights', async () => {
    // Labels that are noise: the held-out loss cannot keep improving while the head fits the training rows.
    const C = 32;
    const random = Random.fromSeed(5);
    const noise = (N: number): LabelledFeatures => ({ features: random.fillUniform(new Float32Array(N * C), -1, 1), labels: Int32Array.from({ length: N }, (_, n) => n % 2) });
    const result = await trainRouterHead(gpu.ctx, noise(16), noise(16), { experts: 2, hidden: 32, lr: 0.05, maxSteps: 400, evalEvery: 5, patience: 3, seed: 1 });
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.at(-1)!.step).toBeLessThan(400);
    const best = Math.min(...result.history.map((evaluation) => evaluation.heldOutLoss));
    expect(result.history.find((evaluation) => evaluation.step === result.bestStep)!.heldOutLoss).toBe(best);
    expect(result.history.slice(-3).every((evaluation) => evaluation.heldOutLoss >= best)).toBe(true);
  });

  it('applies the temperature: τ = 2 gives softmax(logits / 2)', async () => {
    const train = clusters(10, 2, 8, 3);
    const { head } = await trainRouterHead(gpu.ctx, train, clusters(4, 2, 8, 4), { experts: 2, maxSteps: 10, seed: 2 });
    const warm = { ...head, temperature: 2 };
    const probs = await headProbabilities(gpu.ctx, warm, train.features);
    expect(relativeError(probs, headProbabilitiesReference({ layers: head.layers, temperature: 2 }, standardize(head, train.features), 20))).toBeLessThan(1e-5);
  });

  it('refuses a hidden layer that is not a whole number of units, naming the field', async () => {
    const train = clusters(4, 2, 8, 3);
    for (const hidden of [-1, 2.5]) {
      await expect(trainRouterHead(gpu.ctx, train, train, { experts: 2, hidden })).rejects.toMatchObject({ code: 'BAD_ARGUMENT', details: { field: 'hidden' }, message: expect.stringContaining(`0 for a linear head; got ${hidden}`) });
    }
  });
});
