import matmulCode from '../../../shaders/matmul.wgsl?raw';
import quantCode from '../../../shaders/quant.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { DTYPE_CODE, isQuantized, type FrozenDType, type TensorDType } from '../dtype.ts';
import { ShapeError } from '../errors.ts';
import { f16GemmWanted, isCpuAdapter, kernelFamily, type KernelFamily } from '../kernel-family.ts';
import { sharesBytes, type GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms, type BindingResource } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectShape, expectWorkgroups } from './checks.ts';
import { assembleShader, hasWeightPrelude, lhsRowPrelude } from '../wgsl.ts';
import { epilogueParts, type Epilogue } from './epilogue.ts';
import { dispatchGemm, gemmWorkgroups, isGemmKernel, GEMM_WORKGROUP_BYTES, GEMV_MAX_ROWS, GPU_KERNEL_INVOCATIONS } from './matmul_gpu.ts';

export { isCpuAdapter };

const OP = 'matmul';

/**
 * The three layouts of training, named by whether each operand is read as stored (n) or transposed (t):
 * nt Y[M,N] = X[M,K]·W[N,K]ᵀ (forward), nn dX[M,K] = dY[M,N]·W[N,K] (input gradient),
 * tn dW[N,K] = dY[M,N]ᵀ·X[M,K] (weight gradient). M, N, K keep their forward meaning in all three.
 */
export type MatmulLayout = 'nt' | 'nn' | 'tn';

export interface MatmulDims {
  M: number;
  N: number;
  K: number;
}

export interface MatmulOptions {
  /** += into the output instead of =. Defaults: false for nt (forward), true for nn and tn (gradients). */
  accumulate?: boolean;
  /** Multiplies the product before it is stored or added (the LoRA scale in backward passes). Default 1. */
  scale?: number;
  /** Timestamps written at the start and end of the product's pass (benchmarks, where the device has timestamp-query). */
  timestampWrites?: GPUComputePassTimestampWrites;
}

/** Which kernel runs a product and how it is dispatched: a pure function of the shape and the device target, for tests and benchmarks. */
export interface MatmulRoute {
  /**
   * 'tiled' and 'skinny' are the CPU-family kernels of shaders/matmul.wgsl (also the GPU family's
   * products with a side <= 64); 'gemm' (workgroup-memory tiles) and 'gemv' (nt with M <= 8) are the
   * GPU family's, in shaders/matmul_gpu.wgsl, and 'gemv-subgroup' is gemv with its sums added by
   * subgroupAdd (shaders/matmul_gpu_subgroup.wgsl), taken where the device has `subgroups`;
   * 'gemm-f16' is gemm reading f16 weights natively after `enable f16;` (where asked for and the device
   * has `shader-f16`).
   */
  kernel: 'tiled' | 'skinny' | 'gemm' | 'gemm-f16' | 'gemv' | 'gemv-subgroup';
  /** Lanes that share one 4x4 output block by splitting the inner dimension (1 for the tiled kernel). */
  split: number;
  workgroups: [number, number];
}

/** An output side up to this (the LoRA rank) goes to the skinny kernel. */
export const SKINNY_MAX_SIDE = 64;
/** ...where each lane keeps at least this many 4-chunks of the inner dimension, so the final sum stays cheap. */
const MIN_CHUNKS_PER_LANE = 4;
const WORKGROUP_LANES = 64;

/** What routing needs to know of a device. */
export interface MatmulTarget {
  /** Which kernels the device should run (app/gpu/kernel-family.ts). */
  family: KernelFamily;
  /** About how many lanes must run at once to keep the device busy; the skinny kernel splits sums until it has them. */
  lanes: number;
  maxWorkgroupsPerDimension: number;
  /** The device's limits that the GPU kernels need (their workgroup memory and size); short of them, a route falls back. */
  maxWorkgroupStorageBytes: number;
  maxInvocationsPerWorkgroup: number;
  /** Whether the device was created with the `subgroups` feature (decoding then takes gemv-subgroup). */
  subgroups: boolean;
  /** Whether f16 weights take gemm-f16: asked for (f16GemmWanted) and the device has `shader-f16`. */
  f16Gemm: boolean;
}

/**
 * A GPU: a few lanes per core of a mid-size GPU, which a [16, 576] LoRA gradient (576 blocks of 4x4)
 * would otherwise leave mostly idle.
 */
