import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import type { GpuContext } from '../device.ts';
import { decodeTensorData, encodeTensorData, isQuantized, type DType, type TensorDType } from '../dtype.ts';
import { createQuantizedTensor, dequantize, quantize, type QuantSpec } from '../quant.ts';
import { kernelFamily, setF16Gemm, setKernelFamily } from '../kernel-family.ts';
import { matmulNNReference, matmulNTReference, matmulTNReference } from '../reference/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { hasWeightPrelude } from '../wgsl.ts';
import { dispatchGemm } from './matmul_gpu.ts';
import { GPU_TARGET, matmul, matmulRhsDTypes, matmulRouteName, matmulTarget, routeMatmul, type MatmulDims, type MatmulLayout, type MatmulOptions } from './matmul.ts';

// The GPU family's kernels (shaders/matmul_gpu.wgsl), forced on whatever adapter runs the tests
// (SwiftShader in CI): the numbers must equal the Float64 reference, only the speed differs. `ctx` has
// every wanted feature the adapter offers (SwiftShader offers subgroups, in Dawn and in Chromium);
// `withoutSubgroups` is a device of the same adapter created without subgroups and shader-f16, as on an
// adapter that lacks them.
let ctx: GpuContext;
let withoutSubgroups: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
  setKernelFamily(ctx, 'gpu');
  withoutSubgroups = await acquireTestGpu({ withoutFeatures: ['subgroups', 'shader-f16'] });
  setKernelFamily(withoutSubgroups, 'gpu');
});
afterAll(() => {
  ctx?.destroy();
  withoutSubgroups?.destroy();
});

const REFERENCES = { nt: matmulNTReference, nn: matmulNNReference, tn: matmulTNReference };

function shapes(layout: MatmulLayout, { M, N, K }: MatmulDims): [number[], number[], number[]] {
  if (layout === 'nt') return [[M, K], [N, K], [M, N]];
  if (layout === 'nn') return [[M, N], [N, K], [M, K]];
  return [[M, N], [M, K], [N, K]];
}

/** One product on the GPU and in Float64 (fed the decoded weights): the relative error. */
async function compare(layout: MatmulLayout, dims: MatmulDims, dtype: DType, options: MatmulOptions = {}, on: GpuContext = ctx): Promise<number> {
  const ctx = on;
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
const routeOf = (layout: MatmulLayout, { M, N, K }: MatmulDims, dtype: TensorDType = 'f32', on: GpuContext = ctx): string => matmulRouteName(on, layout, [M, N, K], dtype);
/** The unquantized weight dtypes (int8/int4, whose preludes decode app/gpu/quant.ts's layout, have their own cases below). */
const preludeDTypes = (layout: MatmulLayout): DType[] => matmulRhsDTypes(layout).filter((dtype): dtype is DType => hasWeightPrelude(dtype) && !isQuantized(dtype));

// Edges of the 64x64 output tile and of the 16-deep inner step (an inner side of 20), next to a SmolLM2 size.
const GEMM_SHAPES: Record<MatmulLayout, MatmulDims[]> = {
  nt: [{ M: 70, N: 100, K: 132 }, { M: 65, N: 68, K: 20 }, { M: 130, N: 192, K: 576 }],
  nn: [{ M: 70, N: 100, K: 132 }, { M: 65, N: 20, K: 68 }, { M: 130, N: 192, K: 576 }],
  tn: [{ M: 70, N: 100, K: 132 }, { M: 20, N: 68, K: 72 }, { M: 130, N: 192, K: 576 }],
};
// Every batch size the decoding kernels take, with odd N (a last workgroup of 1..7 columns) and K not a
// multiple of 32 lanes x 4 (nor of gemv-subgroup's K-ranges); K itself must be a multiple of 4.
const GEMV_SHAPES: MatmulDims[] = [
  { M: 1, N: 100, K: 132 },
  { M: 2, N: 33, K: 52 },
  { M: 3, N: 68, K: 576 },
  { M: 4, N: 9, K: 260 },
  { M: 5, N: 71, K: 36 },
  { M: 6, N: 17, K: 4 },
  { M: 7, N: 43, K: 100 },
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
    expect(routeMatmul('nt', { M: 1, N: 49152, K: 576 }, { ...GPU_TARGET, subgroups: true })).toEqual({ kernel: 'gemv-subgroup', split: 1, workgroups: [6144, 1] });
    expect(routeMatmul('nt', { M: 8, N: 49151, K: 576 }, { ...GPU_TARGET, subgroups: true }).kernel).toBe('gemv-subgroup');
    expect(routeMatmul('nt', { M: 2048, N: 16, K: 576 }, GPU_TARGET).kernel).toBe('skinny');
  });

  it('falls back to the shared kernels when a side is not a multiple of 4 or the device lacks workgroup memory', () => {
    expect(routeMatmul('nt', { M: 512, N: 1535, K: 576 }, GPU_TARGET).kernel).toBe('tiled');
    expect(routeMatmul('nt', { M: 1, N: 1536, K: 575 }, GPU_TARGET).kernel).toBe('skinny');
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 576 }, { ...GPU_TARGET, maxWorkgroupStorageBytes: 4096 }).kernel).toBe('tiled');
    expect(routeMatmul('nn', { M: 512, N: 1536, K: 576 }, { ...GPU_TARGET, maxInvocationsPerWorkgroup: 128 }).kernel).toBe('tiled');
  });

  it('sends int8 and int4 weights to gemm and gemv too (their preludes decode inside the tiled core)', () => {
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 576 }, GPU_TARGET, 'int8').kernel).toBe('gemm');
    expect(routeMatmul('nn', { M: 512, N: 1536, K: 576 }, GPU_TARGET, 'int4').kernel).toBe('gemm');
    expect(routeMatmul('nt', { M: 1, N: 1536, K: 576 }, GPU_TARGET, 'int4').kernel).toBe('gemv');
    expect(routeMatmul('nt', { M: 512, N: 1536, K: 575 }, GPU_TARGET, 'int8').kernel).toBe('tiled');
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

