import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireTestGpu } from '../../../test/gpu.ts';
import type { GpuContext } from '../device.ts';
import { decodeTensorData, encodeTensorData, type DType, type FrozenDType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import { dropoutMask, loraDownReference, loraLinearBackwardReference, loraLinearReference, type LoraDropout } from '../reference/lora_linear.ts';
import { SELF_TEST_CASES, checkLoraLinearCase, describeCase } from '../selftest.ts';
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts';
import { relativeError } from '../../../test/numeric.ts';
import { Random } from '../../util/random.ts';
import { setKernelFamily } from '../kernel-family.ts';
import { createDropoutStepUniform, encodeLoraLinear, encodeLoraLinearBackward, frozenProductOnGemmCore, loraLinear, loraLinearBackward, loraLinearWithU, writeDropoutStep, type KernelDropout } from './lora_linear.ts';
import { routeMatmul, matmulTarget } from './matmul.ts';
import { gemvKernel } from './matmul_gpu.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await acquireTestGpu();
});
afterAll(() => ctx?.destroy());

describe('lora_linear forward: Y = X·Wᵀ + bias + s·(drop(X)·Aᵀ)·Bᵀ, here without dropout', () => {
  // M, N, K ∈ {1×1×1, 7×13×29, 64×576×576, 130×192×576}, R ∈ {1, 8, 16}, weights f32, bf16 and f16.
  for (const testCase of SELF_TEST_CASES) {
    it(`matches the Float64 reference to 1e-4 of the output scale for ${describeCase(testCase)}`, async () => {
      expect((await checkLoraLinearCase(ctx, testCase)).relativeError).toBeLessThan(1e-4);
    });
  }

  it('computes the frozen layer alone when no LoRA pair is given', async () => {
    expect((await checkLoraLinearCase(ctx, { M: 9, N: 33, K: 70, R: 0, dtype: 'bf16', bias: false })).relativeError).toBeLessThan(1e-4);
  });

  it('handles rank 64 with K not a multiple of 4 and rows past a workgroup edge', async () => {
    expect((await checkLoraLinearCase(ctx, { M: 33, N: 35, K: 31, R: 64, dtype: 'f16', bias: false })).relativeError).toBeLessThan(1e-4);
  });
});

describe('lora_linear refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[], dtype: DType = 'f32'): GpuTensor => createTensor(ctx.device, name, shape, dtype);

  it('names the tensor and both shapes when W does not match X', () => {
    const call = () => loraLinear(ctx, { x: tensor('X', [4, 8]), w: tensor('W', [3, 9]) });
    expect(call).toThrow(ShapeError);
    expect(call).toThrow(/tensor "W" has shape \[3, 9\], expected \[N, K\] = \[3, 8\]/);
  });

  it('names the tensor when B does not match the rank of A', () => {
    const call = () =>
      loraLinear(ctx, { x: tensor('X', [4, 8]), w: tensor('W', [3, 8]), lora: { a: tensor('A', [2, 8]), b: tensor('B', [3, 4]), scale: 1 } });
    expect(call).toThrow(/tensor "B" has shape \[3, 4\], expected \[N, R\] = \[3, 2\]/);
  });

  it('refuses an f16 activation: only frozen weights may be half precision', () => {
    expect(() => loraLinear(ctx, { x: tensor('X', [4, 8], 'f16'), w: tensor('W', [3, 8]) })).toThrow(/"X" is f16; this op takes f32/);
  });

  it('names the tensor and the limit when a tensor is over maxStorageBufferBindingSize', () => {
    const limit = ctx.device.limits.maxStorageBufferBindingSize;
    // Only the buffer's size is read before dispatch, so no real gigabyte allocation is needed.
    const oversized: GpuTensor = { name: 'embed_tokens', shape: [3, 8], dtype: 'f32', buffer: { size: limit + 4 } as GPUBuffer };
    const call = () => loraLinear(ctx, { x: tensor('X', [4, 8]), w: oversized });
    expect(call).toThrow(LimitError);
    expect(call).toThrow(new RegExp(`"embed_tokens" needs ${limit + 4} bytes.*maxStorageBufferBindingSize of ${limit}`));
  });

  it('names the limit when M needs more workgroups than a dimension allows', () => {
    const rows = (ctx.device.limits.maxComputeWorkgroupsPerDimension + 1) * 32;
    const x: GpuTensor = { name: 'X', shape: [rows, 1], dtype: 'f32', buffer: { size: rows * 4 } as GPUBuffer };
    expect(() => loraLinear(ctx, { x, w: tensor('W', [3, 1]) })).toThrow(/maxComputeWorkgroupsPerDimension/);
  });
});