export const GPU_TARGET: MatmulTarget = { family: 'gpu', lanes: 32768, maxWorkgroupsPerDimension: 65535, maxWorkgroupStorageBytes: 16384, maxInvocationsPerWorkgroup: 256, subgroups: false, f16Gemm: false };
/**
 * A CPU adapter (SwiftShader) runs lanes 4 wide on a few cores and pays dearly for workgroup barriers:
 * there, splitting a LoRA-rank sum over 4 lanes took 1.7x and over 64 lanes 10x as long as one lane per block.
 */
export const CPU_TARGET: MatmulTarget = { family: 'cpu', lanes: 512, maxWorkgroupsPerDimension: 65535, maxWorkgroupStorageBytes: 16384, maxInvocationsPerWorkgroup: 256, subgroups: false, f16Gemm: false };

/** The routing target of a device, from its kernel family (its adapter, unless forced) and limits. */
export function matmulTarget(ctx: Pick<GpuContext, 'info'>): MatmulTarget {
  const { limits } = ctx.info;
  const target = kernelFamily(ctx) === 'cpu' ? CPU_TARGET : GPU_TARGET;
  return {
    ...target,
    maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension ?? target.maxWorkgroupsPerDimension,
    maxWorkgroupStorageBytes: limits.maxComputeWorkgroupStorageSize ?? target.maxWorkgroupStorageBytes,
    maxInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup ?? target.maxInvocationsPerWorkgroup,
    subgroups: ctx.info.wantedFeatures.subgroups === true,
    f16Gemm: f16GemmWanted(ctx) && ctx.info.wantedFeatures['shader-f16'] === true,
  };
}

/**
 * The kernel a product runs on this context, for benchmark output ("gemm", "gemv-subgroup", "skinny/split
 * 8", ...); where gemm-f16 was asked for but the device lacks shader-f16, the fallback says so.
 */
export function matmulRouteName(ctx: Pick<GpuContext, 'info'>, layout: MatmulLayout, [M, N, K]: readonly [number, number, number], rhsDtype: TensorDType = 'f32'): string {
  const target = matmulTarget(ctx);
  const route = routeMatmul(layout, { M, N, K }, target, rhsDtype);
  if (route.kernel === 'gemm' && rhsDtype === 'f16' && layout !== 'tn' && f16GemmWanted(ctx) && !target.f16Gemm) return 'gemm (gemm-f16 needs shader-f16)';
  return route.kernel === 'skinny' ? `skinny/split ${route.split}` : route.kernel;
}

const LAYOUT_CODE: Record<MatmulLayout, number> = { nt: 0, nn: 1, tn: 2 };

/** OUT[rows, cols] and the length of the sum, per layout. */
export function matmulOutput(layout: MatmulLayout, { M, N, K }: MatmulDims): { rows: number; cols: number; inner: number } {
  if (layout === 'nt') return { rows: M, cols: N, inner: K };
  if (layout === 'nn') return { rows: M, cols: K, inner: N };
  return { rows: N, cols: K, inner: M };
}

/**
 * Large products go to the register-blocked tiled kernel. When an output side is at most 64 (the LoRA
 * rank: X·Aᵀ, dY·B, Gᵀ·X, dYᵀ·U), the tiled kernel would leave most lanes of its 32x32 tiles idle
 * and run too few threads, each summing thousands of tokens; the skinny kernel packs 4x4 blocks
 * densely and splits the long sum over lanes of a workgroup.
 */
export function routeMatmul(layout: MatmulLayout, dims: MatmulDims, target: MatmulTarget = GPU_TARGET, rhsDtype: TensorDType = 'f32'): MatmulRoute {
  const { rows, cols, inner } = matmulOutput(layout, dims);
  if (target.family === 'gpu' && hasWeightPrelude(rhsDtype)) {
    const gpuRoute = routeGpuFamily(layout, dims, target, rhsDtype);
    if (gpuRoute) return gpuRoute;
  }
  return cpuFamilyRoute(rows, cols, inner, target);
}

/** The kernels of shaders/matmul.wgsl, which take any shape, stride and offset: tiled, or skinny when an output side is at most 64. */
export function cpuFamilyRoute(rows: number, cols: number, inner: number, target: MatmulTarget): MatmulRoute {
  if (Math.min(rows, cols) > SKINNY_MAX_SIDE) {
    return { kernel: 'tiled', split: 1, workgroups: [Math.ceil(cols / 32), Math.ceil(rows / 32)] };
  }
  return { kernel: 'skinny', ...skinnyRoute(rows, cols, inner, target) };
}

