import type { AdapterSummary, GpuContext } from './device.ts';

/**
 * Which family of kernels a device runs (ENGINEERING.md §4: kernels have two audiences). 'cpu' kernels
 * suit software adapters such as SwiftShader, where workgroup memory and barriers are costly; 'gpu'
 * kernels suit real GPUs (workgroup-memory tiles, coalesced vec4 loads, many threads). Both compute
 * the same numbers; only the speed differs, so tests force the 'gpu' family on SwiftShader.
 */
export type KernelFamily = 'cpu' | 'gpu';
/** 'auto' follows the adapter. */
export type KernelFamilyChoice = KernelFamily | 'auto';

/** Software adapters (SwiftShader, lavapipe) run WebGPU on the CPU. */
export function isCpuAdapter(adapter: AdapterSummary): boolean {
  return adapter.isFallbackAdapter || adapter.architecture === 'swiftshader';
}

// Keyed by the context's info object, which copies of a context ({ ...ctx }) share.
const forced = new WeakMap<object, KernelFamily>();

/** The family a context's kernels come from: forced by setKernelFamily, else chosen by its adapter. */
export function kernelFamily({ info }: Pick<GpuContext, 'info'>): KernelFamily {
  return forced.get(info) ?? (isCpuAdapter(info.adapter) ? 'cpu' : 'gpu');
}

/**
 * Forces a family for one context (tests run the GPU routes on SwiftShader; benchmarks compare the
 * two), or with 'auto' lets the adapter choose again. A route whose needs the device lacks (limits,
 * shape alignment) still falls back to one that works.
 */
export function setKernelFamily({ info }: Pick<GpuContext, 'info'>, choice: KernelFamilyChoice): void {
  if (choice === 'auto') forced.delete(info);
  else forced.set(info, choice);
}

/**
 * Whether f16 weights take the `enable f16;` GEMM route ('gemm-f16') where the device has shader-f16.
 * Off by default: the route is kept only where bench:kernels measures it faster than gemm on the same
 * GPU, and no GPU has measured it yet (bench/README.md). Without shader-f16 it never runs, whatever
 * this says, and f16 weights take gemm (bench:kernels' route then says why).
 */
export const F16_GEMM_DEFAULT = false;

const f16GemmChoice = new WeakMap<object, boolean>();

/** Whether this context asks for the f16 GEMM route (set by setF16Gemm, else F16_GEMM_DEFAULT). */
export function f16GemmWanted({ info }: Pick<GpuContext, 'info'>): boolean {
  return f16GemmChoice.get(info) ?? F16_GEMM_DEFAULT;
}

/** Asks for the f16 GEMM route on one context, or not (benchmarks time both; tests check the fallback). */
export function setF16Gemm({ info }: Pick<GpuContext, 'info'>, wanted: boolean): void {
  f16GemmChoice.set(info, wanted);
}
