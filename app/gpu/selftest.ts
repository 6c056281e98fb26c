import { CocktailError } from '../errors.ts';
import { relativeError } from '../util/numeric.ts';
import { Random } from '../util/random.ts';
import type { GpuContext } from './device.ts';
import { decodeTensorData, encodeTensorData, type DType } from './dtype.ts';
import { encodeLoraLinear, loraLinear, loraLinearFlops } from './ops/lora_linear.ts';
import { loraLinearReference } from './reference/lora_linear.ts';
import { createTensor, readTensor, type GpuTensor } from './tensor.ts';

/**
 * The kernel self-test: lora_linear on this GPU against the Float64 reference, over shapes that are
 * not multiples of any tile, every weight dtype and several LoRA ranks; then its throughput.
 * The studio's "kernel self-test" button, the CLI and the GPU tests all run these same checks.
 */
export interface LoraLinearCase {
  M: number;
  N: number;
  K: number;
  /** 0: the frozen layer alone. */
  R: number;
  dtype: DType;
  bias: boolean;
}

export interface LoraLinearCaseResult extends LoraLinearCase {
  /** max |gpu − reference| / max |reference| */
  relativeError: number;
  pass: boolean;
}

export interface ThroughputResult {
  M: number;
  N: number;
  K: number;
  R: number;
  dtype: DType;
  iterations: number;
  seconds: number;
  gflops: number;
}

export interface SelfTestReport {
  tolerance: number;
  cases: LoraLinearCaseResult[];
  passed: boolean;
  throughput: ThroughputResult;
}

export interface SelfTestProgress {
  done: number;
  total: number;
  label: string;
}

export const SELF_TEST_TOLERANCE = 1e-4;

export const SELF_TEST_CASES: readonly LoraLinearCase[] = (['f32', 'bf16', 'f16'] as const).flatMap((dtype) =>
  [
    [1, 1, 1],
    [7, 13, 29],
    [64, 576, 576],
    [130, 192, 576],
  ].flatMap(([M, N, K]) => [1, 8, 16].map((R) => ({ M: M!, N: N!, K: K!, R, dtype, bias: true }))),
);

/** The throughput shape: a 1024-wide projection over 256 tokens with a rank-16 adapter. */
export const THROUGHPUT_CASE = { M: 256, N: 1024, K: 1024, R: 16, dtype: 'bf16' as DType };

interface CaseData {
  inputs: { x: Float32Array; wPacked: Uint32Array; bias: Float32Array; a: Float32Array; b: Float32Array; scale: number };
  tensors: GpuTensor[];
  call: Parameters<typeof loraLinear>[1];
}

/** Random inputs of a case, uploaded. Weights are scaled like an initialised layer (~1/sqrt(K)). */
function prepareCase(ctx: GpuContext, { M, N, K, R, dtype, bias }: LoraLinearCase, seed: number): CaseData {
  const random = Random.fromSeed(seed);
  const values = (count: number, scale: number): Float32Array => random.fillUniform(new Float32Array(count), -scale, scale);
  const inputs = {
    x: values(M * K, 1),
    wPacked: encodeTensorData(dtype, values(N * K, 1 / Math.sqrt(K))),
    bias: values(N, 0.5),
    a: values(R * K, 1 / Math.sqrt(K)),
    b: values(N * R, 0.5),
    scale: 16 / Math.max(R, 1),
  };
  const tensors: GpuTensor[] = [];
  const upload = (name: string, shape: number[], type: DType, data: Uint32Array | Float32Array): GpuTensor => {
    const tensor = createTensor(ctx.device, name, shape, type, data);
    tensors.push(tensor);
    return tensor;
  };
  const call = {
    x: upload('X', [M, K], 'f32', inputs.x),
    w: upload('W', [N, K], dtype, inputs.wPacked),
    ...(bias ? { bias: upload('bias', [N], 'f32', inputs.bias) } : {}),
    ...(R > 0 ? { lora: { a: upload('A', [R, K], 'f32', inputs.a), b: upload('B', [N, R], 'f32', inputs.b), scale: inputs.scale } } : {}),
  };
  return { inputs, tensors, call };
}