/**
 * The GPU family's kernels, where the product and the device allow them; undefined sends the product
 * to the kernels both families share. Their vec4 loads need K divisible by 4 (X's and W's rows), gemm's
 * N too (every operand's contiguous side), and the device must offer their workgroup memory and 256
 * invocations. Decoding (nt, M <= 8) goes to gemv-subgroup where the device has subgroups, else gemv;
 * products with both output sides over 64 to gemm (f16 weights to gemm-f16 where target.f16Gemm);
 * LoRA-rank products stay on the skinny kernel, which splits their long sums over a GPU's lanes.
 */
function routeGpuFamily(layout: MatmulLayout, dims: MatmulDims, target: MatmulTarget, rhsDtype: TensorDType): MatmulRoute | undefined {
  const { rows, cols } = matmulOutput(layout, dims);
  const fits = dims.K % 4 === 0 && target.maxWorkgroupStorageBytes >= GEMM_WORKGROUP_BYTES && target.maxInvocationsPerWorkgroup >= GPU_KERNEL_INVOCATIONS;
  if (!fits) return undefined;
  if (layout === 'nt' && dims.M <= GEMV_MAX_ROWS) {
    const kernel = target.subgroups ? 'gemv-subgroup' : 'gemv';
    return { kernel, split: 1, workgroups: gemmWorkgroups(kernel, rows, cols, target.maxWorkgroupsPerDimension) };
  }
  if (dims.N % 4 === 0 && Math.min(rows, cols) > SKINNY_MAX_SIDE) {
    const kernel = target.f16Gemm && rhsDtype === 'f16' && layout !== 'tn' ? 'gemm-f16' : 'gemm';
    return { kernel, split: 1, workgroups: gemmWorkgroups(kernel, rows, cols, target.maxWorkgroupsPerDimension) };
  }
  return undefined;
}

/**
 * Split and grid of a skinny-style kernel (64 lanes per workgroup, 4x4 blocks of OUT[rows, cols], sums
 * of `inner` split over lanes): doubles the split while fewer than target.lanes lanes would run and
 * every lane keeps MIN_CHUNKS_PER_LANE chunks. lora_linear's dA kernel uses it too.
 */
export function skinnyRoute(rows: number, cols: number, inner: number, target: MatmulTarget): Pick<MatmulRoute, 'split' | 'workgroups'> {
  const blocks = Math.ceil(rows / 4) * Math.ceil(cols / 4);
  const chunks = Math.ceil(inner / 4);
  let split = 1;
  while (split < WORKGROUP_LANES && blocks * split < target.lanes && chunks >= 2 * split * MIN_CHUNKS_PER_LANE) split *= 2;
  const groups = Math.ceil(blocks / (WORKGROUP_LANES / split));
  const x = Math.min(groups, target.maxWorkgroupsPerDimension);
  return { split, workgroups: [x, Math.ceil(groups / x)] };
}

/** Operand names and shapes of each layout, for checks and messages. */
const OPERANDS: Record<MatmulLayout, { lhs: [string, string]; rhs: [string, string]; out: [string, string] }> = {
  nt: { lhs: ['X', 'M, K'], rhs: ['W', 'N, K'], out: ['Y', 'M, N'] },
  nn: { lhs: ['dY', 'M, N'], rhs: ['W', 'N, K'], out: ['dX', 'M, K'] },
  tn: { lhs: ['dY', 'M, N'], rhs: ['X', 'M, K'], out: ['dW', 'N, K'] },
};

