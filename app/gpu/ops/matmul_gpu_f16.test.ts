import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireGpu, type GpuContext } from '../device.ts';
import { encodeTensorData } from '../dtype.ts';
import { f16GemmWanted, setF16Gemm, setKernelFamily } from '../kernel-family.ts';
import { createTensor, type GpuTensor } from '../tensor.ts';
import { encodeMatmul, matmulRouteName, type MatmulLayout } from './matmul.ts';
import { gemmShader } from './matmul_gpu.ts';

// The `enable f16;` GEMM route (gemm-f16) cannot run here: SwiftShader offers no shader-f16, in Dawn or in
// Chromium. It is compile-checked instead on Dawn's null backend (the same `webgpu` package, `backend=null`),
// whose adapter offers every feature, shader-f16 included, and which runs Tint's whole WGSL front end
// (parsing, types, uniformity, override values) when a module and a pipeline are created, but executes
// nothing: these tests say the variant compiles as the engine assembles it, not that its numbers are right
// (the f32 route's tests on SwiftShader check the shared core; a GPU with shader-f16 must run
// app/gpu/ops/matmul_gpu.gpu.test.ts before the route is made a default, see bench/README.md).

let gpu: GPU;
let ctx: GpuContext;
beforeAll(async () => {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  gpu = create(['backend=null']);
  ctx = await acquireGpu(gpu, { label: 'null backend: compile checks' });
  setKernelFamily(ctx, 'gpu');
});
afterAll(() => ctx?.destroy());

/** Runs `work` inside validation and internal error scopes; the errors it raised, as messages. */
async function errorsOf(device: GPUDevice, work: () => void): Promise<string[]> {
  device.pushErrorScope('validation');
  device.pushErrorScope('internal');
  work();
  const errors = [await device.popErrorScope(), await device.popErrorScope()];
  return errors.filter((error): error is GPUError => error !== null).map((error) => error.message);
}

/** Encodes and submits one product with f16 weights through encodeMatmul (the engine's own path). */
function encodeF16Product(on: GpuContext, layout: MatmulLayout, [M, N, K]: [number, number, number], accumulate: boolean): void {
  const weights = encodeTensorData('f16', new Float32Array(N * K).fill(0.5));
  const tensors = [
    createTensor(on.device, 'lhs', layout === 'nt' ? [M, K] : [M, N], 'f32'),
    createTensor(on.device, 'W', [N, K], 'f16', weights),
    createTensor(on.device, 'out', layout === 'nt' ? [M, N] : [M, K], 'f32'),
  ] as [GpuTensor, GpuTensor, GpuTensor];
  const encoder = on.device.createCommandEncoder();
  encodeMatmul(on, encoder, layout, ...tensors, { accumulate });
  on.device.queue.submit([encoder.finish()]);
  for (const tensor of tensors) tensor.buffer.destroy();
}

describe('the enable-f16 GEMM route (gemm-f16), compile-checked by Tint on Dawn\'s null backend', () => {
  it('has an adapter offering shader-f16, and a device created with it', () => {
    expect(ctx.info.features).toContain('shader-f16');
    expect(ctx.info.wantedFeatures['shader-f16']).toBe(true);
  });

  it('stays off unless asked for, even where the device has shader-f16 (the default until a GPU measures it faster)', () => {
    expect(f16GemmWanted(ctx)).toBe(false);
    expect(matmulRouteName(ctx, 'nt', [130, 192, 576], 'f16')).toBe('gemm');
    setF16Gemm(ctx, true);
    expect(matmulRouteName(ctx, 'nt', [130, 192, 576], 'f16')).toBe('gemm-f16');
    expect(matmulRouteName(ctx, 'nn', [130, 192, 576], 'f16')).toBe('gemm-f16');
    // bf16 would lose range in f16; the weight-gradient layout has no weights; decoding keeps its gemv.
    expect(matmulRouteName(ctx, 'nt', [130, 192, 576], 'bf16')).toBe('gemm');
    expect(matmulRouteName(ctx, 'tn', [130, 192, 576], 'f32')).toBe('gemm');
    expect(matmulRouteName(ctx, 'nt', [1, 192, 576], 'f16')).toMatch(/^gemv/);
    setF16Gemm(ctx, false);
  });

  it('assembles `enable f16;` first, reads the weights as vec4<f16> and stages them in an f16 tile', () => {
    const { code, key } = gemmShader('gemm-f16', 'f16', 'dense');
    expect(code.startsWith('enable f16;\n')).toBe(true);
    expect(code).toContain('var<storage, read> rhs: array<vec4<f16>>;');
    expect(code).toContain('alias RhsTile = vec4<f16>;');
    expect(key).not.toBe(gemmShader('gemm', 'f16', 'dense').key);
    expect(gemmShader('gemm', 'f16', 'dense').code).not.toMatch(/^enable f16;/m);
  });

  for (const layout of ['nt', 'nn'] as const) {
    for (const accumulate of [false, true]) {
      it(`compiles and encodes ${layout} with f16 weights on gemm-f16 (${accumulate ? '+=' : '='}), tile edges included`, async () => {
        setF16Gemm(ctx, true);
        try {
          expect(matmulRouteName(ctx, layout, [130, 196, 580], 'f16')).toBe('gemm-f16');
          expect(await errorsOf(ctx.device, () => encodeF16Product(ctx, layout, [130, 196, 580], accumulate))).toEqual([]);
        } finally {
          setF16Gemm(ctx, false);
        }
      });
    }
  }

  it('compiles with the gathered-row prelude the LM head uses', async () => {
    const { code } = gemmShader('gemm-f16', 'f16', 'gather');
    const errors = await errorsOf(ctx.device, () => {
      const module = ctx.device.createShaderModule({ code });
      ctx.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'matmul_gemm', constants: { LAYOUT: 0, ACCUMULATE: 0 } } });
    });
    expect(errors).toEqual([]);
  });

  it('is a real check: the same module without `enable f16;`, or on a device without shader-f16, is refused', async () => {
    const { code } = gemmShader('gemm-f16', 'f16', 'dense');
    const compile = (on: GPUDevice, source: string) => (): void => {
      const shader = on.createShaderModule({ code: source });
      on.createComputePipeline({ layout: 'auto', compute: { module: shader, entryPoint: 'matmul_gemm', constants: { LAYOUT: 0, ACCUMULATE: 0 } } });
    };
    const withoutEnable = await errorsOf(ctx.device, compile(ctx.device, code.replace('enable f16;\n', '')));
    expect(withoutEnable.join('\n')).toMatch(/f16/);
    const plain = await acquireGpu(gpu, { label: 'null backend without shader-f16', withoutFeatures: ['shader-f16'] });
    try {
      expect(plain.info.wantedFeatures['shader-f16']).toBe(false);
      expect((await errorsOf(plain.device, compile(plain.device, code))).join('\n')).toMatch(/f16/);
    } finally {
      plain.destroy();
    }
  });
});
