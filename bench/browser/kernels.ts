/**
 * The browser half of `npm run bench:kernels`: our matrix products against tf.matMul of TF.js's WebGPU
 * backend, both on ONE GPUDevice in this page (TF.js is handed our device), so they share the adapter,
 * the queue and the browser. bench/kernels.ts serves the page and times one product per call.
 *
 * Per product: one untimed call of each is compared (same product, and the warm-up that compiles both
 * pipelines), then `warmups` more untimed calls, then `runs` rounds in which each runs once, timed by
 * timestamp queries when the device has them (TF.js through tf.time's kernelMs) and by the wall clock
 * from submit to onSubmittedWorkDone otherwise. Both write a fresh output (no accumulation).
 * With `timeComparison` (a CPU adapter: one run there) the compared calls are also the timed ones, so
 * each contender runs a product once; timestamps bracket the pass, so pipeline compilation (before the
 * pass is encoded) is outside the time either way.
 *
 * Where the device has shader-f16, each frozen-weight product that would take gemm-f16 is also timed
 * with f16 weights on both GEMM routes (gemm, which decodes them to f32, and gemm-f16, which reads them
 * natively after `enable f16;`), the two outputs compared, so the run says which route is faster there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { acquireGpu, type GpuContext } from '../../app/gpu/device.ts';
import { decodeTensorData, encodeTensorData } from '../../app/gpu/dtype.ts';
import { f16GemmWanted, setF16Gemm, setKernelFamily, type KernelFamilyChoice } from '../../app/gpu/kernel-family.ts';
import { encodeMatmul, matmulRouteName } from '../../app/gpu/ops/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from '../../app/gpu/tensor.ts';
import { relativeError } from '../../app/util/numeric.ts';
import { Random } from '../../app/util/random.ts';
import { median, operandShapes, TFJS_TRANSPOSES, type KernelProduct } from '../kernel-products.ts';

export interface KernelBenchSetup {
  /** 'auto' lets the adapter choose our kernels; 'gpu' or 'cpu' forces a family. */
  kernels: KernelFamilyChoice;
  /** Time by the wall clock even where timestamp queries exist. */
  wallClock: boolean;
  /** Features not to ask for, as on an adapter that lacks them (e.g. subgroups: decoding then takes gemv). */
  withoutFeatures?: GPUFeatureName[];
}

export interface KernelBenchDevice {
  adapter: string;
  features: string[];
  isFallbackAdapter: boolean;
  timing: 'timestamp-query' | 'wall';
  tfjsVersion: string;
}

export interface KernelBenchRuns {
  /** Timed runs of each contender; the median is kept. */
  runs: number;
  /** Untimed calls of each after the comparison call, which is the first warm-up. */
  warmups: number;
  /** Time the comparison calls themselves as the one run (needs timestamp queries, runs 1 and warmups 0). */
  timeComparison?: boolean;
}

export interface KernelMeasurement {
  oursMs: number;
  tfjsMs: number;
  route: string;
  difference: number;
  /** Medians of ours with f16 weights on gemm and on gemm-f16, where the device has shader-f16. */
  f16?: { gemmMs: number; gemmF16Ms: number };
}

declare global {
  interface Window {
    kernelBenchSetup(setup: KernelBenchSetup): Promise<KernelBenchDevice>;
    kernelBenchProduct(product: KernelProduct, runs: KernelBenchRuns): Promise<KernelMeasurement>;
  }
}

let state: { gpu: GpuContext; timestamps: boolean; random: Random } | undefined;

