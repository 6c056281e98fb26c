import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext, GpuInfo } from '../device.ts';
import { decodeTensorData, encodeTensorData, isQuantized, type DType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { matmulNNReference, matmulNTReference, matmulTNReference } from '../reference/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import {
  CPU_TARGET,
  GPU_TARGET,
  matmul,
  matmulRhsDTypes,
  matmulTarget,
  routeMatmul,
  type MatmulDims,
  type MatmulLayout,
  type MatmulOptions,
} from './matmul.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('routeMatmul sends each shape to the kernel that suits it', () => {
  it('sends the SmolLM2 gate projection over 512 tokens (nt 512x1536x576) to the tiled kernel', () => {
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 576 }, CPU_TARGET)).toEqual({ kernel: 'tiled', split: 1, workgroups: [48, 16] });
  });

  it('sends input gradients through a square weight (nn 512x576x576) to the tiled kernel', () => {
    expect(routeMatmul('nn', { M: 512, N: 576, K: 576 }, CPU_TARGET)).toMatchObject({ kernel: 'tiled', workgroups: [18, 16] });
  });

  it('sends the LoRA down-projection X·Aᵀ (nt, N = R = 16) to the skinny kernel', () => {
    expect(routeMatmul('nt', { M: 512, N: 16, K: 576 }).kernel).toBe('skinny');
  });

  it('sends dY·B (nn, K = R = 64) and dYᵀ·U (tn, K = R = 8) to the skinny kernel', () => {
    expect(routeMatmul('nn', { M: 512, N: 576, K: 64 }).kernel).toBe('skinny');
    expect(routeMatmul('tn', { M: 2048, N: 576, K: 8 }).kernel).toBe('skinny');
  });

  it('splits the 2048-token sum of a [16, 576] LoRA gradient (tn) over 64 lanes per block on a GPU', () => {
    // 4·144 = 576 blocks: without the split only 576 threads would run, each summing 2048 tokens.
    expect(routeMatmul('tn', { M: 2048, N: 16, K: 576 }, GPU_TARGET)).toEqual({ kernel: 'skinny', split: 64, workgroups: [576, 1] });
  });

  it('keeps one lane per block for that gradient on a CPU adapter, where barriers are costly', () => {
    expect(routeMatmul('tn', { M: 2048, N: 16, K: 576 }, CPU_TARGET)).toEqual({ kernel: 'skinny', split: 1, workgroups: [9, 1] });
  });

  it('treats SwiftShader and fallback adapters as CPUs', () => {
    const info = (adapter: Partial<GpuInfo['adapter']>): Pick<GpuContext, 'info'> => ({
      info: { adapter: { vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, ...adapter }, wantedFeatures: {} as GpuInfo['wantedFeatures'], features: [], limits: { maxComputeWorkgroupsPerDimension: 65535 } },
    });
    expect(matmulTarget(info({ vendor: 'google', architecture: 'swiftshader' }))).toEqual(CPU_TARGET);
    expect(matmulTarget(info({ isFallbackAdapter: true }))).toEqual(CPU_TARGET);
    expect(matmulTarget(info({ vendor: 'nvidia', architecture: 'hopper' }))).toEqual(GPU_TARGET);
  });

  it('keeps one lane per block when the inner dimension is short', () => {
    expect(routeMatmul('nt', { M: 100, N: 16, K: 24 }).split).toBe(1);
  });

  it('keeps at least 4 chunks of 4 per lane, so the final sum stays cheap', () => {
    // 10 chunks of 4 tokens: two lanes of 5 chunks each, not four of 2 or 3.
    expect(routeMatmul('tn', { M: 40, N: 16, K: 16 }).split).toBe(2);
  });

  it('caps the split at 64 lanes, one block per workgroup', () => {
    expect(routeMatmul('tn', { M: 100_000, N: 64, K: 64 })).toEqual({ kernel: 'skinny', split: 64, workgroups: [256, 1] });
  });

  it('folds a grid of more workgroups than a dimension allows into two dimensions', () => {
    // 1000 blocks of 4x4, 64 per workgroup: 16 workgroups, at most 10 per dimension.
    const target = { ...GPU_TARGET, lanes: 1, maxWorkgroupsPerDimension: 10 };
    expect(routeMatmul('nt', { M: 4000, N: 4, K: 4 }, target)).toEqual({ kernel: 'skinny', split: 1, workgroups: [10, 2] });
  });
});