// Decoding takes gemv-subgroup on a device with subgroups and falls back to gemv without them; both
// must give the reference's numbers for every batch size, weight dtype and odd N.
const DECODING_ROUTES = [
  { route: 'gemv-subgroup', device: (): GpuContext => ctx, named: 'a device with subgroups' },
  { route: 'gemv', device: (): GpuContext => withoutSubgroups, named: 'a device without subgroups' },
] as const;

for (const { route, device, named } of DECODING_ROUTES) {
  describe(`GPU-family decoding product (nt, M <= 8) on ${named} takes ${route} and matches the Float64 reference`, () => {
    it(`has ${route === 'gemv' ? 'no subgroups' : 'subgroups'} (the route's reason)`, () => {
      expect(device().info.wantedFeatures.subgroups).toBe(route === 'gemv-subgroup');
      expect(device().device.features.has('subgroups')).toBe(route === 'gemv-subgroup');
    });

    for (const dtype of preludeDTypes('nt')) {
      it(`for M = 1..8 with odd N and ${dtype} W`, async () => {
        for (const shape of GEMV_SHAPES) {
          expect(routeOf('nt', shape, dtype, device())).toBe(route);
          expect(await compare('nt', shape, dtype, {}, device()), describeShape(shape)).toBeLessThan(1e-4);
        }
      });
    }

    it('accumulates when asked, scaling the product', async () => {
      expect(await compare('nt', { M: 2, N: 40, K: 64 }, 'f32', { accumulate: true, scale: 0.5 }, device())).toBeLessThan(1e-4);
      expect(await compare('nt', { M: 7, N: 41, K: 64 }, 'bf16', { accumulate: true, scale: -1.5 }, device())).toBeLessThan(1e-4);
    });

    it('sends K not a multiple of 4 to the skinny kernel, with the same numbers', async () => {
      const shape = { M: 3, N: 37, K: 131 };
      expect(routeOf('nt', shape, 'bf16', device())).toMatch(/^skinny/);
      expect(await compare('nt', shape, 'bf16', {}, device())).toBeLessThan(1e-4);
    });
  });
}

/**
 * One decoding product through dispatchGemm on `kernel` (the LM head's path): Y[M, N] = X'·Wᵀ, where X' is
 * X itself or, with `gather`, rows of a taller X picked by an i32 index (generation's last positions).
 * `threads` sets gemv-subgroup's workgroup size: at SwiftShader's 4-wide subgroups 256 threads make 64
 * subgroups (8 share each column), 32 make 8 (one a column, as 32-wide subgroups at 256), 16 make 4 and
 * 8 make 2 (each takes 2 or 4 columns in turn, as 64- and 128-wide subgroups).
 */