interface BackwardCase {
  M: number;
  N: number;
  K: number;
  R: number;
  dtype: DType;
  /** LoRA dropout probability; 0 for none. */
  p: number;
  /** A bias in the forward. */
  bias?: boolean;
}

const describeBackward = ({ M, N, K, R, dtype, p, bias }: BackwardCase): string =>
  `M=${M} N=${N} K=${K} R=${R} ${dtype}${bias ? ' with a bias' : ''} ${p > 0 ? `with dropout p=${p}` : 'without dropout'}`;

/** Uploads `data` as `dtype` and remembers the tensor for cleanup. */
function uploader(tensors: GpuTensor[]) {
  return (name: string, shape: number[], data: Float32Array, dtype: DType = 'f32'): GpuTensor => {
    const tensor = createTensor(ctx.device, name, shape, dtype, dtype === 'f32' ? data : encodeTensorData(dtype, data));
    tensors.push(tensor);
    return tensor;
  };
}

/**
 * Runs the forward (for U) and the backward on the GPU, accumulating into random gradients, and
 * compares Y, U, dX, dA and dB with the Float64 reference fed the decoded weights.
 */
async function compareBackward(testCase: BackwardCase, seed = 1, stepUniform?: GPUBuffer): Promise<Record<'y' | 'u' | 'dx' | 'da' | 'db', number>> {
  const { M, N, K, R, dtype, p } = testCase;
  const random = Random.fromSeed(seed);
  const values = (count: number, scale = 1): Float32Array => random.fillUniform(new Float32Array(count), -scale, scale);
  const host = {
    x: values(M * K),
    w: values(N * K, 1 / Math.sqrt(K)),
    a: values(R * K, 1 / Math.sqrt(K)),
    b: values(N * R, 0.5),
    dy: values(M * N),
    dx: values(M * K),
    da: values(R * K),
    db: values(N * R),
    bias: values(N),
  };
  const scale = 16 / R;
  const dropout: LoraDropout | undefined = p > 0 ? { p, seed: 1234, step: 5, offset: 3 } : undefined;
  // With a step uniform the kernels read seed and step from it, as in training.
  if (dropout && stepUniform) writeDropoutStep(ctx.device.queue, stepUniform, dropout);
  const kernelDropout: KernelDropout | undefined = dropout && stepUniform ? { p: dropout.p, offset: dropout.offset, stepUniform } : dropout;
  const tensors: GpuTensor[] = [];
  const upload = uploader(tensors);
  const lora = { a: upload('A', [R, K], host.a), b: upload('B', [N, R], host.b), scale, ...(kernelDropout ? { dropout: kernelDropout } : {}) };
  const x = upload('X', [M, K], host.x);
  const w = upload('W', [N, K], host.w, dtype);
  const bias = testCase.bias ? upload('bias', [N], host.bias) : undefined;
  const gradients = { dx: upload('dX', [M, K], host.dx), da: upload('dA', [R, K], host.da), db: upload('dB', [N, R], host.db) };
  const { y, u } = loraLinearWithU(ctx, { x, w, lora, ...(bias ? { bias } : {}) });
  tensors.push(y, u!);
  loraLinearBackward(ctx, { x, w, lora, dy: upload('dY', [M, N], host.dy), u: u! }, gradients);
  try {
    const reference = {
      M, N, K, R,
      x: host.x,
      w: decodeTensorData(dtype, encodeTensorData(dtype, host.w), N * K),
      a: host.a,
      b: host.b,
      scale,
      ...(dropout ? { dropout } : {}),
    };
    const want = loraLinearBackwardReference({ ...reference, dy: host.dy });
    const forward = { ...reference, ...(bias ? { bias: host.bias } : {}) };
    const accumulated = (initial: Float32Array, gradient: Float64Array): Float64Array => gradient.map((value, i) => initial[i]! + value);
    return {
      y: relativeError(await readTensor(ctx.device, y), loraLinearReference(forward)),
      u: relativeError(await readTensor(ctx.device, u!), loraDownReference(reference)),
      dx: relativeError(await readTensor(ctx.device, gradients.dx), accumulated(host.dx, want.dx)),
      da: relativeError(await readTensor(ctx.device, gradients.da), accumulated(host.da, want.da)),
      db: relativeError(await readTensor(ctx.device, gradients.db), accumulated(host.db, want.db)),
    };
  } finally {
    for (const tensor of tensors) tensor.buffer.destroy();
  }
}

