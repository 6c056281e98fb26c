import shaderCode from '../../../shaders/columns.wgsl?raw';
import type { GpuContext } from '../device.ts';
import { ShapeError } from '../errors.ts';
import type { GpuTensor } from '../tensor.ts';
import { bindGroup, gridStrideWorkgroups, packUniforms } from './encode.ts';
import { expectBindable, expectDType, expectRank, expectSeparateBuffers } from './checks.ts';

const OP = 'columns';

/** Where the block sits: `width` columns from column `srcCol` of src to column `dstCol` of dst. */
export interface ColumnRange {
  srcCol: number;
  dstCol: number;
  width: number;
}

/**
 * Encodes dst[:, dstCol .. dstCol + width) = src[:, srcCol .. srcCol + width) for src [rows, srcCols]
 * and dst [rows, dstCols], both f32; dst's other columns keep their values. Validates first.
 */
export function encodeColumnsCopy(ctx: GpuContext, encoder: GPUCommandEncoder, src: GpuTensor, dst: GpuTensor, { srcCol, dstCol, width }: ColumnRange): void {
  const { device } = ctx;
  expectRank(OP, src, 2, 'rows, src_cols');
  expectRank(OP, dst, 2, 'rows, dst_cols');
  const [rows, srcCols] = src.shape as [number, number];
  const dstCols = dst.shape[1]!;
  if (dst.shape[0] !== rows) throw new ShapeError(`${OP}: "${dst.name}" has ${dst.shape[0]} rows, "${src.name}" ${rows}`, { op: OP, tensor: dst.name });
  for (const [name, col, cols] of [[src.name, srcCol, srcCols], [dst.name, dstCol, dstCols]] as const) {
    if (!(Number.isSafeInteger(col) && col >= 0 && Number.isSafeInteger(width) && width >= 1 && col + width <= cols)) {
      throw new ShapeError(`${OP}: columns ${col} .. ${col + width} are not within the ${cols} columns of "${name}"`, { op: OP, tensor: name, col, width });
    }
  }
  for (const tensor of [src, dst]) {
    expectDType(OP, tensor, ['f32']);
    expectBindable(OP, device, tensor);
  }
  expectSeparateBuffers(OP, [dst], [src, dst]);
  const pipeline = ctx.pipelines.get(OP, shaderCode, 'columns_copy');
  const uniforms = ctx.uniforms.get(
    `${OP}:dims`,
    packUniforms([['u32', rows], ['u32', width], ['u32', srcCols], ['u32', srcCol], ['u32', dstCols], ['u32', dstCol]]),
  );
  const pass = encoder.beginComputePass({ label: `${OP} copy` });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup(device, pipeline, [[0, uniforms], [1, src.buffer], [2, dst.buffer]]));
  pass.dispatchWorkgroups(gridStrideWorkgroups(rows * width));
  pass.end();
}
