import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { setKernelFamily } from '../kernel-family.ts';
import { decodeTensorData, encodeTensorData, type DType } from '../dtype.ts';
import { crossEntropyReference, IGNORE_INDEX, logitsReference, softcapReference } from '../reference/cross_entropy.ts';
import { createIndexTensor, createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { countLabels, crossEntropy, readCrossEntropyStats, selectedLogits } from './cross_entropy.ts';

/**
 * Final-logit soft-capping (Gemma's final_logit_softcapping): the loss, dX and the selected logits of
 * generation see cap·tanh(logit / cap). The cap is 2 on logits of magnitude ~5, so most logits are
 * squeezed and an engine that ignored the cap would fail every comparison.
 */
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

const CAP = 2;

function prepare(BT: number, C: number, V: number, dtype: DType, shards: number[], seed: number) {
  const random = Random.fromSeed(seed);
  // x·W has a standard deviation of about 5 with x in ±3 and W in ±2/√C (σ ≈ 1.7 · 1.15 · √C / √C · √3).
  const x = random.fillUniform(new Float32Array(BT * C), -3, 3);
  const wValues = random.fillUniform(new Float32Array(V * C), -5 / Math.sqrt(C), 5 / Math.sqrt(C));
  const labels = Array.from({ length: BT }, (_, t) => (t % 4 === 1 ? IGNORE_INDEX : random.int(V)));
  const w = new Float64Array(V * C);
  const tensors: GpuTensor[] = [];
  let v0 = 0;
  for (const [i, Vs] of shards.entries()) {
    const packed = encodeTensorData(dtype, wValues.subarray(v0 * C, (v0 + Vs) * C));
    w.set(decodeTensorData(dtype, packed, Vs * C), v0 * C);
    tensors.push(createTensor(ctx.device, `lm_head.${i}`, [Vs, C], dtype, packed));
    v0 += Vs;
  }
  const inputs = {
    x: createTensor(ctx.device, 'x', [BT, C], 'f32', x),
    w: tensors.length === 1 ? tensors[0]! : tensors,
    labels: createIndexTensor(ctx.device, 'labels', [BT], 'i32', labels),
  };
  const destroy = () => [inputs.x, inputs.labels, ...tensors].forEach((t) => t.buffer.destroy());
  return { x, w, labels, inputs, destroy };
}

describe('cross_entropy with a final-logit soft-cap against the Float64 reference', () => {
  for (const [BT, C, V, dtype, chunkRows, shards] of [
    [21, 64, 509, 'f32', 8, [509]],
    [13, 61, 300, 'bf16', 13, [100, 200]],
  ] as const) {
    it(`gives the capped loss, row losses and dX (times 1 − tanh²) for BT=${BT} C=${C} V=${V} ${dtype} in ${shards.length} shard(s)`, async () => {
      const { x, w, labels, inputs, destroy } = prepare(BT, C, V, dtype, [...shards], 11 + BT);
      const raw = logitsReference(x, w, [0, 1, 2], C, V);
      expect(Math.sqrt(raw.reduce((sum, l) => sum + l * l, 0) / raw.length), 'logits of magnitude ~5').toBeGreaterThan(3);
      const gradScale = 1 / countLabels(labels, V);
      const out = crossEntropy(ctx, { ...inputs, softcap: CAP }, { gradScale, chunkRows });
      try {
        const stats = await readCrossEntropyStats(ctx.device, out.stats);
        const want = crossEntropyReference({ BT, C, V, x, w, labels, gradScale, softcap: CAP });
        expect(stats.labelCount).toBe(want.labelCount);
        expect(relativeError([stats.lossSum], [want.lossSum])).toBeLessThan(1e-5);
        expect(relativeError(await readTensor(ctx.device, out.rowLoss), want.rowLoss)).toBeLessThan(1e-5);
        const dx = await readTensor(ctx.device, out.dx!);
        expect(relativeError(dx, want.dx)).toBeLessThan(1e-4);
        const uncapped = crossEntropyReference({ BT, C, V, x, w, labels, gradScale });
        expect(relativeError(dx, uncapped.dx), 'the cap changes dX').toBeGreaterThan(0.1);
      } finally {
        destroy();
        [out.stats, out.rowLoss, out.dx].forEach((t) => t?.buffer.destroy());
      }
    });
  }

  it('gives the capped row losses without dX (evaluation and label scoring)', async () => {
    const { x, w, labels, inputs, destroy } = prepare(9, 32, 130, 'bf16', [130], 5);
    const out = crossEntropy(ctx, { ...inputs, softcap: CAP }, { chunkRows: 4 });
    try {
      const want = crossEntropyReference({ BT: 9, C: 32, V: 130, x, w, labels, gradScale: 1, softcap: CAP });
      expect(relativeError(await readTensor(ctx.device, out.rowLoss), want.rowLoss)).toBeLessThan(1e-5);
    } finally {
      destroy();
      [out.stats, out.rowLoss].forEach((t) => t.buffer.destroy());
    }
  });

  it('writes capped logits for selected rows across vocab shards (generation and sampling read these)', async () => {
    const { x, w, inputs, destroy } = prepare(17, 64, 509, 'bf16', [200, 1, 308], 6);
    const rows = [16, 0, 9];
    const logits = selectedLogits(ctx, inputs.x, inputs.w, rows, CAP);
    try {
      const got = await readTensor(ctx.device, logits);
      expect(Math.max(...got.map(Math.abs))).toBeLessThanOrEqual(CAP);
      expect(relativeError(got, softcapReference(logitsReference(x, w, rows, 64, 509), CAP))).toBeLessThan(1e-5);
    } finally {
      destroy();
      logits.buffer.destroy();
    }
  });

  it('keeps the logits finite and at ±cap for raw logits far past it (tanh saturates, no NaN)', async () => {
    const x = createTensor(ctx.device, 'x', [1, 1], 'f32', Float32Array.of(1));
    const w = createTensor(ctx.device, 'W', [4, 1], 'f32', Float32Array.of(1e30, -1e30, 80, 0));
    const logits = selectedLogits(ctx, x, w, [0], CAP);
    try {
      const got = Array.from(await readTensor(ctx.device, logits));
      expect(got).toEqual([CAP, -CAP, CAP, 0]);
    } finally {
      [x, w, logits].forEach((t) => t.buffer.destroy());
    }
  });

  it('refuses a soft-cap that is not a positive finite number before dispatch', () => {
    const x = createTensor(ctx.device, 'x', [2, 4], 'f32');
    const w = createTensor(ctx.device, 'W', [5, 4], 'f32');
    const labels = createIndexTensor(ctx.device, 'labels', [2], 'i32', [0, 1]);
    try {
      expect(() => crossEntropy(ctx, { x, w, labels, softcap: -1 }, { chunkRows: 2 })).toThrow(/softcap must be a positive finite number or null, got -1/);
      expect(() => selectedLogits(ctx, x, w, [0], Number.NaN)).toThrow(/softcap must be a positive finite number/);
    } finally {
      [x, w, labels].forEach((t) => t.buffer.destroy());
    }
  });
});

describe('soft-capped logits and loss with the GPU family forced (the LM head on the shared GEMM core)', () => {
  beforeAll(() => setKernelFamily(ctx, 'gpu'));
  afterAll(() => setKernelFamily(ctx, 'auto'));

  it('gives the capped loss and dX, and capped selected logits (gemv and gemm gathers), as the Float64 reference', async () => {
    const { x, w, labels, inputs, destroy } = prepare(12, 64, 256, 'bf16', [128, 128], 21);
    const gradScale = 1 / countLabels(labels, 256);
    const out = crossEntropy(ctx, { ...inputs, softcap: CAP }, { gradScale, chunkRows: 5 });
    const decode = selectedLogits(ctx, inputs.x, inputs.w, [11], CAP);
    const batch = selectedLogits(ctx, inputs.x, inputs.w, [11, 0, 3, 4, 5, 6, 7, 8, 9, 10], CAP);
    try {
      const want = crossEntropyReference({ BT: 12, C: 64, V: 256, x, w, labels, gradScale, softcap: CAP });
      expect(relativeError(await readTensor(ctx.device, out.rowLoss), want.rowLoss)).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(ctx.device, out.dx!), want.dx)).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, decode), softcapReference(logitsReference(x, w, [11], 64, 256), CAP))).toBeLessThan(1e-5);
      expect(relativeError(await readTensor(ctx.device, batch), softcapReference(logitsReference(x, w, [11, 0, 3, 4, 5, 6, 7, 8, 9, 10], 64, 256), CAP))).toBeLessThan(1e-5);
    } finally {
      destroy();
      [out.stats, out.rowLoss, out.dx, decode, batch].forEach((t) => t?.buffer.destroy());
    }
  });
});
