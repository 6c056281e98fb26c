import coreCode from '../../../shaders/matmul_gpu.wgsl?raw';
import subgroupGemvCode from '../../../shaders/matmul_gpu_subgroup.wgsl?raw';
import quantCode from '../../../shaders/quant.wgsl?raw';
import { isQuantized, type FrozenDType } from '../dtype.ts';
import type { GpuContext } from '../device.ts';
import type { GpuTensor } from '../tensor.ts';
import { assembleShader, epiloguePrelude, hasWeightPrelude, lhsRowPrelude, nativeF16WeightPrelude, rhsTilePrelude, weightPrelude } from '../wgsl.ts';
import { bindGroup, packUniforms, type BindingResource } from './encode.ts';
import { epilogueParts } from './epilogue.ts';
import type { MatmulLayout, ProductCall } from './matmul.ts';

/**
 * The GPU family's matrix products (shaders/matmul_gpu.wgsl): dispatchProduct in ./matmul.ts hands
 * 'gemm', 'gemv', 'gemv-subgroup' and 'gemm-f16' routes here. The shader is the GEMM core with the right
 * operand's weight prelude, a row prelude and an epilogue prelude in front (app/gpu/wgsl.ts);
 * 'gemv-subgroup' adds `enable subgroups;` and shaders/matmul_gpu_subgroup.wgsl, only on a device
 * created with the `subgroups` feature (a module that enables a feature the device lacks fails to compile);
 * 'gemm-f16' is gemm after `enable f16;` with f16 weights read and staged natively, only on a device
 * with `shader-f16` (the core's header says why only the weights are f16).
 */

/** Output rows and columns of one gemm workgroup. */
export const GEMM_TILE = 64;
/** gemm stages two 64x16 f32 slices; gemv keeps 256 x 8 partial sums: 8 KiB either way. */
export const GEMM_WORKGROUP_BYTES = 8192;
export const GPU_KERNEL_INVOCATIONS = 256;
/** Decoding batches up to this many rows take the gemv kernel. */
export const GEMV_MAX_ROWS = 8;
/** Output columns per gemv workgroup (32 lanes each; gemv-subgroup: as many subgroups as fit). */
export const GEMV_COLUMNS = 8;

/** The GPU family's kernels on the GEMM core. */
export type GemmKernel = 'gemm' | 'gemm-f16' | 'gemv' | 'gemv-subgroup';

/** The entry point of shaders/matmul_gpu.wgsl (or matmul_gpu_subgroup.wgsl) each kernel runs. */
const ENTRY_POINT: Record<GemmKernel, string> = { gemm: 'matmul_gemm', 'gemm-f16': 'matmul_gemm', gemv: 'matmul_gemv', 'gemv-subgroup': 'matmul_gemv_subgroup' };

/** The decoding kernel a device takes: K-sums by subgroupAdd where it has `subgroups`, through workgroup memory otherwise. */
export function gemvKernel({ info }: Pick<GpuContext, 'info'>): 'gemv' | 'gemv-subgroup' {
  return info.wantedFeatures.subgroups ? 'gemv-subgroup' : 'gemv';
}

/** Whether a route's kernel is one of the GEMM core's (the rest are shaders/matmul.wgsl's). */
export function isGemmKernel(kernel: string): kernel is GemmKernel {
  return Object.hasOwn(ENTRY_POINT, kernel);
}

const LAYOUT_CODE: Record<MatmulLayout, number> = { nt: 0, nn: 1, tn: 2 };

/**
 * One product of the GEMM core over operands that need not be whole tensors (cross_entropy's LM head):
 * OUT[rows, cols] (=|+=) scale·Σ over `inner`, lhs read from element `offset` with `stride` elements
 * between its stored rows (optionally gathered by `rows`, nt and nn), out written from element `offset`
 * with `stride` between rows, plus the epilogue's term. Strides and offsets must be multiples of 4, as
 * cols and lhs's contiguous side (checked here).
 */
/** One product on a GPU-family kernel: the product's fields with the kernel its route chose. */
export interface GemmCall extends Omit<ProductCall, 'route'> {
  kernel: GemmKernel;
  /**
   * gemv-subgroup only: threads per workgroup (default 256). Fewer threads make fewer subgroups per
   * workgroup, the partitions that wider subgroups make, so tests reach them on SwiftShader's 4-wide ones.
   */
  gemvThreads?: number;
}

/** The workgroups of a gemm, gemv or gemv-subgroup call, within the device's per-dimension limit. */
export function gemmWorkgroups(kernel: GemmKernel, rows: number, cols: number, maxPerDimension: number): [number, number] {
  if (kernel === 'gemm' || kernel === 'gemm-f16') return [Math.ceil(cols / GEMM_TILE), Math.ceil(rows / GEMM_TILE)];
  const groups = Math.ceil(cols / GEMV_COLUMNS);
  const x = Math.min(groups, maxPerDimension);
  return [x, Math.ceil(groups / x)];
}

/** Refuses a weight dtype the GEMM core has no prelude for (u32, i32). */
function expectPrelude(rhs: GpuTensor, what: string): asserts rhs is GpuTensor & { dtype: FrozenDType } {
  if (!hasWeightPrelude(rhs.dtype)) throw new TypeError(`${what}: no weight prelude for ${rhs.dtype}`);
}