/** Runs one case on the GPU and in Float64 and compares them. */
export async function checkLoraLinearCase(ctx: GpuContext, testCase: LoraLinearCase, seed = 1): Promise<LoraLinearCaseResult> {
  const { M, N, K, R, dtype, bias } = testCase;
  const { inputs, tensors, call } = prepareCase(ctx, testCase, seed);
  const y = loraLinear(ctx, call);
  try {
    const got = await readTensor(ctx.device, y);
    const want = loraLinearReference({
      M, N, K, R,
      x: inputs.x,
      w: decodeTensorData(dtype, inputs.wPacked, N * K),
      a: inputs.a,
      b: inputs.b,
      scale: inputs.scale,
      ...(bias ? { bias: inputs.bias } : {}),
    });
    const error = relativeError(got, want);
    return { ...testCase, relativeError: error, pass: error <= SELF_TEST_TOLERANCE };
  } finally {
    for (const tensor of [...tensors, y]) tensor.buffer.destroy();
  }
}

/** Times lora_linear on THROUGHPUT_CASE, doubling the iteration count until a run lasts 0.25 s. */
export async function measureLoraLinearThroughput(ctx: GpuContext, signal?: AbortSignal): Promise<ThroughputResult> {
  const shape = { ...THROUGHPUT_CASE, bias: false };
  const { tensors, call } = prepareCase(ctx, shape, 7);
  const { M, N, R } = shape;
  const y = createTensor(ctx.device, 'Y', [M, N], 'f32');
  const u = createTensor(ctx.device, 'U', [M, R], 'f32');
  const run = async (iterations: number): Promise<number> => {
    const start = performance.now();
    // One submit per iteration keeps each submit short (browsers may lose a device on a long one).
    for (let i = 0; i < iterations; i++) {
      const encoder = ctx.device.createCommandEncoder({ label: 'lora_linear throughput' });
      encodeLoraLinear(ctx, encoder, call, y, u);
      ctx.device.queue.submit([encoder.finish()]);
    }
    await ctx.device.queue.onSubmittedWorkDone();
    return (performance.now() - start) / 1000;
  };
  try {
    await run(1); // compile the pipelines and warm the caches
    let iterations = 1;
    let seconds = await run(iterations);
    while (seconds < 0.25 && iterations < 4096) {
      throwIfAborted(signal);
      iterations *= 2;
      seconds = await run(iterations);
    }
    const gflops = (loraLinearFlops(shape) * iterations) / seconds / 1e9;
    return { ...THROUGHPUT_CASE, iterations, seconds, gflops };
  } finally {
    for (const tensor of [...tensors, y, u]) tensor.buffer.destroy();
  }
}

export async function runSelfTest(
  ctx: GpuContext,
  options: { onProgress?: (progress: SelfTestProgress) => void; signal?: AbortSignal; cases?: readonly LoraLinearCase[] } = {},
): Promise<SelfTestReport> {
  const cases = options.cases ?? SELF_TEST_CASES;
  const total = cases.length + 1;
  const results: LoraLinearCaseResult[] = [];
  for (const [index, testCase] of cases.entries()) {
    throwIfAborted(options.signal);
    options.onProgress?.({ done: index, total, label: describeCase(testCase) });
    results.push(await checkLoraLinearCase(ctx, testCase, index + 1));
  }
  throwIfAborted(options.signal);
  options.onProgress?.({ done: cases.length, total, label: 'throughput' });
  const throughput = await measureLoraLinearThroughput(ctx, options.signal);
  options.onProgress?.({ done: total, total, label: 'done' });
  return { tolerance: SELF_TEST_TOLERANCE, cases: results, passed: results.every((r) => r.pass), throughput };
}

export function describeCase({ M, N, K, R, dtype }: Pick<LoraLinearCase, 'M' | 'N' | 'K' | 'R' | 'dtype'>): string {
  return `M=${M} N=${N} K=${K} R=${R} ${dtype}`;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CocktailError('CANCELLED', 'The kernel self-test was cancelled');
}