interface Case extends MatmulDims {
  dtype: DType;
  options?: MatmulOptions;
}

const REFERENCES = { nt: matmulNTReference, nn: matmulNNReference, tn: matmulTNReference };

/** Operand and output shapes of a layout: lhs, rhs, out. */
function shapes(layout: MatmulLayout, { M, N, K }: MatmulDims): [number[], number[], number[]] {
  if (layout === 'nt') return [[M, K], [N, K], [M, N]];
  if (layout === 'nn') return [[M, N], [N, K], [M, K]];
  return [[M, N], [M, K], [N, K]];
}

/** Runs one product on the GPU and in Float64 (fed the decoded weights) and returns the relative error. */
async function compare(layout: MatmulLayout, testCase: Case, seed = 1): Promise<number> {
  const { dtype, options = {} } = testCase;
  const random = Random.fromSeed(seed);
  const values = (count: number): Float32Array => random.fillUniform(new Float32Array(count), -1, 1);
  const [lhsShape, rhsShape, outShape] = shapes(layout, testCase);
  const count = (shape: number[]): number => shape[0]! * shape[1]!;
  const lhs = values(count(lhsShape));
  const rhsPacked = encodeTensorData(dtype, values(count(rhsShape)));
  const initial = values(count(outShape));
  const tensors: GpuTensor[] = [
    createTensor(ctx.device, 'lhs', lhsShape, 'f32', lhs),
    createTensor(ctx.device, 'rhs', rhsShape, dtype, rhsPacked),
    createTensor(ctx.device, 'out', outShape, 'f32', initial),
  ];
  try {
    const [lhsTensor, rhsTensor, outTensor] = tensors as [GpuTensor, GpuTensor, GpuTensor];
    matmul(ctx, layout, lhsTensor, rhsTensor, outTensor, options);
    const got = await readTensor(ctx.device, outTensor);
    const product = REFERENCES[layout](testCase, lhs, decodeTensorData(dtype, rhsPacked, count(rhsShape)));
    const accumulate = options.accumulate ?? layout !== 'nt';
    const scale = options.scale ?? 1;
    const want = product.map((value, i) => (accumulate ? initial[i]! : 0) + scale * value);
    return relativeError(got, want);
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

// Shapes that are not multiples of any tile (4, 32, 64) next to the SmolLM2 sizes, for both routes.
const TILED_SHAPES: MatmulDims[] = [
  { M: 70, N: 97, K: 131 },
  { M: 130, N: 192, K: 576 },
  // K = 2 mod 4: the last block of columns of a packed W reads a word past its row (and past the buffer).
  { M: 65, N: 99, K: 66 },
];
const SKINNY_SHAPES: Record<MatmulLayout, MatmulDims[]> = {
  nt: [{ M: 1, N: 1, K: 1 }, { M: 37, N: 16, K: 576 }, { M: 203, N: 3, K: 45 }, { M: 5, N: 67, K: 33 }],
  nn: [{ M: 1, N: 1, K: 1 }, { M: 37, N: 576, K: 16 }, { M: 203, N: 45, K: 3 }, { M: 9, N: 13, K: 62 }],
  tn: [{ M: 1, N: 1, K: 1 }, { M: 1000, N: 16, K: 131 }, { M: 777, N: 131, K: 8 }, { M: 2, N: 61, K: 99 }],
};

const describeShape = ({ M, N, K }: MatmulDims): string => `M=${M} N=${N} K=${K}`;

for (const layout of ['nt', 'nn', 'tn'] as const) {
  describe(`matmul ${layout} matches the Float64 reference to 1e-4 of the output scale`, () => {
    for (const dtype of matmulRhsDTypes(layout).filter((d): d is DType => !isQuantized(d))) {
      for (const shape of TILED_SHAPES) {
        it(`on the tiled kernel for ${describeShape(shape)} with ${dtype} ${layout === 'tn' ? 'X' : 'W'}`, async () => {
          expect(routeMatmul(layout, shape, CPU_TARGET).kernel).toBe('tiled');
          expect(await compare(layout, { ...shape, dtype })).toBeLessThan(1e-4);
        });
      }
      for (const shape of SKINNY_SHAPES[layout]) {
        it(`on the skinny kernel for ${describeShape(shape)} with ${dtype} ${layout === 'tn' ? 'X' : 'W'}`, async () => {
          expect(routeMatmul(layout, shape).kernel).toBe('skinny');
          expect(await compare(layout, { ...shape, dtype })).toBeLessThan(1e-4);
        });
      }
    }

    it('sums over several lanes per block when the skinny kernel splits a long inner dimension', async () => {
      const shape = layout === 'tn' ? { M: 1500, N: 9, K: 21 } : layout === 'nn' ? { M: 9, N: 1500, K: 21 } : { M: 9, N: 21, K: 1500 };
      expect(routeMatmul(layout, shape, matmulTarget(ctx)).split).toBeGreaterThan(1);
      expect(await compare(layout, { ...shape, dtype: 'f32' })).toBeLessThan(1e-4);
    });

    it(`${layout === 'nt' ? 'accumulates when asked' : 'overwrites when asked'}, scaling the product`, async () => {
      const options = { accumulate: layout === 'nt', scale: -0.75 };
      expect(await compare(layout, { M: 45, N: 70, K: 66, dtype: 'f32', options })).toBeLessThan(1e-4);
      expect(await compare(layout, { M: 45, N: 7, K: 66, dtype: 'f32', options })).toBeLessThan(1e-4);
    });
  });
}

describe('matmul refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[], dtype: DType = 'f32'): GpuTensor => createTensor(ctx.device, name, shape, dtype);

  it('names the tensor and both shapes when W does not match X (nt)', () => {
    const call = () => matmul(ctx, 'nt', tensor('X', [4, 8]), tensor('W', [3, 9]), tensor('Y', [4, 3]));
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/matmul nt: tensor "W" has shape \[3, 9\], expected \[N, K\] = \[3, 8\]/);
  });

  it('names the gradient when dX does not match dY·W (nn)', () => {
    expect(() => matmul(ctx, 'nn', tensor('dY', [4, 3]), tensor('W', [3, 8]), tensor('dX', [4, 9]))).toThrow(
      /tensor "dX" has shape \[4, 9\], expected \[M, K\] = \[4, 8\]/,
    );
  });

  it('refuses a half-precision X in the weight gradient (tn): only frozen weights may be packed', () => {
    expect(() => matmul(ctx, 'tn', tensor('dY', [4, 3]), tensor('X', [4, 8], 'bf16'), tensor('dW', [3, 8]))).toThrow(/"X" is bf16; this op takes f32/);
  });

  it('refuses an output that is also an input', () => {
    const x = tensor('X', [4, 4]);
    expect(() => matmul(ctx, 'nt', x, tensor('W', [4, 4]), x)).toThrow(/output "X" shares its buffer with input "X"/);
  });

  it('refuses a non-finite scale', () => {
    expect(() => matmul(ctx, 'nt', tensor('X', [4, 8]), tensor('W', [3, 8]), tensor('Y', [4, 3]), { scale: NaN })).toThrow(/scale must be a finite number/);
  });

  it('names the tensor and the limit when W is over maxStorageBufferBindingSize', () => {
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    const oversized: GpuTensor = { name: 'lm_head', shape: [3, 8], dtype: 'f32', buffer: { size: limit + 4 } as GPUBuffer };
    const call = () => matmul(ctx, 'nt', tensor('X', [4, 8]), oversized, tensor('Y', [4, 3]));
    expect(call).toThrow(LimitError);
    expect(call).toThrow(/"lm_head" needs \d+ bytes.*maxStorageBufferBindingSize/);
  });
});
