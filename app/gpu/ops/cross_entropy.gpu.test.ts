import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKernelFamily } from '../kernel-family.ts';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { decodeTensorData, encodeTensorData, type DType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { crossEntropyReference, logitsReference } from '../reference/cross_entropy.ts';
import { createIndexTensor, createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import {
  IGNORE_INDEX,
  countLabels,
  crossEntropy,
  crossEntropyChunkRows,
  encodeCrossEntropy,
  lmHeadOnGemmCore,
  readCrossEntropyStats,
  selectedLogits,
} from './cross_entropy.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

interface Case {
  BT: number;
  C: number;
  V: number;
  dtype: DType;
  /** Every n-th label is IGNORE_INDEX (0: none). */
  ignoreEvery: number;
  /** Scale of x: 30 gives logits in the tens, where an unstable softmax overflows. */
  xScale?: number;
  /** Vocab sizes of the LM head shards (default: one shard of V). */
  shards?: number[];
}

/** Random inputs as the GPU sees them (W decoded after packing), uploaded; tensors to destroy. */
function prepare(c: Case, seed: number) {
  const random = Random.fromSeed(seed);
  const xScale = c.xScale ?? 1;
  const x = random.fillUniform(new Float32Array(c.BT * c.C), -xScale, xScale);
  const wValues = random.fillUniform(new Float32Array(c.V * c.C), -2 / Math.sqrt(c.C), 2 / Math.sqrt(c.C));
  const labels = Array.from({ length: c.BT }, (_, t) => (c.ignoreEvery > 0 && t % c.ignoreEvery === 1 ? IGNORE_INDEX : random.int(c.V)));
  const w = new Float64Array(c.V * c.C);
  const shardTensors: GpuTensor[] = [];
  let v0 = 0;
  for (const [i, Vs] of (c.shards ?? [c.V]).entries()) {
    const packed = encodeTensorData(c.dtype, wValues.subarray(v0 * c.C, (v0 + Vs) * c.C));
    w.set(decodeTensorData(c.dtype, packed, Vs * c.C), v0 * c.C);
    shardTensors.push(createTensor(ctx.device, `lm_head.${i}`, [Vs, c.C], c.dtype, packed));
    v0 += Vs;
  }
  const inputs = {
    x: createTensor(ctx.device, 'x', [c.BT, c.C], 'f32', x),
    w: shardTensors.length === 1 ? shardTensors[0]! : shardTensors,
    labels: createIndexTensor(ctx.device, 'labels', [c.BT], 'i32', labels),
  };
  const destroy = () => [inputs.x, inputs.labels, ...shardTensors].forEach((t) => t.buffer.destroy());
  return { x, w, labels, inputs, destroy };
}

interface Comparison {
  loss: number;
  rowLoss: number;
  dx: number;
  labelCount: number;
  expectedCount: number;
}

async function compare(c: Case, chunkRows: number, seed = 1): Promise<Comparison> {
  const { x, w, labels, inputs, destroy } = prepare(c, seed);
  const gradScale = 1 / Math.max(1, countLabels(labels, c.V));
  const out = crossEntropy(ctx, inputs, { gradScale, chunkRows });
  try {
    const stats = await readCrossEntropyStats(ctx.device, out.stats);
    const want = crossEntropyReference({ BT: c.BT, C: c.C, V: c.V, x, w, labels, gradScale });
    return {
      loss: relativeError([stats.lossSum], [want.lossSum]),
      rowLoss: relativeError(await readTensor(ctx.device, out.rowLoss), want.rowLoss),
      dx: relativeError(await readTensor(ctx.device, out.dx!), want.dx),
      labelCount: stats.labelCount,
      expectedCount: want.labelCount,
    };
  } finally {
    destroy();
    [out.stats, out.rowLoss, out.dx].forEach((t) => t?.buffer.destroy());
  }
}

function expectClose(result: Comparison): void {
  expect(result.loss).toBeLessThan(1e-4);
  expect(result.rowLoss).toBeLessThan(1e-4);
  expect(result.dx).toBeLessThan(1e-4);
  expect(result.labelCount).toBe(result.expectedCount);
}

describe('cross_entropy fused with the LM head: loss, label count and dX against the Float64 reference', () => {
  it('matches for BT=37 C=64 V=509 f32 in chunks of 16 rows, every 4th label ignored', async () => {
    expectClose(await compare({ BT: 37, C: 64, V: 509, dtype: 'f32', ignoreEvery: 4 }, 16));
  });

  it('matches for BT=40 C=64 V=512 bf16 in one chunk', async () => {
    expectClose(await compare({ BT: 40, C: 64, V: 512, dtype: 'bf16', ignoreEvery: 3 }, 40));
  });

  it('matches for BT=23 C=64 V=1000 f16 in chunks of 7 rows', async () => {
    expectClose(await compare({ BT: 23, C: 64, V: 1000, dtype: 'f16', ignoreEvery: 5 }, 7));
  });

  it('matches for C=61 (not a multiple of 4) and V=257 with one-row chunks', async () => {
    expectClose(await compare({ BT: 9, C: 61, V: 257, dtype: 'bf16', ignoreEvery: 2 }, 1));
  });

  it('matches for a single row, C=1 and V=5', async () => {
    expectClose(await compare({ BT: 1, C: 1, V: 5, dtype: 'f32', ignoreEvery: 0 }, 1));
  });

  it('stays accurate for logits in the tens (the row max is subtracted)', async () => {
    expectClose(await compare({ BT: 13, C: 64, V: 509, dtype: 'f32', ignoreEvery: 0, xScale: 30 }, 5));
  });

  it('gives the same result with the LM head split into vocab shards (509 = 200 + 1 + 308)', async () => {
    expectClose(await compare({ BT: 19, C: 64, V: 509, dtype: 'bf16', ignoreEvery: 3, shards: [200, 1, 308] }, 8));
  });

  it('returns zero loss, zero count and zero dX when every label is ignored', async () => {
    const c: Case = { BT: 6, C: 8, V: 33, dtype: 'f32', ignoreEvery: 1 };
    const { inputs, destroy } = prepare(c, 2);
    const labels = createIndexTensor(ctx.device, 'labels', [c.BT], 'i32', new Array(c.BT).fill(IGNORE_INDEX));
    const out = crossEntropy(ctx, { ...inputs, labels }, { gradScale: 1, chunkRows: 4 });
    try {
      expect(await readCrossEntropyStats(ctx.device, out.stats)).toEqual({ lossSum: 0, labelCount: 0, invalidLabels: 0 });
      expect((await readTensor(ctx.device, out.dx!)).every((value) => value === 0)).toBe(true);
    } finally {
      destroy();
      [labels, out.stats, out.rowLoss, out.dx].forEach((t) => t?.buffer.destroy());
    }
  });

  it('counts labels outside [0, V) other than -100 as invalid and gives them no loss', async () => {
    const c: Case = { BT: 4, C: 8, V: 33, dtype: 'f32', ignoreEvery: 0 };
    const { x, w, inputs, destroy } = prepare(c, 3);
    const values = [33, -1, 7, IGNORE_INDEX];
    const labels = createIndexTensor(ctx.device, 'labels', [c.BT], 'i32', values);
    const out = crossEntropy(ctx, { ...inputs, labels }, { gradScale: 1, chunkRows: 3 });
    try {
      const stats = await readCrossEntropyStats(ctx.device, out.stats);
      const want = crossEntropyReference({ BT: c.BT, C: c.C, V: c.V, x, w, labels: values, gradScale: 1 });
      expect(stats.invalidLabels).toBe(2);
      expect(stats.labelCount).toBe(1);
      expect(relativeError([stats.lossSum], [want.lossSum])).toBeLessThan(1e-4);
    } finally {
      destroy();
      [labels, out.stats, out.rowLoss, out.dx].forEach((t) => t?.buffer.destroy());
    }
  });

  it('accumulates loss, count and dX over micro-batches encoded into one step', async () => {
    const c: Case = { BT: 11, C: 16, V: 70, dtype: 'f32', ignoreEvery: 3 };
    const { x, w, labels, inputs, destroy } = prepare(c, 4);
    const stats = createTensor(ctx.device, 'stats', [3], 'f32');
    const rowLoss = createTensor(ctx.device, 'row loss', [c.BT], 'f32');
    const dx = createTensor(ctx.device, 'dX', [c.BT, c.C], 'f32');
    const scratch = createTensor(ctx.device, 'scratch', [4, c.V], 'f32');
    const gradScale = 1 / (2 * countLabels(labels, c.V));
    try {
      const encoder = ctx.device.createCommandEncoder();
      for (let micro = 0; micro < 2; micro++) encodeCrossEntropy(ctx, encoder, inputs, { stats, rowLoss, backward: { dx, gradScale } }, scratch);
      ctx.device.queue.submit([encoder.finish()]);
      const want = crossEntropyReference({ BT: c.BT, C: c.C, V: c.V, x, w, labels, gradScale });
      const got = await readCrossEntropyStats(ctx.device, stats);
      expect(got.labelCount).toBe(2 * want.labelCount);
      expect(relativeError([got.lossSum], [2 * want.lossSum])).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, dx), want.dx.map((value) => 2 * value))).toBeLessThan(1e-4);
    } finally {
      destroy();
      [stats, rowLoss, dx, scratch].forEach((t) => t.buffer.destroy());
    }
  });

  it('computes the per-row loss without touching dX when no backward is asked (evaluation, label scoring)', async () => {
    const c: Case = { BT: 10, C: 32, V: 100, dtype: 'bf16', ignoreEvery: 4 };
    const { x, w, labels, inputs, destroy } = prepare(c, 5);
    const out = crossEntropy(ctx, inputs, { chunkRows: 3 });
    try {
      expect(out.dx).toBeUndefined();
      const want = crossEntropyReference({ BT: c.BT, C: c.C, V: c.V, x, w, labels, gradScale: 1 });
      expect(relativeError(await readTensor(ctx.device, out.rowLoss), want.rowLoss)).toBeLessThan(1e-4);
    } finally {
      destroy();
      [out.stats, out.rowLoss].forEach((t) => t.buffer.destroy());
    }
  });
});