/** Acquires the page's GPU (or takes Node's Dawn device) and starts TF.js's WebGPU backend on it. */
export async function kernelBenchSetup(setup: KernelBenchSetup, nodeGpu?: GpuContext): Promise<KernelBenchDevice> {
  const gpu = nodeGpu ?? (await acquireGpu(navigator.gpu, { label: 'bench kernels', withoutFeatures: setup.withoutFeatures ?? [] }));
  setKernelFamily(gpu, setup.kernels);
  const { adapter } = gpu.info;
  // TF.js's kernels are registered for the name 'webgpu': replace the backend that would request a device of its own.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, { vendor: adapter.vendor, architecture: adapter.architecture } as GPUAdapterInfo));
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend on our device');
  // Submit every call at once, as ours does, so a timed call is not waiting in TF.js's batch.
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1);
  const timestamps = !setup.wallClock && gpu.device.features.has('timestamp-query');
  state = { gpu, timestamps, random: Random.fromSeed(1) };
  return {
    adapter: [adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' '),
    features: gpu.info.features,
    isFallbackAdapter: adapter.isFallbackAdapter,
    timing: timestamps ? 'timestamp-query' : 'wall',
    tfjsVersion: tf.version_core,
  };
}

/** Milliseconds between the two timestamps a pass wrote into `querySet`. */
async function passMs(device: GPUDevice, encoder: GPUCommandEncoder, querySet: GPUQuerySet): Promise<number> {
  const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.resolveQuerySet(querySet, 0, 2, resolved, 0);
  encoder.copyBufferToBuffer(resolved, 0, staging, 0, 16);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const [start, end] = new BigUint64Array(staging.getMappedRange());
  const ms = Number(end! - start!) / 1e6;
  staging.unmap();
  staging.destroy();
  resolved.destroy();
  return ms;
}

/** Times one product, ours against tf.matMul. */
export async function kernelBenchProduct(product: KernelProduct, setup: KernelBenchRuns): Promise<KernelMeasurement> {
  if (!state) throw new Error('call kernelBenchSetup first');
  const { gpu, timestamps, random } = state;
  const { device } = gpu;
  const [lhsShape, rhsShape, outShape] = operandShapes(product.layout, product.shape);
  const values = ([rows, cols]: [number, number]): Float32Array => random.fillUniform(new Float32Array(rows * cols), -1, 1);
  const lhsData = values(lhsShape);
  const rhsDtype = product.frozenWeight ? 'bf16' : 'f32';
  const rhsPacked = encodeTensorData(rhsDtype, values(rhsShape));
  // TF.js has no bf16: it gets the same (rounded) weights in f32.
  const rhsData = rhsDtype === 'f32' ? new Float32Array(rhsPacked.buffer) : Float32Array.from(decodeTensorData(rhsDtype, rhsPacked, rhsShape[0] * rhsShape[1]));
  const tensors: GpuTensor[] = [
    createTensor(device, 'lhs', lhsShape, 'f32', lhsData),
    createTensor(device, 'rhs', rhsShape, rhsDtype, rhsPacked),
    createTensor(device, 'out', outShape, 'f32'),
  ];
  const [lhs, rhs, out] = tensors as [GpuTensor, GpuTensor, GpuTensor];
  const a = tf.tensor2d(lhsData, lhsShape);
  const b = tf.tensor2d(rhsData, rhsShape);
  const [transposeA, transposeB] = TFJS_TRANSPOSES[product.layout];
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: 2 }) : undefined;
  try {
    const ours = async (timed: boolean, weights = rhs): Promise<number> => {
      const encoder = device.createCommandEncoder({ label: product.kernel });
      const timestampWrites = timed && querySet ? { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } : undefined;
      encodeMatmul(gpu, encoder, product.layout, lhs, weights, out, { accumulate: false, ...(timestampWrites ? { timestampWrites } : {}) });
      if (timestampWrites) return passMs(device, encoder, querySet!);
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - start;
    };
    const theirs = async (timed: boolean): Promise<{ ms: number; result: tf.Tensor }> => {
      let result: tf.Tensor | undefined;
      const multiply = (): void => {
        result = tf.matMul(a, b, transposeA, transposeB);
      };
      if (timed && timestamps) {
        const { kernelMs } = await tf.time(multiply);
        if (typeof kernelMs !== 'number') throw new Error(`TF.js gave no kernel time: ${JSON.stringify(kernelMs)}`);
        return { ms: kernelMs, result: result! };
      }
      const start = performance.now();
      multiply();
      await device.queue.onSubmittedWorkDone();
      return { ms: performance.now() - start, result: result! };
    };
    const timeDiscarding = async (timed: boolean): Promise<number> => {
      const { ms, result } = await theirs(timed);
      result.dispose();
      return ms;
    };
    const comparedOnce = setup.timeComparison === true && timestamps;
    if (setup.timeComparison && !(timestamps && setup.runs === 1 && setup.warmups === 0)) {
      throw new Error('timing the comparison call needs timestamp queries, 1 run and no extra warm-up');
    }
    const oursFirst = await ours(comparedOnce);
    const expected = await theirs(comparedOnce);
    const difference = relativeError(await readTensor(device, out), await expected.result.data());
    expected.result.dispose();
    if (!(difference < 1e-4)) throw new Error(`${product.kernel}: ours and TF.js disagree by ${difference} (relative)`);
    const oursMs: number[] = comparedOnce ? [oursFirst] : [];
    const tfjsMs: number[] = comparedOnce ? [expected.ms] : [];
    for (let i = 0; i < setup.warmups; i++) {
      await ours(false);
      await timeDiscarding(false);
    }
    for (let run = oursMs.length; run < setup.runs; run++) {
      oursMs.push(await ours(true));
      tfjsMs.push(await timeDiscarding(true));
    }
    const route = matmulRouteName(gpu, product.layout, product.shape, rhsDtype);
    const f16 = await timeF16Routes(product, rhsShape, setup, comparedOnce, (timed, weights) => ours(timed, weights), () => readTensor(device, out));
    return { oursMs: median(oursMs), tfjsMs: median(tfjsMs), route, difference, ...(f16 ? { f16 } : {}) };
  } finally {
    tf.dispose([a, b]);
    for (const tensor of tensors) tensor.buffer.destroy();
    querySet?.destroy();
  }
}

