/**
 * `node bin/run-ts.mjs bench/matmul.ts`: our matmul in its three layouts (nt, nn, tn) against TF.js's
 * WebGPU backend (tf.matMul with the same transposes) on the SmolLM2-135M projections and their LoRA
 * (r = 16) products, both on ONE Dawn device in Node. Prints a markdown table and writes
 * bench/results/<date>-<adapter>-matmul.json. On SwiftShader only ratios mean anything.
 *
 * Fairness: both sides get the same f32 inputs already on the GPU, are warmed up (pipelines compiled,
 * buffers allocated) before timing, and submit every call at once (TF.js through
 * WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE = 1); a timed batch ends when the queue reports the work done,
 * and no data is read back inside it. One untimed call of each is compared first: same product. Ours accumulates (+=) in nn and tn as training does, which
 * reads the output once more than TF.js's fresh output. `--quick` runs the 256-token shapes only.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs-core';
import { acquireNodeGpu } from '../app/gpu/node-gpu.ts';
import type { GpuContext } from '../app/gpu/device.ts';
import { encodeTensorData } from '../app/gpu/dtype.ts';
import { encodeMatmul, isCpuAdapter, matmulFlops, matmulTarget, routeMatmul, type MatmulDims, type MatmulLayout } from '../app/gpu/ops/matmul.ts';
import { createTensor, readTensor, type GpuTensor } from '../app/gpu/tensor.ts';
import { relativeError } from '../app/util/numeric.ts';
import { Random } from '../app/util/random.ts';

interface Shape extends MatmulDims {
  layout: MatmulLayout;
  what: string;
}

interface Row extends Shape {
  kernel: string;
  /** max |ours − TF.js| / max |TF.js| on these inputs */
  tfjsDifference: number;
  ours: Timing;
  oursBf16?: Timing;
  tfjs: Timing;
  /** ours GFLOP/s / TF.js GFLOP/s, by wall time */
  ratio: number;
  /** the same by process CPU time, which on a CPU adapter other processes on the machine do not inflate */
  cpuRatio: number;
}

interface Timing {
  msPerCall: number;
  gflops: number;
  /** Process CPU time per call: on a CPU adapter (SwiftShader) the device's own work, unaffected by other processes. */
  cpuMsPerCall: number;
  /** calls per timed batch, and how many batches the medians are over */
  calls: number;
  batches: number;
}

const C = 576; // SmolLM2-135M hidden size
const KV = 192; // 3 kv heads x 64
const FF = 1536; // intermediate size
const R = 16; // LoRA rank

function shapesFor(T: number): Shape[] {
  return [
    { layout: 'nt', what: 'q/o_proj forward', M: T, N: C, K: C },
    { layout: 'nt', what: 'k/v_proj forward', M: T, N: KV, K: C },
    { layout: 'nt', what: 'gate/up_proj forward', M: T, N: FF, K: C },
    { layout: 'nt', what: 'down_proj forward', M: T, N: C, K: FF },
    { layout: 'nt', what: 'LoRA X·Aᵀ (r=16)', M: T, N: R, K: C },
    { layout: 'nn', what: 'q/o_proj dX', M: T, N: C, K: C },
    { layout: 'nn', what: 'gate/up_proj dX', M: T, N: FF, K: C },
    { layout: 'nn', what: 'down_proj dX', M: T, N: C, K: FF },
    { layout: 'nn', what: 'LoRA dY·B (r=16)', M: T, N: C, K: R },
    { layout: 'tn', what: 'q/o_proj dW (full)', M: T, N: C, K: C },
    { layout: 'tn', what: 'LoRA dA = Gᵀ·X (r=16)', M: T, N: R, K: C },
    { layout: 'tn', what: 'LoRA dB = dYᵀ·U (r=16)', M: T, N: C, K: R },
  ];
}

/** Operand shapes of a layout: lhs, rhs, out (see MatmulLayout). */
function operandShapes(layout: MatmulLayout, { M, N, K }: MatmulDims): [[number, number], [number, number], [number, number]] {
  if (layout === 'nt') return [[M, K], [N, K], [M, N]];
  if (layout === 'nn') return [[M, N], [N, K], [M, K]];
  return [[M, N], [M, K], [N, K]];
}