describe("lora_linear backward: dX += dY·W + s·drop'(dY·B·A), dA += s·(dY·B)ᵀ·drop(X), dB += s·dYᵀ·U", () => {
  // Sizes that are not multiples of any tile (4, 32, 64), K = 2 mod 4 for packed edge columns,
  // ranks 1, 8, 16 and 64, every weight dtype, with and without dropout.
  const cases: BackwardCase[] = [
    { M: 1, N: 1, K: 1, R: 1, dtype: 'f32', p: 0 },
    { M: 7, N: 13, K: 29, R: 8, dtype: 'bf16', p: 0.1 },
    { M: 37, N: 70, K: 45, R: 16, dtype: 'f16', p: 0 },
    { M: 37, N: 70, K: 45, R: 16, dtype: 'f16', p: 0.25 },
    { M: 67, N: 66, K: 98, R: 1, dtype: 'bf16', p: 0 },
    { M: 33, N: 35, K: 31, R: 64, dtype: 'f32', p: 0.1 },
    { M: 200, N: 24, K: 66, R: 64, dtype: 'f16', p: 0.5 },
    { M: 130, N: 192, K: 576, R: 16, dtype: 'bf16', p: 0.05 },
  ];
  for (const testCase of cases) {
    it(`matches the Float64 reference to 1e-4 of each output's scale (Y, U, and dX, dA, dB added to random values) for ${describeBackward(testCase)}`, async () => {
      const errors = await compareBackward(testCase);
      for (const [output, error] of Object.entries(errors)) expect(error, output).toBeLessThan(1e-4);
    });
  }
});

