import coreCode from '../../../shaders/matmul_gpu.wgsl?raw';
import type { GpuContext } from '../device.ts';
import type { GpuTensor } from '../tensor.ts';
import { assembleShader, weightPrelude } from '../wgsl.ts';
import { bindGroup, packUniforms } from './encode.ts';
import type { MatmulDims, MatmulLayout, MatmulRoute } from './matmul.ts';

/**
 * The GPU family's matrix products (shaders/matmul_gpu.wgsl): encodeMatmul in ./matmul.ts validates
 * and routes, and hands 'gemm' and 'gemv' routes here. The shader is the GEMM core with the right
 * operand's weight prelude in front (app/gpu/wgsl.ts), one shader per weight dtype.
 */

/** Output rows and columns of one gemm workgroup. */
export const GEMM_TILE = 64;
/** gemm stages two 64x16 f32 slices; gemv keeps 256 x 8 partial sums: 8 KiB either way. */
export const GEMM_WORKGROUP_BYTES = 8192;
export const GPU_KERNEL_INVOCATIONS = 256;
/** Decoding batches up to this many rows take the gemv kernel. */
export const GEMV_MAX_ROWS = 8;
/** Output columns per gemv workgroup (32 lanes each). */
export const GEMV_COLUMNS = 8;

const LAYOUT_CODE: Record<MatmulLayout, number> = { nt: 0, nn: 1, tn: 2 };

export interface GpuMatmulCall {
  layout: MatmulLayout;
  dims: MatmulDims;
  route: MatmulRoute;
  lhs: GpuTensor;
  rhs: GpuTensor;
  out: GpuTensor;
  accumulate: boolean;
  scale: number;
  timestampWrites?: GPUComputePassTimestampWrites;
}

/** Encodes one already-validated product on a GPU-family route (one dispatch). */
export function encodeMatmulGpu(ctx: GpuContext, encoder: GPUCommandEncoder, call: GpuMatmulCall): void {
  const { layout, dims, route, lhs, rhs, out } = call;
  if (rhs.dtype !== 'f32' && rhs.dtype !== 'bf16' && rhs.dtype !== 'f16') throw new TypeError(`matmul ${layout}: no weight prelude for ${rhs.dtype}`);
  const shader = assembleShader({ key: 'matmul_gpu', code: coreCode }, [{ key: `rhs:${rhs.dtype}`, code: weightPrelude(rhs.dtype, 'rhs', 2) }]);
  const constants = { LAYOUT: LAYOUT_CODE[layout], ACCUMULATE: call.accumulate ? 1 : 0, ...(route.kernel === 'gemv' ? { ROWS_GEMV: dims.M } : {}) };
  const pipeline = ctx.pipelines.get(shader.key, shader.code, `matmul_${route.kernel}`, constants);
  const rows = layout === 'tn' ? dims.N : dims.M;
  const cols = layout === 'nt' ? dims.N : dims.K;
  const inner = layout === 'nt' ? dims.K : layout === 'nn' ? dims.N : dims.M;
  const uniforms = ctx.uniforms.get('matmul:dims', packUniforms([['u32', rows], ['u32', cols], ['u32', inner], ['f32', call.scale]]));
  const pass = encoder.beginComputePass({ label: `matmul ${layout} ${route.kernel}`, ...(call.timestampWrites ? { timestampWrites: call.timestampWrites } : {}) });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, [[0, uniforms], [1, lhs.buffer], [2, rhs.buffer], [3, out.buffer]]));
  pass.dispatchWorkgroups(...route.workgroups);
  pass.end();
}