/** TF.js's matMul arguments for a layout: a, b, transposeA, transposeB. */
const TFJS_TRANSPOSES: Record<MatmulLayout, [boolean, boolean]> = { nt: [false, true], nn: [false, false], tn: [true, false] };

const MIN_BATCH_MS = 300;
const BATCHES = 3;

/** Something to time: submits one call. */
type Contender = () => void;

/**
 * Times contenders on one shape: one warm-up call each, then per contender the calls per batch that
 * make a batch last MIN_BATCH_MS, then BATCHES rounds in which every contender runs one batch, so
 * that load from other processes falls on all of them alike. Medians of wall and CPU time.
 */
async function timeTogether(device: GPUDevice, flops: number, contenders: Contender[]): Promise<Timing[]> {
  const batch = async (submitOne: Contender, calls: number): Promise<{ ms: number; cpuMs: number }> => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < calls; i++) submitOne();
    await device.queue.onSubmittedWorkDone();
    const ms = performance.now() - start;
    const { user, system } = process.cpuUsage(cpu);
    return { ms, cpuMs: (user + system) / 1000 };
  };
  const callsPerBatch: number[] = [];
  for (const contender of contenders) {
    await batch(contender, 1);
    let calls = 1;
    while ((await batch(contender, calls)).ms < MIN_BATCH_MS) calls *= 2;
    callsPerBatch.push(calls);
  }
  const samples = contenders.map(() => [] as { ms: number; cpuMs: number }[]);
  for (let round = 0; round < BATCHES; round++) {
    for (const [i, contender] of contenders.entries()) samples[i]!.push(await batch(contender, callsPerBatch[i]!));
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return samples.map((runs, i) => {
    const calls = callsPerBatch[i]!;
    const msPerCall = median(runs.map((run) => run.ms)) / calls;
    const cpuMsPerCall = median(runs.map((run) => run.cpuMs)) / calls;
    return { msPerCall, gflops: flops / msPerCall / 1e6, cpuMsPerCall, calls, batches: BATCHES };
  });
}

/**
 * TF.js's WebGPU backend on OUR device, so both run on the same queue. TF.js checks for
 * navigator.gpu (Node has none), so it gets the Dawn GPU object there; it never requests its own device.
 */
async function tfjsOnDevice(gpu: GpuContext): Promise<typeof TF> {
  const { create } = await import('webgpu');
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  scope.navigator ??= {};
  scope.navigator.gpu ??= create([]);
  const tf = await import('@tensorflow/tfjs-core');
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  const { adapter } = gpu.info;
  // Its kernels are registered for the name 'webgpu': replace the backend that would request a device of its own.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, { vendor: adapter.vendor, architecture: adapter.architecture } as GPUAdapterInfo));
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend on the shared device');
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 1);
  return tf;
}

/** max |ours − TF.js| / max |TF.js| of one untimed call each: both must compute the same product. */
async function differenceFromTfjs(gpu: GpuContext, layout: MatmulLayout, [lhs, rhs, out]: GpuTensor[], product: TF.Tensor): Promise<number> {
  const encoder = gpu.device.createCommandEncoder();
  encodeMatmul(gpu, encoder, layout, lhs!, rhs!, out!, { accumulate: false });
  gpu.device.queue.submit([encoder.finish()]);
  const difference = relativeError(await readTensor(gpu.device, out!), await product.data());
  product.dispose();
  if (!(difference < 1e-4)) throw new Error(`ours and TF.js disagree on ${layout} [${out!.shape.join(', ')}]: relative difference ${difference}`);
  return difference;
}

