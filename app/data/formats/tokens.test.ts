import { describe, expect, it } from 'vitest';
import type { TokenExample } from '../example.ts';
import { importFile } from '../import/import-file.ts';
import { mapForTest, rowsOf } from '../test-support/rows.ts';
import { writeTinyParquet } from '../test-support/tiny-parquet.ts';

describe('pre-tokenized format', () => {
  it('takes input_ids and labels with -100 as they are, as Int32Arrays', () => {
    const { examples, report } = mapForTest(rowsOf({ input_ids: [1, 319, 459, 2], labels: [-100, -100, 459, 2] }), { format: 'tokens' });
    expect(report.kinds).toEqual([]);
    const example = examples[0] as TokenExample;
    expect(example.kind).toBe('tokens');
    expect([...example.inputIds]).toEqual([1, 319, 459, 2]);
    expect([...example.labels]).toEqual([-100, -100, 459, 2]);
  });

  it('trains every token when there are no labels, as Hugging Face does', () => {
    const { examples } = mapForTest(rowsOf({ input_ids: [5, 6] }), { format: 'tokens' }, ['input_ids']);
    expect([...(examples[0] as TokenExample).labels]).toEqual([5, 6]);
  });

  it('reads token lists from Parquet, and from JSON text in a CSV cell', async () => {
    const parquet = writeTinyParquet([
      { name: 'input_ids', kind: 'int32-list', values: [[1, 2, 3]] },
      { name: 'labels', kind: 'int32-list', values: [[-100, 2, 3]] },
    ]);
    const imported = await importFile(parquet, { fileName: 'tokens.parquet' });
    const fromParquet = mapForTest(imported.rows, { format: 'tokens' }, imported.info.columns);
    expect([...(fromParquet.examples[0] as TokenExample).labels]).toEqual([-100, 2, 3]);
    const csv = await importFile('input_ids\tlabels\n[1,2]\t[-100,2]\n', { fileName: 'tokens.tsv' });
    const fromCsv = mapForTest(csv.rows, { format: 'tokens' }, csv.info.columns);
    expect(fromCsv.report.kinds).toEqual([]);
    expect([...(fromCsv.examples[0] as TokenExample).inputIds]).toEqual([1, 2]);
  });

  it('reports every way token rows go wrong', () => {
    const rows = rowsOf(
      { input_ids: [1, 2], labels: [1] },
      { input_ids: [1, 2.5], labels: [1, 2] },
      { input_ids: [1, 600], labels: [1, 2] },
      { input_ids: [1, 2], labels: [-100, -100] },
      { input_ids: [1, 2], labels: [-5, 2] },
      { input_ids: [], labels: [] },
      { input_ids: 'oops', labels: [] },
      { labels: [1] },
    );
    const { examples, report } = mapForTest(rows, { format: 'tokens', vocabSize: 512 });
    expect(examples).toEqual([]);
    expect(Object.fromEntries(report.kinds.map((kind) => [kind.code, kind.rows]))).toEqual({
      BAD_TOKENS: [2, 3, 5],
      LENGTH_MISMATCH: [1],
      NO_TRAINABLE_TOKENS: [4],
      EMPTY_FIELD: [6],
      WRONG_TYPE: [7],
      MISSING_FIELD: [8],
    });
    expect(report.kinds.find((kind) => kind.code === 'BAD_TOKENS')?.messages[1]).toBe('test.jsonl, line 4 (row 3), field "input_ids": token 2 is 600, which must be in [0, 512)');
  });
});
