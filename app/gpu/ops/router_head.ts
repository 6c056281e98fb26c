import shaderCode from '../../../shaders/router_head.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { bindGroup, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectSeparateBuffers, expectShape } from './checks.ts';

const OP = 'router_head';
const WORKGROUP_SIZE = 64;
const MAX_WORKGROUPS = 4096;

/** One linear layer of the head: W [O, I] as nn.Linear stores it, b [O]. */
export interface HeadLinear {
  w: GpuTensor;
  b: GpuTensor;
}

interface Uniform {
  rows: number;
  inFeatures: number;
  outFeatures: number;
  relu?: boolean;
  invTemperature?: number;
  gradScale?: number;
}

function dimsUniform(ctx: GpuContext, u: Uniform): GPUBuffer {
  return ctx.uniforms.get(
    `${OP}:dims`,
    packUniforms([
      ['u32', u.rows],
      ['u32', u.inFeatures],
      ['u32', u.outFeatures],
      ['u32', u.relu ? 1 : 0],
      ['f32', u.invTemperature ?? 1],
      ['f32', u.gradScale ?? 1],
    ]),
  );
}

function dispatch(ctx: GpuContext, encoder: GPUCommandEncoder, entryPoint: string, entries: readonly (readonly [number, GPUBuffer])[], count: number): void {
  const pipeline = ctx.pipelines.get(OP, shaderCode, entryPoint);
  const pass = encoder.beginComputePass({ label: `${OP} ${entryPoint}` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(ctx.device, pipeline, entries));
  pass.dispatchWorkgroups(Math.min(Math.ceil(count / WORKGROUP_SIZE), MAX_WORKGROUPS));
  pass.end();
}

function expectF32(device: GPUDevice, tensors: readonly GpuTensor[]): void {
  for (const tensor of tensors) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
}

/** x [N, I] and the layer's W [O, I], b [O]: returns N, I, O. */
function layerDims(x: GpuTensor, layer: HeadLinear): { N: number; I: number; O: number } {
  expectRank(OP, x, 2, 'N, I');
  expectRank(OP, layer.w, 2, 'O, I');
  const [N, I] = x.shape as [number, number];
  const O = layer.w.shape[0]!;
  expectShape(OP, layer.w, [O, I], 'O, I');
  expectShape(OP, layer.b, [O], 'O');
  return { N, I, O };
}

/** Encodes y [N, O] = act(x·Wᵀ + b), act = relu with `relu`, else identity. */
export function encodeHeadLinear(ctx: GpuContext, encoder: GPUCommandEncoder, x: GpuTensor, layer: HeadLinear, y: GpuTensor, options: { relu?: boolean } = {}): void {
  const { N, I, O } = layerDims(x, layer);
  expectShape(OP, y, [N, O], 'N, O');
  expectF32(ctx.device, [x, layer.w, layer.b, y]);
  expectSeparateBuffers(OP, [y], [x, layer.w, layer.b, y]);
  const uniform = dimsUniform(ctx, { rows: N, inFeatures: I, outFeatures: O, relu: options.relu === true });
  dispatch(ctx, encoder, 'head_linear_fwd', [[0, uniform], [1, x.buffer], [2, layer.w.buffer], [3, layer.b.buffer], [4, y.buffer]], N * O);
}

export interface SoftmaxOutputs {
  /** [N, K] softmax(z / τ). */
  probs: GpuTensor;
  /** [N] −log p of the row's label (0 for a row labelled −1). */
  rowLoss: GpuTensor;
  /** [N, K] gradScale·(p − onehot)/τ: the gradient of gradScale·Σ rowLoss with respect to z. */
  dz: GpuTensor;
}

/**
 * Encodes the softmax with temperature and its cross-entropy over logits z [N, K] and labels [N] i32
 * (−1: no label, probabilities only). gradScale is 1/(labelled rows) for a mean loss.
 */
export function encodeHeadSoftmax(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  { z, labels, temperature, gradScale }: { z: GpuTensor; labels: GpuTensor; temperature: number; gradScale: number },
  { probs, rowLoss, dz }: SoftmaxOutputs,
): void {
  expectRank(OP, z, 2, 'N, K');
  const [N, K] = z.shape as [number, number];
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new ShapeError(`${OP}: the temperature must be a finite number > 0, got ${temperature}`, { op: OP, temperature });
  if (!Number.isFinite(gradScale)) throw new ShapeError(`${OP}: gradScale must be finite, got ${gradScale}`, { op: OP, gradScale });
  expectShape(OP, labels, [N], 'N');
  expectDType(OP, labels, ['i32']);
  expectShape(OP, probs, [N, K], 'N, K');
  expectShape(OP, dz, [N, K], 'N, K');
  expectShape(OP, rowLoss, [N], 'N');
  expectF32(ctx.device, [z, probs, dz, rowLoss]);
  expectSeparateBuffers(OP, [probs, rowLoss, dz], [z, labels, probs, rowLoss, dz]);
  const uniform = dimsUniform(ctx, { rows: N, inFeatures: 0, outFeatures: K, invTemperature: 1 / temperature, gradScale });
  dispatch(ctx, encoder, 'head_softmax_xent', [[0, uniform], [1, z.buffer], [10, labels.buffer], [11, probs.buffer], [12, rowLoss.buffer], [13, dz.buffer]], N);
}

/**
 * Encodes the backward of one layer given dy [N, O]: dW [O, I], db [O] (written), and, with `dx`,
 * the input gradient dx [N, I] = dy·W (written), masked by [mask > 0] when `mask` (the output of the
 * relu layer below, [N, I]) is given.
 */
export function encodeHeadLinearBackward(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  { x, layer, dy, mask }: { x: GpuTensor; layer: HeadLinear; dy: GpuTensor; mask?: GpuTensor },
  { dw, db, dx }: { dw: GpuTensor; db: GpuTensor; dx?: GpuTensor },
): void {
  const { N, I, O } = layerDims(x, layer);
  expectShape(OP, dy, [N, O], 'N, O');
  expectShape(OP, dw, [O, I], 'O, I');
  expectShape(OP, db, [O], 'O');
  const written = [dw, db, ...(dx ? [dx] : [])];
  if (dx) expectShape(OP, dx, [N, I], 'N, I');
  if (mask) {
    if (!dx) throw new ShapeError(`${OP}: a relu mask applies to the input gradient; pass dx with it`, { op: OP });
    expectShape(OP, mask, [N, I], 'N, I');
  }
  const all = [x, layer.w, layer.b, dy, ...written, ...(mask ? [mask] : [])];
  expectF32(ctx.device, all);
  expectSeparateBuffers(OP, written, all);
  const uniform = dimsUniform(ctx, { rows: N, inFeatures: I, outFeatures: O });
  dispatch(ctx, encoder, 'head_linear_bwd_params', [[0, uniform], [1, x.buffer], [5, dy.buffer], [8, dw.buffer], [9, db.buffer]], O * (I + 1));
  if (!dx) return;
  const entries: [number, GPUBuffer][] = [[0, uniform], [2, layer.w.buffer], [5, dy.buffer], [6, dx.buffer]];
  if (mask) entries.push([7, mask.buffer]);
  dispatch(ctx, encoder, mask ? 'head_linear_bwd_input_relu' : 'head_linear_bwd_input', entries, N * I);
}