/** Checks every shape, dtype and limit of a product; returns M, N, K. Throws before anything is encoded. */
export function checkMatmul(
  device: GPUDevice,
  layout: MatmulLayout,
  lhs: GpuTensor,
  rhs: GpuTensor,
  out: GpuTensor,
  scale = 1,
  target: MatmulTarget = GPU_TARGET,
): MatmulDims {
  const op = `${OP} ${layout}`;
  const names = OPERANDS[layout];
  expectRank(op, lhs, 2, names.lhs[1]);
  expectRank(op, rhs, 2, names.rhs[1]);
  const [lhs0, lhs1] = lhs.shape as [number, number];
  // nt: lhs X [M,K], rhs W [N,K]; nn: lhs dY [M,N], rhs W [N,K]; tn: lhs dY [M,N], rhs X [M,K].
  const dims: MatmulDims =
    layout === 'nt' ? { M: lhs0, N: rhs.shape[0]!, K: lhs1 } : { M: lhs0, N: lhs1, K: rhs.shape[1]! };
  const { M, N, K } = dims;
  const shapeOf = { nt: { rhs: [N, K], out: [M, N] }, nn: { rhs: [N, K], out: [M, K] }, tn: { rhs: [M, K], out: [N, K] } }[layout];
  expectShape(op, rhs, shapeOf.rhs, names.rhs[1]);
  expectShape(op, out, shapeOf.out, names.out[1]);
  expectDType(op, lhs, ['f32']);
  expectDType(op, rhs, matmulRhsDTypes(layout));
  expectQuantGroup(op, rhs);
  expectDType(op, out, ['f32']);
  if (!Number.isFinite(scale)) throw new ShapeError(`${op}: scale must be a finite number, got ${scale}`, { op, scale });
  for (const input of [lhs, rhs]) {
    if (sharesBytes(input, out)) {
      throw new ShapeError(`${op}: output "${out.name}" shares its buffer with input "${input.name}"`, { op, tensor: out.name });
    }
  }
  for (const tensor of [lhs, rhs, out]) expectBindable(op, device, tensor);
  expectWorkgroups(op, device, routeMatmul(layout, dims, target, rhs.dtype).workgroups);
  return dims;
}

/**
 * Encodes one product into `encoder` (one dispatch): out (=|+=) scale·product, with the operands of
 * `layout` (see MatmulLayout). Validates first; allocates nothing but a cached uniform.
 */
export function encodeMatmul(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  layout: MatmulLayout,
  lhs: GpuTensor,
  rhs: GpuTensor,
  out: GpuTensor,
  options: MatmulOptions = {},
): void {
  const scale = options.scale ?? 1;
  const accumulate = options.accumulate ?? layout !== 'nt';
  const target = matmulTarget(ctx);
  const dims = checkMatmul(ctx.device, layout, lhs, rhs, out, scale, target);
  const route = routeMatmul(layout, dims, target, rhs.dtype);
  const { rows, cols, inner } = matmulOutput(layout, dims);
  const pass = encoder.beginComputePass({ label: `${OP} ${layout} ${route.kernel}`, ...(options.timestampWrites ? { timestampWrites: options.timestampWrites } : {}) });
  dispatchProduct(ctx, pass, { layout, route, rows, cols, inner, lhs: { buffer: lhs, stride: layout === 'tn' ? rows : inner, offset: 0 }, rhs, out: { buffer: out, stride: cols, offset: 0 }, accumulate, scale });
  pass.end();
}

/**
 * One product on the kernel `route` names, of either family, over operands that need not be whole
 * tensors: OUT[rows, cols] (=|+=) scale·Σ over `inner` + the epilogue's term, lhs read from element
 * `offset` with `stride` elements between its stored rows (optionally gathered by `gather`, nt and nn),
 * out written from element `offset` with `stride` between rows; rhs is a whole tensor (W, or X in tn).
 * The caller has checked shapes and bounds (encodeMatmul, cross_entropy, lora_linear do).
 */
export interface ProductCall {
  layout: MatmulLayout;
  route: MatmulRoute;
  rows: number;
  cols: number;
  inner: number;
  /** A tensor binds its own range (a LoRA view), a buffer all of it. */
  lhs: { buffer: BindingResource; stride: number; offset: number; gather?: GPUBuffer };
  rhs: GpuTensor;
  out: { buffer: BindingResource; stride: number; offset: number };
  accumulate: boolean;
  scale: number;
  epilogue?: Epilogue;
}

