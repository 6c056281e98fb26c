import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../test/gpu.ts';
import { relativeError } from '../../test/numeric.ts';
import { Random } from '../util/random.ts';
import type { GpuContext } from './device.ts';
import { ShapeError } from './errors.ts';
import { setKernelFamily } from './kernel-family.ts';
import { loraLinearBackward, loraLinearWithU } from './ops/lora_linear.ts';
import { matmul, matmulTarget, routeMatmul, type MatmulDims } from './ops/matmul.ts';
import { createQuantizedTensor, dequantize, quantize, type QuantSpec } from './quant.ts';
import { loraDownReference, loraLinearBackwardReference, loraLinearReference } from './reference/lora_linear.ts';
import { matmulNNReference, matmulNTReference } from './reference/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from './tensor.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

const SPECS: Record<string, QuantSpec> = {
  int8: { dtype: 'int8' },
  'int4 g32': { dtype: 'int4', group: 32, symmetric: false },
  'int4 g64 symmetric': { dtype: 'int4', group: 64, symmetric: true },
  'int4 g128': { dtype: 'int4', group: 128, symmetric: false },
};

/**
 * How far a product through quantized weights may be from the product through the original ones
 * (relative to the output's scale), for weights of std 1/√K: int8's step of max/127 leaves about
 * 0.6% of each weight, int4's steps 5-11% (app/gpu/quant.test.ts); the errors of a row's K products
 * add up like a random walk, so the output keeps about the same relative error.
 */
const ORIGINAL_TOLERANCE: Record<QuantSpec['dtype'], number> = { int8: 0.01, int4: 0.15 };

function weights(random: Random, N: number, K: number): Float32Array {
  return random.fillUniform(new Float32Array(N * K), -Math.sqrt(3 / K), Math.sqrt(3 / K));
}

