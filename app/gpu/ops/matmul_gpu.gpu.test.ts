import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { decodeTensorData, encodeTensorData, type DType } from '../dtype.ts';
import { kernelFamily, setKernelFamily } from '../kernel-family.ts';
import { matmulNNReference, matmulNTReference, matmulTNReference } from '../reference/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { hasWeightPrelude } from '../wgsl.ts';
import { GPU_TARGET, matmul, matmulRhsDTypes, matmulRouteName, matmulTarget, routeMatmul, type MatmulDims, type MatmulLayout, type MatmulOptions } from './matmul.ts';

// The GPU family's kernels (shaders/matmul_gpu.wgsl), forced on whatever adapter runs the tests
// (SwiftShader in CI): the numbers must equal the Float64 reference, only the speed differs.
let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  setKernelFamily(ctx, 'gpu');
});
afterAll(() => ctx?.destroy());

const REFERENCES = { nt: matmulNTReference, nn: matmulNNReference, tn: matmulTNReference };

function shapes(layout: MatmulLayout, { M, N, K }: MatmulDims): [number[], number[], number[]] {
  if (layout === 'nt') return [[M, K], [N, K], [M, N]];
  if (layout === 'nn') return [[M, N], [N, K], [M, K]];
  return [[M, N], [M, K], [N, K]];
}

/** One product on the GPU and in Float64 (fed the decoded weights): the relative error. */
async function compare(layout: MatmulLayout, dims: MatmulDims, dtype: DType, options: MatmulOptions = {}): Promise<number> {
  const random = Random.fromSeed(dims.M * 7 + dims.N * 3 + dims.K);
  const values = (count: number): Float32Array => random.fillUniform(new Float32Array(count), -1, 1);
  const [lhsShape, rhsShape, outShape] = shapes(layout, dims);
  const count = (shape: number[]): number => shape[0]! * shape[1]!;
  const lhs = values(count(lhsShape));
  const rhsPacked = encodeTensorData(dtype, values(count(rhsShape)));
  const initial = values(count(outShape));
  const tensors = [
    createTensor(ctx.device, 'lhs', lhsShape, 'f32', lhs),
    createTensor(ctx.device, 'rhs', rhsShape, dtype, rhsPacked),
    createTensor(ctx.device, 'out', outShape, 'f32', initial),
  ] as [GpuTensor, GpuTensor, GpuTensor];
  try {
    matmul(ctx, layout, ...tensors, options);
    const got = await readTensor(ctx.device, tensors[2]);
    const product = REFERENCES[layout](dims, lhs, decodeTensorData(dtype, rhsPacked, count(rhsShape)));
    const accumulate = options.accumulate ?? layout !== 'nt';
    const scale = options.scale ?? 1;
    return relativeError(got, product.map((value, i) => (accumulate ? initial[i]! : 0) + scale * value));
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

const describeShape = ({ M, N, K }: MatmulDims): string => `M=${M} N=${N} K=${K}`;
const routeOf = (layout: MatmulLayout, { M, N, K }: MatmulDims, dtype: DType = 'f32'): string => matmulRouteName(ctx, layout, [M, N, K], dtype);
/** The weight dtypes the GPU family decodes itself (int8/int4 stay on shaders/matmul.wgsl with shaders/quant.wgsl). */
const preludeDTypes = (layout: MatmulLayout): DType[] => matmulRhsDTypes(layout).filter(hasWeightPrelude);

// Edges of the 64x64 output tile and of the 16-deep inner step (an inner side of 20), next to a SmolLM2 size.
const GEMM_SHAPES: Record<MatmulLayout, MatmulDims[]> = {
  nt: [{ M: 70, N: 100, K: 132 }, { M: 65, N: 68, K: 20 }, { M: 130, N: 192, K: 576 }],
  nn: [{ M: 70, N: 100, K: 132 }, { M: 65, N: 20, K: 68 }, { M: 130, N: 192, K: 576 }],
  tn: [{ M: 70, N: 100, K: 132 }, { M: 20, N: 68, K: 72 }, { M: 130, N: 192, K: 576 }],
};
// Every batch size the decoding kernel takes, with K not a multiple of its 32 lanes x 4.
const GEMV_SHAPES: MatmulDims[] = [
  { M: 1, N: 100, K: 132 },
  { M: 3, N: 68, K: 576 },
  { M: 8, N: 12, K: 20 },
];

describe('the GPU kernel family is chosen by the adapter and can be forced', () => {
  it('runs on the forced family here, and the adapter decides again after "auto"', () => {
    expect(kernelFamily(ctx)).toBe('gpu');
    expect(matmulTarget(ctx).family).toBe('gpu');
    const copy = { ...ctx };
    expect(kernelFamily(copy)).toBe('gpu');
    setKernelFamily(ctx, 'auto');
    const adapterChoice = ctx.info.adapter.isFallbackAdapter || ctx.info.adapter.architecture === 'swiftshader' ? 'cpu' : 'gpu';
    expect(kernelFamily(ctx)).toBe(adapterChoice);
    setKernelFamily(ctx, 'gpu');
  });

  it('sends large products to gemm, decoding batches (nt, M <= 8) to gemv and LoRA-rank products to skinny', () => {
    expect(routeMatmul('nt', { M: 2048, N: 1536, K: 576 }, GPU_TARGET)).toEqual({ kernel: 'gemm', split: 1, workgroups: [24, 32] });
    expect(routeMatmul('tn', { M: 2048, N: 576, K: 576 }, GPU_TARGET)).toEqual({ kernel: 'gemm', split: 1, workgroups: [9, 9] });
    expect(routeMatmul('nt', { M: 1, N: 49152, K: 576 }, GPU_TARGET)).toEqual({ kernel: 'gemv', split: 1, workgroups: [6144, 1] });
    expect(routeMatmul('nt', { M: 2048, N: 16, K: 576 }, GPU_TARGET).kernel).toBe('skinny');
  });

  it('falls back to the shared kernels when a side is not a multiple of 4 or the device lacks workgroup memory', () => {
    expect(routeMatmul('nt', { M: 512, N: 1535, K: 576 }, GPU_TARGET).kernel).toBe('tiled');
    expect(routeMatmul('nt', { M: 1, N: 1536, K: 575 }, GPU_TARGET).kernel).toBe('skinny');
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 576 }, { ...GPU_TARGET, maxWorkgroupStorageBytes: 4096 }).kernel).toBe('tiled');
    expect(routeMatmul('nn', { M: 512, N: 1536, K: 576 }, { ...GPU_TARGET, maxInvocationsPerWorkgroup: 128 }).kernel).toBe('tiled');
  });

  it('keeps int8 and int4 weights, which have no GPU-family prelude yet, on the shared kernels', () => {
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 576 }, GPU_TARGET, 'int8').kernel).toBe('tiled');
    expect(routeMatmul('nt', { M: 1, N: 1536, K: 576 }, GPU_TARGET, 'int4').kernel).toBe('skinny');
  });
});