describe('cross_entropy logits for selected positions', () => {
  it('matches the Float64 reference for rows [36, 0, 17, 17] of BT=37, V=509 bf16 in three shards', async () => {
    const c: Case = { BT: 37, C: 64, V: 509, dtype: 'bf16', ignoreEvery: 0, shards: [100, 300, 109] };
    const { x, w, inputs, destroy } = prepare(c, 6);
    const rows = [36, 0, 17, 17];
    const logits = selectedLogits(ctx, inputs.x, inputs.w, rows);
    try {
      expect(relativeError(await readTensor(ctx.device, logits), logitsReference(x, w, rows, c.C, c.V))).toBeLessThan(1e-4);
    } finally {
      destroy();
      logits.buffer.destroy();
    }
  });

  it('matches for a single row of C=61, V=1000 f16', async () => {
    const c: Case = { BT: 3, C: 61, V: 1000, dtype: 'f16', ignoreEvery: 0 };
    const { x, w, inputs, destroy } = prepare(c, 7);
    const logits = selectedLogits(ctx, inputs.x, inputs.w, [2]);
    try {
      expect(relativeError(await readTensor(ctx.device, logits), logitsReference(x, w, [2], c.C, c.V))).toBeLessThan(1e-4);
    } finally {
      destroy();
      logits.buffer.destroy();
    }
  });

  it('refuses a selected row outside [0, BT) before dispatch', () => {
    const x = createTensor(ctx.device, 'x', [4, 8], 'f32');
    const w = createTensor(ctx.device, 'W', [10, 8], 'f32');
    expect(() => selectedLogits(ctx, x, w, [1, 4])).toThrow(/selected row 4 \(at 1\) is outside \[0, 4\)/);
  });
});

