import shaderCode from '../../../shaders/embedding.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { BYTES_PER_ELEMENT, DTYPE_CODE, type DType } from '../dtype.ts';
import { LimitError, ShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { bindGroup, gridStrideWorkgroups, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectIndexTensor, expectRank, expectSeparateBuffers, expectShape } from './checks.ts';

const OP = 'embedding';

/** A slice of the vocabulary, rows [rowStart, rowStart + rows) of E, to put in one buffer. */
export interface EmbeddingPartPlan {
  rowStart: number;
  rows: number;
}

/**
 * How to split E [V, C] of `dtype` into parts that each fit one binding and one buffer on `device`
 * (a 151936×896 bf16 table is 272 MB; the WebGPU default binding is 128 MiB). Part sizes are even
 * row counts, so half-precision parts start on whole u32 words of the packed file.
 */
export function planEmbeddingParts(device: { readonly limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'> }, V: number, C: number, dtype: DType): EmbeddingPartPlan[] {
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const fitting = Math.floor(limit / (C * BYTES_PER_ELEMENT[dtype]));
  const rowsPerPart = fitting >= V ? V : fitting - (fitting % 2);
  if (rowsPerPart < 1) {
    throw new LimitError(`${OP}: two embedding rows of ${C} ${dtype} values do not fit a binding of ${limit} bytes`, {
      op: OP,
      limit: 'maxStorageBufferBindingSize',
      limitValue: limit,
    });
  }
  const parts: EmbeddingPartPlan[] = [];
  for (let rowStart = 0; rowStart < V; rowStart += rowsPerPart) parts.push({ rowStart, rows: Math.min(rowsPerPart, V - rowStart) });
  return parts;
}

/**
 * Token ids [BT] and the table E [V, C] (f32, bf16 or f16) as `parts` in vocab order: part i holds
 * the rows that follow part i−1's, so V is the sum of their row counts. One part is the whole table.
 */
export interface EmbeddingInputs {
  ids: GpuTensor;
  parts: readonly GpuTensor[];
}

/**
 * Encodes out [BT, C] = E[ids] (one dispatch per part). Rows of ids ≥ V are zeros and raise
 * `outOfVocab` [1] (u32, set to 1; the caller clears it) when given. Validates first.
 */
export function encodeEmbedding(ctx: GpuContext, encoder: GPUCommandEncoder, { ids, parts }: EmbeddingInputs, out: GpuTensor, outOfVocab?: GpuTensor): void {
  const { device } = ctx;
  const { BT, C, V } = checkEmbedding(device, ids, parts, out, outOfVocab);
  const workgroups = gridStrideWorkgroups(BT * C);
  const pass = encoder.beginComputePass({ label: OP });
  let rowStart = 0;
  for (const part of parts) {
    const rows = part.shape[0]!;
    const pipeline = ctx.pipelines.get(OP, shaderCode, 'embedding_fwd', { E_DTYPE: DTYPE_CODE[part.dtype], HAS_FLAG: outOfVocab ? 1 : 0 });
    const uniforms = ctx.uniforms.get(`${OP}:dims`, packUniforms([['u32', BT], ['u32', C], ['u32', rowStart], ['u32', rows], ['u32', V]]));
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      bindGroup(device, pipeline, [
        [0, uniforms],
        [1, ids.buffer],
        [2, part.buffer],
        [3, out.buffer],
        // Bindings must exist even when the override makes the shader skip them.
        [4, outOfVocab?.buffer ?? ctx.placeholder],
      ]),
    );
    pass.dispatchWorkgroups(workgroups);
    rowStart += rows;
  }
  pass.end();
}

function checkEmbedding(
  device: GPUDevice,
  ids: GpuTensor,
  parts: readonly GpuTensor[],
  out: GpuTensor,
  outOfVocab: GpuTensor | undefined,
): { BT: number; C: number; V: number } {
  const BT = ids.shape[0] ?? 0;
  expectIndexTensor(OP, device, ids, 'u32', [BT], 'BT');
  if (parts.length === 0) throw new ShapeError(`${OP}: the embedding table needs at least one part`, { op: OP });
  const C = parts[0]!.shape[1] ?? 0;
  let V = 0;
  for (const part of parts) {
    expectRank(OP, part, 2, 'rows, C');
    expectShape(OP, part, [part.shape[0]!, C], 'rows, C');
    expectDType(OP, part, ['f32', 'bf16', 'f16']);
    expectBindable(OP, device, part);
    V += part.shape[0]!;
  }
  expectShape(OP, out, [BT, C], 'BT, C');
  expectDType(OP, out, ['f32']);
  expectBindable(OP, device, out);
  if (outOfVocab) expectIndexTensor(OP, device, outOfVocab, 'u32', [1], '1');
  const written = outOfVocab ? [out, outOfVocab] : [out];
  expectSeparateBuffers(OP, written, [ids, ...parts, ...written]);
  return { BT, C, V };
}