/**
 * Times ours with the product's weights in f16 on gemm and on gemm-f16 (the route chooser asked for
 * each in turn), where the device has shader-f16 and the product takes gemm-f16 when asked; undefined
 * elsewhere. The two outputs must agree: both sum the same f32 products of the same values.
 */
async function timeF16Routes(
  product: KernelProduct,
  rhsShape: [number, number],
  setup: KernelBenchRuns,
  comparedOnce: boolean,
  ours: (timed: boolean, weights: GpuTensor) => Promise<number>,
  readOut: () => Promise<Float32Array>,
): Promise<{ gemmMs: number; gemmF16Ms: number } | undefined> {
  const { gpu, random } = state!;
  const wanted = f16GemmWanted(gpu);
  setF16Gemm(gpu, true);
  const takesF16Route = matmulRouteName(gpu, product.layout, product.shape, 'f16') === 'gemm-f16';
  setF16Gemm(gpu, wanted);
  if (!takesF16Route) return undefined;
  const [rows, cols] = rhsShape;
  const weights = createTensor(gpu.device, 'rhs f16', rhsShape, 'f16', encodeTensorData('f16', random.fillUniform(new Float32Array(rows * cols), -1, 1)));
  try {
    const timesOf = async (nativeF16: boolean): Promise<{ ms: number; out: Float32Array }> => {
      setF16Gemm(gpu, nativeF16);
      const times = [await ours(comparedOnce, weights)];
      const out = await readOut();
      if (!comparedOnce) times.pop();
      for (let i = 0; i < setup.warmups; i++) await ours(false, weights);
      while (times.length < setup.runs) times.push(await ours(true, weights));
      return { ms: median(times), out };
    };
    const gemm = await timesOf(false);
    const native = await timesOf(true);
    const difference = relativeError(native.out, gemm.out);
    if (!(difference < 1e-4)) throw new Error(`${product.kernel}: gemm-f16 and gemm disagree by ${difference} (relative) on the same f16 weights`);
    return { gemmMs: gemm.ms, gemmF16Ms: native.ms };
  } finally {
    setF16Gemm(gpu, wanted);
    weights.buffer.destroy();
  }
}

// bench/kernels.ts --node imports this module in Node, where there is no window.
if (typeof window !== 'undefined') {
  window.kernelBenchSetup = (setup) => kernelBenchSetup(setup);
  window.kernelBenchProduct = kernelBenchProduct;
}