describe("the LM head's products on the GPU family's GEMM core (forced on this adapter), against the Float64 reference", () => {
  beforeAll(() => setKernelFamily(ctx, 'gpu'));
  afterAll(() => setKernelFamily(ctx, 'auto'));
  const shard = (v0: number, Vs: number, dtype: DType = 'bf16') => ({ v0, Vs, tensor: { dtype } as GpuTensor });

  it('takes the core where C, V and every shard start are multiples of 4, and the LM head kernels elsewhere', () => {
    expect(lmHeadOnGemmCore(ctx, 64, [shard(0, 512)])).toBe(true);
    expect(lmHeadOnGemmCore(ctx, 64, [shard(0, 200), shard(200, 4), shard(204, 308)])).toBe(true);
    expect(lmHeadOnGemmCore(ctx, 61, [shard(0, 512)])).toBe(false);
    expect(lmHeadOnGemmCore(ctx, 64, [shard(0, 509)])).toBe(false);
    expect(lmHeadOnGemmCore(ctx, 64, [shard(0, 202), shard(202, 306)])).toBe(false);
    setKernelFamily(ctx, 'cpu');
    expect(lmHeadOnGemmCore(ctx, 64, [shard(0, 512)])).toBe(false);
    setKernelFamily(ctx, 'gpu');
  });

  it('matches for BT=37 C=64 V=512 f32 in chunks of 16 rows (a chunk smaller than the 64-row tile), every 4th label ignored', async () => {
    expectClose(await compare({ BT: 37, C: 64, V: 512, dtype: 'f32', ignoreEvery: 4 }, 16));
  });

  it('matches for BT=70 C=132 V=1000 f16 in one chunk (two row tiles, C past the 16-wide inner step)', async () => {
    expectClose(await compare({ BT: 70, C: 132, V: 1000, dtype: 'f16', ignoreEvery: 5 }, 70));
  });

  it('matches with the LM head in vocab shards 200 + 4 + 308 (bf16), logits in the tens', async () => {
    expectClose(await compare({ BT: 19, C: 64, V: 512, dtype: 'bf16', ignoreEvery: 3, shards: [200, 4, 308], xScale: 10 }, 8));
  });

  it('still matches on the LM head kernels where C is not a multiple of 4', async () => {
    expectClose(await compare({ BT: 9, C: 61, V: 257, dtype: 'bf16', ignoreEvery: 2 }, 4));
  });

  it('gives the logits of selected rows on gemv (4 rows, gathered) and gemm (12 rows) in three shards', async () => {
    const c: Case = { BT: 37, C: 64, V: 508, dtype: 'bf16', ignoreEvery: 0, shards: [100, 300, 108] };
    const { x, w, inputs, destroy } = prepare(c, 6);
    try {
      for (const rows of [[36, 0, 17, 17], [5, 36, 1, 0, 2, 9, 33, 12, 7, 7, 20, 30]]) {
        const logits = selectedLogits(ctx, inputs.x, inputs.w, rows);
        expect(relativeError(await readTensor(ctx.device, logits), logitsReference(x, w, rows, c.C, c.V))).toBeLessThan(1e-4);
        logits.buffer.destroy();
      }
    } finally {
      destroy();
    }
  });
});