describe("lora_linear's frozen products on the GPU family's GEMM core (forced on this adapter), against the Float64 reference", () => {
  beforeAll(() => setKernelFamily(ctx, 'gpu'));
  afterAll(() => setKernelFamily(ctx, 'auto'));
  const w = (dtype: FrozenDType): GpuTensor => ({ name: 'W', shape: [0, 0], dtype, buffer: {} as GPUBuffer });

  it('takes the core where the router sends X·Wᵀ or dY·W to gemm or gemv, and the fused kernels elsewhere', () => {
    expect(frozenProductOnGemmCore(ctx, 'nt', { M: 130, N: 192, K: 576, R: 16 }, w('bf16'))).toBe(true);
    expect(frozenProductOnGemmCore(ctx, 'nt', { M: 3, N: 192, K: 576, R: 16 }, w('int8'))).toBe(true);
    expect(frozenProductOnGemmCore(ctx, 'nn', { M: 130, N: 192, K: 576, R: 16 }, w('f16'))).toBe(true);
    expect(frozenProductOnGemmCore(ctx, 'nt', { M: 130, N: 70, K: 45, R: 16 }, w('f32'))).toBe(false);
    setKernelFamily(ctx, 'cpu');
    expect(frozenProductOnGemmCore(ctx, 'nt', { M: 130, N: 192, K: 576, R: 16 }, w('bf16'))).toBe(false);
    setKernelFamily(ctx, 'gpu');
  });

  // Y and dX on the core (gemm at M = 130 and 70 past the 64-row tile, gemv at M = 3), and with dropout,
  // where dX keeps the fused kernel for its mask while Y still runs on the core.
  const cases: BackwardCase[] = [
    { M: 130, N: 192, K: 576, R: 16, dtype: 'bf16', p: 0 },
    { M: 70, N: 100, K: 132, R: 8, dtype: 'f32', p: 0 },
    { M: 3, N: 68, K: 20, R: 4, dtype: 'f16', p: 0 },
    { M: 70, N: 100, K: 132, R: 16, dtype: 'bf16', p: 0.25 },
  ];
  for (const testCase of cases) {
    it(`matches Y, U, dX, dA and dB for ${describeBackward(testCase)}`, async () => {
      const errors = await compareBackward(testCase);
      for (const [output, error] of Object.entries(errors)) expect(error, output).toBeLessThan(1e-4);
    });
  }

  it('runs a bias in the core\'s epilogue, on gemm and on gemv', async () => {
    expect(frozenProductOnGemmCore(ctx, 'nt', { M: 70, N: 100, K: 132, R: 16 }, w('bf16'))).toBe(true);
    expect((await checkLoraLinearCase(ctx, { M: 70, N: 100, K: 132, R: 16, dtype: 'bf16', bias: true })).relativeError).toBeLessThan(1e-4);
    expect(routeMatmul('nt', { M: 5, N: 100, K: 132 }, matmulTarget(ctx), 'f16').kernel).toBe(gemvKernel(ctx));
    expect((await checkLoraLinearCase(ctx, { M: 5, N: 100, K: 132, R: 16, dtype: 'f16', bias: true })).relativeError).toBeLessThan(1e-4);
  });

  it('computes the frozen layer alone on the core when no LoRA pair is given', async () => {
    expect((await checkLoraLinearCase(ctx, { M: 70, N: 100, K: 132, R: 0, dtype: 'f16', bias: false })).relativeError).toBeLessThan(1e-4);
  });
});

/**
 * Both families forced in turn: the frozen products with a bias and the LoRA term in the forward's
 * epilogue and dropout's mask in dX's, for every half and full weight dtype (int8 and int4:
 * app/gpu/quant.gpu.test.ts), on each route a product can take: the CPU core's tiled and skinny kernels
 * (a skinny product with SPLIT > 1 adds the epilogue one output at a time) and the GPU core's gemm and gemv.
 */
