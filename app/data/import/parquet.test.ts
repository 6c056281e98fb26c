import { describe, expect, it } from 'vitest';
import { writeTinyParquet } from '../test-support/tiny-parquet.ts';
import { ProblemLog } from '../validate.ts';
import { plainValue, readParquetRows, type ParquetSource } from './parquet.ts';
import { collectRows, type ImportProgress } from './types.ts';

const table = writeTinyParquet(
  [
    { name: 'text', kind: 'string', values: ['Sales rose 5 %', null, 'Profit, "up"', 'Luleå'] },
    { name: 'label', kind: 'int32', values: [2, 1, 2, 0] },
    { name: 'id', kind: 'int64', values: [1n, 2n, 3n, 9007199254740993n] },
    { name: 'input_ids', kind: 'int32-list', values: [[1, 2, 3], [4], [5, 6], [7]] },
  ],
  { rowGroupSize: 3 },
);

async function readParquet(source: ParquetSource, columns?: string[]) {
  const problems = new ProblemLog('table.parquet');
  const progress: ImportProgress[] = [];
  const { rows, info } = await collectRows(readParquetRows(source, { problems, fileName: 'table.parquet', columns, onProgress: (p) => progress.push(p) }));
  return { rows, info, progress, report: problems.report() };
}

describe('readParquetRows', () => {
  it('reads every row group of a Parquet file, numbering rows from 1 and turning INT64 into numbers', async () => {
    const { rows, info, report } = await readParquet(new Blob([table]));
    expect(rows.map((row) => row.values)).toEqual([
      { text: 'Sales rose 5 %', label: 2, id: 1, input_ids: [1, 2, 3] },
      { text: null, label: 1, id: 2, input_ids: [4] },
      { text: 'Profit, "up"', label: 2, id: 3, input_ids: [5, 6] },
      { text: 'Luleå', label: 0, id: '9007199254740993', input_ids: [7] },
    ]);
    expect(rows.map((row) => row.row)).toEqual([1, 2, 3, 4]);
    expect(rows[0]?.line).toBeUndefined();
    expect(info).toMatchObject({ format: 'parquet', rows: 4, columns: ['text', 'label', 'id', 'input_ids'], bytes: table.byteLength });
    expect(report.kinds).toEqual([]);
  });

  it('reports progress after each row group, ending at the file size', async () => {
    const { progress } = await readParquet(table);
    expect(progress).toHaveLength(3);
    expect(progress[0]!.bytesRead).toBeGreaterThan(0);
    expect(progress[0]!.bytesRead).toBeLessThan(table.byteLength);
    expect(progress.at(-1)).toEqual({ bytesRead: table.byteLength, totalBytes: table.byteLength });
  });

  it('reads only the columns asked for, and refuses a column the file lacks', async () => {
    const { rows, info } = await readParquet(table.buffer as ArrayBuffer, ['label']);
    expect(rows.map((row) => row.values)).toEqual([{ label: 2 }, { label: 1 }, { label: 2 }, { label: 0 }]);
    expect(info.columns).toEqual(['label']);
    await expect(readParquet(table, ['sentence'])).rejects.toMatchObject({ code: 'DATA_BAD_MAPPING', message: expect.stringContaining('text, label, id, input_ids') });
  });

  it('refuses a file that is not Parquet, saying why', async () => {
    await expect(readParquet(new TextEncoder().encode('text,label\nx,1\n'))).rejects.toMatchObject({
      code: 'DATA_UNREADABLE',
      message: expect.stringMatching(/^table\.parquet could not be read as Parquet \(the footer\)/),
    });
  });

  it('stops with DATA_CANCELLED between row groups', async () => {
    const controller = new AbortController();
    const problems = new ProblemLog('table.parquet');
    const reading = (async () => {
      for await (const row of readParquetRows(table, { problems, signal: controller.signal })) if (row.row === 1) controller.abort();
    })();
    await expect(reading).rejects.toMatchObject({ code: 'DATA_CANCELLED' });
  });
});

describe('plainValue', () => {
  it('turns bigint into a number where exact, else a decimal string, inside lists and structs too', () => {
    expect(plainValue({ a: [1n, -(2n ** 60n)], b: new BigInt64Array([3n]) })).toEqual({ a: [1, '-1152921504606846976'], b: [3] });
  });
});