describe('cross_entropy refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[], dtype: DType = 'f32'): GpuTensor => createTensor(ctx.device, name, shape, dtype);
  const labels = (BT: number) => createIndexTensor(ctx.device, 'labels', [BT], 'i32');

  it('names the labels and both shapes when they do not match x', () => {
    const call = () => crossEntropy(ctx, { x: tensor('x', [5, 8]), w: tensor('W', [10, 8]), labels: labels(4) }, { chunkRows: 2 });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "labels" has shape \[4\], expected \[BT\] = \[5\]/);
  });

  it('names the LM head when its C does not match x', () => {
    expect(() => crossEntropy(ctx, { x: tensor('x', [5, 8]), w: tensor('lm_head', [10, 9]), labels: labels(5) }, { chunkRows: 2 })).toThrow(
      /tensor "lm_head" has shape \[10, 9\], expected \[V, C\] = \[10, 8\]/,
    );
  });

  it('refuses LM head shards of different dtypes', () => {
    const w = [tensor('head.0', [6, 8], 'bf16'), tensor('head.1', [4, 8], 'f16')];
    expect(() => crossEntropy(ctx, { x: tensor('x', [5, 8]), w, labels: labels(5) }, { chunkRows: 2 })).toThrow(/"head.1" is f16.*share one dtype/);
  });

  it('refuses a non-finite gradScale', () => {
    expect(() => crossEntropy(ctx, { x: tensor('x', [5, 8]), w: tensor('W', [10, 8]), labels: labels(5) }, { gradScale: Infinity, chunkRows: 2 })).toThrow(
      /gradScale must be a finite number/,
    );
  });

  it('names the limit when one row of logits does not fit the scratch budget', () => {
    expect(() => crossEntropyChunkRows(ctx.device, 8, 151936, 1 << 16)).toThrow(LimitError);
    expect(crossEntropyChunkRows(ctx.device, 8192, 151936, 64 << 20)).toBe(Math.floor((64 << 20) / (151936 * 4)));
  });

  it('names the tensor and the limit when an LM head shard is over maxStorageBufferBindingSize', () => {
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const oversized: GpuTensor = { name: 'embed_tokens', shape: [10, 8], dtype: 'bf16', buffer: { size: limit + 4 } as GPUBuffer };
    expect(() => crossEntropy(ctx, { x: tensor('x', [5, 8]), w: oversized, labels: labels(5) }, { chunkRows: 2 })).toThrow(
      new RegExp(`"embed_tokens" needs ${limit + 4} bytes.*maxStorageBufferBindingSize of ${limit}`),
    );
  });
});