for (const [family, withoutSubgroups] of [['cpu', false], ['gpu', false], ['gpu', true]] as const) {
  describe(`lora_linear with a bias and dropout on the ${family} kernel family (forced${withoutSubgroups ? ', a device without subgroups: gemv, not gemv-subgroup' : ''}), against the Float64 reference`, () => {
    let shared: GpuContext;
    beforeAll(async () => {
      if (withoutSubgroups) {
        // The helpers of this file read `ctx`: point it at a device of the same adapter created without subgroups.
        shared = ctx;
        ctx = await acquireTestGpu({ withoutFeatures: ['subgroups'] });
      }
      setKernelFamily(ctx, family);
    });
    afterAll(() => {
      setKernelFamily(ctx, 'auto');
      if (withoutSubgroups) {
        ctx.destroy();
        ctx = shared;
      }
    });
    const cases: (BackwardCase & { routes: [string, string] })[] = [
      { M: 70, N: 100, K: 132, R: 16, dtype: 'f32', p: 0.25, bias: true, routes: family === 'gpu' ? ['gemm', 'gemm'] : ['tiled', 'tiled'] },
      { M: 130, N: 192, K: 576, R: 16, dtype: 'bf16', p: 0.1, bias: true, routes: family === 'gpu' ? ['gemm', 'gemm'] : ['tiled', 'tiled'] },
      { M: 37, N: 70, K: 45, R: 8, dtype: 'f16', p: 0.5, bias: true, routes: ['skinny', 'skinny'] },
      { M: 100, N: 80, K: 20, R: 8, dtype: 'bf16', p: 0.25, bias: true, routes: family === 'gpu' ? ['gemm', 'skinny'] : ['tiled', 'skinny'] },
      { M: 3, N: 68, K: 20, R: 4, dtype: 'f16', p: 0.1, bias: true, routes: family === 'gpu' ? ['gemv', 'skinny'] : ['skinny', 'skinny'] },
    ];
    for (const testCase of cases) {
      it(`matches Y, U, dX, dA and dB for ${describeBackward(testCase)} (X·Wᵀ on ${testCase.routes[0]}, dY·W on ${testCase.routes[1]})`, async () => {
        const { M, N, K } = testCase;
        const target = matmulTarget(ctx);
        // 'gemv' stands for the decoding kernel of the device: gemv-subgroup where it has subgroups.
        const routes = testCase.routes.map((route) => (route === 'gemv' ? gemvKernel(ctx) : route));
        expect([routeMatmul('nt', { M, N, K }, target, testCase.dtype).kernel, routeMatmul('nn', { M, N, K }, target, testCase.dtype).kernel]).toEqual(routes);
        if (withoutSubgroups) expect(routes).not.toContain('gemv-subgroup');
        const errors = await compareBackward(testCase);
        for (const [output, error] of Object.entries(errors)) expect(error, output).toBeLessThan(1e-4);
      });
    }

    // A projection with a bias and no adapter (Qwen2's k_proj when LoRA targets q and v): the bias alone in the epilogue.
    it.each([
      [70, 100, 132, 'bf16'],
      [5, 68, 20, 'f32'],
      [37, 70, 45, 'f16'],
    ] as const)('adds a bias alone, without a LoRA pair, for M=%i N=%i K=%i %s', async (M, N, K, dtype) => {
      expect((await checkLoraLinearCase(ctx, { M, N, K, R: 0, dtype, bias: true })).relativeError).toBeLessThan(1e-4);
    });
  });
}

describe('lora_linear dropout from a step uniform written once per micro-batch (as the trainer does)', () => {
  /**
   * The same layer (same tensors) at several steps, seed and step written into one uniform before each:
   * with X = 1, A = B = I, W = 0 and dY = 1, U is the forward's mask and dX the backward's. Counts the
   * bind groups and uniform buffers each step makes.
   */
  async function masksAtSteps(steps: readonly number[]) {
    const [M, K] = [64, 64];
    const dropout = { p: 0.1, seed: 99, offset: 2 };
    const eye = new Float32Array(K * K).map((_, i) => (i % (K + 1) === 0 ? 1 : 0));
    const tensors: GpuTensor[] = [];
    const upload = uploader(tensors);
    const stepUniform = createDropoutStepUniform(ctx.device);
    const lora = { a: upload('A', [K, K], eye), b: upload('B', [K, K], eye), scale: 1, dropout: { p: dropout.p, offset: dropout.offset, stepUniform } };
    const x = upload('X', [M, K], new Float32Array(M * K).fill(1));
    const w = upload('W', [K, K], new Float32Array(K * K));
    const dy = upload('dY', [M, K], new Float32Array(M * K).fill(1));
    const [y, u, g] = [upload('Y', [M, K], new Float32Array(M * K)), upload('U', [M, K], new Float32Array(M * K)), upload('G', [M, K], new Float32Array(M * K))];
    const gradients = { dx: upload('dX', [M, K], new Float32Array(M * K)), da: upload('dA', [K, K], new Float32Array(K * K)), db: upload('dB', [K, K], new Float32Array(K * K)) };
    const { createBindGroup, createBuffer } = ctx.device;
    const made = { bindGroups: 0, uniforms: 0 };
    ctx.device.createBindGroup = (descriptor) => (made.bindGroups++, createBindGroup.call(ctx.device, descriptor));
    ctx.device.createBuffer = (descriptor) => ((descriptor.usage & GPUBufferUsage.UNIFORM) !== 0 && made.uniforms++, createBuffer.call(ctx.device, descriptor));
    try {
      const results = [];
      for (const step of steps) {
        [made.bindGroups, made.uniforms] = [0, 0];
        writeDropoutStep(ctx.device.queue, stepUniform, { seed: dropout.seed, step });
        const encoder = ctx.device.createCommandEncoder();
        encoder.clearBuffer(gradients.dx.buffer);
        encodeLoraLinear(ctx, encoder, { x, w, lora }, y, u);
        encodeLoraLinearBackward(ctx, encoder, { x, w, lora, dy, u }, gradients, g);
        ctx.device.queue.submit([encoder.finish()]);
        const counts = { ...made };
        results.push({ ...counts, forward: await readTensor(ctx.device, u), backward: await readTensor(ctx.device, gradients.dx), want: Array.from(dropoutMask(M, K, { ...dropout, step }), Math.fround) });
      }
      return results;
    } finally {
      ctx.device.createBindGroup = createBindGroup;
      ctx.device.createBuffer = createBuffer;
      stepUniform.destroy();
      for (const tensor of tensors) tensor.buffer.destroy();
    }
  }

  it('draws each step\'s mask as the reference does, and a later step makes no uniform and no bind group', async () => {
    const steps = await masksAtSteps([6, 7, 8]);
    for (const { forward, backward, want } of steps) {
      expect(Array.from(forward)).toEqual(want);
      expect(Array.from(backward)).toEqual(want);
    }
    expect(steps[1]!.want).not.toEqual(steps[0]!.want);
    expect(steps[0]!.bindGroups).toBeGreaterThan(0);
    for (const { bindGroups, uniforms } of steps.slice(1)) expect({ bindGroups, uniforms }).toEqual({ bindGroups: 0, uniforms: 0 });
  });

  it('gives the Float64 reference numbers with a bias, every output', async () => {
    const stepUniform = createDropoutStepUniform(ctx.device);
    try {
      const errors = await compareBackward({ M: 70, N: 100, K: 132, R: 16, dtype: 'bf16', p: 0.25, bias: true }, 1, stepUniform);
      for (const [output, error] of Object.entries(errors)) expect(error, output).toBeLessThan(1e-4);
    } finally {
      stepUniform.destroy();
    }
  });
});