async function compareGemvDispatch(on: GpuContext, kernel: 'gemv' | 'gemv-subgroup', { M, N, K }: MatmulDims, dtype: DType, options: { threads?: number; gather?: boolean } = {}): Promise<number> {
  const random = Random.fromSeed((options.threads ?? 0) * 31 + M * 7 + N * 3 + K);
  const stored = options.gather ? M + 3 : M;
  const x = random.fillUniform(new Float32Array(stored * K), -1, 1);
  const rows = Int32Array.from({ length: M }, (_, m) => (stored - 1 - 2 * m + 2 * stored) % stored);
  const wPacked = encodeTensorData(dtype, random.fillUniform(new Float32Array(N * K), -1, 1));
  const tensors = [
    createTensor(on.device, 'X', [stored, K], 'f32', x),
    createTensor(on.device, 'W', [N, K], dtype, wPacked),
    createTensor(on.device, 'Y', [M, N], 'f32'),
    createTensor(on.device, 'rows', [M], 'i32', rows),
  ] as [GpuTensor, GpuTensor, GpuTensor, GpuTensor];
  try {
    const encoder = on.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    dispatchGemm(on, pass, {
      layout: 'nt',
      kernel,
      rows: M,
      cols: N,
      inner: K,
      lhs: { buffer: tensors[0], stride: K, offset: 0, ...(options.gather ? { gather: tensors[3].buffer } : {}) },
      rhs: tensors[1],
      out: { buffer: tensors[2], stride: N, offset: 0 },
      accumulate: false,
      scale: 1,
      ...(options.threads ? { gemvThreads: options.threads } : {}),
    });
    pass.end();
    on.device.queue.submit([encoder.finish()]);
    const picked = options.gather ? Float32Array.from({ length: M * K }, (_, i) => x[rows[Math.floor(i / K)]! * K + (i % K)]!) : x;
    return relativeError(await readTensor(on.device, tensors[2]), matmulNTReference({ M, N, K }, picked, decodeTensorData(dtype, wPacked, N * K)));
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

describe('gemv-subgroup is correct however many subgroups share a workgroup (any subgroup size)', () => {
  for (const threads of [8, 16, 32, 256]) {
    it(`with ${threads} threads per workgroup`, async () => {
      for (const [shape, dtype] of [[{ M: 1, N: 19, K: 132 }, 'f32'], [{ M: 8, N: 21, K: 52 }, 'bf16'], [{ M: 5, N: 8, K: 4 }, 'f16']] as const) {
        expect(await compareGemvDispatch(ctx, 'gemv-subgroup', shape, dtype, { threads }), `${describeShape(shape)} ${dtype}`).toBeLessThan(1e-4);
      }
    });
  }

  it("reads rows gathered by index (the LM head's selected logits), as gemv does without subgroups", async () => {
    for (const [shape, dtype] of [[{ M: 4, N: 37, K: 68 }, 'bf16'], [{ M: 8, N: 12, K: 20 }, 'f32']] as const) {
      expect(await compareGemvDispatch(ctx, 'gemv-subgroup', shape, dtype, { gather: true }), `gemv-subgroup ${describeShape(shape)}`).toBeLessThan(1e-4);
      expect(await compareGemvDispatch(withoutSubgroups, 'gemv', shape, dtype, { gather: true }), `gemv ${describeShape(shape)}`).toBeLessThan(1e-4);
    }
  });

  it('is refused on a device created without subgroups, whose route is gemv', () => {
    expect(routeOf('nt', { M: 1, N: 100, K: 132 }, 'f32', withoutSubgroups)).toBe('gemv');
    const encoder = withoutSubgroups.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const w = createTensor(withoutSubgroups.device, 'W', [4, 4], 'f32');
    try {
      expect(() =>
        dispatchGemm(withoutSubgroups, pass, { layout: 'nt', kernel: 'gemv-subgroup', rows: 1, cols: 4, inner: 4, lhs: { buffer: w, stride: 4, offset: 0 }, rhs: w, out: { buffer: w.buffer, stride: 4, offset: 0 }, accumulate: false, scale: 1 }),
      ).toThrow(/without the subgroups feature/);
    } finally {
      pass.end();
      w.buffer.destroy();
    }
  });
});

/** One product through quantized W on a GPU-family route: its error against the Float64 product of the dequantized weights. */
async function compareQuantized(layout: 'nt' | 'nn', dims: MatmulDims, spec: QuantSpec, on: GpuContext): Promise<number> {
  const ctx = on;
  const { M, N, K } = dims;
  const random = Random.fromSeed(M * 7 + N * 13 + K);
  const w = random.fillUniform(new Float32Array(N * K), -1, 1);
  const lhs = random.fillUniform(new Float32Array(layout === 'nt' ? M * K : M * N), -1, 1);
  const words = quantize('W', spec, w, N, K);
  const tensors = [
    createTensor(ctx.device, 'lhs', layout === 'nt' ? [M, K] : [M, N], 'f32', lhs),
    createQuantizedTensor(ctx.device, 'W', [N, K], spec, words),
    createTensor(ctx.device, 'out', layout === 'nt' ? [M, N] : [M, K], 'f32'),
  ] as [GpuTensor, GpuTensor, GpuTensor];
  try {
    matmul(ctx, layout, ...tensors, { accumulate: false });
    return relativeError(await readTensor(ctx.device, tensors[2]), REFERENCES[layout](dims, lhs, dequantize(spec, words, N, K)));
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

const QUANT_SPECS: QuantSpec[] = [{ dtype: 'int8' }, { dtype: 'int4', group: 32, symmetric: false }, { dtype: 'int4', group: 64, symmetric: true }];
// gemm with edges off the 64x64 tile and the 16-deep step (K = 192 = 3 groups of 64), and gemv.
const QUANT_SHAPES: { layout: 'nt' | 'nn'; dims: MatmulDims; route: string; subgroups?: false }[] = [
  { layout: 'nt', dims: { M: 70, N: 100, K: 192 }, route: 'gemm' },
  { layout: 'nn', dims: { M: 65, N: 132, K: 192 }, route: 'gemm' },
  { layout: 'nt', dims: { M: 3, N: 68, K: 128 }, route: 'gemv-subgroup' },
  { layout: 'nt', dims: { M: 8, N: 37, K: 192 }, route: 'gemv-subgroup' },
  { layout: 'nt', dims: { M: 3, N: 68, K: 128 }, route: 'gemv', subgroups: false },
  { layout: 'nt', dims: { M: 8, N: 37, K: 192 }, route: 'gemv', subgroups: false },
];

describe('GPU-family products through int8 and int4 weights match the Float64 product of the dequantized weights', () => {
  for (const spec of QUANT_SPECS) {
    const name = spec.dtype === 'int8' ? 'int8' : `int4 g${spec.group}${spec.symmetric ? ' symmetric' : ''}`;
    for (const { layout, dims, route, subgroups } of QUANT_SHAPES) {
      it(`${layout} on ${route} for ${describeShape(dims)} with ${name} W`, async () => {
        const device = subgroups === false ? withoutSubgroups : ctx;
        expect(routeOf(layout, dims, spec.dtype, device)).toBe(route);
        expect(await compareQuantized(layout, dims, spec, device)).toBeLessThan(1e-4);
      });
    }
  }
});

describe('the enable-f16 GEMM route (gemm-f16) is taken only where asked for and the device has shader-f16', () => {
  const shape = { M: 512, N: 1536, K: 576 };
  it('routes f16 weights of nt and nn to gemm-f16 on such a target, never bf16 weights, tn or the default target', () => {
    const f16Target = { ...GPU_TARGET, f16Gemm: true };
    expect(routeMatmul('nt', shape, f16Target, 'f16').kernel).toBe('gemm-f16');
    expect(routeMatmul('nn', shape, f16Target, 'f16').kernel).toBe('gemm-f16');
    expect(routeMatmul('nt', shape, f16Target, 'bf16').kernel).toBe('gemm');
    expect(routeMatmul('tn', shape, f16Target, 'f32').kernel).toBe('gemm');
    expect(routeMatmul('nt', { M: 1, N: 1536, K: 576 }, f16Target, 'f16').kernel).toBe('gemv');
    expect(GPU_TARGET.f16Gemm).toBe(false);
    expect(routeMatmul('nt', shape, GPU_TARGET, 'f16').kernel).toBe('gemm');
  });

  it('asked for on a device without shader-f16, falls back to gemm, says so, and gives the reference\'s numbers', async () => {
    setF16Gemm(withoutSubgroups, true);
    try {
      expect(withoutSubgroups.info.wantedFeatures['shader-f16']).toBe(false);
      for (const layout of ['nt', 'nn'] as const) {
        const dims = { M: 70, N: 100, K: 132 };
        expect(routeOf(layout, dims, 'f16', withoutSubgroups)).toBe('gemm (gemm-f16 needs shader-f16)');
        expect(await compare(layout, dims, 'f16', {}, withoutSubgroups)).toBeLessThan(1e-4);
      }
      const w = createTensor(withoutSubgroups.device, 'W', [4, 4], 'f16');
      const encoder = withoutSubgroups.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      try {
        expect(() =>
          dispatchGemm(withoutSubgroups, pass, { layout: 'nt', kernel: 'gemm-f16', rows: 4, cols: 4, inner: 4, lhs: { buffer: w.buffer, stride: 4, offset: 0 }, rhs: w, out: { buffer: w.buffer, stride: 4, offset: 0 }, accumulate: false, scale: 1 }),
        ).toThrow(/without shader-f16/);
      } finally {
        pass.end();
        w.buffer.destroy();
      }
    } finally {
      setF16Gemm(withoutSubgroups, false);
    }
  });
});