/** One product through quantized W on the GPU; its error against Float64 over the dequantized and over the original weights. */
async function compareMatmul(layout: 'nt' | 'nn', dims: MatmulDims, spec: QuantSpec): Promise<{ dequantized: number; original: number }> {
  const { M, N, K } = dims;
  const random = Random.fromSeed(M * 7 + N * 13 + K);
  const w = weights(random, N, K);
  const lhsCount = layout === 'nt' ? M * K : M * N;
  const lhs = random.fillUniform(new Float32Array(lhsCount), -1, 1);
  const words = quantize('W', spec, w, N, K);
  const tensors: GpuTensor[] = [
    createTensor(ctx.device, 'lhs', layout === 'nt' ? [M, K] : [M, N], 'f32', lhs),
    createQuantizedTensor(ctx.device, 'W', [N, K], spec, words),
    createTensor(ctx.device, 'out', layout === 'nt' ? [M, N] : [M, K], 'f32'),
  ];
  try {
    const [lhsTensor, wTensor, out] = tensors as [GpuTensor, GpuTensor, GpuTensor];
    matmul(ctx, layout, lhsTensor, wTensor, out, { accumulate: false });
    const got = await readTensor(ctx.device, out);
    const reference = layout === 'nt' ? matmulNTReference : matmulNNReference;
    return {
      dequantized: relativeError(got, reference(dims, lhs, dequantize(spec, words, N, K))),
      original: relativeError(got, reference(dims, lhs, w)),
    };
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

// Tiled shapes with edges off every tile; skinny ones (an output side ≤ 64); int8 also with K not a multiple of 4.
const SHAPES: Record<'nt' | 'nn', MatmulDims[]> = {
  nt: [{ M: 70, N: 97, K: 256 }, { M: 37, N: 16, K: 384 }],
  nn: [{ M: 65, N: 99, K: 128 }, { M: 9, N: 130, K: 128 }],
};
const INT8_ODD_K: MatmulDims = { M: 33, N: 70, K: 45 };

for (const layout of ['nt', 'nn'] as const) {
  describe(`matmul ${layout} through quantized W equals Float64 over the dequantized weights (within f32 rounding, 1e-4)`, () => {
    for (const [label, spec] of Object.entries(SPECS)) {
      for (const dims of SHAPES[layout]) {
        const kernel = routeMatmul(layout, dims).kernel;
        it(`${label}, M=${dims.M} N=${dims.N} K=${dims.K} on the ${kernel} kernel, and stays within ${ORIGINAL_TOLERANCE[spec.dtype] * 100}% of the original weights' product`, async () => {
          const errors = await compareMatmul(layout, dims, spec);
          expect(errors.dequantized).toBeLessThan(1e-4);
          expect(errors.original).toBeLessThan(ORIGINAL_TOLERANCE[spec.dtype]);
          // The original product differs by more than rounding: the check above is not vacuous.
          expect(errors.original).toBeGreaterThan(1e-4);
        });
      }
    }
    it(`int8 with K = ${INT8_ODD_K.K}, not a multiple of 4 (rows do not start on a word: element by element)`, async () => {
      expect((await compareMatmul(layout, INT8_ODD_K, SPECS.int8!)).dequantized).toBeLessThan(1e-4);
    });
  });
}

describe('lora_linear through quantized W: the frozen product is int8/int4, the LoRA pair f32', () => {
  for (const [label, spec] of Object.entries(SPECS)) {
    it(`forward Y and U and backward dX, dA, dB equal the Float64 reference over the dequantized W (1e-4), ${label}`, async () => {
      await compareLoraLinear(spec, { M: 37, N: 70, K: 128, R: 8 });
    });
  }
  // Each family's product core forced, with the bias and LoRA term in the forward's epilogue and
  // dropout's mask in dX's (gemm on the GPU family: N and K multiples of 4 and both sides over 64).
  for (const family of ['cpu', 'gpu'] as const) {
    for (const [label, spec] of Object.entries(SPECS)) {
      it(`with a bias and dropout on the ${family} family's core, ${label}`, async () => {
        setKernelFamily(ctx, family);
        try {
          const dims = { M: 70, N: 100, K: 128, R: 8 };
          expect(routeMatmul('nt', dims, matmulTarget(ctx), spec.dtype).kernel).toBe(family === 'gpu' ? 'gemm' : 'tiled');
          await compareLoraLinear(spec, dims, { bias: true, p: 0.25 });
        } finally {
          setKernelFamily(ctx, 'auto');
        }
      });
    }
  }

  /** Runs forward and backward through `spec`-quantized weights and compares all five outputs with the Float64 reference. */
  async function compareLoraLinear(spec: QuantSpec, { M, N, K, R }: MatmulDims & { R: number }, options: { bias?: boolean; p?: number } = {}): Promise<void> {
    const random = Random.fromSeed(5);
    const values = (count: number, scale = 1) => random.fillUniform(new Float32Array(count), -scale, scale);
    const host = { x: values(M * K), w: weights(random, N, K), a: values(R * K, 1 / Math.sqrt(K)), b: values(N * R, 0.5), dy: values(M * N), bias: values(N) };
    const dropout = options.p ? { p: options.p, seed: 21, step: 3, offset: 4 } : undefined;
    const words = quantize('W', spec, host.w, N, K);
    const scale = 2;
    const tensors: GpuTensor[] = [];
    const upload = (name: string, shape: number[], data: Float32Array) => {
      const tensor = createTensor(ctx.device, name, shape, 'f32', data);
      tensors.push(tensor);
      return tensor;
    };
    const w = createQuantizedTensor(ctx.device, 'W', [N, K], spec, words);
    tensors.push(w);
    const x = upload('X', [M, K], host.x);
    const lora = { a: upload('A', [R, K], host.a), b: upload('B', [N, R], host.b), scale, ...(dropout ? { dropout } : {}) };
    const bias = options.bias ? upload('bias', [N], host.bias) : undefined;
    const gradients = { dx: upload('dX', [M, K], new Float32Array(M * K)), da: upload('dA', [R, K], new Float32Array(R * K)), db: upload('dB', [N, R], new Float32Array(N * R)) };
    try {
      const { y, u } = loraLinearWithU(ctx, { x, w, lora, ...(bias ? { bias } : {}) });
      tensors.push(y, u!);
      loraLinearBackward(ctx, { x, w, lora, dy: upload('dY', [M, N], host.dy), u: u! }, gradients);
      const reference = { M, N, K, R, x: host.x, w: dequantize(spec, words, N, K), a: host.a, b: host.b, scale, ...(dropout ? { dropout } : {}) };
      const want = loraLinearBackwardReference({ ...reference, dy: host.dy });
      expect(relativeError(await readTensor(ctx.device, y), loraLinearReference({ ...reference, ...(bias ? { bias: host.bias } : {}) }))).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, u!), loraDownReference(reference))).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, gradients.dx), want.dx)).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, gradients.da), want.da)).toBeLessThan(1e-4);
      expect(relativeError(await readTensor(ctx.device, gradients.db), want.db)).toBeLessThan(1e-4);
    } finally {
      for (const tensor of tensors) tensor.buffer.destroy();
    }
  }
});

describe('quantized weights refused before dispatch', () => {
  it('refuses an int4 weight whose group size does not divide its rows, naming it', () => {
    const x = createTensor(ctx.device, 'X', [4, 96], 'f32');
    const y = createTensor(ctx.device, 'Y', [4, 8], 'f32');
    const w = { ...createQuantizedTensor(ctx.device, 'q_proj', [8, 96], SPECS['int4 g32']!, quantize('q_proj', SPECS['int4 g32']!, new Float32Array(8 * 96), 8, 96)), group: 64 };
    try {
      expect(() => matmul(ctx, 'nt', x, w, y)).toThrow(ShapeError);
      expect(() => matmul(ctx, 'nt', x, w, y)).toThrow(/int4 tensor "q_proj" \[8, 96\] has group size 64, which must be a multiple of 8 that divides 96/);
    } finally {
      for (const tensor of [x, y, w]) tensor.buffer.destroy();
    }
  });

  it('refuses a quantized X in the weight gradient (tn): only frozen weights may be quantized', () => {
    const dy = createTensor(ctx.device, 'dY', [4, 3], 'f32');
    const dw = createTensor(ctx.device, 'dW', [3, 32], 'f32');
    const x = createQuantizedTensor(ctx.device, 'X', [4, 32], SPECS.int8!, quantize('X', SPECS.int8!, new Float32Array(4 * 32), 4, 32));
    try {
      expect(() => matmul(ctx, 'tn', dy, x, dw)).toThrow(/"X" is int8; this op takes f32/);
    } finally {
      for (const tensor of [dy, dw, x]) tensor.buffer.destroy();
    }
  });
});