describe('lora_linear dropout on the GPU', () => {
  /**
   * With X = 1 and A = I (K = R), U = drop(X)·Aᵀ is the mask itself; with W = 0, B = I and dY = 1,
   * the backward's dX is s times the mask it applied and dA sums it over tokens.
   */
  async function masks(M: number, K: number, dropout: LoraDropout) {
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    const tensors: GpuTensor[] = [];
    const upload = uploader(tensors);
    const lora = { a: upload('A', [K, K], eye), b: upload('B', [K, K], eye), scale: 1, dropout };
    const x = upload('X', [M, K], new Float32Array(M * K).fill(1));
    const w = upload('W', [K, K], new Float32Array(K * K));
    const gradients = { dx: upload('dX', [M, K], new Float32Array(M * K)), da: upload('dA', [K, K], new Float32Array(K * K)), db: upload('dB', [K, K], new Float32Array(K * K)) };
    const { y, u } = loraLinearWithU(ctx, { x, w, lora });
    tensors.push(y, u!);
    loraLinearBackward(ctx, { x, w, lora, dy: upload('dY', [M, K], new Float32Array(M * K).fill(1)), u: u! }, gradients);
    try {
      return {
        forward: await readTensor(ctx.device, u!),
        backward: await readTensor(ctx.device, gradients.dx),
        tokenSums: await readTensor(ctx.device, gradients.da),
      };
    } finally {
      for (const tensor of tensors) tensor.buffer.destroy();
    }
  }

  const dropout: LoraDropout = { p: 0.1, seed: 77, step: 12, offset: 5 };
  const [M, K] = [1000, 64];

  it('draws the same keep-mask as the TypeScript reference, bit for bit', async () => {
    const { forward } = await masks(M, K, dropout);
    expect(Array.from(forward)).toEqual(Array.from(dropoutMask(M, K, dropout), Math.fround));
  });

  it('keeps a share 1-p of the elements, scaled by 1/(1-p)', async () => {
    const { forward } = await masks(M, K, dropout);
    const kept = forward.filter((factor) => factor !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / (1 - dropout.p))]));
    const share = kept.length / forward.length;
    expect(Math.abs(share - (1 - dropout.p))).toBeLessThan(5 * Math.sqrt((dropout.p * (1 - dropout.p)) / forward.length));
  });

  it('applies the forward mask in the backward: to the LoRA branch of dX and to X in dA', async () => {
    const { forward, backward, tokenSums } = await masks(M, K, dropout);
    expect(Array.from(backward)).toEqual(Array.from(forward));
    for (let k = 0; k < K; k++) {
      let kept = 0;
      for (let m = 0; m < M; m++) kept += forward[m * K + k]!;
      // A sum of about 900 equal f32 terms: a few ulps of rounding per term.
      for (let r = 0; r < K; r++) expect(Math.abs(tokenSums[r * K + k]! - kept)).toBeLessThan(1e-5 * kept);
    }
  });

  it('draws another mask at the next step', async () => {
    const { forward } = await masks(64, 64, dropout);
    const { forward: next } = await masks(64, 64, { ...dropout, step: dropout.step + 1 });
    expect(Array.from(next)).toEqual(Array.from(dropoutMask(64, 64, { ...dropout, step: dropout.step + 1 }), Math.fround));
    expect(Array.from(next)).not.toEqual(Array.from(forward));
  });
});