/** The assembled module a GEMM-core kernel runs for weights of `dtype` and lhs rows read `rows`. */
export function gemmShader(kernel: GemmKernel, dtype: FrozenDType, rows: 'dense' | 'gather', epilogue: readonly { key: string; code: string }[] = [epiloguePrelude({ kind: 'none' })]): { key: string; code: string } {
  const nativeF16 = kernel === 'gemm-f16';
  return assembleShader({ key: 'matmul_gpu', code: coreCode }, [
    ...(kernel === 'gemv-subgroup' ? [{ key: 'enable:subgroups', code: 'enable subgroups;\n' }] : []),
    ...(nativeF16 ? [{ key: 'enable:f16', code: 'enable f16;\n' }] : []),
    // int8/int4's preludes call the decoders of quant.wgsl.
    ...(isQuantized(dtype) ? [{ key: 'quant', code: quantCode }] : []),
    nativeF16 ? { key: 'rhs:f16-native', code: nativeF16WeightPrelude('rhs', 2) } : { key: `rhs:${dtype}`, code: weightPrelude(dtype, 'rhs', 2) },
    rhsTilePrelude(nativeF16 ? 'f16' : 'f32'),
    lhsRowPrelude(rows),
    ...(kernel === 'gemv-subgroup' ? [{ key: 'gemv_subgroup', code: subgroupGemvCode }] : []),
    ...epilogue,
  ]);
}

/** Sets the pipeline and bind group of one GEMM-core product in an open pass and dispatches it. */
export function dispatchGemm(ctx: GpuContext, pass: GPUComputePassEncoder, call: GemmCall): void {
  const { layout, kernel, rows, cols, inner, lhs, rhs, out } = call;
  expectPrelude(rhs, `gemm ${layout}`);
  const gemv = kernel === 'gemv' || kernel === 'gemv-subgroup';
  // The sides read as vec4s: lhs's contiguous one (inner in nt and nn, rows in tn), and for gemm cols
  // and out's rows (gemv reads W by rows of K and stores single elements).
  const vec4Sides = [layout === 'tn' ? rows : inner, lhs.stride, lhs.offset, ...(gemv ? [] : [cols, out.stride, out.offset])];
  const threads = call.gemvThreads ?? GPU_KERNEL_INVOCATIONS;
  if (
    !vec4Sides.every((n) => n % 4 === 0) ||
    (gemv && (layout !== 'nt' || rows > GEMV_MAX_ROWS)) ||
    (lhs.gather && layout === 'tn') ||
    (kernel === 'gemv-subgroup' && !(Number.isInteger(threads) && threads >= 1 && threads <= GPU_KERNEL_INVOCATIONS))
  ) {
    throw new TypeError(`gemm ${layout} ${kernel}: [${rows}, ${cols}] over ${inner} with strides ${lhs.stride}, ${out.stride} and offsets ${lhs.offset}, ${out.offset} is not a product this kernel takes`);
  }
  if (kernel === 'gemv-subgroup' && !ctx.info.wantedFeatures.subgroups) {
    throw new TypeError(`gemm ${layout} gemv-subgroup: this device was created without the subgroups feature; use gemvKernel(ctx)`);
  }
  const nativeF16 = kernel === 'gemm-f16';
  if (nativeF16 && (rhs.dtype !== 'f16' || layout === 'tn' || !ctx.info.wantedFeatures['shader-f16'])) {
    throw new TypeError(`gemm ${layout} gemm-f16: takes f16 weights (nt, nn) on a device with shader-f16; got ${rhs.dtype} weights${ctx.info.wantedFeatures['shader-f16'] ? '' : ' on a device without shader-f16'}`);
  }
  const epilogue = epilogueParts(ctx, call.epilogue);
  const shader = gemmShader(kernel, rhs.dtype, lhs.gather ? 'gather' : 'dense', epilogue.preludes);
  const constants = {
    LAYOUT: LAYOUT_CODE[layout],
    ACCUMULATE: call.accumulate ? 1 : 0,
    ...(gemv ? { ROWS_GEMV: rows } : {}),
    ...(kernel === 'gemv-subgroup' && call.gemvThreads !== undefined ? { GEMV_THREADS: threads } : {}),
    ...(rhs.dtype === 'int4' ? { RHS_GROUP: rhs.group! } : {}),
  };
  const pipeline = ctx.pipelines.get(shader.key, shader.code, ENTRY_POINT[kernel], constants);
  const uniforms = ctx.uniforms.get(
    'matmul_gpu:dims',
    packUniforms([['u32', rows], ['u32', cols], ['u32', inner], ['f32', call.scale], ['u32', lhs.stride], ['u32', lhs.offset], ['u32', out.stride], ['u32', out.offset]]),
  );
  const entries: [number, BindingResource][] = [[0, uniforms], [1, lhs.buffer], [2, rhs], [3, out.buffer], ...epilogue.entries];
  if (lhs.gather) entries.push([4, lhs.gather]);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, entries));
  pass.dispatchWorkgroups(...gemmWorkgroups(kernel, rows, cols, ctx.info.limits.maxComputeWorkgroupsPerDimension ?? 65535));
}