/** Sets the pipeline and bind group of one product in an open pass and dispatches it. */
export function dispatchProduct(ctx: GpuContext, pass: GPUComputePassEncoder, call: ProductCall): void {
  const { route } = call;
  if (isGemmKernel(route.kernel)) {
    dispatchGemm(ctx, pass, { ...call, kernel: route.kernel });
    return;
  }
  const { layout, rows, cols, inner, lhs, rhs, out } = call;
  const epilogue = epilogueParts(ctx, call.epilogue);
  // int8/int4 are decoded by quant.wgsl's functions, which matmul.wgsl calls.
  const shader = assembleShader({ key: OP, code: matmulCode }, [{ key: 'quant', code: quantCode }, lhsRowPrelude(lhs.gather ? 'gather' : 'dense'), ...epilogue.preludes]);
  // K, the length of W's rows in nt and nn (X's in tn, where rhs is f32 and not paired).
  const K = layout === 'nt' ? inner : cols;
  const constants = {
    LAYOUT: LAYOUT_CODE[layout],
    RHS_DTYPE: DTYPE_CODE[rhs.dtype],
    RHS_PAIRED: pairedLoads(rhs.dtype, K) ? 1 : 0,
    ...(rhs.dtype === 'int4' ? { QUANT_GROUP: rhs.group! } : {}),
    ACCUMULATE: call.accumulate ? 1 : 0,
    ...(route.kernel === 'skinny' ? { SPLIT: route.split } : {}),
  };
  const pipeline = ctx.pipelines.get(shader.key, shader.code, `matmul_${route.kernel}`, constants);
  const uniforms = ctx.uniforms.get(
    `${OP}:dims`,
    packUniforms([['u32', rows], ['u32', cols], ['u32', inner], ['f32', call.scale], ['u32', lhs.stride], ['u32', lhs.offset], ['u32', out.stride], ['u32', out.offset]]),
  );
  const entries: [number, BindingResource][] = [[0, uniforms], [1, lhs.buffer], [2, rhs], [3, out.buffer], ...epilogue.entries];
  if (lhs.gather) entries.push([4, lhs.gather]);
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, entries));
  pass.dispatchWorkgroups(...route.workgroups);
}

/**
 * Whether every 4-run of a W row the kernels read can be decoded from whole words at once: two words
 * of halves when K is even, one word of int8 or int4 codes (with one scale) when K is a multiple of 4.
 */
export function pairedLoads(dtype: FrozenDType | 'u32' | 'i32', K: number): boolean {
  if (dtype === 'f32' || dtype === 'u32' || dtype === 'i32') return false;
  return isQuantized(dtype) ? K % 4 === 0 : K % 2 === 0;
}

/** An int4 weight must say its group size, which must divide its rows (app/gpu/quant.ts); the shader relies on both. */
export function expectQuantGroup(op: string, w: GpuTensor): void {
  if (w.dtype !== 'int4') return;
  const K = w.shape[1]!;
  if (!w.group || K % w.group !== 0 || w.group % 8 !== 0) {
    throw new ShapeError(`${op}: int4 tensor "${w.name}" [${w.shape.join(', ')}] has group size ${w.group ?? 'none'}, which must be a multiple of 8 that divides ${K}`, { op, tensor: w.name, group: w.group });
  }
}

/** Y (=|+=) scale·X·Wᵀ: x [M,K] f32, w [N,K] f32/bf16/f16/int8/int4, y [M,N]. Overwrites y unless told to accumulate. */
export function encodeMatmulNT(ctx: GpuContext, encoder: GPUCommandEncoder, x: GpuTensor, w: GpuTensor, y: GpuTensor, options?: MatmulOptions): void {
  encodeMatmul(ctx, encoder, 'nt', x, w, y, options);
}

/** dX += scale·dY·W: dy [M,N] f32, w [N,K] f32/bf16/f16/int8/int4, dx [M,K]. Accumulates unless told not to. */
export function encodeMatmulNN(ctx: GpuContext, encoder: GPUCommandEncoder, dy: GpuTensor, w: GpuTensor, dx: GpuTensor, options?: MatmulOptions): void {
  encodeMatmul(ctx, encoder, 'nn', dy, w, dx, options);
}

/** dW += scale·dYᵀ·X: dy [M,N] f32, x [M,K] f32, dw [N,K]. Accumulates unless told not to. */
export function encodeMatmulTN(ctx: GpuContext, encoder: GPUCommandEncoder, dy: GpuTensor, x: GpuTensor, dw: GpuTensor, options?: MatmulOptions): void {
  encodeMatmul(ctx, encoder, 'tn', dy, x, dw, options);
}

/** Convenience for one-off calls and tests: encodes one product and submits it. */
export function matmul(ctx: GpuContext, layout: MatmulLayout, lhs: GpuTensor, rhs: GpuTensor, out: GpuTensor, options?: MatmulOptions): void {
  const encoder = ctx.device.createCommandEncoder({ label: `${OP} ${layout}` });
  encodeMatmul(ctx, encoder, layout, lhs, rhs, out, options);
  ctx.device.queue.submit([encoder.finish()]);
}

/** FLOPs of one product (multiply-adds count two), for throughput figures. */
export function matmulFlops({ M, N, K }: MatmulDims): number {
  return 2 * M * N * K;
}

/** The dtypes the right operand may have in each layout. */
export function matmulRhsDTypes(layout: MatmulLayout): readonly FrozenDType[] {
  return layout === 'tn' ? ['f32'] : ['f32', 'bf16', 'f16', 'int8', 'int4'];
}
