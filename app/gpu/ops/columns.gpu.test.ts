import { describe, expect, it } from 'vitest';
import { setUpTestGpu } from '../../../test/gpu-harness.ts';
import { Random } from '../../util/random.ts';
import { ShapeError } from '../errors.ts';
import { columnsCopyReference, type ColumnBlock } from '../reference/columns.ts';
import { readTensor } from '../tensor.ts';
import { encodeColumnsCopy } from './columns.ts';

const gpu = setUpTestGpu();
const { submit, upload } = gpu;
const random = Random.fromSeed(29);
const randomValues = (count: number): Float32Array => random.fillUniform(new Float32Array(count), -1, 1);

// Phi-4-mini's qkv split at 3 tokens (q 3072 | k 1024 | v 1024 of 5120), a gate | up split with odd
// widths, a single column, and more rows·width than the capped grid's 2048 × 256 invocations.
const BLOCKS: (ColumnBlock & { what: string })[] = [
  { what: 'k out of a fused qkv', rows: 3, width: 1024, srcCols: 5120, srcCol: 3072, dstCols: 1024, dstCol: 0 },
  { what: 'up out of an odd gate | up', rows: 7, width: 37, srcCols: 74, srcCol: 37, dstCols: 37, dstCol: 0 },
  { what: 'a gradient written back into the middle of a fused one', rows: 5, width: 13, srcCols: 13, srcCol: 0, dstCols: 40, dstCol: 20 },
  { what: 'one column', rows: 9, width: 1, srcCols: 3, srcCol: 2, dstCols: 4, dstCol: 1 },
  { what: 'a block larger than the grid', rows: 1031, width: 600, srcCols: 700, srcCol: 50, dstCols: 600, dstCol: 0 },
];

describe('columns copy: dst[:, dstCol + c] = src[:, srcCol + c]', () => {
  for (const block of BLOCKS) {
    it(`copies ${block.what} exactly and leaves dst's other columns as they were`, async () => {
      const src = randomValues(block.rows * block.srcCols);
      const dstBefore = randomValues(block.rows * block.dstCols);
      const dst = upload('dst', [block.rows, block.dstCols], dstBefore);
      await submit((encoder) => encodeColumnsCopy(gpu.ctx, encoder, upload('src', [block.rows, block.srcCols], src), dst, block));
      expect(Array.from(await readTensor(gpu.ctx.device, dst))).toEqual(Array.from(Float32Array.from(columnsCopyReference(src, dstBefore, block))));
    });
  }

  it('refuses a block that runs past the columns of either matrix, naming the tensor', () => {
    const src = upload('fused qkv', [2, 10]);
    const dst = upload('q', [2, 4]);
    expect(() => encodeColumnsCopy(gpu.ctx, gpu.ctx.device.createCommandEncoder(), src, dst, { srcCol: 8, dstCol: 0, width: 4 })).toThrow(ShapeError);
    expect(() => encodeColumnsCopy(gpu.ctx, gpu.ctx.device.createCommandEncoder(), src, dst, { srcCol: 0, dstCol: 1, width: 4 })).toThrow(/columns 1 \.\. 5 are not within the 4 columns of "q"/);
    expect(() => encodeColumnsCopy(gpu.ctx, gpu.ctx.device.createCommandEncoder(), src, upload('rows', [3, 4]), { srcCol: 0, dstCol: 0, width: 4 })).toThrow(/3 rows/);
  });
});