for (const layout of ['nt', 'nn', 'tn'] as const) {
  describe(`GPU-family matmul ${layout} matches the Float64 reference to 1e-4 of the output scale`, () => {
    for (const dtype of preludeDTypes(layout)) {
      for (const shape of GEMM_SHAPES[layout]) {
        it(`on gemm for ${describeShape(shape)} with ${dtype} ${layout === 'tn' ? 'X' : 'W'}`, async () => {
          expect(routeOf(layout, shape, dtype)).toBe('gemm');
          expect(await compare(layout, shape, dtype)).toBeLessThan(1e-4);
        });
      }
    }

    it(`${layout === 'nt' ? 'accumulates when asked' : 'overwrites when asked'} on gemm, scaling the product`, async () => {
      const shape = { M: 66, N: 72, K: 68 };
      expect(routeOf(layout, shape)).toBe('gemm');
      expect(await compare(layout, shape, 'f32', { accumulate: layout === 'nt', scale: -0.75 })).toBeLessThan(1e-4);
    });

    it('runs the shared tiled kernel, with the same numbers, where N is not a multiple of 4', async () => {
      const shape = { M: 70, N: 97, K: 132 };
      expect(routeOf(layout, shape)).toBe('tiled');
      expect(await compare(layout, shape, 'f32')).toBeLessThan(1e-4);
    });
  });
}

describe('GPU-family decoding product (gemv, nt with M <= 8) matches the Float64 reference', () => {
  for (const dtype of preludeDTypes('nt')) {
    for (const shape of GEMV_SHAPES) {
      it(`for ${describeShape(shape)} with ${dtype} W`, async () => {
        expect(routeOf('nt', shape, dtype)).toBe('gemv');
        expect(await compare('nt', shape, dtype)).toBeLessThan(1e-4);
      });
    }
  }

  it('accumulates when asked, scaling the product', async () => {
    expect(await compare('nt', { M: 2, N: 40, K: 64 }, 'f32', { accumulate: true, scale: 0.5 })).toBeLessThan(1e-4);
  });
});
