import { describe, expect, it } from 'vitest';
import { finiteDifferenceGradient, relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { headLinearReference, headLossReference, headSoftmaxReference, type ReferenceHead } from './router_head.ts';

const random = Random.fromSeed(41);
const values = (count: number, scale: number): Float64Array => Float64Array.from({ length: count }, () => random.uniform(-scale, scale));

function randomHead(C: number, K: number, hidden: number | undefined, temperature: number): ReferenceHead {
  const sizes = hidden === undefined ? [C, K] : [C, hidden, K];
  const layers = sizes.slice(1).map((outFeatures, index) => ({ inFeatures: sizes[index]!, outFeatures, w: values(outFeatures * sizes[index]!, 0.6), b: values(outFeatures, 0.3) }));
  return { layers, temperature };
}

describe('router head reference', () => {
  it('computes a known linear layer, its relu and a known softmax', () => {
    const layer = { inFeatures: 2, outFeatures: 2, w: [1, 2, -3, 0.5], b: [0.5, -1] };
    expect(Array.from(headLinearReference([1, 1], 1, layer))).toEqual([3.5, -3.5]);
    expect(Array.from(headLinearReference([1, 1], 1, layer, true))).toEqual([3.5, 0]);
    const { probs, rowLoss } = headSoftmaxReference([Math.log(2), 0], 1, 2, [1], 1, 1);
    expect(probs[0]).toBeCloseTo(2 / 3, 15);
    expect(rowLoss[0]).toBeCloseTo(Math.log(3), 15);
    // τ = 2 halves the logits: softmax([ln 2, 0] / 2) = [√2, 1] / (√2 + 1).
    expect(headSoftmaxReference([Math.log(2), 0], 1, 2, [-1], 2, 1).probs[0]).toBeCloseTo(Math.SQRT2 / (Math.SQRT2 + 1), 15);
  });

  for (const hidden of [undefined, 5]) {
    it(`gives every gradient of the mean cross-entropy as central finite differences do (${hidden === undefined ? 'linear' : 'one hidden layer'}, τ = 0.7)`, () => {
      const C = 6;
      const K = 3;
      const N = 7;
      const head = randomHead(C, K, hidden, 0.7);
      const x = values(N * C, 1.5);
      const labels = [0, 2, 1, -1, 2, 0, 1];
      const { grads } = headLossReference(head, x, N, labels);
      const loss = () => headLossReference(head, x, N, labels).loss;
      head.layers.forEach((layer, index) => {
        expect(relativeError(grads[index]!.dw, finiteDifferenceGradient(loss, layer.w as Float64Array))).toBeLessThan(1e-7);
        expect(relativeError(grads[index]!.db, finiteDifferenceGradient(loss, layer.b as Float64Array))).toBeLessThan(1e-7);
      });
    });
  }

  it('takes an unlabelled row (−1) out of the loss and the gradient', () => {
    const head = randomHead(4, 3, undefined, 1);
    const x = values(2 * 4, 1);
    const both = headLossReference(head, x, 2, [1, -1]);
    const first = headLossReference(head, x.subarray(0, 4), 1, [1]);
    expect(both.loss).toBeCloseTo(first.loss, 14);
    expect(relativeError(both.grads[0]!.dw, first.grads[0]!.dw)).toBeLessThan(1e-14);
  });
});
