import { describe, expect, it } from 'vitest';
import { columnsCopyReference } from './columns.ts';

describe('columns copy reference', () => {
  it('moves a block of columns and keeps the rest of dst (worked by hand)', () => {
    // src [2, 3] = [[1, 2, 3], [4, 5, 6]]; its last two columns go to columns 1..2 of dst [2, 4].
    const dst = columnsCopyReference([1, 2, 3, 4, 5, 6], [9, 9, 9, 9, 8, 8, 8, 8], { rows: 2, width: 2, srcCols: 3, srcCol: 1, dstCols: 4, dstCol: 1 });
    expect(Array.from(dst)).toEqual([9, 2, 3, 9, 8, 5, 6, 8]);
  });
});