async function measure(gpu: GpuContext, tf: typeof TF, shape: Shape, random: Random): Promise<Row> {
  const { device } = gpu;
  const [lhsShape, rhsShape, outShape] = operandShapes(shape.layout, shape);
  const values = (dims: [number, number]): Float32Array => random.fillUniform(new Float32Array(dims[0] * dims[1]), -1, 1);
  const lhsData = values(lhsShape);
  const rhsData = values(rhsShape);
  const flops = matmulFlops(shape);
  const tensors: GpuTensor[] = [];
  const upload = (name: string, dims: [number, number], dtype: 'f32' | 'bf16', data?: Float32Array): GpuTensor => {
    const tensor = createTensor(device, name, dims, dtype, data && encodeTensorData(dtype, data));
    tensors.push(tensor);
    return tensor;
  };
  const lhs = upload('lhs', lhsShape, 'f32', lhsData);
  const out = upload('out', outShape, 'f32');
  const ours = (rhs: GpuTensor): Contender => () => {
    const encoder = device.createCommandEncoder();
    encodeMatmul(gpu, encoder, shape.layout, lhs, rhs, out);
    device.queue.submit([encoder.finish()]);
  };
  const rhs = upload('rhs', rhsShape, 'f32', rhsData);
  const a = tf.tensor2d(lhsData, lhsShape);
  const b = tf.tensor2d(rhsData, rhsShape);
  const [transposeA, transposeB] = TFJS_TRANSPOSES[shape.layout];
  const tfjsDifference = await differenceFromTfjs(gpu, shape.layout, [lhs, rhs, out], tf.matMul(a, b, transposeA, transposeB));
  const contenders = [ours(rhs), () => tf.matMul(a, b, transposeA, transposeB).dispose()];
  // TF.js has no bf16: our packed weights run against its f32 ones.
  if (shape.layout !== 'tn') contenders.push(ours(upload('rhs bf16', rhsShape, 'bf16', rhsData)));
  const [oursF32, tfjs, oursBf16] = await timeTogether(device, flops, contenders);
  for (const tensor of tensors) tensor.buffer.destroy();
  tf.dispose([a, b]);
  const kernel = routeMatmul(shape.layout, shape, matmulTarget(gpu)).kernel;
  return { ...shape, kernel, tfjsDifference, ours: oursF32!, ...(oursBf16 ? { oursBf16 } : {}), tfjs: tfjs!, ratio: tfjs!.msPerCall / oursF32!.msPerCall, cpuRatio: tfjs!.cpuMsPerCall / oursF32!.cpuMsPerCall };
}

function markdown(rows: Row[], cpuAdapter: boolean): string {
  const header = ['layout', 'product', 'M', 'N', 'K', 'our kernel', 'ours ms', 'ours GFLOP/s', 'ours bf16 W ms', 'TF.js ms', 'TF.js GFLOP/s', 'ours / TF.js'];
  if (cpuAdapter) header.push('ours / TF.js by CPU time');
  const lines = [`| ${header.join(' | ')} |`, `|${' --- |'.repeat(header.length)}`];
  for (const row of rows) {
    const cells = [row.layout, row.what, row.M, row.N, row.K, row.kernel, row.ours.msPerCall.toFixed(1), row.ours.gflops.toFixed(2)];
    cells.push(row.oursBf16 ? row.oursBf16.msPerCall.toFixed(1) : '–', row.tfjs.msPerCall.toFixed(1), row.tfjs.gflops.toFixed(2), `${row.ratio.toFixed(2)}x`);
    if (cpuAdapter) cells.push(`${row.cpuRatio.toFixed(2)}x`);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const gpu = await acquireNodeGpu({ label: 'bench matmul' });
  const tf = await tfjsOnDevice(gpu);
  const random = Random.fromSeed(1);
  const rows: Row[] = [];
  for (const T of quick ? [256] : [256, 512]) {
    for (const shape of shapesFor(T)) {
      const row = await measure(gpu, tf, shape, random);
      rows.push(row);
      console.error(`${row.layout} ${row.what} ${row.M}x${row.N}x${row.K}: ours ${row.ours.msPerCall.toFixed(1)} ms, TF.js ${row.tfjs.msPerCall.toFixed(1)} ms, ${row.ratio.toFixed(2)}x`);
    }
  }
  const { adapter } = gpu.info;
  const machine = { adapter, node: process.version, tfjs: tf.version_core, date: new Date().toISOString(), minBatchMs: MIN_BATCH_MS, batches: BATCHES };
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const adapterName = `${adapter.vendor}-${adapter.architecture}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const file = join(dir, `${machine.date.slice(0, 10)}-${adapterName}-matmul.json`);
  await writeFile(file, JSON.stringify({ machine, rows }, null, 2) + '\n');
  console.log(markdown(rows, isCpuAdapter(adapter)));
  console.log(`\n${adapter.vendor} ${adapter.architecture} ${adapter.description}, Node ${machine.node}, TF.js ${machine.tfjs}; results in ${file}`);
  gpu.destroy();
  process.exit(0);
}

await main();