describe('lora_linear backward refuses bad calls before dispatch', () => {
  const tensor = (name: string, shape: number[], dtype: DType = 'f32'): GpuTensor => createTensor(ctx.device, name, shape, dtype);
  const call = (overrides: { da?: GpuTensor; dx?: GpuTensor; dropout?: LoraDropout }) => () => {
    const x = tensor('X', [4, 8]);
    const lora = { a: tensor('A', [2, 8]), b: tensor('B', [3, 2]), scale: 1, ...(overrides.dropout ? { dropout: overrides.dropout } : {}) };
    const gradients = { dx: overrides.dx ?? tensor('dX', [4, 8]), da: overrides.da ?? tensor('dA', [2, 8]), db: tensor('dB', [3, 2]) };
    loraLinearBackward(ctx, { x, w: tensor('W', [3, 8], 'bf16'), lora, dy: tensor('dY', [4, 3]), u: tensor('U', [4, 2]) }, gradients);
  };

  it('names dA and both shapes when dA is not [R, K]', () => {
    expect(call({ da: tensor('dA', [8, 2]) })).toThrow(ShapeError);
    expect(call({ da: tensor('dA', [8, 2]) })).toThrow(/tensor "dA" has shape \[8, 2\], expected \[R, K\] = \[2, 8\]/);
  });

  it('refuses a gradient that shares its buffer with an input', () => {
    const x = tensor('X', [4, 8]);
    const lora = { a: tensor('A', [2, 8]), b: tensor('B', [3, 2]), scale: 1 };
    const gradients = { dx: { ...x, name: 'dX' }, da: tensor('dA', [2, 8]), db: tensor('dB', [3, 2]) };
    expect(() => loraLinearBackward(ctx, { x, w: tensor('W', [3, 8]), lora, dy: tensor('dY', [4, 3]), u: tensor('U', [4, 2]) }, gradients)).toThrow(
      /"dX" is written by the backward pass and shares its buffer with "X"/,
    );
  });

  it('refuses a dropout probability outside [0, 1)', () => {
    expect(call({ dropout: { p: 1, seed: 1, step: 0, offset: 0 } })).toThrow(/LoRA dropout p must be in \[0, 1\), got 1/);
    expect(call({ dropout: { p: NaN, seed: 1, step: 0, offset: 0 } })).toThrow(/got NaN/);
  });

  it('refuses a dropout seed that is not a u32', () => {
    expect(call({ dropout: { p: 0.1, seed: 1.5, step: 0, offset: 0 } })).toThrow(/seed must be an integer in \[0, 2\^32\), got 1.5/);
  });
});
